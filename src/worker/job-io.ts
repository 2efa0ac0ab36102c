/**
 * A worker's input and output of one job: the engine request read from the job's stored
 * parameters (and its input images), and the generated images written to the object store.
 */
import {
  MAX_IMAGES_PER_REQUEST,
  type InferenceRequest,
  type InferenceResult,
} from '../inference/inference-engine.js';
import type { ModelRegistry } from '../inference/model/model-registry.js';
import { webpThumbnail } from '../inference/pipeline/image-codec.js';
import { errors } from '../errors.js';
import { toInferenceRequest } from '../inference/engine-request.js';
import { validateJobRequest, type JobRequest } from '../jobs/job-request.js';
import { draftOfStored, toObjectMetadata } from '../jobs/stored-job.js';
import type { JobOutput, JobRecord } from '../queue/job-queue.js';
import { outputKeys } from '../storage/object-key.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * A claimed job's request, validated again against its model as the model is now: a job can
 * wait in the queue across a model change. Failures are the ones the engine gave such a job
 * before this check existed (BAD_USER_INPUT, NOT_FOUND or MODEL_UNAVAILABLE for the model).
 * @throws AppError as validateJobRequest and ModelRegistry.resolve; GENERATION_FAILED when an
 *   input key is missing
 */
export async function jobRequest(
  job: JobRecord,
  models: Pick<ModelRegistry, 'resolve'>,
): Promise<JobRequest> {
  const draft = draftOfStored(job);
  const model = await models.resolve(job.model ?? undefined);
  return validateJobRequest(draft, model, {
    // The engine's limit: the API's own (HITA_MAX_COUNT) may have been lowered since.
    maxCount: MAX_IMAGES_PER_REQUEST,
    drawSeed: () => {
      throw errors.badInput('seed', `job ${job.id} was stored without one`);
    },
  });
}

/**
 * The engine request of a validated job; in-painting and style inputs are read from `store`,
 * the job's own copies where it has them.
 * @throws AppError BAD_USER_INPUT when in-painting inputs do not decode or differ in size; the
 *   store's errors
 */
export function inferenceRequest(
  request: JobRequest,
  store: ObjectStore,
): Promise<InferenceRequest> {
  return toInferenceRequest(request, (key) => store.get(key));
}

/**
 * Writes a PNG plus a WebP thumbnail per image under job-scoped keys (a re-run rewrites the
 * same keys) and returns the job's outputs in image order, each with the precision it was made
 * at (also in the objects' metadata), so the record says what this run used.
 */
export async function storeOutputs(
  store: ObjectStore,
  job: JobRecord,
  result: Pick<InferenceResult, 'precision' | 'images'>,
): Promise<JobOutput[]> {
  const { precision, images } = result;
  return Promise.all(
    images.map(async (image, index) => {
      const keys = outputKeys(job.tenant, job.id, index, image.seed);
      // One short value per field: S3 servers cap each metadata value (Swift: 256 bytes).
      const metadata: Record<string, string> = {
        'job-id': job.id,
        kind: job.kind,
        model: job.model ?? 'default',
        seed: String(image.seed),
        precision,
        ...toObjectMetadata(job.params),
      };
      // The two writes are independent (each is atomic on its own), so neither waits for the other.
      await Promise.all([
        store.put(keys.png, image.png, { contentType: 'image/png', metadata }),
        webpThumbnail(image.png).then((webp) =>
          store.put(keys.webp, webp, { contentType: 'image/webp', metadata }),
        ),
      ]);
      return {
        key: keys.png,
        thumbnailKey: keys.webp,
        width: image.width,
        height: image.height,
        seed: image.seed,
        format: 'png' as const,
        precision,
      };
    }),
  );
}

/**
 * Deletes what `storeOutputs` wrote for `outputs` (each PNG and its WebP thumbnail): the job
 * ended CANCELLED when it tried to complete, so nothing may be left behind. Absent keys are fine.
 * @throws the store's errors (STORAGE_UNAVAILABLE)
 */
export async function deleteOutputs(store: ObjectStore, outputs: JobOutput[]): Promise<void> {
  await Promise.all(
    outputs.flatMap((output) => [store.delete(output.key), store.delete(output.thumbnailKey)]),
  );
}
