import { describe, expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import { philox4x32, RowRng } from './rng.js';

type Counter = [number, number, number, number];
type Key = [number, number];

const hex = (block: Uint32Array): string[] =>
  Array.from(block, (word) => word.toString(16).padStart(8, '0'));

/** Philox4x32-10 straight from the paper's definition, with exact BigInt products. */
function philoxBigInt(counter: Counter, key: Key): number[] {
  const mask = 0xffffffffn;
  let [c0, c1, c2, c3] = counter.map((x) => BigInt(x >>> 0));
  let [k0, k1] = key.map((x) => BigInt(x >>> 0));
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0! + 0x9e3779b9n) & mask;
      k1 = (k1! + 0xbb67ae85n) & mask;
    }
    const p0 = 0xd2511f53n * c0!;
    const p1 = 0xcd9e8d57n * c2!;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1! ^ k0!, p1 & mask, (p0 >> 32n) ^ c3! ^ k1!, p0 & mask];
  }
  return [c0!, c1!, c2!, c3!].map(Number);
}

describe('philox4x32', () => {
  // Random123 kat_vectors, philox4x32_10.
  it.each<[Counter, Key, string[]]>([
    [
      [0, 0, 0, 0],
      [0, 0],
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'],
    ],
  ])('matches the known-answer vector for counter %j key %j', (counter, key, expected) => {
    expect(hex(philox4x32(counter, key))).toEqual(expected);
    expect(philoxBigInt(counter, key).map((w) => w.toString(16).padStart(8, '0'))).toEqual(
      expected,
    );
  });

  it('agrees with a BigInt reference on a deterministic spread of inputs', () => {
    let x = 0x12345678;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0); // an LCG, only for inputs
    for (let trial = 0; trial < 200; trial++) {
      const counter: Counter = [next(), next(), next(), next()];
      const key: Key = [next(), next()];
      expect(Array.from(philox4x32(counter, key))).toEqual(philoxBigInt(counter, key));
    }
  });

  it('returns a fresh block each call', () => {
    const a = philox4x32([1, 2, 3, 4], [5, 6]);
    a[0] = 0;
    expect(philox4x32([1, 2, 3, 4], [5, 6])[0]).not.toBe(0);
  });
});

describe('RowRng', () => {
  // Computed with tools/hita/sample.py `row_uniform`; tools/tests/test_sample.py asserts the same.
  it.each<[number, number, number, number]>([
    [12345, 7, 0, 0.6210685913546881],
    [12345, 7, 1, 0.38404586290064235],
    [12345, 0, 0, 0.8202246739383457],
    [0, 0, 0, 0.39904647231489565],
    [Number.MAX_SAFE_INTEGER, 0xffffffff, 0xffffffff, 0.545614358033207],
    [2 ** 40 + 3, 568, 2, 0.2618854902188459],
    [2 ** 32, 1, 0, 0.8005833282085124],
  ])('uniform(seed %d, step %d, lane %d) equals the Python reference', (seed, step, lane, u) => {
    expect(new RowRng(seed).uniform(step, lane)).toBe(u);
  });

  it('builds the double from the top 27 + 26 bits of words 0 and 1', () => {
    const block = philox4x32([3, 0, 0, 0], [99, 0]);
    const expected = ((block[0]! >>> 5) * 2 ** 26 + (block[1]! >>> 6)) / 2 ** 53;
    expect(new RowRng(99).uniform(3)).toBe(expected);
  });

  it('splits the seed into low and high key words', () => {
    const seed = 7 * 2 ** 32 + 11;
    const block = philox4x32([5, 1, 0, 0], [11, 7]);
    const expected = ((block[0]! >>> 5) * 2 ** 26 + (block[1]! >>> 6)) / 2 ** 53;
    expect(new RowRng(seed).uniform(5, 1)).toBe(expected);
  });

  it('stays in [0, 1) with a mean near 1/2', () => {
    const rng = new RowRng(2024);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let step = 0; step < 20_000; step++) {
      const u = rng.uniform(step);
      sum += u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / 20_000 - 0.5)).toBeLessThan(0.01);
  });

  it('depends only on (seed, step, lane), not on call order or other instances', () => {
    const forward = new RowRng(42);
    const values = Array.from({ length: 64 }, (_, step) => forward.uniform(step));
    const backward = new RowRng(42);
    const other = new RowRng(43);
    for (let step = 63; step >= 0; step--) {
      other.uniform(step, 3);
      expect(backward.uniform(step)).toBe(values[step]);
    }
    expect(forward.uniform(10)).toBe(values[10]);
    expect(new RowRng(43).uniform(10)).not.toBe(values[10]);
    expect(forward.uniform(10, 1)).not.toBe(values[10]);
  });

  it.each([-1, 1.5, Number.NaN, Infinity, 2 ** 53])(
    'rejects seed %s as INTERNAL_SERVER_ERROR (an assertion)',
    (seed) => {
      try {
        new RowRng(seed);
        expect.unreachable('RowRng accepted a bad seed');
      } catch (err) {
        expect(isAppError(err) && err.code).toBe('INTERNAL_SERVER_ERROR');
        expect((err as Error).message).toMatch(/^seed: must be an integer/);
      }
    },
  );

  it('rejects steps and lanes that are not uint32', () => {
    const rng = new RowRng(1);
    expect(() => rng.uniform(-1)).toThrow(RangeError);
    expect(() => rng.uniform(2 ** 32)).toThrow(RangeError);
    expect(() => rng.uniform(0, 0.5)).toThrow(RangeError);
  });
});
