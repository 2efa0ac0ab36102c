/**
 * The queue seam's factory: the composition root hands it `cfg.queue` and gets a `JobQueue`
 * without naming an engine. Call `start()` before use and `close()` on shutdown.
 */
import { BullJobQueue, type BullJobQueueOptions } from './redis/bull-job-queue.js';
import type { JobQueue } from './job-queue.js';
import type { JobQueueTunables } from './queue-shared.js';
import { SqliteJobQueue, type SqliteJobQueueOptions } from './sqlite/sqlite-job-queue.js';

/**
 * Functions that cannot live in a parsed, frozen config: kept apart so `config` stays plain data
 * (and can be handed to a child process as JSON).
 */
export type JobQueueHooks = Pick<JobQueueTunables, 'onWarning' | 'clock' | 'retryBackoffMs'>;

/**
 * The queue seam's config, the one type `config.ts` builds (`cfg.queue`) and tests write as
 * literals: `sqlite`, embedded and durable, the default; `redis`, BullMQ, shared by many
 * processes. Plain data: the hooks come apart. Leases are not configured here: a worker asks for
 * one with each `claim` and `heartbeat` (`JobRunnerOptions.leaseMs`, HITA_LEASE_MS).
 */
export type JobQueueConfig =
  | ({ kind: 'sqlite' } & Omit<SqliteJobQueueOptions, keyof JobQueueHooks>)
  | ({ kind: 'redis' } & Omit<BullJobQueueOptions, keyof JobQueueHooks>);

/** Builds (does not start) the engine that `config.kind` names. */
export function createJobQueue(config: JobQueueConfig, hooks: JobQueueHooks = {}): JobQueue {
  switch (config.kind) {
    case 'sqlite': {
      const { kind: _kind, ...options } = config;
      return new SqliteJobQueue({ ...options, ...hooks });
    }
    case 'redis': {
      const { kind: _kind, ...options } = config;
      return new BullJobQueue({ ...options, ...hooks });
    }
  }
}
