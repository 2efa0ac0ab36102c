import type * as ort from 'onnxruntime-node';
import {
  createSession,
  type ExecutionProvider,
  type SessionLogger,
} from './execution-providers.js';
import { DEFAULT_DRAFT_LENGTH } from '../pipeline/draft-window.js';
import { HitaPipeline } from '../pipeline/hita-pipeline.js';
import {
  effectivePrecision,
  type GptPrecision,
  type GraphName,
  type ModelInfo,
} from '../model/model-manifest.js';
import { isDecodeBatchInvariant, isLoneRowInvariant } from './row-invariance.js';
import { isCacheTrimInvariant } from './trim-invariance.js';

/**
 * The decoder runs between GPT steps (final images, live previews): its threads must not spin
 * waiting for more work after a call, or they take the cores from the next GPT step.
 */
export const DECODE_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

export interface OpenPipelineOptions {
  providers: ExecutionProvider[];
  /**
   * The GPT precision asked for; a model without that graph runs `fp32` (see `precision` in
   * the result). @default 'fp32'
   */
  precision?: GptPrecision;
  deviceId?: number;
  maxBatchRows?: number;
  /** Drafts per speculative call (BatchingEngineOptions.draftLength). @default 4 */
  draftLength?: number;
  /** HitaPipelineOptions.previewBudget. @default 0.05 */
  previewBudget?: number;
  threads?: number;
  logger?: SessionLogger;
  /** HitaPipelineOptions.shareDecodesAcrossJobs. @default true */
  shareDecodesAcrossJobs?: boolean;
}

/** An opened pipeline and the facts of how it runs, for logs and job records. */
export interface OpenedPipeline {
  pipeline: HitaPipeline;
  provider: ExecutionProvider;
  /** The GPT graph it runs: the precision asked for, or `fp32` when the model lacks it. */
  precision: GptPrecision;
  /** The probe found a lone row differs from a row in a batch, so one-row steps are padded. */
  isPaddingLoneRows: boolean;
  /**
   * The probe found a row's step over fewer (masked) cache slots bitwise the same as over all,
   * so each call feeds only the slots its rows can use; else every call feeds all of them.
   */
  isTrimmingCache: boolean;
  /** Images per decode call: several when the probe found batched decodes bitwise equal, else 1. */
  maxDecodeImages: number;
}

/**
 * Images one decode call takes at most when batching is bitwise safe: enough to halve the
 * per-call overhead of a small model's decode (bench/decode-batch.mjs), while the activations of
 * an official-size (336 px) decode stay a few hundred MB.
 */
export const MAX_DECODE_IMAGES = 8;

/**
 * Opens a model's graphs on the first usable provider (the GPT of the chosen precision), checks
 * whether a lone GPT row matches a row in a batch and a lone decoded image an image decoded with
 * another on this machine (row-invariance.ts), and wires them into a pipeline that pads one-row
 * steps when the first does not, and decodes images together (of one job and across jobs) when
 * the second does.
 */
export async function openPipeline(
  model: ModelInfo,
  options: OpenPipelineOptions,
): Promise<OpenedPipeline> {
  const {
    providers,
    precision: wanted = 'fp32',
    deviceId,
    maxBatchRows,
    draftLength,
    previewBudget,
    threads,
    logger,
    shareDecodesAcrossJobs,
  } = options;
  const sessionOptions = { deviceId, intraOpNumThreads: threads, logger };
  const open = (graph: GraphName, order: readonly ExecutionProvider[]) =>
    createSession(model.graphPath(graph), { providers: order, ...sessionOptions });
  const precision = effectivePrecision(model, wanted);
  const gpt = await createSession(model.gptPath(precision), { providers, ...sessionOptions });
  const isPaddingLoneRows = !(await isLoneRowInvariant(gpt.session, model.manifest));
  const spans = [1, (draftLength ?? DEFAULT_DRAFT_LENGTH) + 1];
  const isTrimmingCache = await isCacheTrimInvariant(gpt.session, model.manifest, spans);
  // Every graph of a model runs where the GPT landed, so a device never waits on another.
  const decode = await createSession(model.graphPath('decode'), {
    providers: [gpt.provider],
    ...sessionOptions,
    sessionOptions: DECODE_SESSION_OPTIONS,
  });
  const encode = model.manifest.graphs.encode ? await open('encode', [gpt.provider]) : undefined;
  const maxDecodeImages = (await isDecodeBatchInvariant(decode.session, model.manifest))
    ? MAX_DECODE_IMAGES
    : 1;
  const pipeline = new HitaPipeline({
    manifest: model.manifest,
    gpt: gpt.session,
    decode: decode.session,
    ...(encode ? { encode: encode.session } : {}),
    ...(maxBatchRows === undefined ? {} : { maxBatchRows }),
    ...(draftLength === undefined ? {} : { draftLength }),
    ...(previewBudget === undefined ? {} : { previewBudget }),
    onPreviewError: (error: unknown) =>
      logger?.warn({ model: model.id, err: String(error) }, 'a live preview failed; dropped'),
    padLoneRows: isPaddingLoneRows,
    trimCache: isTrimmingCache,
    maxDecodeImages,
    ...(shareDecodesAcrossJobs === undefined ? {} : { shareDecodesAcrossJobs }),
  });
  return {
    pipeline,
    provider: gpt.provider,
    precision,
    isPaddingLoneRows,
    isTrimmingCache,
    maxDecodeImages,
  };
}
