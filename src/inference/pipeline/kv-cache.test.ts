import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { capacityLadder, capacityStep, KvCache, type KvShape } from './kv-cache.js';

const SHAPE: KvShape = { layers: 2, heads: 3, headDim: 4, positions: 150 };

/** The value a cache entry holds once `fill` wrote it: unique per (kind, layer, row, head, slot, i). */
function entry(kind: number, layer: number, row: number, head: number, slot: number, i: number) {
  return ((((kind * 2 + layer) * 8 + row) * 4 + head) * 200 + slot) * 4 + i;
}

/** Writes slots `from … to − 1` of `row` through `write`, one position per call (as a step). */
function fill(cache: KvCache, row: number, from: number, to: number, tag = row): void {
  const { layers, heads, headDim } = SHAPE;
  for (let slot = from; slot < to; slot++) {
    const outputs: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) {
      for (const [kind, name] of ['new_key', 'new_value'].entries()) {
        const data = Float32Array.from({ length: heads * headDim }, (_, j) =>
          entry(kind, l, tag, Math.floor(j / headDim), slot, j % headDim),
        );
        outputs[`${name}_${l}`] = new ort.Tensor('float32', data, [1, heads, 1, headDim]);
      }
    }
    cache.write(outputs, 0, 0, 1, row, slot);
  }
}

/** Checks through `pastFeeds` that `row` holds `tag`'s slots 0 … filled − 1. */
function expectRow(cache: KvCache, row: number, filled: number, tag = row): void {
  const { layers, heads, headDim } = SHAPE;
  const feeds = cache.pastFeeds(1, row);
  const capacity = cache.capacity;
  for (let l = 0; l < layers; l++) {
    for (const [kind, name] of ['past_key', 'past_value'].entries()) {
      const tensor = feeds[`${name}_${l}`]!;
      expect(tensor.dims).toEqual([1, heads, capacity, headDim]);
      const data = tensor.data as Float32Array;
      const want: number[] = [];
      const got: number[] = [];
      for (let h = 0; h < heads; h++) {
        for (let slot = 0; slot < filled; slot++) {
          for (let i = 0; i < headDim; i++) {
            want.push(entry(kind, l, tag, h, slot, i));
            got.push(data[(h * capacity + slot) * headDim + i]!);
          }
        }
      }
      expect(got).toEqual(want);
    }
  }
}

describe('capacityLadder', () => {
  it('steps from positions mod the step to positions, in at most 9 rungs of 16 · 2^i', () => {
    expect(capacityLadder(80)).toEqual([16, 32, 48, 64, 80]);
    expect(capacityLadder(150)).toEqual([22, 54, 86, 118, 150]);
    expect(capacityLadder(569)).toEqual([57, 121, 185, 249, 313, 377, 441, 505, 569]);
    expect(capacityLadder(128)).toEqual([16, 32, 48, 64, 80, 96, 112, 128]);
    expect(capacityLadder(10)).toEqual([10]);
    for (const positions of [80, 150, 569, 1000, 4097]) {
      const ladder = capacityLadder(positions);
      expect(ladder.length).toBeLessThanOrEqual(9);
      expect(ladder.at(-1)).toBe(positions);
      for (const c of ladder) expect((positions - c) % capacityStep(positions)).toBe(0);
    }
  });
});

describe('KvCache', () => {
  it('without trimming feeds every slot, whatever fit asks', () => {
    const cache = new KvCache(SHAPE, 4);
    expect(cache.capacity).toBe(150);
    fill(cache, 0, 0, 5);
    cache.fit(6, 1);
    expect(cache.capacity).toBe(150);
    expectRow(cache, 0, 5);
  });

  it('grows through the ladder keeping every row’s slots', () => {
    const cache = new KvCache(SHAPE, 4, true);
    expect(cache.capacity).toBe(22);
    for (let row = 0; row < 3; row++) fill(cache, row, 0, 21);
    cache.fit(22, 3);
    expect(cache.capacity).toBe(22);
    cache.fit(23, 3);
    expect(cache.capacity).toBe(54);
    for (let row = 0; row < 3; row++) expectRow(cache, row, 21);
    // Straight past a rung when asked for more.
    cache.fit(80, 3);
    expect(cache.capacity).toBe(86);
    for (let row = 0; row < 3; row++) expectRow(cache, row, 21);
    for (let row = 0; row < 3; row++) fill(cache, row, 21, 80);
    cache.fit(150, 3);
    expect(cache.capacity).toBe(150);
    for (let row = 0; row < 3; row++) expectRow(cache, row, 80);
    // A row past `rows` is not kept (it holds nothing), the ones before it are.
    const second = new KvCache(SHAPE, 4, true);
    fill(second, 1, 0, 10);
    second.fit(100, 2);
    expect(second.capacity).toBe(118);
    expectRow(second, 1, 10);
  });

  it('refuses a write past the capacity', () => {
    const cache = new KvCache(SHAPE, 2, true);
    expect(() => fill(cache, 0, 22, 23)).toThrow(RangeError);
  });

  it('moves rows at any capacity, and shrinks only with a step of room to spare', () => {
    const cache = new KvCache(SHAPE, 4, true);
    cache.fit(150, 3);
    const filled = [40, 90, 41];
    filled.forEach((slots, row) => fill(cache, row, 0, slots));
    // 118 slots would hold rows needing 91 for only 27 more positions (the step is 32).
    cache.fit(91, 3);
    expect(cache.capacity).toBe(150);
    // Row 1 leaves: the last row takes its place, and 86 holds the rest for 44 more.
    cache.move(2, 1);
    cache.fit(42, 2);
    expect(cache.capacity).toBe(86);
    expectRow(cache, 0, 40, 0);
    expectRow(cache, 1, 41, 2);
    cache.fit(42, 2);
    expect(cache.capacity).toBe(86);
    cache.move(1, 0);
    cache.fit(150, 1);
    expectRow(cache, 0, 41, 2);
    cache.fit(42, 1);
    expect(cache.capacity).toBe(86);
    expectRow(cache, 0, 41, 2);
    // With no rows straight to the smallest: nothing to keep.
    cache.fit(0, 0);
    expect(cache.capacity).toBe(22);
  });
});
