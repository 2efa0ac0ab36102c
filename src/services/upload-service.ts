import { errors } from '../errors.js';
import type { Upload } from '../schema/queue.types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { uploadKey } from './object-keys.js';

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/** Presigned uploads of input images; jobs check the bytes when they reference the key. */
export class UploadService {
  constructor(
    private readonly store: ObjectStore,
    private readonly ttlSeconds: number,
    private readonly maxBytes: number,
  ) {}

  async create(tenant: string, contentType: string, baseUrl: string): Promise<Upload> {
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
