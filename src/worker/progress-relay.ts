/**
 * A job's engine progress on its way to the queue: at most one event per `intervalMs` within a
 * phase (phase changes and last steps always pass), and the time of each token step.
 */
import type { ClaimedJob, JobConsumer, JobProgress } from '../queue/job-queue.js';

/** Options of {@link progressRelay}. */
export interface ProgressRelayOptions {
  queue: Pick<JobConsumer, 'progress'>;
  claim: ClaimedJob;
  intervalMs: number;
  /** Seconds per token step, measured between consecutive steps of one phase. */
  onStepSeconds?: ((seconds: number) => void) | undefined;
}

/** The `onProgress` of one engine run. Queue failures are dropped: progress is advisory. */
export function progressRelay(options: ProgressRelayOptions): (progress: JobProgress) => void {
  const { queue, claim, intervalMs, onStepSeconds } = options;
  let lastAt = 0;
  let lastPhase = '';
  let lastStepAt = Date.now();
  let lastStep = 0;
  return (progress) => {
    const now = Date.now();
    if (progress.phase === lastPhase && progress.step > lastStep && onStepSeconds) {
      onStepSeconds((now - lastStepAt) / 1000 / (progress.step - lastStep));
    }
    lastStepAt = now;
    lastStep = progress.step;
    const isLast = progress.step >= progress.total;
    if (progress.phase === lastPhase && !isLast && now - lastAt < intervalMs) return;
    lastAt = now;
    lastPhase = progress.phase;
    void queue.progress(claim, progress).catch(() => undefined);
  };
}
