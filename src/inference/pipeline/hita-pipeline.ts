import * as ort from 'onnxruntime-node';
import { errors, isAppError, requireIntegerInRange } from '../../errors.js';
import {
  checkMaskSize,
  checkStrength,
  checkSwapCount,
  DEFAULT_STRENGTH,
  requireCapability,
} from '../../jobs/job-request.js';
import { BatchingEngine, type SequenceSpec } from './batching-engine.js';
import { DecodeBatcher } from './decode-batcher.js';
import { decodeIds } from './decode-ids.js';
import { encodeImages, type EncodedIds } from './encode-images.js';
import { PreviewScheduler } from './preview-scheduler.js';
import { decodeImages } from './decode-images.js';
import {
  composite,
  generatedImage,
  imageSize,
  readImage,
  readMask,
  type RgbImage,
} from './image-codec.js';
import type { ModelManifest } from '../model/model-manifest.js';
import {
  MAX_ENGINE_SEED,
  MAX_IMAGES_PER_REQUEST,
  type GeneratedImage,
  type InferenceProgress,
  type InferenceRequest,
  type InpaintRequest,
  type PreviewFrame,
  type StyleRequest,
} from '../inference-engine.js';
import { validateSamplingParams, type SamplingParams } from '../../jobs/sampling-params.js';
import { checkDecoding, DEFAULT_DECODING, type Decoding } from '../../jobs/decoding.js';
import {
  allFree,
  inpaintForcedTokens,
  maskedCells,
  styleForcedTokens,
  tokenLayout,
  type TokenLayout,
} from './token-layout.js';

/** How a request's tokens are drawn: its sampling knobs and its decoding. */
interface Decode {
  sampling: SamplingParams;
  decoding: Decoding;
}

export interface HitaPipelineOptions {
  manifest: ModelManifest;
  gpt: ort.InferenceSession;
  decode: ort.InferenceSession;
  /** Absent for models without a semantic backbone: no in-painting or style transfer. */
  encode?: ort.InferenceSession;
  /** @default 32 */
  maxBatchRows?: number;
  /** Share of wall time live previews may spend decoding (PreviewScheduler). @default 0.05 */
  previewBudget?: number;
  /** Hears why a live preview was dropped (it never fails its job). */
  onPreviewError?: (error: unknown) => void;
  /** Pad one-row GPT steps to two rows (BatchingEngineOptions.padLoneRows). @default false */
  padLoneRows?: boolean;
  /** Drafts per speculative call (BatchingEngineOptions.draftLength). @default 4 */
  draftLength?: number;
  /** Feed calls only the cache slots they use (BatchingEngineOptions.trimCache). @default false */
  trimCache?: boolean;
  /**
   * Images of a job decoded in one call at most; above 1 only where batched decodes were found
   * bitwise equal to one-image decodes (open-pipeline.ts); then images of different jobs ready
   * together share calls too (DecodeBatcher). @default 1
   */
  maxDecodeImages?: number;
  /**
   * With `maxDecodeImages` > 1, final images of different jobs may share a decode call; false
   * keeps every call to one job's images (the comparison bench/engine.bench.ts runs). @default true
   */
  shareDecodesAcrossJobs?: boolean;
}

/**
 * The Hita pipeline of one model on one device: encode inputs, run the GPT through the batching
 * engine, decode tokens, postprocess to PNG (SPEC §3.7, §4).
 */
export class HitaPipeline {
  readonly layout: TokenLayout;
  readonly engine: BatchingEngine;
  private readonly manifest: ModelManifest;
  private readonly encodeSession: ort.InferenceSession | undefined;
  private readonly decodeSession: ort.InferenceSession;
  private readonly gptSession: ort.InferenceSession;
  private readonly maxDecodeImages: number;
  /** Jobs inside `run`; `cancel` aborts a job's signal, before, in or after the batch. */
  private readonly inRun = new Map<string, AbortController>();
  private readonly previews: PreviewScheduler;
  private readonly decoder: DecodeBatcher;

