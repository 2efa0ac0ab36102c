import { describe, expect, it } from 'vitest';
import { RowRng } from './rng.js';
import { chooseToken, greedyToken, sampleToken } from './sampler.js';
import type { SamplingParams } from '../../jobs/sampling-params.js';

const NEG = -Infinity;
const V = 32;
// Exact in float32; tools/tests/test_sample.py builds the same rows.
const COND = Float32Array.from({ length: V }, (_, i) => ((i * 37) % 17) / 4 - 2);
const UNCOND = Float32Array.from({ length: V }, (_, i) => ((i * 11) % 13) / 8 - 0.75);
const U_GRID = [...Array.from({ length: 10 }, (_, j) => j / 10), 1 - 2 ** -53];

const params = (cfgScale: number, temperature: number, topK: number, topP: number) => ({
  cfgScale,
  temperature,
  topK,
  topP,
});
const PLAIN: SamplingParams = params(1, 1, 0, 1);

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const w = row.map((x) => Math.exp(x - max));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

function expectGenerationFailed(run: () => void, message: RegExp): void {
  expect(run).toThrow(
    expect.objectContaining({ code: 'GENERATION_FAILED', message: expect.stringMatching(message) }),
  );
}

describe('greedyToken', () => {
  it('returns the argmax, lowest index on ties, skipping masked entries', () => {
    expect(greedyToken(Float32Array.from([NEG, 4, 9, 1, 9]))).toBe(2);
    expect(greedyToken(Float32Array.from([NEG, -3, NEG]))).toBe(1);
  });

  it('refuses NaN and fully masked rows', () => {
    expectGenerationFailed(() => greedyToken(Float32Array.from([1, Number.NaN])), /NaN/);
    expectGenerationFailed(() => greedyToken(Float32Array.from([NEG, NEG])), /every logit/);
  });
});

describe('sampleToken', () => {
  it('draws with frequencies that follow the softmax over a deterministic u grid', () => {
    const logits = [0, 1, NEG, 2, -1, 0.5, NEG, -3];
    const row = Float32Array.from(logits);
    const probs = softmax(logits);
    const n = 20_000;
    const counts = new Array<number>(logits.length).fill(0);
    for (let j = 0; j < n; j++) counts[sampleToken(row, (j + 0.5) / n)]!++;
    let chiSquare = 0;
    probs.forEach((p, i) => {
      if (p === 0) {
        expect(counts[i], `masked ${i}`).toBe(0);
        return;
      }
      // A grid puts at most one draw more or fewer than n·p into each token's CDF interval.
      expect(Math.abs(counts[i]! - n * p), `token ${i}`).toBeLessThanOrEqual(1);
      chiSquare += (counts[i]! - n * p) ** 2 / (n * p);
    });
    expect(chiSquare).toBeLessThan(0.01);
  });

  it('walks the CDF in index order', () => {
    const row = Float32Array.from([0, 0, 0, 0]); // 0.25 each
    expect([0, 0.2499, 0.25, 0.5, 0.74, 0.75, 0.9999].map((u) => sampleToken(row, u))).toEqual([
      0, 0, 1, 2, 2, 3, 3,
    ]);
  });

  it('never returns a masked index, at either end of [0, 1)', () => {
    const row = Float32Array.from([NEG, 0, 3, NEG, NEG]);
    expect(sampleToken(row, 0)).toBe(1);
    expect(sampleToken(row, 1 - 2 ** -53)).toBe(2);
    const tiny = Float32Array.from([NEG, 0, -1000, NEG]); // exp(-1000) is 0 in float64
    expect(sampleToken(tiny, 1 - 2 ** -53)).toBe(1);
  });

  it('refuses u outside [0, 1) and rows it cannot sample', () => {
    const row = Float32Array.from([0, 1]);
    expect(() => sampleToken(row, 1)).toThrow(RangeError);
    expect(() => sampleToken(row, -0.1)).toThrow(RangeError);
    expect(() => sampleToken(row, Number.NaN)).toThrow(RangeError);
    expectGenerationFailed(() => sampleToken(Float32Array.from([NEG, NEG]), 0.5), /every logit/);
    expectGenerationFailed(() => sampleToken(Float32Array.from([0, Infinity]), 0.5), /Infinity/);
  });
});

