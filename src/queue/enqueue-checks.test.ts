import { describe, expect, it } from 'vitest';
import type { EnqueueInput } from './job-queue.js';
import { ownRetention, PRIORITY_LIMIT, validateEnqueue } from './enqueue-checks.js';

const input = (overrides: Partial<EnqueueInput> = {}): EnqueueInput =>
  ({ tenant: 't', kind: 'GENERATE', model: null, params: {}, ...overrides }) as EnqueueInput;

describe('enqueue checks', () => {
  it('default priority to 0 and attempts to the queue default', () => {
    expect(validateEnqueue(input(), 3)).toEqual({ priority: 0, maxAttempts: 3 });
    expect(validateEnqueue(input({ priority: -7, maxAttempts: 1 }), 3)).toEqual({
      priority: -7,
      maxAttempts: 1,
    });
  });

  it('refuse a priority outside ±PRIORITY_LIMIT, naming the field and range', () => {
    expect(() => validateEnqueue(input({ priority: PRIORITY_LIMIT + 1 }), 3)).toThrow(
      expect.objectContaining({
        code: 'BAD_USER_INPUT',
        details: expect.objectContaining({ field: 'priority', max: PRIORITY_LIMIT }),
      }),
    );
    expect(() => validateEnqueue(input({ priority: 0.5 }), 3)).toThrow(/priority/);
  });

  it('refuse zero attempts, an empty tenant and a non-positive retention', () => {
    expect(() => validateEnqueue(input({ maxAttempts: 0 }), 3)).toThrow(/maxAttempts/);
    expect(() => validateEnqueue(input({ tenant: '' }), 3)).toThrow(/tenant/);
    expect(() => validateEnqueue(input({ retentionMs: 0 }), 3)).toThrow(/retentionMs/);
  });

  it('store a job retention only when it is shorter than the queue one', () => {
    expect(ownRetention(undefined, 1000)).toBeNull();
    expect(ownRetention(1000, 1000)).toBeNull();
    expect(ownRetention(2000, 1000)).toBeNull();
    expect(ownRetention(999, 1000)).toBe(999);
  });
});