  constructor(options: HitaPipelineOptions) {
    const { manifest, gpt, decode, encode, maxBatchRows = 32, padLoneRows = false } = options;
    const { draftLength, previewBudget, onPreviewError, trimCache = false } = options;
    const { numLayers, numHeads, headDim } = manifest.gpt;
    this.maxDecodeImages = Math.max(1, Math.floor(options.maxDecodeImages ?? 1));
    this.manifest = manifest;
    this.layout = tokenLayout(manifest);
    this.encodeSession = encode;
    this.decodeSession = decode;
    this.gptSession = gpt;
    const isSharing = options.shareDecodesAcrossJobs ?? true;
    this.decoder = new DecodeBatcher({
      decode: (codes) => decodeImages(decode, this.layout, codes),
      maxImages: isSharing ? this.maxDecodeImages : 1,
    });
    this.engine = new BatchingEngine({
      session: gpt,
      kv: { layers: numLayers, heads: numHeads, headDim, positions: this.layout.length },
      vocabSize: manifest.gpt.vocabSize,
      nullClassId: manifest.gpt.nullClassId,
      maxBatchRows,
      padLoneRows,
      trimCache,
      ...(draftLength === undefined ? {} : { draftLength }),
    });
    const fillCode = manifest.preview?.fillCode ?? 0;
    this.previews = new PreviewScheduler({
      layout: this.layout,
      // A manifest's code outside the codebook would fail every preview decode: use 0 instead.
      fillCode: fillCode < manifest.tokenizer.codebookSize ? fillCode : 0,
      decode: (ids) => decodeIds(this.decodeSession, this.layout, ids),
      ...(previewBudget === undefined ? {} : { budget: previewBudget }),
      ...(onPreviewError ? { onError: onPreviewError } : {}),
    });
  }

  /**
   * Runs one job; `jobId` is what `cancel` takes. With `onPreview`, live previews of it come
   * there (InferenceJob.onPreview), the last one before this resolves.
   * @throws AppError CANCELLED when cancelled, in any phase
   */
  async run(
    jobId: string,
    request: InferenceRequest,
    onProgress: (progress: InferenceProgress) => void = () => {},
    onPreview?: (frames: PreviewFrame[]) => void,
  ): Promise<GeneratedImage[]> {
    if (this.inRun.has(jobId)) throw errors.conflict(`job ${jobId} is already running`);
    this.inRun.set(jobId, new AbortController());
    if (onPreview) this.previews.track(jobId, request.count, onPreview);
    try {
      const images = await this.runPhases(jobId, request, onProgress);
      await this.previews.finish(
        jobId,
        images.map((image) => image.png),
      );
      return images;
    } finally {
      this.previews.untrack(jobId);
      this.inRun.delete(jobId);
    }
  }

  /**
   * Stops a job wherever it is: in the batch its rows leave at the next step; waiting for a decode
   * call it leaves the queue; reading, encoding or decoding, it stops at the next phase boundary.
   * @returns whether the job was running
   */
  cancel(jobId: string): boolean {
    const controller = this.inRun.get(jobId);
    if (!controller) return false;
    controller.abort(errors.cancelled(jobId));
    this.engine.cancel(jobId);
    return true;
  }

  private async runPhases(
    jobId: string,
    request: InferenceRequest,
    onProgress: (progress: InferenceProgress) => void,
  ): Promise<GeneratedImage[]> {
    const { vocabSize } = this.manifest.gpt;
    const sampling = asserted(() => validateSamplingParams(request.sampling, vocabSize));
    asserted(() => requireIntegerInRange('count', request.count, 1, MAX_IMAGES_PER_REQUEST));
    asserted(() => requireIntegerInRange('seed', request.seed, 0, MAX_ENGINE_SEED));
    const seeds = Array.from({ length: request.count }, (_, i) => request.seed + i);
    const decoding = asserted(() => checkDecoding(request.decoding ?? DEFAULT_DECODING));
    const how: Decode = { sampling, decoding };
    switch (request.kind) {
      case 'generate': {
        const classId = this.checkClass(request.classId, false);
        const forced = allFree(this.layout);
        return this.sample(jobId, seeds, classId, () => forced, how, onProgress);
      }
      case 'inpaint':
        return this.inpaint(jobId, request, seeds, how, onProgress);
      case 'style':
        return this.style(jobId, request, seeds, how, onProgress);
    }
  }

