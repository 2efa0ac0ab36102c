/**
 * A worker's measured throughput: images per second for each model, exponentially averaged over
 * the worker's busy time (while it holds at least one job of that model), so idle hours neither
 * dilute the figure nor age it: an idle worker's capacity is what it last measured.
 *
 * Each completion closes an interval of Δ busy seconds (since the last one) that made n images:
 * its rate n/Δ enters a time-weighted exponential average with the interval's weight
 * w = ∫ e^(−s/τ) ds over it = τ·(1 − e^(−Δ/τ)). Kept as two decayed sums, S ← S·e^(−Δ/τ) + n·w/Δ
 * and W ← W·e^(−Δ/τ) + w, the figure S/W has no start-up bias (until τ of busy time has passed
 * it is images over busy seconds) and equals n/Δ exactly at a steady rate; busy time τ ago weighs
 * 1/e. A continuous batch finishes its rows together: in that burst Δ = 0, each row adds its
 * image (w·n/Δ → n) without moving W, so after the burst the figure is the batch's images over
 * its time.
 */
import type { ThroughputFigure } from '../queue/job-queue.js';

/**
 * τ, the time constant. 30 s of busy time spans several jobs or batches (a CFG batch of 8 at
 * official size takes a few seconds on CPU), so single bursts and stalls average out, and it is
 * short enough to follow a change of load or of machine contention within a minute or two.
 */
export const THROUGHPUT_TIME_CONSTANT_MS = 30_000;

interface ModelState {
  active: number;
  /**
   * When the model's first job here completed (epoch ms); null before. Jobs that started before
   * it ran cold: their images and busy time are left out.
   */
  warmFromMs: number | null;
  /** When busy time was last counted (epoch ms); null while no job of the model runs. */
  countedTo: number | null;
  /** Busy ms since the last completion with images. */
  pendingMs: number;
  /** The decayed sums S (images, time-weighted) and W (busy seconds). */
  images: number;
  seconds: number;
}

/** Options of {@link ThroughputMeter}. */
export interface ThroughputMeterOptions {
  /** τ of the average, in busy milliseconds. @default THROUGHPUT_TIME_CONSTANT_MS */
  timeConstantMs?: number;
}

/** Jobs started and ended → an images-per-second figure per model. Times are epoch ms. */
export class ThroughputMeter {
  private readonly tauSeconds: number;
  private readonly models = new Map<string, ModelState>();
  private lastModel: string | null = null;

  constructor(options: ThroughputMeterOptions = {}) {
    const { timeConstantMs = THROUGHPUT_TIME_CONSTANT_MS } = options;
    this.tauSeconds = timeConstantMs / 1000;
  }

  /** A job of `model` starts running on this worker. */
  started(model: string, nowMs: number): void {
    const state = this.stateOf(model);
    this.countBusy(state, nowMs);
    state.active += 1;
    state.countedTo ??= nowMs;
  }

  /**
   * A job of `model` that `started` at `startedAtMs` stops running: `images` it completed (0 for
   * one that failed, was cancelled or handed back: its time still counts, so the figure is what
   * the worker really delivers). Jobs that started before the model's first completion here ran
   * cold (fresh ORT sessions allocate and warm up in their first runs): they are left out, with
   * the busy time up to their end, so the figure starts from warm runs.
   */
  ended(model: string, images: number, nowMs: number, startedAtMs: number): void {
    const state = this.stateOf(model);
    this.countBusy(state, nowMs);
    state.active = Math.max(0, state.active - 1);
    if (state.active === 0) state.countedTo = null;
    if (images <= 0) return;
    const seconds = state.pendingMs / 1000;
    state.pendingMs = 0;
    const isCold = state.warmFromMs === null || startedAtMs < state.warmFromMs;
    state.warmFromMs ??= nowMs;
    if (isCold) return;
    const decay = Math.exp(-seconds / this.tauSeconds);
    const weight = this.tauSeconds * (1 - decay);
    state.images = state.images * decay + (seconds > 0 ? (images * weight) / seconds : images);
    state.seconds = state.seconds * decay + weight;
    this.lastModel = model;
  }

  /** Images per second of `model`; null until a warm completion after some busy time. */
  imagesPerSecond(model: string): number | null {
    const state = this.models.get(model);
    return state && state.seconds > 0 ? state.images / state.seconds : null;
  }

  /** The figure of the model this worker completed last (what it is busy with); null before. */
  figure(): ThroughputFigure | null {
    if (this.lastModel === null) return null;
    const imagesPerSecond = this.imagesPerSecond(this.lastModel);
    return imagesPerSecond === null ? null : { model: this.lastModel, imagesPerSecond };
  }

  private countBusy(state: ModelState, nowMs: number): void {
    if (state.countedTo === null) return;
    state.pendingMs += Math.max(0, nowMs - state.countedTo);
    state.countedTo = nowMs;
  }

  private stateOf(model: string): ModelState {
    let state = this.models.get(model);
    if (!state) {
      state = { active: 0, warmFromMs: null, countedTo: null, pendingMs: 0, images: 0, seconds: 0 };
      this.models.set(model, state);
    }
    return state;
  }
}
