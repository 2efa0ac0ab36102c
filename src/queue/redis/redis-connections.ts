/**
 * The three Redis connections of a `BullJobQueue`: commands (our scripts and reads), a
 * subscriber (a subscribed connection can do nothing else), and BullMQ's (whose blocking calls
 * need `maxRetriesPerRequest: null`; its Worker duplicates it once more for blocking reads).
 */
import { Redis } from 'ioredis';

/** The open connections of a started queue. */
export interface RedisConnections {
  commands: Redis;
  subscriber: Redis;
  bull: Redis;
}

/**
 * Connects, checks the eviction policy, and resolves only once `channel` is subscribed, so no
 * event published after `start()` is missed.
 */
export async function openRedisConnections(options: {
  redisUrl: string;
  channel: string;
  onMessage: (message: string) => void;
  onWarning: (message: string, cause?: unknown) => void;
}): Promise<RedisConnections> {
  const { redisUrl, channel, onMessage, onWarning } = options;
  const commands = new Redis(redisUrl, { lazyConnect: true });
  // ioredis reconnects by itself and each call reports its own failure; without a listener an
  // 'error' event would only be logged as unhandled.
  commands.on('error', () => undefined);
  await commands.connect();
  await checkEvictionPolicy(commands, onWarning);
  const subscriber = commands.duplicate();
  subscriber.on('error', () => undefined);
  subscriber.on('message', (_channel: string, message: string) => onMessage(message));
  await subscriber.subscribe(channel);
  const bull = new Redis(redisUrl, { maxRetriesPerRequest: null });
  bull.on('error', () => undefined);
  return { commands, subscriber, bull };
}

/** QUIT on each, never throwing: close() must finish even when Redis is gone. */
export async function closeRedisConnections(connections: RedisConnections): Promise<void> {
  const { commands, subscriber, bull } = connections;
  await Promise.allSettled([subscriber.quit(), commands.quit(), bull.quit()]);
}

/** Redis must not evict: a lost job record or BullMQ key is a lost job. */
async function checkEvictionPolicy(
  redis: Redis,
  onWarning: (message: string, cause?: unknown) => void,
): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      onWarning(
        `Redis maxmemory-policy is ${policy ?? 'unknown'}; expected noeviction, or Redis may ` +
          'evict job records and BullMQ keys under memory pressure',
      );
    }
  } catch (error) {
    // Managed Redis services often disable CONFIG: say so rather than refuse to start.
    onWarning('could not read Redis maxmemory-policy (CONFIG GET failed)', error);
  }
}
