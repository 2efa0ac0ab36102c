/**
 * The storage seam: one contract, two stores (`FsObjectStore`, the embedded default, serving
 * files through the API with HMAC-signed expiring URLs; `S3ObjectStore`, the minio client against
 * MinIO, AWS or Ceph). Both pass one conformance suite (test/integration/storage.suite.ts) and
 * report failures as the same `AppError`s (NOT_FOUND, STORAGE_UNAVAILABLE).
 */

export interface PutOptions {
  contentType: string;
  /** Small string metadata (job id, seed, parameters); S3 stores it as x-amz-meta-*. */
  metadata?: Record<string, string>;
}

export interface ObjectInfo {
  key: string;
  size: number;
  contentType: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

/** One level of the key space under a prefix, as S3 lists it with the delimiter `/`. */
export interface ObjectLevel {
  /** Objects whose key continues the prefix without another `/`, sorted by key. */
  objects: { key: string; size: number; lastModified: Date }[];
  /** Longer prefixes, each ending in `/`, under which objects exist, sorted. */
  prefixes: string[];
}

export interface PresignPutOptions {
  contentType?: string;
}

export interface ObjectStore {
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /** Writes the whole object or nothing: readers never see a partial body. */
  put(key: string, body: Buffer, options: PutOptions): Promise<void>;
  /** @throws AppError NOT_FOUND */
  get(key: string): Promise<Buffer>;
  /** null when absent. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Absent keys are fine. */
  delete(key: string): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * One level under `prefix` ('' or ending in `/`): its objects with their size and last
   * modification, and its sub-prefixes, without walking below them.
   * @throws AppError BAD_USER_INPUT when `prefix` is neither '' nor ends in `/`
   */
  browse(prefix: string): Promise<ObjectLevel>;
  /** A URL anyone can GET until it expires; `baseUrl` is the API's public origin (fs store). */
  presignGet(key: string, expiresSeconds: number, baseUrl?: string): Promise<string>;
  /** A URL anyone can PUT the object's bytes to until it expires. */
  presignPut(
    key: string,
    expiresSeconds: number,
    baseUrl?: string,
    options?: PresignPutOptions,
  ): Promise<string>;
}
