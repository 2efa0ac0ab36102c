/**
 * KvCache trimming (a call fed only the cache slots its rows can use) changes no output bit: on
 * the shipped model, for each GPT precision, every decoding mode gives the same tokens with
 * trimming on and off, alone and in batches whose rows join and leave at other positions (so the
 * capacity grows and shrinks under a running image). And the open-time probe that turns trimming
 * on says no when a graph's outputs do depend on the slot count.
 */
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/inference/model/model-loader.js';
import type { GptPrecision, ModelInfo } from '../../src/inference/model/model-manifest.js';
import { openPipeline } from '../../src/inference/ort/open-pipeline.js';
import { isLoneRowInvariant } from '../../src/inference/ort/row-invariance.js';
import { isCacheTrimInvariant } from '../../src/inference/ort/trim-invariance.js';
import { BatchingEngine, type SequenceSpec } from '../../src/inference/pipeline/batching-engine.js';
import { FREE, forcedPrefixLength } from '../../src/inference/pipeline/token-layout.js';
import type { SamplingParams } from '../../src/jobs/sampling-params.js';

const EMOJI = resolve('models/hita-tiny-emoji');
const CFG: SamplingParams = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };
const NO_CFG: SamplingParams = { cfgScale: 1, temperature: 1, topK: 0, topP: 1 };
const SPANS = [1, 5];

let emoji: ModelInfo;
const sessions: ort.InferenceSession[] = [];

beforeAll(async () => {
  emoji = await loadModel(EMOJI);
});

afterAll(async () => {
  for (const session of sessions.splice(0)) await session.release();
});

async function openGpt(precision: GptPrecision): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(emoji.gptPath(precision), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 2,
  });
  sessions.push(session);
  return session;
}

/** A session that records the past slots of every call with a past. */
function recordingSlots(session: ort.InferenceSession, slots: number[]): ort.InferenceSession {
  return new Proxy(session, {
    get(target, prop, receiver) {
      if (prop !== 'run') return Reflect.get(target, prop, receiver) as unknown;
      return (feeds: Record<string, ort.Tensor>) => {
        const past = feeds.past_key_0!.dims[2]!;
        if (past > 0) slots.push(past);
        return target.run(feeds);
      };
    },
  });
}

/** Known tokens at `positions` (what in-painting and style transfer force), FREE elsewhere. */
function forcedAt(length: number, isForced: (p: number) => boolean): Int32Array {
  return Int32Array.from({ length }, (_, p) => (isForced(p) ? (p * 37 + 11) % 1024 : FREE));
}

