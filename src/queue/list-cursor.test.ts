import { describe, expect, it } from 'vitest';
import { MAX_ECHO_CHARS } from '../errors.js';
import { decodeCursor, encodeCursor, MAX_PAGE_SIZE, validatePageSize } from './list-cursor.js';

describe('list cursor', () => {
  it('round-trips (createdAt, id)', () => {
    const cursor = encodeCursor(1_700_000_000_123, 'job-1');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ createdAtMs: 1_700_000_000_123, id: 'job-1' });
  });

  it('refuses anything encodeCursor did not make, echoing at most MAX_ECHO_CHARS', () => {
    const bad = [
      'not base64 json',
      Buffer.from('[1.5,"x"]').toString('base64url'),
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
    ];
    for (const cursor of bad) {
      expect(() => decodeCursor(cursor)).toThrow(
        expect.objectContaining({
          code: 'BAD_USER_INPUT',
          details: expect.objectContaining({ field: 'after' }),
        }),
      );
    }
    const long = (() => {
      try {
        decodeCursor('x'.repeat(5000));
      } catch (error) {
        return (error as { details: { received: string } }).details.received;
      }
      return null;
    })();
    expect(long?.length).toBe(MAX_ECHO_CHARS);
  });

  it('takes pages of 1 … MAX_PAGE_SIZE jobs', () => {
    expect(() => validatePageSize(1)).not.toThrow();
    expect(() => validatePageSize(MAX_PAGE_SIZE)).not.toThrow();
    expect(() => validatePageSize(0)).toThrow(/first/);
    expect(() => validatePageSize(MAX_PAGE_SIZE + 1)).toThrow(/first/);
  });
});
