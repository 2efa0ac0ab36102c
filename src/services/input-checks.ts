import sharp from 'sharp';
import { errors, quote, requireIntegerInRange } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface InputLimits {
  /** Images per job. @default 16 */
  maxCount: number;
  /** Bytes of a referenced input image. */
  maxImageBytes: number;
  /** Pixels (width × height) of a referenced input image. */
  maxImagePixels: number;
  /** The longest `retentionHours` a job may ask for: the server's retention (HITA_RETENTION_HOURS). */
  maxRetentionHours: number;
}

/** API priorities are a small scale; the queues accept a far wider one. */
export const MAX_PRIORITY = 10;

/**
 * An input with its null fields removed. GraphQL lets a client send an explicit null for any
 * nullable field, and it means what leaving the field out means (defaults, a random seed).
 */
export function withoutNulls<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null)) as T;
}

/** Longest `createUpload` file name, in UTF-8 bytes (what common file systems allow). */
export const MAX_FILENAME_BYTES = 255;

/** @throws AppError BAD_USER_INPUT on `filename` when it is longer than 255 bytes of UTF-8 */
export function checkFilename(filename: string | undefined): void {
  if (filename === undefined) return;
  const bytes = Buffer.byteLength(filename, 'utf8');
  if (bytes > MAX_FILENAME_BYTES) {
    throw errors.badInput(
      'filename',
      `must be at most ${MAX_FILENAME_BYTES} bytes of UTF-8, got ${bytes}`,
      { max: MAX_FILENAME_BYTES, received: bytes },
    );
  }
}

export function checkPriority(priority: number | undefined): number {
  return requireIntegerInRange('priority', priority ?? 0, -MAX_PRIORITY, MAX_PRIORITY);
}

/**
 * A job's own retention: whole hours in (0, maxRetentionHours], as milliseconds; undefined when
 * not asked for (the server's retention applies).
 * @throws AppError BAD_USER_INPUT on `retentionHours`, with `min`, `max` and `received`
 */
export function checkRetentionHours(
  hours: number | undefined,
  limits: InputLimits,
): number | undefined {
  if (hours === undefined) return undefined;
  const max = Math.floor(limits.maxRetentionHours);
  if (max < 1) {
    throw errors.badInput(
      'retentionHours',
      `this server keeps jobs ${limits.maxRetentionHours} h, less than the 1 h a job can ask for; leave it out`,
      { max: limits.maxRetentionHours, received: hours },
    );
  }
  return requireIntegerInRange('retentionHours', hours, 1, max) * 3_600_000;
}

/** An input image by object key, with the input field that named it. */
export interface ImageRef {
  key: string;
  field: string;
}

/** Pixel size of a checked input image. */
export interface ImageSize {
  width: number;
  height: number;
}

/** A checked input image: its size, and the very bytes that passed the checks. */
export interface CheckedImage extends ImageSize {
  bytes: Buffer;
  /** As the store reported it for the object. */
  contentType: string;
}

/**
 * Several referenced images checked concurrently, with a deterministic answer: when more than one
 * is wrong, the error names the first in the given (the input's declared) order, whichever load
 * failed first.
 * @returns each checked image, in the order given
 */
export async function checkImageObjects<const R extends readonly ImageRef[]>(
  store: ObjectStore,
  refs: R,
  limits: InputLimits,
): Promise<{ [I in keyof R]: CheckedImage }> {
  const settled = await Promise.allSettled(
    refs.map(({ key, field }) => checkImageObject(store, key, field, limits)),
  );
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  const images = settled.map((result) => (result as PromiseFulfilledResult<CheckedImage>).value);
  return images as { [I in keyof R]: CheckedImage };
}

/**
 * A referenced image exists in the tenant's space, is within the size limits and decodes.
 * @returns its pixel size (to match a mask against it) and the bytes checked, which are what a
 *   job must read: the object under `key` may be overwritten later
 */
export async function checkImageObject(
  store: ObjectStore,
  key: string,
  field: string,
  limits: InputLimits,
): Promise<CheckedImage> {
  const info = await store.stat(key);
  if (!info)
    throw errors.badInput(field, `no object ${quote(key)}: upload it first (createUpload)`);
  if (info.size > limits.maxImageBytes) {
    throw errors.badInput(field, `is ${info.size} bytes; the limit is ${limits.maxImageBytes}`, {
      size: info.size,
      limit: limits.maxImageBytes,
    });
  }
  const bytes = await store.get(key);
  // Overwritten since the stat: the bytes read are the ones that count.
  if (bytes.length > limits.maxImageBytes) {
    throw errors.badInput(field, `is ${bytes.length} bytes; the limit is ${limits.maxImageBytes}`, {
      size: bytes.length,
      limit: limits.maxImageBytes,
    });
  }
  try {
    const meta = await sharp(bytes, { limitInputPixels: limits.maxImagePixels }).metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    if (meta.width * meta.height > limits.maxImagePixels) throw new Error('too many pixels');
    await sharp(bytes, { limitInputPixels: limits.maxImagePixels }).raw().toBuffer();
    return { width: meta.width, height: meta.height, bytes, contentType: info.contentType };
  } catch (error) {
    throw errors.badInput(
      field,
      `does not decode as an image within ${limits.maxImagePixels} pixels (${(error as Error).message})`,
    );
  }
}
