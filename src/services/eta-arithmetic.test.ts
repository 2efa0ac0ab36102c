import { describe, expect, it } from 'vitest';
import { estimateQueued, estimateRunning, fractionDone, imagesLeft } from './eta-arithmetic.js';

describe('ETA arithmetic', () => {
  it('places each phase of a job on its share of the job’s time', () => {
    expect(fractionDone(null)).toBe(0);
    expect(fractionDone({ phase: 'encode', step: 1, total: 2 })).toBe(0);
    expect(fractionDone({ phase: 'holistic', step: 0, total: 16 })).toBe(0);
    expect(fractionDone({ phase: 'holistic', step: 8, total: 16 })).toBeCloseTo(0.125, 12);
    expect(fractionDone({ phase: 'patch', step: 0, total: 64 })).toBeCloseTo(0.25, 12);
    expect(fractionDone({ phase: 'patch', step: 64, total: 64 })).toBeCloseTo(0.95, 12);
    expect(fractionDone({ phase: 'decode', step: 2, total: 2 })).toBe(1);
    // Out of range or unknown: clamped, or counted as not started.
    expect(fractionDone({ phase: 'patch', step: 99, total: 64 })).toBeCloseTo(0.95, 12);
    expect(fractionDone({ phase: 'patch', step: 1, total: 0 })).toBeCloseTo(0.25, 12);
    expect(fractionDone({ phase: 'warp', step: 1, total: 2 })).toBe(0);
    expect(imagesLeft(4, { phase: 'decode', step: 1, total: 2 })).toBeCloseTo(0.1, 12);
  });

  it('starts a queued job after the work ahead and the work in flight, and finishes its own after', () => {
    const eta = estimateQueued({
      nowMs: 10_000,
      imagesPerSecond: 2,
      imagesAhead: 6,
      runningImagesLeft: 1,
      images: 3,
    });
    expect(eta).toEqual({ startMs: 13_500, finishMs: 15_000 });
    const first = estimateQueued({
      nowMs: 0,
      imagesPerSecond: 4,
      imagesAhead: 0,
      runningImagesLeft: 0,
      images: 1,
    });
    expect(first).toEqual({ startMs: 0, finishMs: 250 });
  });

  it('gives a running job its share of the throughput', () => {
    const alone = { nowMs: 5000, imagesPerSecond: 2, startedAtMs: 4000, imagesLeft: 1 };
    expect(estimateRunning({ ...alone, runningJobs: 1 })).toEqual({
      startMs: 4000,
      finishMs: 5500,
    });
    expect(estimateRunning({ ...alone, runningJobs: 4 })).toEqual({
      startMs: 4000,
      finishMs: 7000,
    });
    expect(estimateRunning({ ...alone, runningJobs: 0 })?.finishMs).toBe(5500);
  });

  it('estimates nothing without a measured throughput', () => {
    for (const imagesPerSecond of [null, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const queued = { nowMs: 0, imagesAhead: 1, runningImagesLeft: 0, images: 1 };
      expect(estimateQueued({ ...queued, imagesPerSecond })).toBeNull();
      const running = { nowMs: 0, startedAtMs: 0, imagesLeft: 1, runningJobs: 1 };
      expect(estimateRunning({ ...running, imagesPerSecond })).toBeNull();
    }
  });
});
