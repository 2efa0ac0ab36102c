/**
 * The tunables both queue engines accept with the same meaning, and their defaults, applied in
 * one place.
 */
import type { SchedulingMode, SchedulingTunables } from './fair-scheduling.js';

/** Tunables that both engines accept with the same meaning. */
export interface JobQueueTunables extends SchedulingTunables {
  /** Attempts of a job enqueued without `maxAttempts`. @default 3 */
  defaultMaxAttempts?: number;
  /** Most QUEUED jobs the queue holds; enqueueing beyond it throws QUEUE_FULL. @default unlimited */
  maxQueued?: number;
  /**
   * Delay before a retryable failure runs again; `attempt` is the 1-based attempt that failed.
   * @default 500·2^(attempt−1) ms, capped at 30 s
   */
  retryBackoffMs?: (attempt: number) => number;
  /** Finished jobs and their events are deleted this long after they finished. @default 7 days */
  retentionMs?: number;
  /** QUEUED jobs that waited this long since they were (re)queued become EXPIRED. @default never */
  queuedTtlMs?: number;
  /** How often retention, expiry and lost-worker sweeps run (also once at start). @default 60 s */
  sweepIntervalMs?: number;
  /**
   * Held jobs (`EnqueueInput.hold`) neither released nor discarded this long after they were
   * enqueued are discarded by the sweep: the operation that held them died with its process.
   * @default 10 minutes
   */
  heldTtlMs?: number;
  /**
   * A worker counts as live in `stats().workers` this long after its last `announce`.
   * @default 15 s (a JobRunner announces every 5 s)
   */
  workerTtlMs?: number;
  /** Milliseconds since the epoch; injectable for tests. @default Date.now */
  clock?: () => number;
  /**
   * Told about trouble the queue survives (a failed sweep, a risky Redis setting); the return
   * value is ignored. @default process.emitWarning
   */
  onWarning?: (message: string, cause?: unknown) => void;
}

/** The tunables with every default applied. */
type OptionalTunables = 'maxQueued' | 'queuedTtlMs' | 'tenantMaxQueued' | 'tenantMaxRunning';
export type ResolvedTunables = Required<Omit<JobQueueTunables, OptionalTunables>> &
  Pick<JobQueueTunables, OptionalTunables> & { scheduling: SchedulingMode };

/** `defaultMaxAttempts` when not given. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** `retentionMs` when not given: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** `sweepIntervalMs` when not given: 1 minute. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** `heldTtlMs` when not given: 10 minutes. */
export const DEFAULT_HELD_TTL_MS = 10 * 60_000;
/** `workerTtlMs` when not given: three missed announces of a JobRunner. */
export const DEFAULT_WORKER_TTL_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;

/** 500 ms, 1 s, 2 s, … capped at 30 s. */
export function defaultRetryBackoffMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), MAX_BACKOFF_MS);
}

/** Applies the documented defaults in one place. */
export function resolveTunables(tunables: JobQueueTunables): ResolvedTunables {
  const {
    defaultMaxAttempts = DEFAULT_MAX_ATTEMPTS,
    maxQueued,
    retryBackoffMs = defaultRetryBackoffMs,
    retentionMs = DEFAULT_RETENTION_MS,
    queuedTtlMs,
    sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS,
    heldTtlMs = DEFAULT_HELD_TTL_MS,
    workerTtlMs = DEFAULT_WORKER_TTL_MS,
    clock = Date.now,
    onWarning = (message: string) => process.emitWarning(message, 'JobQueueWarning'),
    scheduling = 'fair',
    tenantWeights = {},
    tenantMaxQueued,
    tenantMaxRunning,
  } = tunables;
  return {
    defaultMaxAttempts,
    maxQueued,
    retryBackoffMs,
    retentionMs,
    queuedTtlMs,
    sweepIntervalMs,
    heldTtlMs,
    workerTtlMs,
    clock,
    onWarning,
    scheduling,
    tenantWeights,
    tenantMaxQueued,
    tenantMaxRunning,
  };
}
