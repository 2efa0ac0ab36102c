import type { ObjectStore } from '../storage/object-store.js';

/** Options of {@link ImageUrlService}. */
export interface ImageUrlServiceOptions {
  store: ObjectStore;
  /** Lifetime of every URL it signs, in seconds (HITA_URL_TTL_SECONDS). */
  ttlSeconds: number;
}

/**
 * Presigned GET URLs of stored images (a job's outputs and its input copies): the one way the API
 * hands out an object, so resolvers never hold the store itself.
 */
export class ImageUrlService {
  private readonly store: ObjectStore;
  private readonly ttlSeconds: number;

  constructor(options: ImageUrlServiceOptions) {
    const { store, ttlSeconds } = options;
    this.store = store;
    this.ttlSeconds = ttlSeconds;
  }

  /**
   * A URL that reads `key` for `ttlSeconds`. `baseUrl` is this API's public origin, which the fs
   * store signs its URLs under (S3 ignores it).
   * @throws AppError STORAGE_UNAVAILABLE when the store cannot sign
   */
  urlFor(key: string, baseUrl: string): Promise<string> {
    return this.store.presignGet(key, this.ttlSeconds, baseUrl);
  }
}