describe('chooseToken', () => {
  // (cfgScale, temperature, topK, topP) → tokens on U_GRID, computed with tools/hita/sample.py.
  it.each<[[number, number, number, number], number[]]>([
    [
      [1.5, 1, 0, 1],
      [0, 5, 5, 11, 11, 14, 16, 22, 27, 28, 31],
    ],
    [
      [1, 1, 3, 1],
      [5, 5, 5, 11, 11, 11, 11, 28, 28, 28, 28],
    ],
    [
      [1, 1, 0, 0.3],
      [5, 5, 5, 11, 11, 11, 11, 28, 28, 28, 28],
    ],
    [
      [1, 0.5, 0, 1],
      [0, 5, 10, 11, 11, 16, 22, 22, 28, 28, 31],
    ],
  ])('matches the Python reference for %j', (knobs, expected) => {
    const p = params(...knobs);
    expect(U_GRID.map((u) => chooseToken(COND, UNCOND, p, u))).toEqual(expected);
  });

  it('matches the Python reference with RowRng draws', () => {
    const u = (seed: number, step: number, lane = 0) => new RowRng(seed).uniform(step, lane);
    expect(chooseToken(COND, UNCOND, params(1.5, 1, 0, 1), u(12345, 7))).toBe(21);
    expect(chooseToken(COND, UNCOND, params(4, 0.7, 10, 0.9), u(7, 100))).toBe(11);
    expect(chooseToken(COND, null, params(1, 1.3, 0, 0.8), u(99, 3, 1))).toBe(4);
  });

  it('leaves the same float32 logits as PyTorch after CFG and temperature', () => {
    // tools/hita/sample.py: apply_temperature(cfg_merge(COND, UNCOND, 4.0), 0.7).tolist()
    const torchRow = [
      -8.214285850524902, -9.821428298950195, -4.464285850524902, 0.8928571343421936, 6.25,
      11.60714340209961, -7.3214287757873535, -8.928571701049805, -3.5714285373687744,
      1.7857142686843872, 7.142857074737549, 12.5, -6.428571701049805, -1.0714285373687744,
      -2.6785714626312256, 2.6785714626312256, 8.035714149475098, -10.892857551574707,
      -5.535714149475098, -0.1785714328289032, -1.7857142686843872, 3.5714285373687744,
      8.928571701049805, -10.0, -4.642857074737549, 0.7142857313156128, 6.0714287757873535,
      4.464285850524902, 9.821428298950195, -9.10714340209961, -3.75, 1.6071429252624512,
    ];
    const scratch = new Float32Array(V);
    chooseToken(COND, UNCOND, params(4, 0.7, 0, 1), 0.5, scratch);
    expect(Array.from(scratch)).toEqual(torchRow);
  });

  it('never writes its inputs, and leaves the processed row in scratch', () => {
    const cond = COND.slice();
    const uncond = UNCOND.slice();
    const scratch = new Float32Array(V + 5).fill(7);
    chooseToken(cond, uncond, params(2, 0.5, 0, 1), 0.3, scratch);
    expect(cond).toEqual(COND);
    expect(uncond).toEqual(UNCOND);
    const expected = Array.from(COND, (c, i) => {
      const un = UNCOND[i]!;
      return Math.fround(Math.fround(un + Math.fround(2 * Math.fround(c - un))) / 0.5);
    });
    expect(Array.from(scratch.subarray(0, V))).toEqual(expected);
    expect(Array.from(scratch.subarray(V))).toEqual([7, 7, 7, 7, 7]);
  });

  it('takes the argmax when topK is 1 or temperature is 0, whatever u', () => {
    const merged = Array.from(COND, (c, i) => UNCOND[i]! + 1.5 * (c - UNCOND[i]!));
    const argmax = merged.indexOf(Math.max(...merged));
    for (const u of U_GRID) {
      expect(chooseToken(COND, UNCOND, params(1.5, 1, 1, 1), u)).toBe(argmax);
      expect(chooseToken(COND, UNCOND, params(1.5, 0, 0, 1), u)).toBe(argmax);
      expect(chooseToken(COND, UNCOND, params(1.5, 3, 1, 0.5), u)).toBe(argmax);
    }
  });

  it('with cfgScale 1 samples from cond alone, ignoring any uncond row', () => {
    for (const u of U_GRID) {
      expect(chooseToken(COND, UNCOND, PLAIN, u)).toBe(sampleToken(COND, u));
      expect(chooseToken(COND, null, PLAIN, u)).toBe(sampleToken(COND, u));
    }
  });

  it('is deterministic and follows a params object that was changed in place', () => {
    const p = params(1, 1, 0, 1);
    const first = U_GRID.map((u) => chooseToken(COND, null, p, u));
    expect(U_GRID.map((u) => chooseToken(COND, null, p, u))).toEqual(first);
    p.topK = 1;
    expect(U_GRID.map((u) => chooseToken(COND, null, p, u))).toEqual(new Array(11).fill(11));
  });

  it('refuses a missing uncond row under CFG and a short scratch buffer', () => {
    expectGenerationFailed(
      () => chooseToken(COND, null, params(2, 1, 0, 1), 0.5),
      /needs the unconditional row/,
    );
    expectGenerationFailed(
      () => chooseToken(COND, UNCOND, PLAIN, 0.5, new Float32Array(V - 1)),
      /scratch holds 31 floats/,
    );
  });
});
