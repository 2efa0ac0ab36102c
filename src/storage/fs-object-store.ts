import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { access, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError, errors } from '../errors.js';
import {
  assertValidExpiry,
  assertValidLevelPrefix,
  assertValidMetadata,
  assertValidObjectKey,
  assertValidObjectPrefix,
} from './object-key.js';
import type {
  ObjectInfo,
  ObjectLevel,
  ObjectStore,
  PresignPutOptions,
  PutOptions,
} from './object-store.js';
import {
  signUrl,
  verifySignedUrl,
  type SignedUrlParts,
  type SignedUrlVerdict,
} from './fs-signed-url.js';

/**
 * The largest body a presigned PUT may upload unless told otherwise: 10 MiB, also the default of
 * HITA_MAX_UPLOAD_BYTES (README), which config.ts reads from here.
 */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export interface FsObjectStoreOptions {
  /** Directory holding `objects/` (the bodies, one file per key) and `meta/` (JSON sidecars). */
  rootDir: string;
  /** HMAC-SHA256 key for presigned URLs; every API replica serving the same rootDir needs the same one. */
  signingSecret: string;
  /** Largest body a presigned PUT may upload, in bytes (put() itself is not limited). @default DEFAULT_MAX_UPLOAD_BYTES (10 MiB) */
  maxUploadBytes?: number;
}

/** An open object body for `fsObjectRouter`; the caller closes (or streams and auto-closes) `handle`. */
export interface OpenObject {
  handle: FileHandle;
  info: ObjectInfo;
  /** Strong ETag of exactly the bytes behind `handle`. */
  etag: string;
}

type Body = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

interface Sidecar {
  contentType: string;
  metadata: Record<string, string>;
}

// Temp files sit next to their target so rename() stays on one file system and is atomic. They have no
// sidecar, which is what keeps list() from ever reporting one.
const TEMP_PREFIX = '.hita-tmp-';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Removes a temp file, keeping the error that made it stray (rm throws ENOTDIR under a file). */
async function discard(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}

function unavailable(action: string, key: string, cause: unknown): AppError {
  return new AppError(
    'STORAGE_UNAVAILABLE',
    `fs store: cannot ${action} ${JSON.stringify(key)}: ${codeOf(cause) ?? String(cause)}`,
    {
      retryable: true,
      cause,
    },
  );
}

/**
 * The embedded object store: files under `rootDir`, served by the API through `fsObjectRouter` with
 * HMAC-signed, expiring URLs. Writes go to a temp file and are renamed into place (sidecar first,
 * then body), so readers see the old object, the new one, or none, never a partial body.
 */
