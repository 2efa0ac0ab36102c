import { describe, expect, it } from 'vitest';
import { ThroughputMeter } from './throughput-meter.js';

/** Runs jobs of `model` one after another from `fromMs`, each `ms` long with `images`. */
function runSerially(
  meter: ThroughputMeter,
  jobs: number,
  options: { fromMs: number; ms: number; images?: number; model?: string },
): number {
  const { ms, images = 1, model = 'm' } = options;
  let at = options.fromMs;
  for (let i = 0; i < jobs; i += 1) {
    meter.started(model, at);
    meter.ended(model, images, at + ms, at);
    at += ms;
  }
  return at;
}

/** A meter past its cold first job of `model` (which took 10 s), at epoch ms 10 000. */
function warmMeter(model = 'm', timeConstantMs?: number): ThroughputMeter {
  const meter = new ThroughputMeter(timeConstantMs ? { timeConstantMs } : {});
  runSerially(meter, 1, { fromMs: 0, ms: 10_000, model });
  return meter;
}

describe('ThroughputMeter', () => {
  it('has no figure before a warm job completed with images', () => {
    const meter = new ThroughputMeter();
    expect(meter.figure()).toBeNull();
    meter.started('m', 0);
    expect(meter.figure()).toBeNull();
    meter.ended('m', 0, 1000, 0); // failed: no images
    expect(meter.figure()).toBeNull();
    runSerially(meter, 1, { fromMs: 1000, ms: 5000 }); // the cold one: left out
    expect(meter.imagesPerSecond('m')).toBeNull();
    runSerially(meter, 1, { fromMs: 6000, ms: 2000 });
    expect(meter.figure()).toEqual({ model: 'm', imagesPerSecond: 0.5 });
  });

  it('measures a steady rate exactly, from the first warm job on', () => {
    const meter = warmMeter();
    runSerially(meter, 50, { fromMs: 10_000, ms: 2000, images: 1 });
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
    const other = runSerially(meter, 1, { fromMs: 200_000, ms: 9000, images: 4, model: 'o' });
    expect(meter.figure()?.model).toBe('m'); // o's first job was cold
    runSerially(meter, 10, { fromMs: other, ms: 500, images: 4, model: 'o' });
    expect(meter.figure()?.model).toBe('o');
    expect(meter.figure()?.imagesPerSecond).toBeCloseTo(8, 9);
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
  });

  it('counts busy time only: idle time between jobs neither lowers nor ages the figure', () => {
    const meter = warmMeter();
    runSerially(meter, 1, { fromMs: 20_000, ms: 1000 });
    runSerially(meter, 1, { fromMs: 3_600_000, ms: 1000 }); // an hour idle in between
    expect(meter.imagesPerSecond('m')).toBeCloseTo(1, 9);
  });

  it('charges the time of failed jobs to the next completion', () => {
    const meter = warmMeter();
    const failedAt = runSerially(meter, 1, { fromMs: 10_000, ms: 1000, images: 0 });
    runSerially(meter, 1, { fromMs: failedAt, ms: 1000 });
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
  });

  it('sees a batch whose rows finish together as its images over its time, and leaves the cold batch out', () => {
    const meter = new ThroughputMeter();
    // The cold batch: every row started before the first completion.
    for (let i = 0; i < 8; i += 1) meter.started('m', 0);
    for (let i = 0; i < 8; i += 1) meter.ended('m', 1, 9000 + i, 0);
    expect(meter.imagesPerSecond('m')).toBeNull();
    for (let i = 0; i < 8; i += 1) meter.started('m', 10_000);
    for (let i = 0; i < 8; i += 1) meter.ended('m', 1, 14_000, 10_000);
    const measured = meter.imagesPerSecond('m') ?? 0;
    // 2 images/s; the first row of the burst carries the interval, the others add at once.
    expect(measured).toBeGreaterThan(1.9);
    expect(measured).toBeLessThan(2.2);
  });

  it('follows a change of speed within a few time constants', () => {
    const meter = warmMeter('m', 10_000);
    const at = runSerially(meter, 100, { fromMs: 10_000, ms: 1000 }); // 1 image/s for 10 τ
    runSerially(meter, 10, { fromMs: at, ms: 500 }); // 2 images/s for 0.5 τ
    const halfway = meter.imagesPerSecond('m') ?? 0;
    expect(halfway).toBeGreaterThan(1.3);
    expect(halfway).toBeLessThan(1.5); // 1 + (1 − e^−0.5) ≈ 1.39
    runSerially(meter, 80, { fromMs: at + 5000, ms: 500 }); // 4.5 τ in all
    expect(meter.imagesPerSecond('m')).toBeGreaterThan(1.98);
  });
});
