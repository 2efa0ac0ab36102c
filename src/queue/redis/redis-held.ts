/** The Redis engine's `releaseHeld`: the script frees the held jobs, then BullMQ gets them. */
import type { BullDispatcher } from './bull-dispatcher.js';
import type { LuaRunner } from './lua-scripts.js';

/**
 * Makes the held jobs of `ids` claimable (the others are skipped).
 * @returns whether any was released (the caller wakes its waiting workers)
 */
export async function releaseHeldOnRedis(
  lua: LuaRunner,
  bull: BullDispatcher,
  ids: string[],
): Promise<boolean> {
  if (ids.length === 0) return false;
  const flat = (await lua.run('hitaReleaseHeld', [], ids)) as string[];
  const released: Record<string, string>[] = [];
  for (let i = 0; i + 4 <= flat.length; i += 4) {
    const [id = '', bullId = '', priority = '0', kind = 'GENERATE'] = flat.slice(i, i + 4);
    released.push({ id, bullId, priority, kind });
  }
  // BullMQ serves equal priorities first in, first out: add them in creation order (ids
  // sort by creation), one after another. A crash in between leaves orphans the sweep adds.
  released.sort((a, b) => ((a.id ?? '') < (b.id ?? '') ? -1 : 1));
  for (const hash of released) await bull.addRun(hash, 0);
  return released.length > 0;
}