  /**
   * Releases the ORT sessions once the batching engine is idle. The caller makes sure no `run`
   * is in flight (encode and decode calls run outside the engine).
   */
  async close(): Promise<void> {
    await this.engine.idle();
    const sessions = [this.gptSession, this.decodeSession, this.encodeSession];
    await Promise.all(sessions.map((session) => session?.release()));
  }

  private async inpaint(
    jobId: string,
    request: InpaintRequest,
    seeds: number[],
    how: Decode,
    onProgress: (progress: InferenceProgress) => void,
  ): Promise<GeneratedImage[]> {
    const size = this.layout.imageSize;
    const [imageDims, maskDims] = await Promise.all([
      imageSize(request.image, 'image'),
      imageSize(request.mask, 'mask'),
    ]);
    asserted(() => checkMaskSize(imageDims, maskDims, 'mask'));
    const classId = this.checkClass(request.classId, true);
    const encoder = this.requireEncoder('inpaint');
    const [image, mask] = await Promise.all([
      readImage(request.image, size, 'image'),
      readMask(request.mask, size, 'mask'),
    ]);
    await this.checkpoint(jobId);
    onProgress({ phase: 'encode', step: 0, total: 1 });
    const [codes] = await this.encode(encoder, [image]);
    await this.checkpoint(jobId);
    const cells = maskedCells(this.layout, mask);
    const forced = inpaintForcedTokens(
      this.layout,
      codes!.holistic,
      codes!.patch,
      cells,
      request.keepHolistic ?? true,
    );
    const paste =
      request.composite === false ? undefined : (rgb: RgbImage) => composite(image, rgb, mask);
    return this.sample(jobId, seeds, classId, () => forced, how, onProgress, paste);
  }

  private async style(
    jobId: string,
    request: StyleRequest,
    seeds: number[],
    how: Decode,
    onProgress: (progress: InferenceProgress) => void,
  ): Promise<GeneratedImage[]> {
    const size = this.layout.imageSize;
    const strength = asserted(() => checkStrength(request.strength ?? DEFAULT_STRENGTH));
    asserted(() => checkSwapCount(request.mode, request.count));
    const classId = this.checkClass(request.classId, true);
    const encoder = this.requireEncoder('style');
    const [content, style] = await Promise.all([
      readImage(request.content, size, 'content'),
      readImage(request.style, size, 'style'),
    ]);
    await this.checkpoint(jobId);
    onProgress({ phase: 'encode', step: 0, total: 2 });
    const [contentCodes, styleCodes] = await this.encode(encoder, [content, style]);
    await this.checkpoint(jobId);
    onProgress({ phase: 'encode', step: 2, total: 2 });
    if (request.mode === 'swap') {
      onProgress({ phase: 'decode', step: 0, total: 1 });
      const [holistic, patch] = [Array.from(styleCodes!.holistic), Array.from(contentCodes!.patch)];
      const rgb = await this.decodeToRgb(holistic, patch, this.inRun.get(jobId)?.signal);
      const image = await generatedImage(seeds[0]!, holistic, patch, rgb);
      onProgress({ phase: 'decode', step: 1, total: 1 });
      return [image];
    }
    const forced = styleForcedTokens(
      this.layout,
      styleCodes!.holistic,
      contentCodes!.patch,
      strength,
    );
    return this.sample(jobId, seeds, classId, () => forced, how, onProgress);
  }

