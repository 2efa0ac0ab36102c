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
    at += ms;
    meter.ended(model, images, at);
  }
  return at;
}

describe('ThroughputMeter', () => {
  it('has no figure before a job completed with images', () => {
    const meter = new ThroughputMeter();
    expect(meter.figure()).toBeNull();
    meter.started('m', 0);
    expect(meter.figure()).toBeNull();
    meter.ended('m', 0, 1000); // failed: no images
    expect(meter.figure()).toBeNull();
    expect(meter.imagesPerSecond('m')).toBeNull();
  });

  it('measures a steady rate exactly, from the first job on', () => {
    const meter = new ThroughputMeter();
    runSerially(meter, 1, { fromMs: 0, ms: 2000 });
    expect(meter.figure()).toEqual({ model: 'm', imagesPerSecond: 0.5 });
    runSerially(meter, 50, { fromMs: 2000, ms: 2000, images: 1 });
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
    runSerially(meter, 10, { fromMs: 200_000, ms: 500, images: 4, model: 'other' });
    expect(meter.figure()?.model).toBe('other');
    expect(meter.figure()?.imagesPerSecond).toBeCloseTo(8, 9);
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
  });

  it('counts busy time only: idle time between jobs neither lowers nor ages the figure', () => {
    const meter = new ThroughputMeter();
    meter.started('m', 0);
    meter.ended('m', 1, 1000);
    meter.started('m', 3_600_000);
    meter.ended('m', 1, 3_601_000);
    expect(meter.imagesPerSecond('m')).toBeCloseTo(1, 9);
  });

  it('charges the time of failed jobs to the next completion', () => {
    const meter = new ThroughputMeter();
    meter.started('m', 0);
    meter.ended('m', 0, 1000);
    meter.started('m', 1000);
    meter.ended('m', 1, 2000);
    expect(meter.imagesPerSecond('m')).toBeCloseTo(0.5, 9);
  });

  it('sees a batch whose rows finish together as its images over its time', () => {
    const meter = new ThroughputMeter();
    for (let i = 0; i < 8; i += 1) meter.started('m', 0);
    for (let i = 0; i < 8; i += 1) meter.ended('m', 1, 4000);
    const measured = meter.imagesPerSecond('m') ?? 0;
    // 2 images/s; the first row of the burst carries the interval, the others add at once.
    expect(measured).toBeGreaterThan(1.9);
    expect(measured).toBeLessThan(2.2);
  });

  it('follows a change of speed within a few time constants', () => {
    const meter = new ThroughputMeter({ timeConstantMs: 10_000 });
    const at = runSerially(meter, 100, { fromMs: 0, ms: 1000 }); // 1 image/s for 10 τ
    runSerially(meter, 10, { fromMs: at, ms: 500 }); // 2 images/s for 0.5 τ
    const halfway = meter.imagesPerSecond('m') ?? 0;
    expect(halfway).toBeGreaterThan(1.3);
    expect(halfway).toBeLessThan(1.5); // 1 + (1 − e^−0.5) ≈ 1.39
    runSerially(meter, 80, { fromMs: at + 5000, ms: 500 }); // 4.5 τ in all
    expect(meter.imagesPerSecond('m')).toBeGreaterThan(1.98);
  });
});
