/**
 * The preview channel seam: live previews of running jobs, from the worker that makes them to
 * every API process that streams the job (`jobUpdated`). Ephemeral on purpose, unlike the queue's
 * events: nothing is stored (no SQLite row, no Redis stream or key), nothing is replayed, and a
 * preview missed (a reconnect, a slow client) is simply superseded by the next one. Embedded
 * (`LocalPreviewChannel`): in-process listeners; Redis (`RedisPreviewChannel`): pub/sub.
 */
import { errors } from '../errors.js';
import { tell } from './event-listeners.js';

/** One image's preview, as `JobEvent.previews` shows it. */
export interface JobPreview {
  index: number;
  step: number;
  width: number;
  height: number;
  /** `data:image/webp;base64,…` */
  dataUrl: string;
}

/** One preview of every image of a job. */
export interface PreviewMessage {
  jobId: string;
  /** ISO-8601: when the worker sent it. */
  at: string;
  previews: JobPreview[];
}

/** Images one message may carry: the engine's most per job (MAX_IMAGES_PER_REQUEST). */
export const MAX_PREVIEWS_PER_MESSAGE = 64;
/** A preview's data URL at most: 16 KiB of WebP (PREVIEW_MAX_BYTES) in base64, and its prefix. */
export const MAX_PREVIEW_DATA_URL_CHARS = 23 + Math.ceil((16 * 1024) / 3) * 4;
/** A preview's side at most (px). */
export const MAX_PREVIEW_SIDE = 64;
const DATA_URL = /^data:image\/webp;base64,[A-Za-z0-9+/]+={0,2}$/;

export interface PreviewChannel {
  /** Resolves once the message is handed on (to Redis); never stores it. */
  publish(message: PreviewMessage): Promise<void>;
  /** Every process's previews as they come; returns the unsubscribe function. */
  onPreview(listener: (message: PreviewMessage) => void): () => void;
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * A message as it arrives from outside the process, checked against the bounds above.
 * @throws AppError BAD_USER_INPUT naming what is wrong
 */
export function parsePreviewMessage(raw: unknown): PreviewMessage {
  const message = raw as Partial<PreviewMessage> | null;
  if (typeof message?.jobId !== 'string' || message.jobId.length > 200) {
    throw errors.badInput('preview.jobId', 'expected a job id of at most 200 characters');
  }
  if (typeof message.at !== 'string' || message.at.length > 40) {
    throw errors.badInput('preview.at', 'expected an ISO-8601 time');
  }
  const { previews } = message;
  if (!Array.isArray(previews) || previews.length > MAX_PREVIEWS_PER_MESSAGE) {
    throw errors.badInput('preview.previews', `expected at most ${MAX_PREVIEWS_PER_MESSAGE}`);
  }
  return { jobId: message.jobId, at: message.at, previews: previews.map(checkPreview) };
}

function checkPreview(raw: unknown, index: number): JobPreview {
  const preview = raw as Partial<JobPreview> | null;
  const isSide = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 64;
  const { dataUrl } = preview ?? {};
  if (
    preview?.index !== index ||
    !Number.isInteger(preview.step) ||
    !isSide(preview.width) ||
    !isSide(preview.height) ||
    typeof dataUrl !== 'string' ||
    dataUrl.length > MAX_PREVIEW_DATA_URL_CHARS ||
    !DATA_URL.test(dataUrl)
  ) {
    throw errors.badInput(
      `preview.previews[${index}]`,
      `expected { index: ${index}, step, width and height ≤ ${MAX_PREVIEW_SIDE}, a WebP data URL of at most ${MAX_PREVIEW_DATA_URL_CHARS} characters }`,
    );
  }
  return { index, step: preview.step!, width: preview.width!, height: preview.height!, dataUrl };
}

/** One process (`hita serve` on SQLite): its workers' previews go straight to its listeners. */
export class LocalPreviewChannel implements PreviewChannel {
  private readonly listeners = new Set<(message: PreviewMessage) => void>();

  publish(message: PreviewMessage): Promise<void> {
    tell(this.listeners, message);
    return Promise.resolve();
  }

  onPreview(listener: (message: PreviewMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