  /** Token generation for every seed, then decoding, reporting progress as it goes. */
  private async sample(
    jobId: string,
    seeds: number[],
    classId: number,
    forcedFor: (seed: number) => Int32Array,
    how: Decode,
    onProgress: (progress: InferenceProgress) => void,
    postprocess: (rgb: RgbImage) => RgbImage = (rgb) => rgb,
  ): Promise<GeneratedImage[]> {
    const m = this.layout.numHolistic;
    const { sampling, decoding } = how;
    // Guidance between the null class and itself changes nothing: spare the second row.
    const effective =
      classId === this.manifest.gpt.nullClassId ? { ...sampling, cfgScale: 1 } : sampling;
    const sequences: SequenceSpec[] = seeds.map((seed) => ({
      seed,
      classId,
      forced: forcedFor(seed),
      sampling: effective,
      decoding,
    }));
    await this.checkpoint(jobId);
    const tokens = await this.engine.submit({
      id: jobId,
      sequences,
      onProgress: ({ step, tokens }) => {
        this.previews.offer(jobId, step, tokens);
        onProgress(
          step < m
            ? { phase: 'holistic', step, total: m }
            : { phase: 'patch', step: step - m, total: this.layout.numPatch },
        );
      },
    });
    const images: GeneratedImage[] = [];
    for (let start = 0; start < tokens.length; start += this.maxDecodeImages) {
      await this.checkpoint(jobId);
      onProgress({ phase: 'decode', step: start, total: tokens.length });
      const codes = tokens.slice(start, start + this.maxDecodeImages).map((seq) => ({
        holistic: Array.from(seq.subarray(0, m)),
        patch: Array.from(seq.subarray(m)),
      }));
      // Several images per call, of this job and others, only where that is bitwise safe.
      const rgbs = await this.decoder.decode(codes, this.inRun.get(jobId)?.signal);
      // A cancel that arrived during a call of several images stops the job before its PNGs.
      await this.checkpoint(jobId);
      for (const [j, rgb] of rgbs.entries()) {
        const { holistic, patch } = codes[j]!;
        images.push(await generatedImage(seeds[start + j]!, holistic, patch, postprocess(rgb)));
      }
    }
    onProgress({ phase: 'decode', step: tokens.length, total: tokens.length });
    return images;
  }

  /**
   * A phase boundary: lets pending messages and timers run (a cancel posted to this thread while
   * an ORT call blocked it), then stops the job if it was cancelled.
   * @throws AppError CANCELLED
   */
  private async checkpoint(jobId: string): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.inRun.get(jobId)?.signal.aborted) throw errors.cancelled(jobId);
  }

  /**
   * One image's tokens → its pixels, bitwise what a call of its own gives (DecodeBatcher).
   * @throws `signal.reason` when it aborts before the decode call starts
   */
  async decodeToRgb(
    holisticIds: ArrayLike<number>,
    patchIds: ArrayLike<number>,
    signal?: AbortSignal,
  ): Promise<RgbImage> {
    const codes = [{ holistic: holisticIds, patch: patchIds }];
    return (await this.decoder.decode(codes, signal))[0]!;
  }

  /** Images → their (holistic, patch) ids, in one call. */
  encode(session: ort.InferenceSession, images: RgbImage[]): Promise<EncodedIds[]> {
    return encodeImages(session, this.layout, images);
  }

  /** @throws AppError INTERNAL_SERVER_ERROR: the capability is checked before a job runs */
  requireEncoder(capability: 'inpaint' | 'style'): ort.InferenceSession {
    const { id, capabilities } = this.manifest;
    const encoder = this.encodeSession;
    // Opened without its encode graph, a model has no encoder, whatever its manifest says.
    const has = encoder ? capabilities : { inpaint: false, style: false };
    asserted(() => requireCapability({ id, capabilities: has }, capability));
    return encoder!;
  }

  private checkClass(classId: number | undefined, optional: boolean): number {
    const { numClasses, nullClassId } = this.manifest.gpt;
    if (classId === undefined && optional) return nullClassId;
    return asserted(() => requireIntegerInRange('classId', classId, 0, numClasses - 1));
  }
}

/**
 * Runs a rule that validateJobRequest checked before the request got here: a break is a bug
 * upstream, so its BAD_USER_INPUT becomes INTERNAL_SERVER_ERROR (same message and field). The
 * engine's own limits (MAX_IMAGES_PER_REQUEST, MAX_ENGINE_SEED) are such assertions too.
 */
function asserted<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (isAppError(error) && error.code === 'BAD_USER_INPUT') throw errors.unvalidated(error);
    throw error;
  }
}
