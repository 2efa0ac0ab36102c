/**
 * When live previews are taken, and their decoding: the first right after the holistic phase,
 * then at most one every `intervalMs` per job, and one of the final images (made from their PNGs,
 * no decode). Previews of every due job share one `decode` call, between GPT steps, and all of
 * them together may take at most `budget` of the wall time (a leaky bucket of decode time): under
 * load a job's next preview waits, the step loop never does for long. The WebP encoding runs on
 * sharp's thread pool, off the step loop.
 */
import type { PreviewFrame } from '../inference-engine.js';
import { webpThumbnail, webpPreview, type RgbImage } from './image-codec.js';
import { previewIds, type PreviewIds } from './preview-fill.js';
import type { TokenLayout } from './token-layout.js';

/** A preview's longest side (px); smaller images are never enlarged. */
export const PREVIEW_MAX_SIDE = 64;
/** A preview's WebP bytes at most; a larger one (which 64 px never makes) is left out. */
export const PREVIEW_MAX_BYTES = 16 * 1024;

export interface PreviewSchedulerOptions {
  layout: TokenLayout;
  /** What fills the patch tokens not sampled yet (preview-fill.ts). */
  fillCode: number;
  decode: (ids: PreviewIds) => Promise<RgbImage[]>;
  /** Least time between two previews of one job. @default 500 */
  intervalMs?: number;
  /** Share of wall time that preview decodes may take, all jobs together. @default 0.05 */
  budget?: number;
  /** Images decoded per call at most. @default 16 */
  maxBatch?: number;
  /** A failed preview is dropped (it never fails its job); this hears why. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

interface Tracked {
  count: number;
  onPreview: (frames: PreviewFrame[]) => void;
  /** When its last preview was decoded; null before its first. */
  lastAt: number | null;
  /** A copy of its sequences at the last step it was offered, while a preview is due. */
  due: { step: number; tokens: Int32Array[] } | null;
  /** The highest step delivered: a slower, older encoding that lands later is dropped. */
  sentStep: number;
}

export class PreviewScheduler {
  private readonly options: Required<Omit<PreviewSchedulerOptions, 'onError'>> &
    Pick<PreviewSchedulerOptions, 'onError'>;
  private readonly jobs = new Map<string, Tracked>();
  /** Decode time (ms) the bucket holds; a call may take it below zero, then previews wait. */
  private credit: number;
  private creditAt: number;
  private isFlushing = false;
  private isScheduled = false;
  /** Decode time per image (ms) of the last call: how many images the credit buys. */
  private msPerImage = 0;

  constructor(options: PreviewSchedulerOptions) {
    this.options = {
      intervalMs: 500,
      budget: 0.05,
      maxBatch: 16,
      now: () => performance.now(),
      ...options,
    };
    this.credit = this.capacityMs;
    this.creditAt = this.options.now();
  }

  /** A burst of decoding allowed after a quiet spell: one second's worth of budget. */
  private get capacityMs(): number {
    return this.options.budget * 1000;
  }

  track(jobId: string, count: number, onPreview: (frames: PreviewFrame[]) => void): void {
    this.jobs.set(jobId, { count, onPreview, lastAt: null, due: null, sentStep: -1 });
  }

  /** Forgets a job: what is still being encoded for it is dropped. */
  untrack(jobId: string): void {
    this.jobs.delete(jobId);
  }

  /**
   * After a step: `step` positions are final in every image of the job, whose sequences
   * `tokens` returns (the engine's own arrays, copied here at once when a preview is due).
   */
  offer(jobId: string, step: number, tokens: () => readonly Int32Array[]): void {
    const job = this.jobs.get(jobId);
    const { layout, intervalMs, now } = this.options;
    if (!job || step < layout.numHolistic || step >= layout.length) return;
    if (job.lastAt !== null && now() - job.lastAt < intervalMs) return;
    job.due = { step, tokens: tokens().map((seq) => seq.slice()) };
    if (!this.isFlushing && !this.isScheduled) {
      this.isScheduled = true;
      // Runs before the engine's next step (it yields with setImmediate too, queued after this).
      setImmediate(() => void this.flush());
    }
  }

  /** The last preview: the job's final images, at step M + N. */
  async finish(jobId: string, pngs: readonly Buffer[]): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return;
    const step = this.options.layout.length;
    try {
      const webps = await Promise.all(pngs.map((png) => webpThumbnail(png, PREVIEW_MAX_SIDE)));
      this.deliver(jobId, step, webps);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async flush(): Promise<void> {
    this.isScheduled = false;
    const { budget, maxBatch, now, layout, fillCode } = this.options;
    const at = now();
    this.credit = Math.min(this.capacityMs, this.credit + budget * (at - this.creditAt));
    this.creditAt = at;
    if (this.credit < 0) return; // the next offer tries again
    // No more images than the credit pays for (at least one job), so a call overdraws by one job.
    const affordable = this.msPerImage > 0 ? Math.floor(this.credit / this.msPerImage) : 1;
    const picked = this.pick(Math.max(1, Math.min(maxBatch, affordable)));
    if (picked.length === 0) return;
    this.isFlushing = true;
    try {
      const images = picked.flatMap(({ due }) =>
        due.tokens.map((tokens) => ({ tokens, known: due.step })),
      );
      const rgbs = await this.options.decode(previewIds(layout, images, fillCode));
      const spentMs = now() - at;
      this.credit -= spentMs;
      this.msPerImage = spentMs / images.length;
      let offset = 0;
      for (const { jobId, job, due } of picked) {
        job.lastAt = at;
        job.due = null;
        const mine = rgbs.slice(offset, (offset += job.count));
        void Promise.all(mine.map((rgb) => webpPreview(rgb, PREVIEW_MAX_SIDE))).then(
          (webps) => this.deliver(jobId, due.step, webps),
          (error: unknown) => this.options.onError?.(error),
        );
      }
    } catch (error) {
      this.options.onError?.(error);
      for (const { job } of picked) job.due = null;
    } finally {
      this.isFlushing = false;
    }
  }

  /** Due jobs, those without a first preview first, then the longest waiting; whole jobs only. */
  private pick(maxImages: number): { jobId: string; job: Tracked; due: Tracked['due'] & {} }[] {
    const due = [...this.jobs.entries()]
      .filter(([, job]) => job.due !== null)
      .sort(([, a], [, b]) => (a.lastAt ?? -Infinity) - (b.lastAt ?? -Infinity));
    const picked: { jobId: string; job: Tracked; due: Tracked['due'] & {} }[] = [];
    let images = 0;
    for (const [jobId, job] of due) {
      // One job larger than a batch still goes, alone: its previews come whole or not at all.
      if (picked.length > 0 && images + job.count > maxImages) break;
      picked.push({ jobId, job, due: job.due! });
      images += job.count;
    }
    return picked;
  }

  private deliver(jobId: string, step: number, webps: Buffer[]): void {
    const job = this.jobs.get(jobId);
    if (!job || step <= job.sentStep) return;
    if (webps.some((webp) => webp.byteLength > PREVIEW_MAX_BYTES)) return;
    job.sentStep = step;
    const side = Math.min(this.options.layout.imageSize, PREVIEW_MAX_SIDE);
    job.onPreview(webps.map((webp, index) => ({ index, step, width: side, height: side, webp })));
  }
}
