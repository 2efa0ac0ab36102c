import { describe, expect, it } from 'vitest';
import { RowRng } from './rng.js';
import { chooseToken, processedDistribution } from './sampler.js';
import { drawFrom, verifyDraft } from './speculative-acceptance.js';
import type { SamplingParams } from '../../jobs/sampling-params.js';

const V = 32;
const COND = Float32Array.from({ length: V }, (_, i) => ((i * 37) % 17) / 4 - 2);
const UNCOND = Float32Array.from({ length: V }, (_, i) => ((i * 11) % 13) / 8 - 0.75);

function distribution(cond: Float32Array, params: SamplingParams): Float64Array {
  const out = new Float64Array(cond.length);
  processedDistribution(cond, UNCOND, params, new Float32Array(cond.length), out);
  return out;
}

describe('processedDistribution', () => {
  it.each<SamplingParams>([
    { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 },
    { cfgScale: 4, temperature: 0.7, topK: 10, topP: 0.9 },
    { cfgScale: 1, temperature: 1, topK: 3, topP: 1 },
    { cfgScale: 2, temperature: 0, topK: 0, topP: 1 },
  ])('is what chooseToken draws from: the same u gives the same token (%j)', (params) => {
    const p = distribution(COND, params);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const rng = new RowRng(99);
    for (let step = 0; step < 200; step++) {
      const u = rng.uniform(step);
      expect(drawFrom(p, u)).toBe(chooseToken(COND, UNCOND, params, u));
    }
  });
});

describe('verifyDraft', () => {
  const rng = new RowRng(2024);

  it('accepts every draft when p = q', () => {
    const p = distribution(COND, { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 });
    for (let i = 0; i < 500; i++) {
      const draft = drawFrom(p, rng.uniform(i, 0));
      const verdict = verifyDraft(p, p, draft, rng.uniform(i, 1), rng.uniform(i, 2));
      expect(verdict).toEqual({ token: draft, isAccepted: true });
    }
  });

  it('accepts none when the supports are disjoint, and redraws inside p’s support', () => {
    const p = new Float64Array(V);
    const q = new Float64Array(V);
    for (let i = 0; i < V; i++) (i % 2 === 0 ? p : q)[i] = 2 / V;
    for (let i = 0; i < 500; i++) {
      const draft = drawFrom(q, rng.uniform(i, 0));
      const verdict = verifyDraft(p, q, draft, rng.uniform(i, 1), rng.uniform(i, 2));
      expect(verdict.isAccepted).toBe(false);
      expect(verdict.token % 2).toBe(0);
    }
  });

  it('refuses a draft its q gives no mass', () => {
    const p = new Float64Array([0.5, 0.5]);
    const q = new Float64Array([1, 0]);
    expect(() => verifyDraft(p, q, 1, 0.5, 0.5)).toThrow(
      expect.objectContaining({ code: 'GENERATION_FAILED' }),
    );
  });

  it('keeps p: accepted-or-redrawn tokens follow p, not q (seeded, 5σ per token)', () => {
    const p = new Float64Array([0.5, 0.2, 0.15, 0.1, 0.05, 0]);
    const q = new Float64Array([0.1, 0.1, 0.2, 0.3, 0.1, 0.2]);
    const n = 40_000;
    const counts = new Array<number>(p.length).fill(0);
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const draft = drawFrom(q, rng.uniform(i, 10));
      const verdict = verifyDraft(p, q, draft, rng.uniform(i, 11), rng.uniform(i, 12));
      counts[verdict.token]!++;
      if (verdict.isAccepted) accepted++;
    }
    p.forEach((pi, i) => {
      // Each count is binomial(n, p_i): 5 standard deviations, plus one for p_i = 0.
      const tolerance = 5 * Math.sqrt(n * pi * (1 - pi)) + 1;
      expect(Math.abs(counts[i]! - n * pi), `token ${i}`).toBeLessThanOrEqual(tolerance);
    });
    // The acceptance rate is Σ min(p, q) = 0.55; q's own frequencies would fail above.
    const rate = overlap(p, q);
    expect(Math.abs(accepted - n * rate)).toBeLessThanOrEqual(5 * Math.sqrt(n * rate * (1 - rate)));
  });
});

function overlap(p: Float64Array, q: Float64Array): number {
  return p.reduce((sum, pi, i) => sum + Math.min(pi, q[i]!), 0);
}
