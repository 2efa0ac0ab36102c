/**
 * Object keys: the rules both stores enforce on keys and metadata, so that whatever one store
 * accepts the other stores identically (switching `fs` ↔ `s3` never turns a valid key into an
 * error), and the tenant-scoped layout every writer and reader of objects uses (at the end).
 */
import { randomUUID } from 'node:crypto';
import { errors } from '../errors.js';

/** Longest key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 512;
/** Longest key segment in UTF-8 bytes: a file name (255) less room for the fs sidecar's ".json". */
export const MAX_SEGMENT_BYTES = 250;
/** AWS's cap on user metadata, counted over names plus stored (encoded) values. */
export const MAX_METADATA_BYTES = 2048;
/** Swift s3api's default cap on one stored (encoded) value; it answers 500 past it. */
export const MAX_METADATA_VALUE_BYTES = 256;

// Control characters cannot appear in S3's XML listings and make file names unreadable.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
// Lowercase because HTTP header names are case-insensitive and S3 returns them lowercased.
const METADATA_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
// A value HTTP carries unchanged: printable ASCII without leading or trailing spaces.
const PLAIN_HEADER_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (key.length > MAX_KEY_LENGTH)
    return `must be at most ${MAX_KEY_LENGTH} characters, got ${key.length}`;
  if (key.startsWith('/')) return 'must be relative (no leading "/")';
  if (key.includes('\\')) return 'must not contain a backslash';
  if (CONTROL_CHARACTER.test(key)) return 'must not contain NUL or other control characters';
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return 'must not contain empty, "." or ".." segments';
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    return `segments must be at most ${MAX_SEGMENT_BYTES} bytes of UTF-8`;
  }
  return undefined;
}

/**
 * Checks a key: "/"-separated segments, none empty, "." or ".."; no leading "/", backslash, NUL or
 * other control character; at most 512 characters.
 * @throws AppError BAD_USER_INPUT
 */
export function assertValidObjectKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw errors.badInput('key', `${problem} (key ${JSON.stringify(key.slice(0, 100))})`);
  }
}

/**
 * Checks a list prefix: "" or the start of some valid key ("jobs/", "jobs/ab").
 * @throws AppError BAD_USER_INPUT
 */
export function assertValidObjectPrefix(prefix: string): void {
  const problem = prefix === '' ? undefined : keyProblem(prefix.slice(0, MAX_KEY_LENGTH - 1) + 'x');
  if (problem !== undefined) {
    throw errors.badInput(
      'prefix',
      `no key can start with ${JSON.stringify(prefix.slice(0, 100))}: ${problem}`,
    );
  }
}

/** A prefix `ObjectStore.browse` accepts: '' or one that ends in `/`. */
export function assertValidLevelPrefix(prefix: string): void {
  assertValidObjectPrefix(prefix);
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw errors.badInput(
      'prefix',
      `expected '' or a prefix ending in '/', got ${JSON.stringify(prefix.slice(0, 100))}`,
    );
  }
}

/**
 * Encodes a metadata value for an HTTP header: plain printable ASCII as is, anything else (unicode,
 * edge spaces, empty, or a value that itself looks encoded) as RFC 2047 base64, as S3 tools do.
 */
export function encodeMetadataValue(value: string): string {
  return PLAIN_HEADER_VALUE.test(value) && !value.startsWith('=?')
    ? value
    : `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`;
}

/** Inverse of `encodeMetadataValue`; values it did not encode come back unchanged. */
export function decodeMetadataValue(value: string): string {
  const match = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/i.exec(value);
  return match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : value;
}

/**
 * Checks metadata against the strictest S3 server we support, so it fits every store: names of
 * lowercase letters, digits and "-" (at most 64), values of at most 256 bytes and 2 KiB in all,
 * counted as S3 stores them (after `encodeMetadataValue`).
 * @throws AppError BAD_USER_INPUT
 */
export function assertValidMetadata(metadata: Record<string, string>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_NAME.test(name)) {
      throw errors.badInput(
        'metadata',
        `names must match ${METADATA_NAME.source}, got ${JSON.stringify(name)}`,
      );
    }
    if (typeof value !== 'string') {
      throw errors.badInput('metadata', `values must be strings, got ${typeof value} for ${name}`);
    }
    const valueBytes = Buffer.byteLength(encodeMetadataValue(value));
    if (valueBytes > MAX_METADATA_VALUE_BYTES) {
      const message = `${name} is ${valueBytes} bytes as stored, over the ${MAX_METADATA_VALUE_BYTES}-byte limit per value`;
      throw errors.badInput('metadata', message, { name, bytes: valueBytes });
    }
    bytes += name.length + valueBytes;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw errors.badInput('metadata', `must be at most ${MAX_METADATA_BYTES} bytes, got ${bytes}`, {
      bytes,
    });
  }
}

/** S3's longest presigned URL lifetime (7 days), applied to both stores. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/**
 * Checks a presigned URL lifetime: a whole number of seconds from 1 to 7 days.
 * @throws AppError BAD_USER_INPUT
 */
export function assertValidExpiry(expiresSeconds: number): void {
  if (
    !Number.isInteger(expiresSeconds) ||
    expiresSeconds < 1 ||
    expiresSeconds > MAX_PRESIGN_SECONDS
  ) {
    throw errors.badInput(
      'expiresSeconds',
      `expected whole seconds from 1 to ${MAX_PRESIGN_SECONDS}, got ${expiresSeconds}`,
    );
  }
}

// The key layout. Keys are scoped by tenant, then by job or upload, so a key names its owner and a
// tenant can only ever reference its own objects.

/** The prefix of every object of `tenant`: `t/<tenant>/`. */
export function tenantPrefix(tenant: string): string {
  return `t/${tenant}/`;
}

/** A fresh key for a presigned upload of `tenant`: `t/<tenant>/uploads/<uuid>.<extension>`. */
export function uploadKey(tenant: string, extension: string): string {
  return `${tenantPrefix(tenant)}uploads/${randomUUID()}.${extension}`;
}

/**
 * Where a job keeps its own copy of an input image (`role`: image, mask, content, style): in the
 * tenant's space, under a fresh id, so no presigned upload URL can ever reach it.
 */
export function inputCopyKey(tenant: string, role: string, extension: string): string {
  return `${tenantPrefix(tenant)}inputs/${randomUUID()}/${role}.${extension}`;
}

/** Where every image of a job is stored (`outputKeys`), whichever attempt made it. */
export function jobOutputPrefix(tenant: string, jobId: string): string {
  return `${tenantPrefix(tenant)}jobs/${jobId}/`;
}

/** The keys of image `index` of a job (the PNG and its WebP thumbnail), named by its seed. */
export function outputKeys(
  tenant: string,
  jobId: string,
  index: number,
  seed: number,
): { png: string; webp: string } {
  const base = `${jobOutputPrefix(tenant, jobId)}${index}-${seed}`;
  return { png: `${base}.png`, webp: `${base}.webp` };
}

/** @throws BAD_USER_INPUT when the key is not the tenant's (it reads as missing: no existence leak). */
export function requireOwnKey(tenant: string, key: string, field: string): string {
  if (!key.startsWith(tenantPrefix(tenant)) || key.includes('..')) {
    throw errors.badInput(
      field,
      `no object ${JSON.stringify(key)}: upload it first (createUpload)`,
    );
  }
  return key;
}
