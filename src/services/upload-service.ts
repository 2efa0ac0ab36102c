import { errors } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { checkFilename } from './input-checks.js';
import { uploadKey } from '../storage/object-key.js';

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/** A presigned PUT for one input image (the fields of the schema's `Upload`). */
export interface PresignedUpload {
  /** The key a job input references the upload by. */
  key: string;
  url: string;
  method: 'PUT';
  expiresAt: Date;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
}

/** Presigned uploads of input images; jobs check the bytes when they reference the key. */
export class UploadService {
  constructor(
    private readonly store: ObjectStore,
    private readonly ttlSeconds: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * A presigned PUT for one input image. `filename` is checked but not stored: the key, not the
   * name, identifies the upload.
   * @throws AppError BAD_USER_INPUT on `contentType` or `filename`
   */
  async create(
    tenant: string,
    input: { contentType: string; filename?: string | null | undefined },
    baseUrl: string,
  ): Promise<PresignedUpload> {
    const { contentType } = input;
    checkFilename(input.filename ?? undefined);
    const extension = EXTENSIONS[contentType];
    if (!extension) {
      throw errors.badInput(
        'contentType',
        `must be one of ${Object.keys(EXTENSIONS).join(', ')}, got ${JSON.stringify(contentType)}`,
      );
    }
    const key = uploadKey(tenant, extension);
    const url = await this.store.presignPut(key, this.ttlSeconds, baseUrl, { contentType });
    return {
      key,
      url,
      method: 'PUT',
      expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
      maxBytes: this.maxBytes,
    };
  }
}
