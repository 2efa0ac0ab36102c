/** The Redis engine's `JobRemovals`: the notes `removeJob` (lua-prelude.ts) leaves of deleted jobs. */
import type { Redis } from 'ioredis';
import type { RemovedJob } from '../job-queue.js';
import { parseRemovedJob, type RedisKeys } from './redis-records.js';

/** The oldest `limit` notes, by removal time. */
export async function removedJobsOnRedis(
  commands: Redis,
  keys: RedisKeys,
  limit: number,
): Promise<RemovedJob[]> {
  const ids = await commands.zrange(keys.removedAt, 0, Math.max(0, limit) - 1);
  if (ids.length === 0) return [];
  const notes = await commands.hmget(keys.removed, ...ids);
  // A note forgotten between the two reads is simply done.
  return notes.flatMap((note) => (note === null ? [] : [parseRemovedJob(note)]));
}

/** Drops the notes of `ids`; unknown ids are ignored. */
export async function forgetRemovedOnRedis(
  commands: Redis,
  keys: RedisKeys,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  await commands
    .multi()
    .zrem(keys.removedAt, ...ids)
    .hdel(keys.removed, ...ids)
    .exec();
}
