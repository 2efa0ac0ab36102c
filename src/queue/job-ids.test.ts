import { describe, expect, it } from 'vitest';
import { JobIdGenerator, newLeaseToken } from './job-ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('job ids', () => {
  it('are UUIDv7 carrying their millisecond', () => {
    const id = new JobIdGenerator().next(1_700_000_000_123);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(1_700_000_000_123);
  });

  it('sort in creation order within one millisecond, past 4096 of them, and when the clock steps back', () => {
    const ids = new JobIdGenerator();
    const made = [
      ...Array.from({ length: 5000 }, () => ids.next(1000)),
      ids.next(999), // a clock that went back: still after the others
      ids.next(2000),
    ];
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });

  it('keep their state per generator', () => {
    const a = new JobIdGenerator();
    a.next(1000);
    a.next(1000);
    // A fresh generator starts counting at 0 again: its state is its own.
    expect(new JobIdGenerator().next(1000).slice(14, 18)).toBe('7000');
    expect(a.next(1000).slice(14, 18)).toBe('7002');
  });

  it('lease tokens are unguessable url-safe strings', () => {
    const tokens = new Set(Array.from({ length: 100 }, newLeaseToken));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
