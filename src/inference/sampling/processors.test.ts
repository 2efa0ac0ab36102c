import { describe, expect, it } from 'vitest';
import {
  applyPipeline,
  applyTemperature,
  buildPipeline,
  cfgMerge,
  topKFilter,
  topPFilter,
} from './processors.js';
import type { SamplingParams } from '../../jobs/sampling-params.js';

const NEG = -Infinity;
const f32 = (values: number[]) => Float32Array.from(values);

/** A deterministic stream of floats in [0, 1) (an LCG: test inputs only). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Rows with many exact ties (small integer grid) or spread-out values, some entries masked. */
function testRows(count: number, n: number): Float32Array[] {
  const next = lcg(7);
  return Array.from({ length: count }, (_, r) =>
    Float32Array.from({ length: n }, () => {
      const x = next();
      if (r % 3 === 2 && x < 0.2) return NEG;
      return r % 2 === 0 ? Math.floor(x * 6) : (x - 0.5) * (1 + r);
    }),
  );
}

const sameRow = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Indices by value descending, lower index first on ties. */
const orderDesc = (row: Float32Array) =>
  Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);

function topKReference(row: Float32Array, k: number): Float32Array {
  const out = row.slice();
  for (const i of orderDesc(row).slice(k)) out[i] = NEG;
  return out;
}

function topPReference(row: Float32Array, p: number): Float32Array {
  const max = Math.max(...row);
  let total = 0;
  for (const x of row) total += Math.exp(x - max);
  const out = row.slice();
  let cumulative = 0;
  for (const i of orderDesc(row)) {
    if (cumulative > p) out[i] = NEG; // official: remove i iff cum[i - 1] > p
    cumulative += Math.exp(row[i]! - max) / total;
  }
  return out;
}

function expectGenerationFailed(run: () => void, message: RegExp): void {
  expect(run).toThrow(
    expect.objectContaining({ code: 'GENERATION_FAILED', message: expect.stringMatching(message) }),
  );
}

describe('cfgMerge', () => {
  it('writes uncond + s·(cond − uncond) into cond and leaves uncond alone', () => {
    const cond = f32([1, 2, -1, 0.5]);
    const uncond = f32([0, 1, 1, 0.5]);
    cfgMerge(cond, uncond, 2);
    expect(Array.from(cond)).toEqual([2, 3, -3, 0.5]);
    expect(Array.from(uncond)).toEqual([0, 1, 1, 0.5]);
  });

  it('with scale 1 returns cond', () => {
    const cond = f32([3.25, -7.5, 0, 12, -0.125]);
    const uncond = f32([1.5, -7, 4, 11.5, 0.25]);
    cfgMerge(cond, uncond, 1);
    expect(Array.from(cond)).toEqual([3.25, -7.5, 0, 12, -0.125]);
  });

  it('rounds each op to float32 as PyTorch does', () => {
    const cond = f32([0.1, 3.3]);
    const uncond = f32([0.7, -1.9]);
    const expected = Array.from(cond, (c, i) => {
      const u = uncond[i]!;
      return Math.fround(u + Math.fround(Math.fround(1.7) * Math.fround(c - u)));
    });
    cfgMerge(cond, uncond, 1.7);
    expect(Array.from(cond)).toEqual(expected);
  });

  it('refuses rows of different lengths', () => {
    expectGenerationFailed(() => cfgMerge(f32([1, 2]), f32([1]), 2), /differ in length/);
  });
});

describe('applyTemperature', () => {
  it('divides by T', () => {
    const row = f32([1, -2, 0.5, NEG]);
    applyTemperature(row, 0.5);
    expect(Array.from(row)).toEqual([2, -4, 1, NEG]);
  });

  it('divides by max(T, 1e-5), so T = 0 sharpens without moving the argmax', () => {
    const row = f32([0.25, 0.5, -1]);
    applyTemperature(row, 0);
    expect(Array.from(row)).toEqual([0.25, 0.5, -1].map((x) => Math.fround(x / Math.fround(1e-5))));
    expect(row.indexOf(Math.max(...row))).toBe(1);
  });

  it('rounds the divisor to float32 first', () => {
    const row = f32([1, 3]);
    applyTemperature(row, 0.7);
    expect(Array.from(row)).toEqual([
      Math.fround(1 / Math.fround(0.7)),
      Math.fround(3 / Math.fround(0.7)),
    ]);
  });
});

