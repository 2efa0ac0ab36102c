import {
  createSession,
  type ExecutionProvider,
  type SessionLogger,
} from './execution-providers.js';
import { HitaPipeline } from '../pipeline/hita-pipeline.js';
import type { GraphName, ModelInfo } from '../model/model-manifest.js';

export interface OpenPipelineOptions {
  providers: ExecutionProvider[];
  deviceId?: number;
  maxBatchRows?: number;
  threads?: number;
  logger?: SessionLogger;
}

/** Opens a model's graphs on the first usable provider and wires them into a pipeline. */
export async function openPipeline(
  model: ModelInfo,
  options: OpenPipelineOptions,
): Promise<{ pipeline: HitaPipeline; provider: ExecutionProvider }> {
  const { providers, deviceId, maxBatchRows, threads, logger } = options;
  const open = (graph: GraphName, order: readonly ExecutionProvider[]) =>
    createSession(model.graphPath(graph), {
      providers: order,
      deviceId,
      intraOpNumThreads: threads,
      logger,
    });
  const gpt = await open('gpt', providers);
  // Every graph of a model runs where the GPT landed, so a device never waits on another.
  const decode = await open('decode', [gpt.provider]);
  const encode = model.manifest.graphs.encode ? await open('encode', [gpt.provider]) : undefined;
  const pipeline = new HitaPipeline({
    manifest: model.manifest,
    gpt: gpt.session,
    decode: decode.session,
    ...(encode ? { encode: encode.session } : {}),
    ...(maxBatchRows === undefined ? {} : { maxBatchRows }),
  });
  return { pipeline, provider: gpt.provider };
}
