import cliProgress from 'cli-progress';
import type { InferenceProgress } from '../inference/inference-engine.js';

/** A one-line progress bar on stderr that follows a job through its phases. */
export function createProgressBar(label: string): {
  update: (progress: InferenceProgress) => void;
  stop: () => void;
} {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} {phase} |{bar}| {value}/{total}`,
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      if (!started) {
        bar.start(progress.total, progress.step, { phase: progress.phase });
        started = true;
      }
      bar.setTotal(progress.total);
      bar.update(progress.step, { phase: progress.phase.padEnd(8) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
