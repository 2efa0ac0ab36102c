import { describe, expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import {
  expectOutcome,
  scriptError,
  ScriptOutcome,
  type OutcomeContext,
} from './script-outcomes.js';

const ctx = (change: OutcomeContext['change'], extra: Partial<OutcomeContext> = {}) => ({
  jobId: 'j1',
  change,
  ...extra,
});

describe('script outcomes', () => {
  it('return an accepted outcome as it is', () => {
    expect(
      expectOutcome('created', [ScriptOutcome.Created, ScriptOutcome.Existing], ctx('enqueue')),
    ).toBe(ScriptOutcome.Created);
  });

  it('map the refusals of enqueue onto QUEUE_FULL and the idempotency CONFLICT', () => {
    const full = scriptError('full', ctx('enqueue', { maxQueued: 3 }));
    expect([full.code, full.retryable, full.details]).toEqual([
      'QUEUE_FULL',
      true,
      { maxQueued: 3, scope: 'global' },
    ]);
    const tenantFull = scriptError('tenant-full', ctx('enqueue', { tenantMaxQueued: 2 }));
    expect([tenantFull.code, tenantFull.details]).toEqual([
      'QUEUE_FULL',
      { maxQueued: 2, scope: 'tenant' },
    ]);
    const conflict = scriptError('conflict', ctx('enqueue', { idempotencyKey: 'k' }));
    expect([conflict.code, conflict.details]).toEqual(['CONFLICT', { idempotencyKey: 'k' }]);
  });

  it('map a missing job onto NOT_FOUND, whatever the change', () => {
    for (const change of ['cancel', 'retry', 'delete', 'leased-call'] as const) {
      const error = scriptError('missing', ctx(change));
      expect([error.code, error.details]).toEqual(['NOT_FOUND', { id: 'j1' }]);
    }
  });

  it('word the CONFLICT of a job status after the change refused', () => {
    const expected = {
      cancel: /cannot be cancelled: expected QUEUED or RUNNING, got SUCCEEDED/,
      retry: /cannot be retried: expected FAILED or CANCELLED, got SUCCEEDED/,
      delete: /cannot be deleted: .* got SUCCEEDED/,
      'leased-call': /not leased by this claim \(status SUCCEEDED\)/,
    } as const;
    for (const [change, message] of Object.entries(expected)) {
      const error = scriptError('SUCCEEDED', ctx(change as OutcomeContext['change']));
      expect([error.code, error.details]).toEqual(['CONFLICT', { id: 'j1', status: 'SUCCEEDED' }]);
      expect(error.message).toMatch(message);
    }
  });

  it('call an outcome no script answers, or one its caller does not accept, a bug', () => {
    for (const [word, change] of [
      ['what', 'cancel'],
      ['QUEUED', 'enqueue'],
      ['ok', 'cancel'],
    ] as const) {
      const thrown = (() => {
        try {
          expectOutcome(word, [ScriptOutcome.Cancelled], ctx(change));
        } catch (error) {
          return error;
        }
        return null;
      })();
      expect(isAppError(thrown) && thrown.code).toBe('INTERNAL_SERVER_ERROR');
    }
  });
});
