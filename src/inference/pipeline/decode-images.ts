import * as ort from 'onnxruntime-node';
import { fromModelOutput, type RgbImage } from './image-codec.js';
import type { TokenLayout } from './token-layout.js';

/** One image's tokens: M holistic ids, then N patch ids. */
export interface ImageCodes {
  holistic: ArrayLike<number>;
  patch: ArrayLike<number>;
}

/**
 * Images' tokens → their pixels in one call of the decode graph. Batch only where batched
 * decodes were found bitwise equal to one-image decodes on this machine (isDecodeBatchInvariant
 * in ort/row-invariance.ts), so that a PNG never depends on what it was decoded with.
 */
export async function decodeImages(
  session: ort.InferenceSession,
  layout: TokenLayout,
  codes: readonly ImageCodes[],
): Promise<RgbImage[]> {
  const { numHolistic: m, numPatch: n, imageSize: size } = layout;
  const ids = (key: keyof ImageCodes, length: number): ort.Tensor => {
    const out = new BigInt64Array(codes.length * length);
    codes.forEach((c, i) => out.set(Array.from(c[key], BigInt), i * length));
    return new ort.Tensor('int64', out, [codes.length, length]);
  };
  const out = await session.run({ holistic_ids: ids('holistic', m), patch_ids: ids('patch', n) });
  const pixels = out.image!.data as Float32Array;
  return codes.map((_, i) => fromModelOutput(pixels, size, i));
}
