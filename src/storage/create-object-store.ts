import { FsObjectStore } from './fs-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/** Config of the embedded store; see `FsObjectStoreOptions`. */
export interface FsObjectStoreConfig {
  kind: 'fs';
  rootDir: string;
  signingSecret: string;
  /** @default DEFAULT_MAX_UPLOAD_BYTES (10 MiB) */
  maxUploadBytes?: number;
}

/** Config of the S3 store; see `S3ObjectStoreOptions`. */
export interface S3ObjectStoreConfig {
  kind: 's3';
  endPoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** @default 'us-east-1' */
  region?: string;
  /** @default endPoint */
  publicEndPoint?: string;
}

export type ObjectStoreConfig = FsObjectStoreConfig | S3ObjectStoreConfig;

/**
 * Builds the object store a config names; the caller (main.ts) then calls `start()`. The fs store
 * also needs `fsObjectRouter` mounted at `/objects`, so callers that mount it check `instanceof FsObjectStore`.
 */
export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.kind) {
    case 'fs': {
      const { kind: _kind, ...options } = config;
      return new FsObjectStore(options);
    }
    case 's3': {
      const { kind: _kind, ...options } = config;
      return new S3ObjectStore(options);
    }
  }
}
