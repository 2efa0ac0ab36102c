/**
 * The preview channel's factory, over the queue's config: previews travel where the queue's
 * events do (in process on SQLite, Redis pub/sub with REDIS_URL), but are never stored.
 */
import type { JobQueueConfig } from './create-job-queue.js';
import { LocalPreviewChannel, type PreviewChannel } from './preview-channel.js';
import { RedisPreviewChannel } from './redis/redis-preview-channel.js';

/**
 * Builds (does not start) the channel for `config.kind`. On SQLite a preview reaches only the
 * API of its own process (`hita serve`): another process on one SQLite file sees none.
 */
export function createPreviewChannel(config: JobQueueConfig): PreviewChannel {
  switch (config.kind) {
    case 'sqlite':
      return new LocalPreviewChannel();
    case 'redis':
      return new RedisPreviewChannel({
        redisUrl: config.redisUrl,
        ...(config.prefix === undefined ? {} : { prefix: config.prefix }),
      });
  }
}
