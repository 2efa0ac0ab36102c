/**
 * Every ONNX graph of a model directory against the PyTorch fixtures written by tools/export.py.
 * HITA_PARITY_MODEL picks the directory (default: the committed random tiny model), so the same
 * suite checks converted official checkpoints: `HITA_PARITY_MODEL=DIR npx vitest run test/parity.test.ts`.
 */
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatSeq, emptyCache, stackPadded } from './support/kv.js';
import { readFixtures, readManifest, sha256File } from './support/model-fixtures.js';

const modelDir = resolve(process.env.HITA_PARITY_MODEL ?? 'models/hita-tiny-random');
const manifest = readManifest(modelDir);
const fixtures = readFixtures(modelDir);

function fixture(name: string): ort.Tensor {
  const tensor = fixtures.get(name);
  if (!tensor) throw new Error(`fixture ${name} missing from ${modelDir}/fixtures`);
  return tensor;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function openSession(graph: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(modelDir, manifest.graphs[graph]!.file), {
    executionProviders: ['cpu'],
  });
}

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

describe(`parity of ${manifest.id} (${modelDir})`, () => {
  it('graph files match their sha256 and the declared inputs and outputs', async () => {
    for (const [name, graph] of Object.entries(manifest.graphs)) {
      for (const { file, sha256 } of [graph, ...graph.externalData]) {
        expect(await sha256File(join(modelDir, file)), `${name}: ${file}`).toBe(sha256);
      }
      const session = await openSession(name);
      expect([...session.inputNames]).toEqual(graph.inputs.map((t) => t.name));
      expect([...session.outputNames]).toEqual(graph.outputs.map((t) => t.name));
      await session.release();
    }
  });

  it.runIf('encode' in manifest.graphs)('encoder ids are at least 99.9 % equal', async () => {
    const session = await openSession('encode');
    const out = await session.run({ image: fixture('encode.image') });
    let equal = 0;
    let total = 0;
    for (const name of ['holistic_ids', 'patch_ids']) {
      const ours = out[name]!.data as BigInt64Array;
      const expected = fixture(`encode.${name}`).data as BigInt64Array;
      expect(out[name]!.dims).toEqual(fixture(`encode.${name}`).dims);
      for (let i = 0; i < ours.length; i++) equal += ours[i] === expected[i] ? 1 : 0;
      total += ours.length;
    }
    console.info(`encode: ${equal}/${total} ids equal`);
    expect(equal / total).toBeGreaterThanOrEqual(0.999);
  });

  it('decoder image has max abs error < 1e-3', async () => {
    const session = await openSession('decode');
    const out = await session.run({
      holistic_ids: fixture('decode.holistic_ids'),
      patch_ids: fixture('decode.patch_ids'),
    });
    const error = maxAbsDiff(
      out.image!.data as Float32Array,
      fixture('decode.image').data as Float32Array,
    );
    console.info(`decode: max abs error ${error.toExponential(2)}`);
    expect(error).toBeLessThan(1e-3);
  });

  describe('gpt', () => {
    const { numLayers, numHeads, headDim, vocabSize } = manifest.gpt;
    const ids = fixture('gpt.input_ids');
    const [batch, length] = ids.dims as [number, number];
    const idValues = Array.from(ids.data as BigInt64Array, Number);
    let session: ort.InferenceSession;
    let prefillLogits: Float32Array;

    /** One call of the step graph; returns logits and the new keys/values per layer. */
    async function step(
      inputIds: number[][],
      positions: number[][],
      mask: boolean[][],
      past: Record<string, ort.Tensor>,
    ) {
      const rows = inputIds.length;
      const seq = inputIds[0]!.length;
      const out = await session.run({
        input_ids: int64(inputIds.flat(), [rows, seq]),
        position_ids: int64(positions.flat(), [rows, seq]),
        attention_mask: new ort.Tensor('bool', Uint8Array.from(mask.flat(), Number), [
          rows,
          mask[0]!.length,
        ]),
        ...past,
      });
      return out;
    }

    function row(b: number, from: number, to: number): number[] {
      return idValues.slice(b * length + from, b * length + to);
    }

    function range(from: number, to: number): number[] {
      return Array.from({ length: to - from }, (_, i) => from + i);
    }

    function logitsAt(all: Float32Array, b: number, p: number): Float32Array {
      return all.subarray((b * length + p) * vocabSize, (b * length + p + 1) * vocabSize);
    }

    beforeAll(async () => {
      session = await openSession('gpt');
      const rows = range(0, batch);
      const out = await step(
        rows.map((b) => row(b, 0, length)),
        rows.map(() => range(0, length)),
        rows.map(() => Array<boolean>(length).fill(true)),
        emptyCache(numLayers, batch, numHeads, headDim),
      );
      prefillLogits = out.logits!.data as Float32Array;
    });

    it('logits of a whole teacher-forced sequence differ from PyTorch by < 1e-4', () => {
      const error = maxAbsDiff(prefillLogits, fixture('gpt.logits').data as Float32Array);
      console.info(
        `gpt: prefill logits max abs error ${error.toExponential(2)} over ${batch}x${length}`,
      );
      expect(error).toBeLessThan(1e-4);
    });

    it(
      'the sequence fed one step at a time through the cache equals the prefill',
      { timeout: 900_000 },
      async () => {
        let past = emptyCache(numLayers, batch, numHeads, headDim);
        let worst = 0;
        for (let p = 0; p < length; p++) {
          const rows = range(0, batch);
          const out = await step(
            rows.map((b) => row(b, p, p + 1)),
            rows.map(() => [p]),
            rows.map(() => Array<boolean>(p + 1).fill(true)),
            past,
          );
          const next: Record<string, ort.Tensor> = {};
          for (let l = 0; l < numLayers; l++) {
            next[`past_key_${l}`] = concatSeq(past[`past_key_${l}`]!, out[`new_key_${l}`]!);
            next[`past_value_${l}`] = concatSeq(past[`past_value_${l}`]!, out[`new_value_${l}`]!);
          }
          past = next;
          const logits = out.logits!.data as Float32Array;
          for (const b of rows) {
            worst = Math.max(
              worst,
              maxAbsDiff(
                logits.subarray(b * vocabSize, (b + 1) * vocabSize),
                logitsAt(prefillLogits, b, p),
              ),
            );
          }
        }
        console.info(`gpt: step-by-step vs prefill max abs error ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(1e-4);
      },
    );

    it('rows at different positions batched together equal the same rows run alone', async () => {
      // Two rows with different cached lengths (and holistic vs patch positions) share one call.
      const positions = [Math.floor(length / 2), Math.floor(length / 8)];
      const sources = [0, 1 % batch];
      const caches = await Promise.all(
        positions.map(async (p, i) => {
          const out = await step(
            [row(sources[i]!, 0, p)],
            [range(0, p)],
            [Array<boolean>(p).fill(true)],
            emptyCache(numLayers, 1, numHeads, headDim),
          );
          return out;
        }),
      );
      const alone: Float32Array[] = [];
      for (let i = 0; i < positions.length; i++) {
        const p = positions[i]!;
        const past: Record<string, ort.Tensor> = {};
        for (let l = 0; l < numLayers; l++) {
          past[`past_key_${l}`] = caches[i]![`new_key_${l}`]!;
          past[`past_value_${l}`] = caches[i]![`new_value_${l}`]!;
        }
        const out = await step(
          [row(sources[i]!, p, p + 1)],
          [[p]],
          [Array<boolean>(p + 1).fill(true)],
          past,
        );
        alone.push((out.logits!.data as Float32Array).slice());
      }
      const longest = Math.max(...positions);
      const past: Record<string, ort.Tensor> = {};
      for (let l = 0; l < numLayers; l++) {
        for (const kind of ['key', 'value']) {
          past[`past_${kind}_${l}`] = stackPadded(
            caches.map((c) => c[`new_${kind}_${l}`]!),
            longest,
          );
        }
      }
      const mask = positions.map((p) => [...range(0, longest).map((s) => s < p), true]);
      const out = await step(
        positions.map((p, i) => row(sources[i]!, p, p + 1)),
        positions.map((p) => [p]),
        mask,
        past,
      );
      const batched = out.logits!.data as Float32Array;
      for (let i = 0; i < positions.length; i++) {
        const error = maxAbsDiff(batched.subarray(i * vocabSize, (i + 1) * vocabSize), alone[i]!);
        expect(error, `row at position ${positions[i]}`).toBeLessThan(1e-4);
        const reference = logitsAt(prefillLogits, sources[i]!, positions[i]!);
        expect(maxAbsDiff(alone[i]!, reference)).toBeLessThan(1e-4);
      }
    });
  });
});
