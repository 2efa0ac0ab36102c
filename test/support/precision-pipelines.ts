import { afterAll } from 'vitest';
import type { GptPrecision, ModelInfo } from '../../src/inference/model/model-manifest.js';
import { openPipeline, type OpenedPipeline } from '../../src/inference/ort/open-pipeline.js';

/**
 * Opens pipelines of one model at a precision on CPU (2 threads, as the server's tests run),
 * each closed after the file's tests.
 */
export function pipelineOpener(): (
  model: ModelInfo,
  precision: GptPrecision,
) => Promise<OpenedPipeline> {
  const opened: OpenedPipeline[] = [];
  afterAll(async () => {
    for (const { pipeline } of opened.splice(0)) await pipeline.close();
  });
  return async (model, precision) => {
    const pipeline = await openPipeline(model, { providers: ['cpu'], precision, threads: 2 });
    opened.push(pipeline);
    return pipeline;
  };
}