export class FsObjectStore implements ObjectStore {
  readonly maxUploadBytes: number;
  readonly #objectsDir: string;
  readonly #metaDir: string;
  readonly #signingSecret: string;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: FsObjectStoreOptions) {
    const { rootDir, signingSecret, maxUploadBytes = DEFAULT_MAX_UPLOAD_BYTES } = options;
    if (signingSecret === '') throw errors.badInput('signingSecret', 'must not be empty');
    this.#objectsDir = path.join(rootDir, 'objects');
    this.#metaDir = path.join(rootDir, 'meta');
    this.#signingSecret = signingSecret;
    this.maxUploadBytes = maxUploadBytes;
  }

  async start(): Promise<void> {
    for (const dir of [this.#objectsDir, this.#metaDir]) {
      await mkdir(dir, { recursive: true }).catch((err: unknown) => {
        throw unavailable('create', dir, err);
      });
    }
  }

  /** Waits for writes in progress; idempotent. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async put(key: string, body: Buffer, options: PutOptions): Promise<void> {
    await this.#track(this.#write(key, [body], options, Infinity));
  }

  /**
   * Streams an upload into place, as put() does, failing once it passes `maxUploadBytes`.
   * @throws AppError BAD_USER_INPUT with `details.maxUploadBytes` when the body is too large (nothing is stored)
   */
  async putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions,
  ): Promise<void> {
    await this.#track(this.#write(key, body, options, this.maxUploadBytes));
  }

  async get(key: string): Promise<Buffer> {
    assertValidObjectKey(key);
    try {
      return await readFile(this.#dataPath(key));
    } catch (err) {
      throw ['ENOENT', 'ENOTDIR', 'EISDIR'].includes(codeOf(err) ?? '')
        ? errors.notFound('object', key)
        : unavailable('read', key, err);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const object = await this.open(key);
    await object?.handle.close();
    return object?.info ?? null;
  }

  /** Opens the body and reads its sidecar, for `fsObjectRouter`; null when absent. */
  async open(key: string): Promise<OpenObject | null> {
    assertValidObjectKey(key);
    let handle: FileHandle;
    try {
      handle = await open(this.#dataPath(key), 'r');
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes(codeOf(err) ?? '')) return null;
      throw unavailable('open', key, err);
    }
    try {
      const [fileStat, sidecar] = await Promise.all([handle.stat(), this.#readSidecar(key)]);
      if (!fileStat.isFile()) {
        await handle.close();
        return null;
      }
      const { size, mtime, ino } = fileStat;
      // The inode changes on every rename into place, so the ETag changes with every put.
      const etag = `"${ino.toString(16)}-${size.toString(16)}-${mtime.getTime().toString(16)}"`;
      return { handle, etag, info: { key, size, lastModified: mtime, ...sidecar } };
    } catch (err) {
      await handle.close();
      throw unavailable('stat', key, err);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    // Body first: once it is gone the object is absent, whatever happens to the sidecar.
    for (const file of [this.#dataPath(key), this.#metaPath(key)]) {
      await rm(file, { force: true }).catch((err: unknown) => {
        if (codeOf(err) !== 'ENOTDIR') throw unavailable('delete', key, err);
      });
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertValidObjectPrefix(prefix);
    // Walk only the deepest directory the prefix names in full, then filter by the partial segment.
    const dirPart = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys: string[] = [];
    const walk = async (relDir: string): Promise<void> => {
      const entries = await readdir(path.join(this.#objectsDir, relDir), {
        withFileTypes: true,
      }).catch((err: unknown) => {
        if (['ENOENT', 'ENOTDIR'].includes(codeOf(err) ?? '')) return [];
        throw unavailable('list', prefix, err);
      });
      for (const entry of entries) {
        const key = relDir + entry.name;
        if (entry.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) await walk(key + '/');
        } else if (entry.isFile() && key.startsWith(prefix) && (await this.#hasSidecar(key))) {
          keys.push(key);
        }
      }
    };
    await walk(dirPart);
    return keys.sort();
  }

  async browse(prefix: string): Promise<ObjectLevel> {
    assertValidLevelPrefix(prefix);
    const entries = await readdir(path.join(this.#objectsDir, prefix), {
      withFileTypes: true,
    }).catch((err: unknown) => {
      if (['ENOENT', 'ENOTDIR'].includes(codeOf(err) ?? '')) return [];
      throw unavailable('browse', prefix, err);
    });
    const level: ObjectLevel = { objects: [], prefixes: [] };
    for (const entry of entries) {
      const key = prefix + entry.name;
      // Like S3, an empty directory (left by deletes) is no prefix: nothing is stored below it.
      if (entry.isDirectory() && (await this.#holdsObject(key + '/'))) {
        level.prefixes.push(key + '/');
      } else if (entry.isFile() && (await this.#hasSidecar(key))) {
        const info = await stat(this.#dataPath(key)).catch(() => null);
        if (info) level.objects.push({ key, size: info.size, lastModified: info.mtime });
      }
    }
    level.objects.sort((a, b) => (a.key < b.key ? -1 : 1));
    level.prefixes.sort();
    return level;
  }

  /** Whether any object lies below `relDir` (ends in '/'); stops at the first one. */
  async #holdsObject(relDir: string): Promise<boolean> {
    const entries = await readdir(path.join(this.#objectsDir, relDir), {
      withFileTypes: true,
    }).catch(() => []);
    for (const entry of entries) {
      const key = relDir + entry.name;
      if (entry.isFile() && (await this.#hasSidecar(key))) return true;
      if (entry.isDirectory() && (await this.#holdsObject(key + '/'))) return true;
    }
    return false;
  }

  async presignGet(key: string, expiresSeconds: number, baseUrl?: string): Promise<string> {
    return this.#presign('GET', key, expiresSeconds, baseUrl, undefined);
  }

  async presignPut(
    key: string,
    expiresSeconds: number,
    baseUrl?: string,
    options: PresignPutOptions = {},
  ): Promise<string> {
    return this.#presign('PUT', key, expiresSeconds, baseUrl, options.contentType);
  }

  /** `verifySignedUrl` with this store's secret. */
  verify(parts: SignedUrlParts): SignedUrlVerdict {
    return verifySignedUrl(this.#signingSecret, parts);
  }

  #presign(
    method: 'GET' | 'PUT',
    key: string,
    expiresSeconds: number,
    baseUrl: string | undefined,
    contentType: string | undefined,
  ): string {
    assertValidObjectKey(key);
    assertValidExpiry(expiresSeconds);
    if (baseUrl === undefined)
      throw errors.badInput('baseUrl', 'the fs store needs the API origin to build URLs');
    return signUrl(this.#signingSecret, { method, key, expiresSeconds, baseUrl, contentType });
  }

  async #write(key: string, body: Body, options: PutOptions, maxBytes: number): Promise<void> {
    assertValidObjectKey(key);
    const metadata = options.metadata ?? {};
    assertValidMetadata(metadata);
    const sidecar: Sidecar = { contentType: options.contentType || DEFAULT_CONTENT_TYPE, metadata };
    // Stream the body to its temp file first, so a rejected upload leaves the old sidecar alone.
    const bodyTemp = await this.#writeTemp(key, this.#dataPath(key), body, maxBytes);
    try {
      const sidecarTemp = await this.#writeTemp(
        key,
        this.#metaPath(key),
        [Buffer.from(JSON.stringify(sidecar))],
        Infinity,
      );
      await this.#renameInto(key, sidecarTemp, this.#metaPath(key));
      await this.#renameInto(key, bodyTemp, this.#dataPath(key));
    } finally {
      await discard(bodyTemp);
    }
  }

  async #writeTemp(key: string, target: string, body: Body, maxBytes: number): Promise<string> {
    const temp = path.join(path.dirname(target), TEMP_PREFIX + randomBytes(8).toString('hex'));
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const handle = await open(temp, 'wx');
      try {
        let size = 0;
        for await (const chunk of body) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            throw errors.badInput('body', `larger than the ${maxBytes}-byte upload limit`, {
              maxUploadBytes: maxBytes,
            });
          }
          await handle.write(chunk);
        }
        await handle.sync(); // durable before it becomes visible
      } finally {
        await handle.close();
      }
      return temp;
    } catch (err) {
      await discard(temp);
      throw this.#writeError(key, err);
    }
  }

  async #renameInto(key: string, temp: string, target: string): Promise<void> {
    await rename(temp, target).catch(async (err: unknown) => {
      await discard(temp);
      throw this.#writeError(key, err);
    });
  }

  #writeError(key: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    // A file cannot be both an object and a directory: "a" and "a/b" cannot coexist here, unlike on S3.
    if (!['EEXIST', 'EISDIR', 'ENOTDIR', 'ENOTEMPTY'].includes(codeOf(err) ?? '')) {
      return unavailable('write', key, err);
    }
    const message = `fs store: key ${JSON.stringify(key)} collides with an object that is also a key prefix`;
    return errors.conflict(message, { key });
  }

  async #readSidecar(key: string): Promise<Sidecar> {
    try {
      const parsed = JSON.parse(await readFile(this.#metaPath(key), 'utf8')) as Partial<Sidecar>;
      return {
        contentType: parsed.contentType ?? DEFAULT_CONTENT_TYPE,
        metadata: parsed.metadata ?? {},
      };
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return { contentType: DEFAULT_CONTENT_TYPE, metadata: {} };
      throw err;
    }
  }

  async #hasSidecar(key: string): Promise<boolean> {
    return access(this.#metaPath(key)).then(
      () => true,
      () => false,
    );
  }

  async #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(work);
    }
  }

  #dataPath(key: string): string {
    return path.join(this.#objectsDir, ...key.split('/'));
  }

  #metaPath(key: string): string {
    return path.join(this.#metaDir, ...key.split('/')) + '.json';
  }
}
