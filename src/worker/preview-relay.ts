/**
 * A job's live previews, from its engine to the preview channel: each batch of frames becomes
 * one message, sent in order. Publishing never fails the job (a preview is expendable), and the
 * runner waits for the last one before it completes the job, so the final preview is out before
 * the job's `completed` event.
 */
import type { PreviewFrame } from '../inference/inference-engine.js';
import type { PreviewChannel } from '../queue/preview-channel.js';

export class PreviewRelay {
  private readonly channel: Pick<PreviewChannel, 'publish'>;
  private readonly jobId: string;
  private last: Promise<void> = Promise.resolve();

  constructor(channel: Pick<PreviewChannel, 'publish'>, jobId: string) {
    this.channel = channel;
    this.jobId = jobId;
  }

  /** InferenceJob.onPreview: queues the frames behind those sent before. */
  readonly send = (frames: PreviewFrame[]): void => {
    const message = {
      jobId: this.jobId,
      at: new Date().toISOString(),
      previews: frames.map(({ index, step, width, height, webp }) => ({
        index,
        step,
        width,
        height,
        dataUrl: `data:image/webp;base64,${Buffer.from(webp).toString('base64')}`,
      })),
    };
    this.last = this.last.then(() => this.channel.publish(message)).catch(() => undefined);
  };

  /** Resolves when every preview sent so far is handed on (or failed to be). */
  flushed(): Promise<void> {
    return this.last;
  }
}