describe('topKFilter', () => {
  it('keeps the k largest', () => {
    const row = f32([0.5, 3, -1, 2, 1]);
    topKFilter(row, 2);
    expect(Array.from(row)).toEqual([NEG, 3, NEG, 2, NEG]);
  });

  it('keeps exactly k entries, the lowest indices among ties at the k-th value', () => {
    const row = f32([1, 3, 2, 3, 2, 2, 0]);
    topKFilter(row, 4);
    expect(Array.from(row)).toEqual([NEG, 3, 2, 3, 2, NEG, NEG]);
  });

  it('with k = 1 keeps only the argmax (lowest index on ties)', () => {
    const row = f32([4, 9, 1, 9, 9]);
    topKFilter(row, 1);
    expect(Array.from(row)).toEqual([NEG, 9, NEG, NEG, NEG]);
  });

  it('leaves the row alone when k ≥ its length', () => {
    const row = f32([1, NEG, 2]);
    topKFilter(row, 3);
    expect(Array.from(row)).toEqual([1, NEG, 2]);
  });

  it('keeps fewer real entries when fewer than k are unmasked', () => {
    const row = f32([NEG, 1, NEG, NEG]);
    topKFilter(row, 2);
    expect(Array.from(row)).toEqual([NEG, 1, NEG, NEG]);
  });

  it('matches a sort-based reference on many rows', () => {
    const mismatches: string[] = [];
    for (const [r, row] of testRows(24, 97).entries()) {
      for (const k of [1, 2, 5, 17, 50, 96]) {
        const out = row.slice();
        topKFilter(out, k);
        if (!sameRow(out, topKReference(row, k))) mismatches.push(`row ${r}, k ${k}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('matches the reference on a vocabulary-sized row', () => {
    const next = lcg(13);
    const row = Float32Array.from({ length: 4096 }, () => Math.round((next() - 0.5) * 2000) / 8);
    for (const k of [1, 100, 2000]) {
      const out = row.slice();
      topKFilter(out, k);
      expect(sameRow(out, topKReference(row, k)), `k ${k}`).toBe(true);
    }
  });

  it('refuses NaN', () => {
    expectGenerationFailed(() => topKFilter(f32([1, Number.NaN, 2]), 1), /logit 1 is NaN/);
  });
});

describe('topPFilter', () => {
  // Equal logits give exact probabilities, so these cuts do not hinge on rounding.
  it('keeps the token that crosses p', () => {
    const row = f32([0, 0, 0, 0]); // 0.25 each; cumulative 0.25, 0.5, 0.75, 1
    topPFilter(row, 0.3);
    expect(Array.from(row)).toEqual([0, 0, NEG, NEG]);
  });

  it('cuts where the previous cumulative probability exceeds p, as the official code does', () => {
    const row = f32([0, 0, 0, 0]);
    topPFilter(row, 0.5); // cumulative 0.5 at index 1 does not exceed p, so index 2 stays too
    expect(Array.from(row)).toEqual([0, 0, 0, NEG]);
  });

  it('orders by value, not index', () => {
    const row = f32([Math.log(0.1), Math.log(0.3), Math.log(0.6)]);
    const copy = row.slice();
    topPFilter(copy, 0.55);
    expect(Array.from(copy)).toEqual([NEG, NEG, row[2]]);
    topPFilter(row, 0.7);
    expect(Array.from(row)).toEqual([NEG, Math.fround(Math.log(0.3)), Math.fround(Math.log(0.6))]);
  });

  it('always keeps the most likely token', () => {
    const row = f32([1, 5, 2]);
    topPFilter(row, 1e-9);
    expect(Array.from(row)).toEqual([NEG, 5, NEG]);
  });

  it('keeps everything when rounding never lets the cumulative sum exceed p', () => {
    const row = new Float32Array(10); // ten times 0.1 sums to 1 − 2^-53 in float64
    topPFilter(row, 1 - 2 ** -53);
    expect(Array.from(row)).toEqual(new Array(10).fill(0));
  });

  it('leaves masked entries masked and p = 1 changes nothing', () => {
    const row = f32([NEG, 2, NEG, 1]);
    topPFilter(row, 1);
    expect(Array.from(row)).toEqual([NEG, 2, NEG, 1]);
    topPFilter(row, 0.99);
    expect(Array.from(row)).toEqual([NEG, 2, NEG, 1]);
  });

  it('matches a full-sort reference on many rows', () => {
    const mismatches: string[] = [];
    for (const [r, row] of testRows(24, 97).entries()) {
      for (const p of [0.05, 0.3, 0.5, 0.8, 0.95, 0.999]) {
        const out = row.slice();
        topPFilter(out, p);
        if (!sameRow(out, topPReference(row, p))) mismatches.push(`row ${r}, p ${p}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('matches the reference on a vocabulary-sized row', () => {
    const next = lcg(11);
    const row = Float32Array.from({ length: 4096 }, () => (next() - 0.5) * 24);
    for (const p of [0.5, 0.9, 0.99]) {
      const out = row.slice();
      topPFilter(out, p);
      expect(sameRow(out, topPReference(row, p)), `p ${p}`).toBe(true);
    }
  });

  it('refuses NaN and rows with nothing left', () => {
    expectGenerationFailed(() => topPFilter(f32([1, Number.NaN]), 0.5), /logit 1 is NaN/);
    expectGenerationFailed(() => topPFilter(f32([NEG, NEG]), 0.5), /every logit is masked/);
  });
});

describe('buildPipeline', () => {
  const names = (params: SamplingParams) => buildPipeline(params).map((p) => p.name);

  it('includes only active stages, in the fixed order', () => {
    expect(names({ cfgScale: 1, temperature: 1, topK: 0, topP: 1 })).toEqual([]);
    expect(names({ cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 })).toEqual(['cfg']);
    expect(names({ cfgScale: 1, temperature: 0, topK: 0, topP: 1 })).toEqual(['temperature']);
    expect(names({ cfgScale: 4, temperature: 0.9, topK: 100, topP: 0.9 })).toEqual([
      'cfg',
      'temperature',
      'top-k',
      'top-p',
    ]);
    expect(names({ cfgScale: 1, temperature: 1, topK: 1, topP: 0.5 })).toEqual(['top-k', 'top-p']);
  });

  it('applies the stages in order, equal to calling them by hand', () => {
    const cond = f32([2, 1.5, -1, 0.25, 3, 0]);
    const uncond = f32([1, 1, 0, 0.5, 1.5, -1]);
    const params = { cfgScale: 2.5, temperature: 0.8, topK: 4, topP: 0.6 };
    const expected = cond.slice();
    cfgMerge(expected, uncond, 2.5);
    applyTemperature(expected, 0.8);
    topKFilter(expected, 4);
    topPFilter(expected, 0.6);
    const row = cond.slice();
    applyPipeline(buildPipeline(params), row, uncond);
    expect(Array.from(row)).toEqual(Array.from(expected));
    expect(Array.from(uncond)).toEqual([1, 1, 0, 0.5, 1.5, -1]);
  });

  it('the CFG stage needs the unconditional row', () => {
    const [cfg] = buildPipeline({ cfgScale: 2, temperature: 1, topK: 0, topP: 1 });
    expectGenerationFailed(() => cfg!.apply(f32([1]), null), /needs the unconditional row/);
  });
});
