import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { AppError } from '../../src/errors.js';
import { loadModel } from '../../src/inference/model/model-loader.js';

/** One entry of `fixtures/index.json`, written by tools/hita/model_dir.py. */
interface FixtureEntry {
  file: string;
  dtype: 'float32' | 'int64' | 'bool';
  shape: number[];
}

/** The parts of model.json that the parity test reads. */
export interface ParityManifest {
  id: string;
  gpt: { numLayers: number; numHeads: number; headDim: number; vocabSize: number };
  graphs: Record<
    string,
    {
      file: string;
      sha256: string;
      externalData: { file: string; sha256: string }[];
      inputs: { name: string }[];
      outputs: { name: string }[];
    }
  >;
}

export function readManifest(modelDir: string): ParityManifest {
  return JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as ParityManifest;
}

/** Reads every fixture tensor as an ORT tensor (raw little-endian files). */
export function readFixtures(modelDir: string): Map<string, ort.Tensor> {
  const dir = join(modelDir, 'fixtures');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    tensors: Record<string, FixtureEntry>;
  };
  const tensors = new Map<string, ort.Tensor>();
  for (const [name, entry] of Object.entries(index.tensors)) {
    const bytes = readFileSync(join(dir, entry.file));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const data =
      entry.dtype === 'float32'
        ? new Float32Array(buffer)
        : entry.dtype === 'int64'
          ? new BigInt64Array(buffer)
          : new Uint8Array(buffer);
    tensors.set(name, new ort.Tensor(entry.dtype, data, entry.shape));
  }
  return tensors;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The AppError `loadModel(dir)` rejects with (fails the test when it loads). */
export async function loadError(dir: string): Promise<AppError> {
  const error: unknown = await loadModel(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}
