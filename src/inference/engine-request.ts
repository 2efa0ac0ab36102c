/**
 * The engine's request of a validated job request: the same fields with the sampling knobs
 * grouped and the input images as bytes, which the caller's `read` fetches (the worker from the
 * object store, the CLI from files). The mask-size rule runs here on those bytes, for every
 * caller that reads them.
 */
import type { InferenceRequest } from './inference-engine.js';
import { imageSize } from './pipeline/image-codec.js';
import { pickSamplingParams } from '../jobs/sampling-params.js';
import { checkMaskSize, type InputRole, type JobRequest } from '../jobs/job-request.js';

/**
 * Reads one input image.
 * @param key the job's own copy of the input when it has one (`inputCopies`), else the key given
 * @param role what the image is for; errors about it name this field
 */
export type ReadInput = (key: string, role: InputRole) => Promise<Uint8Array>;

/**
 * @throws AppError BAD_USER_INPUT on `image` or `mask` when an in-painting input does not decode
 *   or the mask's size is not the image's; whatever `read` throws
 */
export async function toInferenceRequest(
  request: JobRequest,
  read: ReadInput,
): Promise<InferenceRequest> {
  const common = {
    count: request.count,
    seed: request.seed,
    sampling: pickSamplingParams(request),
    decoding: request.decoding,
  };
  if (request.kind === 'generate') return { kind: 'generate', classId: request.classId, ...common };
  const classId = request.classId === undefined ? {} : { classId: request.classId };
  // One at a time, so that when both fail the error is always about the first.
  const input = (role: InputRole, key: string) => read(request.inputCopies?.[role] ?? key, role);
  if (request.kind === 'inpaint') {
    const image = await input('image', request.imageKey);
    const mask = await input('mask', request.maskKey);
    checkMaskSize(await imageSize(image, 'image'), await imageSize(mask, 'mask'), 'mask');
    return {
      kind: 'inpaint',
      image,
      mask,
      keepHolistic: request.keepHolistic,
      composite: request.composite,
      ...classId,
      ...common,
    };
  }
  const content = await input('content', request.contentKey);
  const style = await input('style', request.styleKey);
  return {
    kind: 'style',
    content,
    style,
    mode: request.mode,
    strength: request.strength,
    ...classId,
    ...common,
  };
}
