import { describe, expect, it } from 'vitest';
import type { RgbImage } from './image-codec.js';
import type { PreviewIds } from './preview-fill.js';
import { PreviewScheduler } from './preview-scheduler.js';
import type { TokenLayout } from './token-layout.js';

const LAYOUT: TokenLayout = {
  numHolistic: 4,
  numPatch: 16,
  grid: 4,
  length: 20,
  shiftK: 1,
  imageSize: 8,
};

/** A scheduler on a hand-turned clock whose decode takes `msPerImage` of it per image. */
function harness(msPerImage: number, options: { budget?: number } = {}, layout = LAYOUT) {
  let clock = 0;
  const n = layout.numPatch;
  const calls: { images: number; at: number; known: number[] }[] = [];
  const scheduler = new PreviewScheduler({
    layout,
    fillCode: 7,
    now: () => clock,
    ...options,
    decode: (ids: PreviewIds) => {
      const known = Array.from({ length: ids.count }, (_, b) =>
        ids.patch.subarray(b * n, (b + 1) * n).findIndex((id) => id === 7n),
      );
      calls.push({ images: ids.count, at: clock, known });
      clock += msPerImage * ids.count;
      const size = layout.imageSize;
      const image: RgbImage = { size, data: new Uint8Array(size * size * 3) };
      return Promise.resolve(Array.from({ length: ids.count }, () => image));
    },
  });
  const tick = async (ms: number) => {
    clock += ms;
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { scheduler, calls, tick, elapsed: () => clock };
}

const tokens =
  (step: number, length = 20) =>
  () => [Int32Array.from({ length }, (_, t) => (t < step ? 1 : 0))];

describe('PreviewScheduler', () => {
  it('takes the first preview at M and then at most one per interval; the fill starts at the known tokens', async () => {
    const { scheduler, calls, tick } = harness(0);
    scheduler.track('a', 1, () => undefined);
    for (let step = 1; step < 20; step++) {
      scheduler.offer('a', step, tokens(step));
      await tick(100); // one step every 100 ms: 1.9 s in all
    }
    // Offered at step 4 (= M) at 300 ms, decoded at the next boundary; then 500 ms apart.
    expect(calls.map((c) => c.at)).toEqual([400, 1000, 1600]);
    // The fill starts where the known patch tokens end: none at M, then 6, then 12.
    expect(calls.map((c) => c.known[0])).toEqual([0, 6, 12]);
  });

  it('keeps all jobs together within the decode budget, those without a first preview first', async () => {
    const budget = 0.05;
    // Long sequences, so that every job is still generating when the run ends.
    const long = { ...LAYOUT, numPatch: 1024, grid: 32, length: 1028 };
    const { scheduler, calls, tick, elapsed } = harness(20, { budget }, long);
    const jobs = Array.from({ length: 16 }, (_, j) => `j${j}`);
    const delivered = new Map<string, number>();
    for (const job of jobs) {
      scheduler.track(job, 1, () => delivered.set(job, (delivered.get(job) ?? 0) + 1));
    }
    for (let round = 0; round < 1000; round++) {
      for (const job of jobs) scheduler.offer(job, 4 + round, tokens(4 + round, 1028));
      await tick(15); // a GPT step of 15 ms for all 16 jobs
    }
    const decodeMs = calls.reduce((sum, c) => sum + c.images * 20, 0);
    // The bucket's one-second burst, plus at most one image over it.
    expect(decodeMs).toBeLessThanOrEqual(budget * elapsed() + budget * 1000 + 20);
    expect(decodeMs).toBeGreaterThan(0.5 * budget * elapsed());
    // Every job got previews, and none more than one over another (the least served go first).
    const images = calls.reduce((n, c) => n + c.images, 0);
    const total = () => [...delivered.values()].reduce((n, k) => n + k, 0);
    await expect.poll(total).toBe(images);
    const counts = jobs.map((job) => delivered.get(job) ?? 0);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('delivers one frame per image, in order, and nothing after untrack', async () => {
    const { scheduler, tick } = harness(0);
    const got: { index: number; step: number }[][] = [];
    scheduler.track('a', 1, (frames) =>
      got.push(frames.map(({ index, step }) => ({ index, step }))),
    );
    scheduler.offer('a', 4, tokens(4));
    await tick(0);
    await expect.poll(() => got.length).toBe(1);
    scheduler.untrack('a');
    scheduler.track('b', 1, () => got.push([]));
    scheduler.untrack('b');
    scheduler.offer('b', 4, tokens(4));
    await tick(1000);
    expect(got).toEqual([[{ index: 0, step: 4 }]]);
  });
});
