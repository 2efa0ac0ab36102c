/**
 * Housekeeping of the Redis engine, run at start and every sweep interval by any process (the
 * scripts are atomic, so concurrent sweeps are harmless): lost workers, the queued TTL and
 * retention in bounded batches, then re-dispatch of jobs BullMQ lost track of.
 */
import type { ResolvedTunables } from '../queue-tunables.js';
import type { BullDispatcher } from './bull-dispatcher.js';
import type { LuaRunner } from './lua-scripts.js';
import type { RedisKeys } from './redis-records.js';

const SWEEP_BATCH = 500;

/** One full housekeeping pass; safe to run from several processes at once. */
export async function sweepRedis(options: {
  lua: LuaRunner;
  bull: BullDispatcher;
  keys: RedisKeys;
  tunables: ResolvedTunables;
  /** Records younger than this may be between their script and their BullMQ call. */
  orphanAgeMs: number;
}): Promise<void> {
  const { lua, bull, keys, tunables, orphanAgeMs } = options;
  const { queuedTtlMs, retentionMs, heldTtlMs, clock } = tunables;
  // Held jobs whose operation died with its process (never released nor discarded).
  let looked = SWEEP_BATCH;
  while (looked === SWEEP_BATCH) {
    looked = Number(await lua.run('hitaDiscardStale', [], [clock() - heldTtlMs, SWEEP_BATCH]));
  }
  for (;;) {
    const args = [queuedTtlMs ?? '', retentionMs, SWEEP_BATCH];
    const [changed, ...expired] = (await lua.run('hitaSweep', [], args)) as [number, ...string[]];
    await Promise.all(expired.map((bullId) => bull.remove(bullId)));
    if (changed === 0) break;
  }
  const orphans = (await lua.run('hitaOrphans', [], [keys.bullJobPrefix, orphanAgeMs])) as string[];
  for (let i = 0; i + 5 <= orphans.length; i += 5) {
    const [id = '', bullId = '', priority = '0', kind = 'GENERATE', availableAt = '0'] =
      orphans.slice(i, i + 5);
    await bull.addRun({ id, bullId, priority, kind }, Number(availableAt) - clock());
  }
}
