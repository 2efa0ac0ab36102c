/**
 * The arithmetic of `Job.estimatedStartAt` and `estimatedFinishAt`, pure: the work ahead of a job
 * (images) over the measured throughput (images per second, summed over live workers). The
 * inputs come from the queue (EtaService): the images of the QUEUED jobs claimed before this one,
 * the images the RUNNING jobs have left (from their progress), and how many jobs run at once.
 *
 * The model is a work-conserving queue: the workers together make `imagesPerSecond`, so a QUEUED
 * job starts once the work ahead of it is done and finishes its own images after that; a RUNNING
 * job gets its share of the throughput (all running jobs alike: one batch row set each). With
 * several jobs per worker a queued job joins a running batch as soon as a slot frees, before the
 * work ahead is all done, so there `estimatedStartAt` is an upper bound.
 */
import type { JobProgress } from '../queue/job-queue.js';

/**
 * Where each phase's progress lies within a job, as [from, to] fractions of its time. The GPT's
 * token steps dominate: holistic then patch tokens, 16 + 64 on the shipped model (0.2 : 0.8) and
 * 128 + 256 at official size (0.33 : 0.67), so the holistic phase takes the quarter between;
 * decoding the images is a short tail. `encode` (in-painting and style inputs) comes first and is
 * short: counted as not started.
 */
const PHASE_SPANS: Record<string, readonly [number, number]> = {
  encode: [0, 0],
  holistic: [0, 0.25],
  patch: [0.25, 0.95],
  decode: [0.95, 1],
};

/** An estimate as epoch ms. */
export interface Eta {
  startMs: number;
  finishMs: number;
}

/** The fraction of a job's time done (0 … 1) from its last progress; 0 without progress. */
export function fractionDone(progress: JobProgress | null): number {
  if (!progress) return 0;
  const span = PHASE_SPANS[progress.phase];
  if (!span) return 0;
  const inPhase = progress.total > 0 ? Math.min(1, Math.max(0, progress.step / progress.total)) : 0;
  return span[0] + (span[1] - span[0]) * inPhase;
}

/** Images a job of `images` images has left to make, from its progress. */
export function imagesLeft(images: number, progress: JobProgress | null): number {
  return images * (1 - fractionDone(progress));
}

/** A usable throughput: measured, positive and finite. */
function isMeasured(imagesPerSecond: number | null): imagesPerSecond is number {
  return imagesPerSecond !== null && Number.isFinite(imagesPerSecond) && imagesPerSecond > 0;
}

/**
 * A QUEUED job: it starts after the work ahead (`imagesAhead` queued before it plus
 * `runningImagesLeft` in flight) and finishes its own `images` after that.
 * @returns null until a throughput has been measured
 */
export function estimateQueued(input: {
  nowMs: number;
  imagesPerSecond: number | null;
  imagesAhead: number;
  runningImagesLeft: number;
  images: number;
}): Eta | null {
  const { nowMs, imagesPerSecond, imagesAhead, runningImagesLeft, images } = input;
  if (!isMeasured(imagesPerSecond)) return null;
  const startMs = nowMs + ((imagesAhead + runningImagesLeft) / imagesPerSecond) * 1000;
  return { startMs, finishMs: startMs + (images / imagesPerSecond) * 1000 };
}

/**
 * A RUNNING job: it started at `startedAtMs`; it finishes its images left at its share of the
 * throughput, 1 / `runningJobs` of it (at least itself runs).
 * @returns null until a throughput has been measured
 */
export function estimateRunning(input: {
  nowMs: number;
  imagesPerSecond: number | null;
  startedAtMs: number;
  imagesLeft: number;
  runningJobs: number;
}): Eta | null {
  const { nowMs, imagesPerSecond, startedAtMs, runningJobs } = input;
  if (!isMeasured(imagesPerSecond)) return null;
  const share = imagesPerSecond / Math.max(1, runningJobs);
  return { startMs: startedAtMs, finishMs: nowMs + (input.imagesLeft / share) * 1000 };
}
