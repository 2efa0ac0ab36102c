import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { HitaPipeline } from '../../src/inference/pipeline/hita-pipeline.js';
import { parseManifest, type ModelManifest } from '../../src/inference/model/model-manifest.js';

export const TINY_MODEL_DIR = resolve('models/hita-tiny-random');

export interface TinyModel {
  manifest: ModelManifest;
  gpt: ort.InferenceSession;
  decode: ort.InferenceSession;
  encode: ort.InferenceSession;
}

/** The committed random tiny model's sessions on CPU (real graphs, real ORT). */
export async function openTinyModel(dir = TINY_MODEL_DIR): Promise<TinyModel> {
  const file = join(dir, 'model.json');
  const manifest = parseManifest(JSON.parse(readFileSync(file, 'utf8')), file);
  const open = (name: string) =>
    ort.InferenceSession.create(join(dir, `${name}.onnx`), { executionProviders: ['cpu'] });
  const [gpt, decode, encode] = await Promise.all([open('gpt'), open('decode'), open('encode')]);
  return { manifest, gpt, decode, encode };
}

export function tinyPipeline(model: TinyModel, maxBatchRows = 32): HitaPipeline {
  return new HitaPipeline({ ...model, maxBatchRows });
}