describe('KvCache trimming on hita-tiny-emoji', () => {
  it.each(['fp32', 'int8', 'int4'] as const)(
    '%s: the same tokens with trimming on and off, alone and in batches, every mode',
    async (precision) => {
      const session = await openGpt(precision);
      const { gpt } = emoji.manifest;
      const positions = gpt.maxPositions;
      expect(await isCacheTrimInvariant(session, emoji.manifest, SPANS)).toBe(true);
      const padLoneRows = !(await isLoneRowInvariant(session, emoji.manifest));
      const engineWith = (trimCache: boolean, slots: number[]) =>
        new BatchingEngine({
          session: recordingSlots(session, slots),
          kv: { layers: gpt.numLayers, heads: gpt.numHeads, headDim: gpt.headDim, positions },
          vocabSize: gpt.vocabSize,
          nullClassId: gpt.nullClassId,
          padLoneRows,
          trimCache,
        });
      const free = () => forcedAt(positions, () => false);
      const specs: SequenceSpec[] = [
        { classId: 3, seed: 42, sampling: CFG, forced: free() },
        { classId: 5, seed: 77, sampling: NO_CFG, forced: free() },
        // In-painting: a forced prefix (prefill) and forced cells after it.
        {
          classId: 1,
          seed: 8,
          sampling: CFG,
          forced: forcedAt(positions, (p) => p < 30 || p % 4 === 0),
        },
        { classId: 2, seed: 9, sampling: CFG, forced: free(), decoding: 'speculative' },
        { classId: 6, seed: 10, sampling: NO_CFG, forced: free(), decoding: 'speculative' },
        // Style regenerate, speculative: forced tokens are drafts accepted as they are.
        {
          classId: 4,
          seed: 12,
          sampling: CFG,
          forced: forcedAt(positions, (p) => p < 17 || p % 3 === 0),
          decoding: 'speculative',
        },
      ];
      const job = (id: string, sequences: SequenceSpec[]) => ({ id, sequences });
      const alone: Int32Array[] = [];
      for (const [i, spec] of specs.entries()) {
        const fullSlots: number[] = [];
        const trimmedSlots: number[] = [];
        const [full] = await engineWith(false, fullSlots).submit(job(`f${i}`, [spec]));
        const [trimmed] = await engineWith(true, trimmedSlots).submit(job(`t${i}`, [spec]));
        expect(Array.from(trimmed!), `sequence ${i}`).toEqual(Array.from(full!));
        expect(new Set(fullSlots)).toEqual(new Set([positions]));
        // Fewer slots while the image is young (16 at first, or past a forced prefix), up the
        // ladder 16, 32, … 80 and never down.
        expect(trimmedSlots[0]).toBe(forcedPrefixLength(spec.forced) > 0 ? 32 : 16);
        expect(trimmedSlots.at(-1)).toBe(positions);
        expect(trimmedSlots).toEqual([...trimmedSlots].sort((a, b) => a - b));
        alone.push(full!);
      }
      // All at once, trimmed: rows of every mode share the capacity of the most advanced.
      const together = await engineWith(true, []).submit(job('all', specs));
      together.forEach((tokens, i) =>
        expect(Array.from(tokens), `sequence ${i}`).toEqual(Array.from(alone[i]!)),
      );
      // Staggered: the second half joins at the first half's position 50, so the capacity
      // shrinks when the first half leaves, under images still running.
      const slots: number[] = [];
      const engine = engineWith(true, slots);
      let late: Promise<Int32Array[]> | null = null;
      const early = engine.submit({
        ...job('early', specs.slice(0, 3)),
        onProgress: ({ step }) => {
          if (step >= 50) late ??= engine.submit(job('late', specs.slice(3)));
        },
      });
      const results = [...(await early), ...(await late!)];
      results.forEach((tokens, i) =>
        expect(Array.from(tokens), `sequence ${i}`).toEqual(Array.from(alone[i]!)),
      );
      const shrinks = slots.filter((s, i) => i > 0 && s < slots[i - 1]!);
      expect(shrinks.length).toBeGreaterThan(0);
    },
    180_000,
  );
});

describe('isCacheTrimInvariant', () => {
  it('turns trimming on when a model opens on this machine (openPipeline)', async () => {
    const opened = await openPipeline(emoji, { providers: ['cpu'], threads: 2 });
    expect(opened.isTrimmingCache).toBe(true);
    await opened.pipeline.close();
  }, 60_000);

  it('says no for a graph whose outputs change with the slot count', async () => {
    const session = await openGpt('fp32');
    // The real graph, with the logits of any trimmed call nudged in their last bit.
    const sensitive = new Proxy(session, {
      get(target, prop, receiver) {
        if (prop !== 'run') return Reflect.get(target, prop, receiver) as unknown;
        return async (feeds: Record<string, ort.Tensor>) => {
          const out = await target.run(feeds);
          if (feeds.past_key_0!.dims[2] !== emoji.manifest.gpt.maxPositions) {
            const bits = new Uint32Array((out.logits!.data as Float32Array).buffer);
            bits[bits.length - 1]! ^= 1;
          }
          return out;
        };
      },
    });
    expect(await isCacheTrimInvariant(session, emoji.manifest, SPANS)).toBe(true);
    expect(await isCacheTrimInvariant(sensitive, emoji.manifest, SPANS)).toBe(false);
  });
});
