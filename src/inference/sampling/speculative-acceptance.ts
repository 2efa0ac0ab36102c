/**
 * The acceptance rule of speculative sampling (Leviathan, Kalman, Matias, "Fast Inference from
 * Transformers via Speculative Decoding", ICML 2023, https://arxiv.org/abs/2211.17192; Chen et
 * al., https://arxiv.org/abs/2302.01318), as Speculative Jacobi Decoding uses it for AR image
 * models (Teng et al., https://arxiv.org/abs/2410.01699): a draft x drawn from q is kept with
 * probability min(1, p(x)/q(x)); otherwise the token is drawn from norm(max(0, p − q)). The kept
 * or redrawn token is distributed exactly as p, whatever q is, so speculative decoding samples
 * what AR sampling samples.
 *
 * p and q are probability vectors as `processedDistribution` (sampler.ts) makes them: the
 * processed distributions that AR sampling draws from.
 */
import { errors } from '../../errors.js';
import { inverseCdf } from './sampler.js';

/** What verifying one draft gave. */
export interface Verdict {
  /** The token at the draft's position: the draft when accepted, else the residual's draw. */
  token: number;
  isAccepted: boolean;
}

let residual = new Float64Array(0);

/**
 * Verifies one draft.
 *
 * @param p the target distribution at the draft's position [V]
 * @param q the distribution the draft was drawn from [V]; q[draft] > 0
 * @param draft the drafted token
 * @param uAccept a uniform in [0, 1) for the test (accept iff uAccept < p(x)/q(x))
 * @param uResample a uniform in [0, 1) for the residual draw, used only on rejection
 * @throws AppError `GENERATION_FAILED` when q gives the draft no mass (it was not drawn from q)
 */
export function verifyDraft(
  p: Float64Array,
  q: Float64Array,
  draft: number,
  uAccept: number,
  uResample: number,
): Verdict {
  const n = p.length;
  const qx = q[draft]!;
  if (!(qx > 0)) throw errors.generationFailed(`draft ${draft} has no mass in its own q`);
  if (uAccept < p[draft]! / qx) return { token: draft, isAccepted: true };
  if (residual.length < n) residual = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = p[i]! - q[i]!;
    const w = r > 0 ? r : 0;
    residual[i] = w;
    total += w;
  }
  // p = q up to rounding: a rejection had (nearly) zero probability; p itself is the residual then.
  if (!(total > 0)) return { token: drawFrom(p, uResample), isAccepted: false };
  return { token: inverseCdf(residual, n, total, uResample), isAccepted: false };
}

/**
 * A token drawn from a probability vector by inverse CDF (the AR sampler's draw).
 * @param u a uniform in [0, 1)
 */
export function drawFrom(distribution: Float64Array, u: number): number {
  const n = distribution.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += distribution[i]!;
  return inverseCdf(distribution, n, total, u);
}
