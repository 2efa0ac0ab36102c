/** The `encode` graph over a batch of images (SPEC §1.3): RGB at the model's size → token ids. */
import * as ort from 'onnxruntime-node';
import { toModelInput, type RgbImage } from './image-codec.js';
import type { TokenLayout } from './token-layout.js';

/** One image's codes: M holistic ids, then N patch ids. */
export interface EncodedIds {
  holistic: Int32Array;
  patch: Int32Array;
}

/** Encodes every image in one call. */
export async function encodeImages(
  session: ort.InferenceSession,
  layout: TokenLayout,
  images: RgbImage[],
): Promise<EncodedIds[]> {
  const { numHolistic: m, numPatch: n, imageSize: size } = layout;
  const pixels = new Float32Array(images.length * 3 * size * size);
  images.forEach((image, i) => toModelInput(image, pixels, i));
  const out = await session.run({
    image: new ort.Tensor('float32', pixels, [images.length, 3, size, size]),
  });
  const holistic = out.holistic_ids!.data as BigInt64Array;
  const patch = out.patch_ids!.data as BigInt64Array;
  return images.map((_, i) => ({
    holistic: Int32Array.from(holistic.subarray(i * m, (i + 1) * m), Number),
    patch: Int32Array.from(patch.subarray(i * n, (i + 1) * n), Number),
  }));
}
