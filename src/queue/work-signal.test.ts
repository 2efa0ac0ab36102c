import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkSignal } from './work-signal.js';

describe('WorkSignal', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const settled = async (promise: Promise<void>): Promise<boolean> => {
    let done = false;
    void promise.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    return done;
  };

  it('wakes every waiter on notify', async () => {
    const signal = new WorkSignal();
    const waits = [signal.wait(10_000), signal.wait(10_000)];
    expect(await settled(waits[0]!)).toBe(false);
    signal.notify();
    expect(await settled(Promise.all(waits).then(() => undefined))).toBe(true);
  });

  it('resolves a wait by itself after its timeout', async () => {
    const wait = new WorkSignal().wait(500);
    await vi.advanceTimersByTimeAsync(499);
    expect(await settled(wait)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(wait)).toBe(true);
  });

  it('does not lose a notify that landed before the wait began', async () => {
    const signal = new WorkSignal();
    const since = signal.version;
    signal.notify();
    expect(await settled(signal.wait(10_000, since))).toBe(true);
  });

  it('releases everyone on close, and every later wait at once', async () => {
    const signal = new WorkSignal();
    const wait = signal.wait(10_000);
    signal.close();
    expect(await settled(wait)).toBe(true);
    expect(await settled(signal.wait(10_000))).toBe(true);
  });

  it('keeps its state per instance', async () => {
    const a = new WorkSignal();
    const b = new WorkSignal();
    const wait = b.wait(10_000);
    a.notify();
    expect(await settled(wait)).toBe(false);
    b.close();
  });
});
