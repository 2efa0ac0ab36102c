/**
 * The token ids a live preview decodes: what an image's sequence holds so far, with the patch
 * tokens not sampled yet filled by the model's preview fill code (model.json `preview.fillCode`).
 *
 * Why one calibrated code: the decoder renders cell j from patch tokens ≤ j − shiftK only (SPEC
 * §1.4), so the cells already sampled come out as they will in the final image whatever the
 * fill; the fill decides only what the rest looks like. Measured on hita-tiny-emoji (README,
 * Previews), the best uniform code beats code 0, the most common code, repeating the last
 * sampled row and averaging several fills: a flat guess that costs nothing per step.
 */
import type { TokenLayout } from './token-layout.js';

/** The decoder's inputs for a batch of previews: ids of `count` images, row-major. */
export interface PreviewIds {
  holistic: BigInt64Array;
  patch: BigInt64Array;
  count: number;
}

/**
 * Fills a batch: image b holds `tokens[b]`, of which the first `known` are final (`known` ≥ M:
 * every holistic token is known before any preview is made).
 * @param fillCode a codebook index (the manifest's; the caller checks it is below the codebook size)
 */
export function previewIds(
  layout: TokenLayout,
  images: readonly { tokens: Int32Array; known: number }[],
  fillCode: number,
): PreviewIds {
  const { numHolistic: m, numPatch: n } = layout;
  const holistic = new BigInt64Array(images.length * m);
  const patch = new BigInt64Array(images.length * n).fill(BigInt(fillCode));
  images.forEach(({ tokens, known }, b) => {
    for (let t = 0; t < m; t++) holistic[b * m + t] = BigInt(tokens[t]!);
    for (let t = m; t < Math.min(known, m + n); t++) patch[b * n + t - m] = BigInt(tokens[t]!);
  });
  return { holistic, patch, count: images.length };
}
