import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, errors, httpStatusOf, isErrorCode } from './errors.js';

describe('the error catalogue', () => {
  it('lists every code once and knows its own codes only', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES).toContain('WORKER_LOST');
    expect(isErrorCode('QUEUE_FULL')).toBe(true);
    expect(isErrorCode('X')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(42)).toBe(false);
  });

  it('revives a serialized error as the same AppError', () => {
    const original = errors.badInput('seed', 'must be an integer', { received: 'x' });
    const revived = errors.revive(
      JSON.parse(JSON.stringify(original)) as ReturnType<AppError['toJSON']>,
    );
    expect(revived).toBeInstanceOf(AppError);
    expect(revived.toJSON()).toEqual(original.toJSON());
  });

  it('revives a code it does not know as GENERATION_FAILED, keeping message and retryability', () => {
    const revived = errors.revive({ code: 'FROM_THE_FUTURE', message: 'm', retryable: true });
    expect([revived.code, revived.message, revived.retryable]).toEqual([
      'GENERATION_FAILED',
      'm',
      true,
    ]);
  });

  it('gives UNAUTHENTICATED its 401 for a refused HTTP request', () => {
    const error = errors.unauthenticated('unknown API key');
    expect(error.extensions).toEqual({ code: 'UNAUTHENTICATED', http: { status: 401 } });
    expect(httpStatusOf(error.code)).toBe(401);
  });

  it('makes QUEUE_FULL retryable with its limit and whose limit it is', () => {
    const error = errors.queueFull(5, 'global');
    expect([error.code, error.retryable, error.details]).toEqual([
      'QUEUE_FULL',
      true,
      { maxQueued: 5, scope: 'global' },
    ]);
    const tenant = errors.queueFull(2, 'tenant');
    expect([tenant.details, tenant.message]).toEqual([
      { maxQueued: 2, scope: 'tenant' },
      'this tenant already has its maximum of 2 waiting jobs',
    ]);
  });
});
