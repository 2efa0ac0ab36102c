/**
 * Final images of different jobs share decode calls (issue 12). Under continuous batching, jobs
 * admitted together finish at the same GPT step, and each used to decode its images in a call of
 * its own; here the requests made in one turn of the event loop, or while a call is in flight,
 * go together into the next call, up to `maxImages` images. Only where that is bitwise safe:
 * the caller passes `maxImages` > 1 only when the open-time probe (isDecodeBatchInvariant in
 * ort/row-invariance.ts) found batched decodes equal to one-image decodes, so a PNG's bytes never
 * depend on the images it was decoded with. Live previews keep their own calls
 * (preview-scheduler.ts): their time is what the preview budget measures.
 */
import type { ImageCodes } from './decode-images.js';
import type { RgbImage } from './image-codec.js';

export interface DecodeBatcherOptions {
  /** One call of the decode graph over these images, in order (decodeImages). */
  decode: (codes: readonly ImageCodes[]) => Promise<RgbImage[]>;
  /**
   * Images per call at most. At 1 (or below) every request is passed to `decode` at once, in a
   * call of its own, as before this module existed.
   */
  maxImages: number;
}

interface DecodeRequest {
  codes: readonly ImageCodes[];
  signal: AbortSignal | undefined;
  resolve: (images: RgbImage[]) => void;
  reject: (error: unknown) => void;
}

export class DecodeBatcher {
  private readonly options: DecodeBatcherOptions;
  private readonly queue: DecodeRequest[] = [];
  /** A drain is scheduled or running: new requests wait for it. */
  private isDraining = false;

  constructor(options: DecodeBatcherOptions) {
    this.options = options;
  }

  /**
   * Decodes one request's images, in one call with other requests' images or alone. Whole
   * requests only: one of more than `maxImages` images takes a call of its own (callers split).
   * @returns the images of `codes`, in order, bitwise what one-image calls would give
   * @throws `signal.reason` when `signal` aborts before the request's call starts
   * @throws what `decode` throws for this request's images: a failed shared call is retried
   *   request by request, so one bad request fails only itself
   */
  async decode(codes: readonly ImageCodes[], signal?: AbortSignal): Promise<RgbImage[]> {
    signal?.throwIfAborted();
    if (this.options.maxImages <= 1) return this.options.decode(codes);
    return new Promise<RgbImage[]>((resolve, reject) => {
      this.queue.push({ codes, signal, resolve, reject });
      if (this.isDraining) return;
      this.isDraining = true;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Jobs that finished at one GPT step continue in one turn of the event loop: wait it out.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.take();
      if (batch.length > 0) await this.run(batch);
    }
    this.isDraining = false;
  }

  /** The oldest requests whose images fit in one call (at least one), aborted ones dropped. */
  private take(): DecodeRequest[] {
    const batch: DecodeRequest[] = [];
    let images = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (rejectIfAborted(next)) {
        this.queue.shift();
        continue;
      }
      if (batch.length > 0 && images + next.codes.length > this.options.maxImages) break;
      batch.push(this.queue.shift()!);
      images += next.codes.length;
    }
    return batch;
  }

  private async run(batch: DecodeRequest[]): Promise<void> {
    let images: RgbImage[];
    try {
      images = await this.options.decode(batch.flatMap((request) => request.codes));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      // One request's bad ids must not fail the others: each goes again, in a call of its own.
      for (const request of batch) if (!rejectIfAborted(request)) await this.run([request]);
      return;
    }
    let offset = 0;
    for (const request of batch) {
      request.resolve(images.slice(offset, (offset += request.codes.length)));
    }
  }
}

/** An aborted request is rejected with its signal's reason; returns whether it was. */
function rejectIfAborted(request: DecodeRequest): boolean {
  if (!request.signal?.aborted) return false;
  request.reject(request.signal.reason);
  return true;
}
