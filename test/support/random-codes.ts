import type { ImageCodes } from '../../src/inference/pipeline/decode-images.js';
import type { TokenLayout } from '../../src/inference/pipeline/token-layout.js';

/**
 * `count` images of seeded random ids in [0, codebookSize): one linear congruential stream per
 * `set`, so a test decodes the same images on every run.
 */
export function randomCodes(
  layout: TokenLayout,
  codebookSize: number,
  count: number,
  set: number,
): ImageCodes[] {
  let state = 1 + set;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % codebookSize;
  return Array.from({ length: count }, () => ({
    holistic: Array.from({ length: layout.numHolistic }, next),
    patch: Array.from({ length: layout.numPatch }, next),
  }));
}
