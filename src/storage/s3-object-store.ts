import { Client, type ClientOptions } from 'minio';
import { errors, isAppError, type AppError } from '../errors.js';
import {
  assertValidExpiry,
  assertValidLevelPrefix,
  assertValidMetadata,
  assertValidObjectKey,
  assertValidObjectPrefix,
  decodeMetadataValue,
  encodeMetadataValue,
} from './object-key.js';
import type {
  ObjectInfo,
  ObjectLevel,
  ObjectStore,
  PresignPutOptions,
  PutOptions,
} from './object-store.js';

export interface S3ObjectStoreOptions {
  /** Where this process reaches S3, a URL such as `http://127.0.0.1:9000` (https when TLS). */
  endPoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Set explicitly so that presigning never asks the server for the bucket's region. @default 'us-east-1' */
  region?: string;
  /**
   * The S3 URL clients use, when it differs from `endPoint` (a docker network, a proxy). SigV4 signs the
   * host, so presigned URLs must be signed for this one. @default endPoint
   */
  publicEndPoint?: string;
}

const META_PREFIX = 'x-amz-meta-';
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchObject']);
// Server-side trouble that may pass: worth retrying, like a refused or dropped connection.
const TRANSIENT_S3_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
]);

function clientFor(url: string, options: S3ObjectStoreOptions, region: string): Client {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw errors.storageUnavailable(
      `s3 store: endpoint must be a URL like http://host:9000, got ${JSON.stringify(url)}`,
      cause,
    );
  }
  const useSSL = parsed.protocol === 'https:';
  const clientOptions: ClientOptions = {
    endPoint: parsed.hostname,
    port: parsed.port === '' ? (useSSL ? 443 : 80) : Number(parsed.port),
    useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    region,
    // Bucket-in-the-path works on every S3 server, and needs no wildcard DNS.
    pathStyle: true,
  };
  return new Client(clientOptions);
}

/** Maps a minio or network failure onto the store's errors, keeping AppErrors as they are. */
function translate(err: unknown, action: string, key: string): AppError {
  if (isAppError(err)) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && NOT_FOUND_CODES.has(code)) return errors.notFound('object', key);
  const message = err instanceof Error ? err.message : String(err);
  // Node's network errors carry an errno-style code (ECONNREFUSED, ETIMEDOUT, EAI_AGAIN, ...).
  const isTransient =
    typeof code === 'string' &&
    (TRANSIENT_S3_CODES.has(code) || /^E[A-Z_]+$/.test(code) || code.startsWith('UND_ERR'));
  return errors.storageUnavailable(
    `s3 store: cannot ${action} ${JSON.stringify(key)}: ${String(code ?? '')} ${message}`.trim(),
    err,
    isTransient,
  );
}

