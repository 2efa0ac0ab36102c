import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { gptPrecisions, parseManifest, toModelInfo } from './model-manifest.js';

// The committed manifests, read once: tiny-emoji lists int8 and int4 GPT variants, tiny-random none.
const EMOJI = JSON.parse(readFileSync('models/hita-tiny-emoji/model.json', 'utf8')) as {
  graphs: Record<string, unknown> & { gptVariants: Record<string, Record<string, unknown>> };
};
const RANDOM = JSON.parse(readFileSync('models/hita-tiny-random/model.json', 'utf8')) as unknown;

/** A deep copy of the emoji manifest with `edit` applied to its int8 variant. */
function withInt8(edit: (variant: Record<string, unknown>) => void): unknown {
  const copy = structuredClone(EMOJI);
  edit(copy.graphs.gptVariants.int8!);
  return copy;
}

function parseError(json: unknown): AppError {
  try {
    parseManifest(json, 'model.json');
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('graphs.gptVariants', () => {
  it('lists the quantized GPT graphs and their quantization', () => {
    const manifest = parseManifest(EMOJI, 'model.json');
    expect(gptPrecisions(manifest)).toEqual(['fp32', 'int8', 'int4']);
    expect(manifest.graphs.gptVariants.int4).toMatchObject({
      file: 'gpt.int4.onnx',
      precision: 'int4',
      op: 'com.microsoft.MatMulNBits',
      weightBits: 4,
      quantizedFrom: manifest.graphs.gpt.sha256,
    });
    expect(manifest.graphs.gptVariants.int8?.inputs).toEqual(manifest.graphs.gpt.inputs);
    expect(toModelInfo('/models/emoji', manifest).gptPrecisions).toEqual(['fp32', 'int8', 'int4']);
  });

  it('defaults to fp32 alone when a manifest has none', () => {
    const manifest = parseManifest(RANDOM, 'model.json');
    expect(manifest.graphs.gptVariants).toEqual({});
    expect(toModelInfo('/models/random', manifest).gptPrecisions).toEqual(['fp32']);
  });

  it('drops a precision this runtime does not know', () => {
    const copy = structuredClone(EMOJI);
    copy.graphs.gptVariants.int2 = { ...copy.graphs.gptVariants.int4, precision: 'int2' };
    expect(gptPrecisions(parseManifest(copy, 'model.json'))).toEqual(['fp32', 'int8', 'int4']);
  });

  it('rejects a variant whose bits, block size or op are not MatMulNBits int8', () => {
    const cases: [(v: Record<string, unknown>) => void, string][] = [
      [(v) => (v.weightBits = 4), 'graphs.gptVariants.int8.weightBits'],
      [(v) => (v.blockSize = 24), 'graphs.gptVariants.int8.blockSize'],
      [(v) => (v.op = 'MatMulInteger'), 'graphs.gptVariants.int8.op'],
      [(v) => (v.accuracyLevel = 5), 'graphs.gptVariants.int8.accuracyLevel'],
      [(v) => (v.file = '../gpt.onnx'), 'graphs.gptVariants.int8.file'],
    ];
    for (const [edit, field] of cases) {
      const error = parseError(withInt8(edit));
      expect(error.code).toBe('MODEL_UNAVAILABLE');
      expect(error.message).toContain(`invalid manifest at ${field}`);
    }
  });
});
