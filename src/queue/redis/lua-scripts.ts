/**
 * The Redis engine's state changes as Lua scripts: Redis runs each one atomically, so a job's
 * fields, its indexes, the status counts, its event and the sequence bump land together even with
 * many API and worker processes. Every script takes the shared KEYS (`sharedKeys`), then its own,
 * and ARGV[1] = key prefix, ARGV[2] = now (epoch ms), ARGV[3] = now (ISO-8601), then its own
 * arguments (lua-prelude.ts). Keys a script finds in the data (the jobs of a sweep) are built
 * from the prefix inside it; with a hash-tagged prefix such as `{hita}` every key lives in one
 * Redis Cluster slot.
 *
 * Records are hashes whose JSON fields (params, outputs, progress, error) pass through as opaque
 * strings: Lua's cjson would round numbers to 14 digits and turn `[]` into `{}`.
 */

import type { Redis } from 'ioredis';
import { sharedKeys, type RedisKeys } from './redis-records.js';
import { DISCARD, DISCARD_STALE, RELEASE_HELD } from './lua-held-scripts.js';
import { PRELUDE } from './lua-prelude.js';
import { CANCEL, DELETE, ENQUEUE, POSITION, RETRY } from './lua-producer-scripts.js';
import { ORPHANS, SWEEP } from './lua-sweep-scripts.js';
import { CLAIM_DELIVERIES, SETTLE_DELIVERY } from './lua-webhook-scripts.js';
import { WORK_AHEAD } from './lua-work-ahead.js';
import {
  ANNOUNCE,
  CLAIM,
  FAIL,
  FINISH,
  HEARTBEAT,
  PROGRESS,
  RELEASE,
} from './lua-worker-scripts.js';

/** Script name → Lua source, for ioredis `defineCommand` (EVALSHA with EVAL fallback). */
export const LUA_SCRIPTS = {
  hitaEnqueue: PRELUDE + ENQUEUE,
  hitaClaim: PRELUDE + CLAIM,
  hitaHeartbeat: PRELUDE + HEARTBEAT,
  hitaProgress: PRELUDE + PROGRESS,
  hitaFinish: PRELUDE + FINISH,
  hitaFail: PRELUDE + FAIL,
  hitaRelease: PRELUDE + RELEASE,
  hitaAnnounce: PRELUDE + ANNOUNCE,
  hitaCancel: PRELUDE + CANCEL,
  hitaRetry: PRELUDE + RETRY,
  hitaPosition: PRELUDE + POSITION,
  hitaWorkAhead: PRELUDE + WORK_AHEAD,
  hitaSweep: PRELUDE + SWEEP,
  hitaDelete: PRELUDE + DELETE,
  hitaOrphans: PRELUDE + ORPHANS,
  hitaReleaseHeld: PRELUDE + RELEASE_HELD,
  hitaDiscard: PRELUDE + DISCARD,
  hitaDiscardStale: PRELUDE + DISCARD_STALE,
  hitaClaimDeliveries: PRELUDE + CLAIM_DELIVERIES,
  hitaSettleDelivery: PRELUDE + SETTLE_DELIVERY,
} as const;

/** The name of one of the scripts above. */
export type LuaScriptName = keyof typeof LUA_SCRIPTS;

/** A script's reply: an outcome word, then what that outcome carries. */
export type ScriptReply = [string, ...unknown[]];

/**
 * Runs the scripts on one connection, adding the shared keys and the common arguments (prefix,
 * now). ioredis `defineCommand` sends EVALSHA and falls back to EVAL once per connection, so a
 * Redis restart that flushed its script cache costs nothing. Each call sends its own `numkeys`:
 * ENQUEUE's key count varies (its idempotency key is optional).
 */
export class LuaRunner {
  private readonly commands: Record<string, (...args: unknown[]) => Promise<unknown>>;
  private readonly shared: readonly string[];

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly prefix: string,
    private readonly clock: () => number,
  ) {
    for (const [name, lua] of Object.entries(LUA_SCRIPTS)) redis.defineCommand(name, { lua });
    this.commands = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    this.shared = sharedKeys(keys);
  }

  /**
   * The raw reply of `name`.
   * @param ownKeys the script's own KEYS, from KEYS[12] (its doc comment lists them)
   * @param args the script's own ARGV, from ARGV[4]
   */
  run(name: LuaScriptName, ownKeys: string[], args: (string | number)[]): Promise<unknown> {
    const now = this.clock();
    const command = this.commands[name] as (...args: unknown[]) => Promise<unknown>;
    const keys = [...this.shared, ...ownKeys];
    return command.call(
      this.redis,
      keys.length,
      ...keys,
      this.prefix,
      now,
      new Date(now).toISOString(),
      ...args,
    );
  }

  /** The reply of a script that answers `{ outcome, … }`. */
  async reply(
    name: LuaScriptName,
    ownKeys: string[],
    args: (string | number)[],
  ): Promise<ScriptReply> {
    return (await this.run(name, ownKeys, args)) as ScriptReply;
  }

  /** KEYS 12… of a script that changes one job and emits: its hash and its event list. */
  jobKeys(id: string): string[] {
    return [this.keys.job(id), this.keys.events(id)];
  }

  /** KEYS 12 of a script that reads or changes one job's hash only. */
  jobKey(id: string): string[] {
    return [this.keys.job(id)];
  }
}
