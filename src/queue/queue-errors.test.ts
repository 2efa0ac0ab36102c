import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import {
  cannotCancel,
  cannotDelete,
  cannotRetry,
  idempotencyConflict,
  leaseLost,
  queueClosed,
} from './queue-errors.js';

describe('queue errors', () => {
  it('are CONFLICTs naming the job, what was expected and the status it had', () => {
    const cases = [
      [cannotCancel('j1', 'SUCCEEDED'), /expected QUEUED or RUNNING, got SUCCEEDED/],
      [cannotRetry('j1', 'RUNNING'), /expected FAILED or CANCELLED, got RUNNING/],
      [cannotDelete('j1', 'QUEUED'), /got QUEUED; cancel it first/],
      [leaseLost('j1', 'QUEUED'), /not leased by this claim \(status QUEUED\)/],
    ] as const;
    for (const [error, message] of cases) {
      expect(isAppError(error)).toBe(true);
      expect([error.code, error.retryable, error.details]).toEqual([
        'CONFLICT',
        false,
        { id: 'j1', status: error.details?.status },
      ]);
      expect(error.message).toMatch(message);
      expect(error.message).toContain('j1');
    }
  });

  it('name the idempotency key that was reused', () => {
    const error = idempotencyConflict('order-7');
    expect([error.code, error.details]).toEqual(['CONFLICT', { idempotencyKey: 'order-7' }]);
    expect(error.message).toContain('"order-7"');
  });

  it('call a closed queue an internal error, not the request', () => {
    expect([queueClosed().code, queueClosed().retryable]).toEqual(['INTERNAL_SERVER_ERROR', false]);
  });
});