/**
 * The S3 object store (MinIO, AWS, Ceph, Swift s3api) over the minio client. S3 PUTs replace objects
 * whole, so readers never see partial bodies. Metadata travels as x-amz-meta-* headers, with values
 * that HTTP cannot carry as they are RFC 2047-encoded (`encodeMetadataValue`).
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: Client;
  readonly #presigner: Client;
  readonly #bucket: string;
  readonly #region: string;

  constructor(options: S3ObjectStoreOptions) {
    const { endPoint, bucket, region = 'us-east-1', publicEndPoint = endPoint } = options;
    this.#bucket = bucket;
    this.#region = region;
    this.#client = clientFor(endPoint, options, region);
    // Presigning is local computation; this client only ever signs, never connects.
    this.#presigner =
      publicEndPoint === endPoint ? this.#client : clientFor(publicEndPoint, options, region);
  }

  /** Creates the bucket when it is missing. @throws AppError STORAGE_UNAVAILABLE */
  async start(): Promise<void> {
    try {
      if (await this.#client.bucketExists(this.#bucket)) return;
      await this.#client.makeBucket(this.#bucket, this.#region);
    } catch (err) {
      // Another replica starting at the same time may have just created it.
      const code = (err as { code?: unknown }).code;
      if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return;
      throw translate(err, 'create bucket', this.#bucket);
    }
  }

  /** Nothing to release: the client holds no connections between requests. Idempotent. */
  async close(): Promise<void> {}

  async put(key: string, body: Buffer, options: PutOptions): Promise<void> {
    assertValidObjectKey(key);
    const metadata = options.metadata ?? {};
    assertValidMetadata(metadata);
    const headers: Record<string, string> = {
      'Content-Type': options.contentType || 'application/octet-stream',
    };
    for (const [name, value] of Object.entries(metadata))
      headers[META_PREFIX + name] = encodeMetadataValue(value);
    try {
      await this.#client.putObject(this.#bucket, key, body, body.length, headers);
    } catch (err) {
      throw translate(err, 'put', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    assertValidObjectKey(key);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.#client.getObject(this.#bucket, key))
        chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      throw translate(err, 'get', key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidObjectKey(key);
    let headers: Record<string, string | string[] | undefined>;
    try {
      // A raw HEAD rather than statObject(): statObject folds x-amz-meta-* names in with real headers
      // (a "content-type" metadata entry would be indistinguishable from Content-Type).
      ({ headers } = await this.#client.makeRequestAsyncOmit({
        method: 'HEAD',
        bucketName: this.#bucket,
        objectName: key,
      }));
    } catch (err) {
      const translated = translate(err, 'stat', key);
      if (translated.code === 'NOT_FOUND') return null;
      throw translated;
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(META_PREFIX) && typeof value === 'string')
        metadata[name.slice(META_PREFIX.length)] = decodeMetadataValue(value);
    }
    return {
      key,
      size: Number(headers['content-length'] ?? 0),
      contentType: String(headers['content-type'] ?? 'application/octet-stream'),
      metadata,
      lastModified: new Date(String(headers['last-modified'])),
    };
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    try {
      await this.#client.removeObject(this.#bucket, key); // S3 answers 204 for absent keys too
    } catch (err) {
      const translated = translate(err, 'delete', key);
      if (translated.code !== 'NOT_FOUND') throw translated;
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertValidObjectPrefix(prefix);
    const keys: string[] = [];
    try {
      for await (const item of this.#client.listObjectsV2(this.#bucket, prefix, true)) {
        if (typeof item.name === 'string') keys.push(item.name);
      }
    } catch (err) {
      throw translate(err, 'list', prefix);
    }
    // S3 sorts by UTF-8 bytes; sort as the fs store does (UTF-16 code units) so both agree.
    return keys.sort();
  }

  async browse(prefix: string): Promise<ObjectLevel> {
    assertValidLevelPrefix(prefix);
    const level: ObjectLevel = { objects: [], prefixes: [] };
    try {
      // Not recursive: S3 answers this level's objects and folds deeper keys into prefixes.
      for await (const item of this.#client.listObjectsV2(this.#bucket, prefix, false)) {
        if (typeof item.prefix === 'string') level.prefixes.push(item.prefix);
        else if (typeof item.name === 'string')
          level.objects.push({
            key: item.name,
            size: item.size,
            lastModified: new Date(item.lastModified),
          });
      }
    } catch (err) {
      throw translate(err, 'browse', prefix);
    }
    level.objects.sort((a, b) => (a.key < b.key ? -1 : 1));
    level.prefixes.sort();
    return level;
  }

  async presignGet(key: string, expiresSeconds: number): Promise<string> {
    assertValidObjectKey(key);
    return this.#presign('GET', key, expiresSeconds);
  }

  /**
   * minio signs only the host, so `options.contentType` is not enforced: the uploader's Content-Type
   * header becomes the object's content type.
   */
  async presignPut(
    key: string,
    expiresSeconds: number,
    _baseUrl?: string,
    _options?: PresignPutOptions,
  ): Promise<string> {
    assertValidObjectKey(key);
    return this.#presign('PUT', key, expiresSeconds);
  }

  async #presign(method: 'GET' | 'PUT', key: string, expiresSeconds: number): Promise<string> {
    assertValidExpiry(expiresSeconds);
    try {
      return await this.#presigner.presignedUrl(method, this.#bucket, key, expiresSeconds);
    } catch (err) {
      throw translate(err, `presign ${method}`, key);
    }
  }
}
