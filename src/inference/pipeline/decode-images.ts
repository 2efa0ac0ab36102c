/** Final images' tokens → their pixels, through the one decode call of decode-ids.ts. */
import type * as ort from 'onnxruntime-node';
import { decodeIds } from './decode-ids.js';
import type { RgbImage } from './image-codec.js';
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
export function decodeImages(
  session: ort.InferenceSession,
  layout: TokenLayout,
  codes: readonly ImageCodes[],
): Promise<RgbImage[]> {
  const pack = (key: keyof ImageCodes, length: number): BigInt64Array => {
    const out = new BigInt64Array(codes.length * length);
    codes.forEach((c, i) => out.set(Array.from(c[key], BigInt), i * length));
    return out;
  };
  return decodeIds(session, layout, {
    holistic: pack('holistic', layout.numHolistic),
    patch: pack('patch', layout.numPatch),
    count: codes.length,
  });
}
