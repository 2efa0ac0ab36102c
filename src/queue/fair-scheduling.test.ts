import { describe, expect, it } from 'vitest';
import {
  imagesOf,
  parseTenantWeights,
  startTag,
  tagCost,
  TAG_UNITS_PER_IMAGE,
} from './fair-scheduling.js';

describe('fair scheduling rules', () => {
  it('costs images over the tenant’s weight, 1 for tenants without one', () => {
    const weights = parseTenantWeights('acme:4,constructor:2');
    if (!('weights' in weights)) throw new Error(weights.problem);
    expect(tagCost(2, 'acme', weights.weights)).toBe(TAG_UNITS_PER_IMAGE / 2);
    expect(tagCost(2, 'constructor', weights.weights)).toBe(TAG_UNITS_PER_IMAGE);
    expect(tagCost(3, 'toString', weights.weights)).toBe(3 * TAG_UNITS_PER_IMAGE);
    expect(tagCost(1, 'x', { x: 1000 })).toBe(1000);
  });

  it('starts a tenant with nothing waiting at the virtual time, a backlogged one after its last', () => {
    expect(startTag(10, 50, 0)).toBe(10);
    expect(startTag(10, 50, 3)).toBe(50);
    expect(startTag(60, 50, 3)).toBe(60);
  });

  it('counts a job’s images from its params', () => {
    expect(imagesOf({ count: 4 } as never)).toBe(4);
    expect(imagesOf({} as never)).toBe(1);
  });

  it('parses weights, refusing bad entries, repeats and floods with the entry named', () => {
    const parsed = parseTenantWeights(' a:1 , __proto__:3,');
    if (!('weights' in parsed)) throw new Error(parsed.problem);
    expect(Object.entries(parsed.weights)).toEqual([
      ['a', 1],
      ['__proto__', 3],
    ]);
    for (const bad of ['a', 'a:0', 'a:1001', 'a:1,a:2', 'a b:1', 'a:-1'])
      expect(parseTenantWeights(bad)).toMatchObject({
        problem: expect.stringContaining('tenant:weight'),
      });
    expect(parseTenantWeights('a:1,'.repeat(10_001))).toMatchObject({
      problem: expect.stringMatching(/at most/),
    });
  });
});
