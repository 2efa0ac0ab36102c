/** The `decode` graph over a batch of token ids (SPEC §1.4): ids → RGB images at the model's size. */
import * as ort from 'onnxruntime-node';
import { fromModelOutput, type RgbImage } from './image-codec.js';
import type { PreviewIds } from './preview-fill.js';
import type { TokenLayout } from './token-layout.js';

/**
 * Decodes `ids.count` images in one call. Final images share a call only where that was found
 * bitwise equal to one-image calls (decode-images.ts); previews always do, since a preview's last
 * bit is moot.
 */
export async function decodeIds(
  session: ort.InferenceSession,
  layout: TokenLayout,
  ids: PreviewIds,
): Promise<RgbImage[]> {
  const { numHolistic: m, numPatch: n, imageSize: size } = layout;
  const out = await session.run({
    holistic_ids: new ort.Tensor('int64', ids.holistic, [ids.count, m]),
    patch_ids: new ort.Tensor('int64', ids.patch, [ids.count, n]),
  });
  const pixels = out.image!.data as Float32Array;
  return Array.from({ length: ids.count }, (_, b) => fromModelOutput(pixels, size, b));
}
