/**
 * A worker's input and output of one job: the engine request read from the job's stored
 * parameters (and its input images), and the generated images written to the object store.
 */
import { errors } from '../errors.js';
import type { InferenceRequest } from '../inference/inference-engine.js';
import { webpThumbnail } from '../inference/pipeline/image-codec.js';
import type { InputRole, JobOutput, JobRecord } from '../queue/job-queue.js';
import { outputKeys } from '../storage/object-key.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * The engine request of a job; in-painting and style inputs are read from `store`.
 * @throws AppError GENERATION_FAILED when an input key is missing, or the store's errors
 */
export async function inferenceRequest(
  job: JobRecord,
  store: ObjectStore,
): Promise<InferenceRequest> {
  const { params } = job;
  const sampling = {
    cfgScale: params.cfgScale,
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
  };
  const common = { count: params.count, seed: params.seed, sampling };
  // The job's own copy when it has one: the key the client gave may have been overwritten.
  const read = (role: InputRole, key: string | undefined) => {
    const source = params.inputCopies?.[role] ?? key;
    if (!source) throw errors.generationFailed(`job ${job.id} lacks an input key`);
    return store.get(source);
  };
  const classId = params.classId === undefined ? {} : { classId: params.classId };
  switch (job.kind) {
    case 'GENERATE':
      return { kind: 'generate', classId: params.classId ?? 0, ...common };
    case 'INPAINT':
      return {
        kind: 'inpaint',
        image: await read('image', params.imageKey),
        mask: await read('mask', params.maskKey),
        keepHolistic: params.keepHolistic ?? true,
        composite: params.composite ?? true,
        ...classId,
        ...common,
      };
    case 'STYLE_TRANSFER':
      return {
        kind: 'style',
        content: await read('content', params.contentKey),
        style: await read('style', params.styleKey),
        mode: params.mode ?? 'swap',
        strength: params.strength ?? 0.5,
        ...classId,
        ...common,
      };
  }
}

/**
 * Writes a PNG plus a WebP thumbnail per image under job-scoped keys (a re-run rewrites the
 * same keys) and returns the job's outputs in image order.
 */
export async function storeOutputs(
  store: ObjectStore,
  job: JobRecord,
  images: { seed: number; png: Buffer; width: number; height: number }[],
): Promise<JobOutput[]> {
  return Promise.all(
    images.map(async (image, index) => {
      const keys = outputKeys(job.tenant, job.id, index, image.seed);
      // One short value per field: S3 servers cap each metadata value (Swift: 256 bytes).
      const { params } = job;
      const metadata: Record<string, string> = {
        'job-id': job.id,
        kind: job.kind,
        model: job.model ?? 'default',
        seed: String(image.seed),
        'class-id': params.classId === undefined ? 'none' : String(params.classId),
        'cfg-scale': String(params.cfgScale),
        temperature: String(params.temperature),
        'top-k': String(params.topK),
        'top-p': String(params.topP),
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
