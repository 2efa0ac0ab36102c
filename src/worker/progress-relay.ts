/**
 * A job's engine progress on its way to the queue: at most one event per `intervalMs` within a
 * phase (phase changes and last steps always pass), the time of each token step, and a hook at
 * the first event, when the engine has the job in hand (its model open, its rows in a batch).
 */
import type { ClaimedJob, JobConsumer, JobProgress } from '../queue/job-queue.js';

/** Options of {@link progressRelay}. */
export interface ProgressRelayOptions {
  queue: Pick<JobConsumer, 'progress'>;
  claim: ClaimedJob;
  intervalMs: number;
  /** Seconds per token step, measured between consecutive steps of one phase. */
  onStepSeconds?: ((seconds: number) => void) | undefined;
  /** The job's first progress, at epoch ms `atMs`. */
  onFirst?: (atMs: number) => void;
}

/** The `onProgress` of one engine run. Queue failures are dropped: progress is advisory. */
export function progressRelay(options: ProgressRelayOptions): (progress: JobProgress) => void {
  const { queue, claim, intervalMs, onStepSeconds, onFirst } = options;
  let lastAt = 0;
  let lastPhase = '';
  let lastStepAt = Date.now();
  let lastStep = 0;
  let isFirst = true;
  return (progress) => {
    const now = Date.now();
    if (isFirst) onFirst?.(now);
    isFirst = false;
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
