import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HELD_TTL_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETENTION_MS,
  DEFAULT_SWEEP_INTERVAL_MS,
  DEFAULT_WORKER_TTL_MS,
  defaultRetryBackoffMs,
  resolveTunables,
} from './queue-tunables.js';

describe('queue tunables', () => {
  it('apply every documented default and leave the unlimited ones unset', () => {
    const resolved = resolveTunables({});
    expect(resolved).toMatchObject({
      defaultMaxAttempts: DEFAULT_MAX_ATTEMPTS,
      retentionMs: DEFAULT_RETENTION_MS,
      sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS,
      heldTtlMs: DEFAULT_HELD_TTL_MS,
      workerTtlMs: DEFAULT_WORKER_TTL_MS,
      clock: Date.now,
      retryBackoffMs: defaultRetryBackoffMs,
    });
    expect(resolved.maxQueued).toBeUndefined();
    expect(resolved.queuedTtlMs).toBeUndefined();
  });

  it('keep what the caller gave', () => {
    const clock = () => 42;
    const onWarning = () => undefined;
    const resolved = resolveTunables({ maxQueued: 5, queuedTtlMs: 10, clock, onWarning });
    expect(resolved).toMatchObject({ maxQueued: 5, queuedTtlMs: 10, clock, onWarning });
  });

  it('back off 500 ms, doubling per failed attempt, capped at 30 s', () => {
    expect([1, 2, 3, 4].map(defaultRetryBackoffMs)).toEqual([500, 1000, 2000, 4000]);
    expect(defaultRetryBackoffMs(0)).toBe(500);
    expect(defaultRetryBackoffMs(20)).toBe(30_000);
  });
});
