import type { ModelManifest } from '../model/model-manifest.js';

/**
 * The generated sequence of one image: M holistic tokens then N patch tokens in raster order.
 * Token t is predicted at GPT position t, whose input is the class id (t = 0) or token t − 1.
 * A "forced" token is known in advance (in-painting, style transfer): it is fed instead of sampled.
 */
export interface TokenLayout {
  /** M, the holistic tokens. */
  numHolistic: number;
  /** N = grid², the patch tokens. */
  numPatch: number;
  /** G, the side of the patch grid. */
  grid: number;
  /** M + N: tokens per image, and GPT positions fed per image. */
  length: number;
  /** The decoder's shift: cell j is rendered from patch tokens ≤ j − shiftK (SPEC §1.4). */
  shiftK: number;
  imageSize: number;
}

/** Marks a free (to be sampled) slot in a forced-token array. */
export const FREE = -1;

export function tokenLayout(manifest: ModelManifest): TokenLayout {
  const { numHolistic, numPatch, grid, shiftK } = manifest.tokenizer;
  return {
    numHolistic,
    numPatch,
    grid,
    length: numHolistic + numPatch,
    shiftK,
    imageSize: manifest.imageSize,
  };
}

/** A forced-token array with every slot free. */
export function allFree(layout: TokenLayout): Int32Array {
  return new Int32Array(layout.length).fill(FREE);
}

/** How many leading tokens are forced: the teacher-forced prefix fed in one prefill call. */
export function forcedPrefixLength(forced: Int32Array): number {
  let k = 0;
  while (k < forced.length && forced[k]! !== FREE) k++;
  return k;
}

/**
 * Which grid cells a pixel mask touches, dilated by one cell.
 *
 * `mask` is imageSize² bytes, non-zero = regenerate. The dilation is there because the CNN
 * decoder's 3×3 convolutions at the grid level blend each cell with its eight neighbours: a
 * masked pixel on a cell border is also drawn by the neighbouring cell's features.
 */
export function maskedCells(layout: TokenLayout, mask: Uint8Array): Uint8Array {
  const { grid, imageSize } = layout;
  const cell = imageSize / grid;
  const touched = new Uint8Array(grid * grid);
  for (let y = 0; y < imageSize; y++) {
    for (let x = 0; x < imageSize; x++) {
      if (mask[y * imageSize + x]) touched[Math.floor(y / cell) * grid + Math.floor(x / cell)] = 1;
    }
  }
  const dilated = new Uint8Array(grid * grid);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      if (!touched[r * grid + c]) continue;
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr >= 0 && rr < grid && cc >= 0 && cc < grid) dilated[rr * grid + cc] = 1;
        }
      }
    }
  }
  return dilated;
}

/**
 * Forced tokens for in-painting: the image's own tokens everywhere except the patch tokens that
 * draw a masked cell. The causal decoder renders cell j from patch tokens ≤ j − shiftK, and the
 * token at the same sequence position as cell j's output, j − shiftK, is the one that carries it
 * (its residual stream becomes that output), so cell j regenerates token j − shiftK. The first
 * shiftK cells are drawn from holistic outputs only; with kept holistic tokens they change only
 * through compositing.
 *
 * @param keepHolistic keep the image's holistic tokens (true) or sample them anew (false).
 */
export function inpaintForcedTokens(
  layout: TokenLayout,
  holisticIds: ArrayLike<number>,
  patchIds: ArrayLike<number>,
  cells: Uint8Array,
  keepHolistic: boolean,
): Int32Array {
  const forced = allFree(layout);
  const { numHolistic: m, numPatch: n, shiftK: k } = layout;
  if (keepHolistic) for (let i = 0; i < m; i++) forced[i] = holisticIds[i]!;
  for (let i = 0; i < n; i++) {
    const cell = i + k;
    const regenerate = cell < n && cells[cell] === 1;
    if (!regenerate) forced[m + i] = patchIds[i]!;
  }
  return forced;
}

/**
 * Forced tokens for style transfer in `regenerate` mode: the style image's holistic tokens, then
 * the first round((1 − strength)·N) patch tokens of the content image; the rest are sampled.
 * strength 1 keeps none of the content's patches, 0 keeps all of them.
 */
export function styleForcedTokens(
  layout: TokenLayout,
  styleHolistic: ArrayLike<number>,
  contentPatch: ArrayLike<number>,
  strength: number,
): Int32Array {
  const forced = allFree(layout);
  const { numHolistic: m, numPatch: n } = layout;
  for (let i = 0; i < m; i++) forced[i] = styleHolistic[i]!;
  const kept = Math.round((1 - strength) * n);
  for (let i = 0; i < kept; i++) forced[m + i] = contentPatch[i]!;
  return forced;
}
