import type { JobRecord } from '../queue/job-queue.js';
import type { ImageUrlService } from '../services/image-url-service.js';
import { toJob } from './job-mapping.js';

/**
 * `data.job` of a webhook: the Job as `job(id)` returns it (every scalar field, `error`,
 * `progress`, `parameters`, `outputs`, `inputs`, `webhook`), from the record as it was right
 * after the change, with its URLs signed now (each attempt signs them again).
 * @throws AppError STORAGE_UNAVAILABLE when the store cannot sign (the attempt is retried)
 */
export async function renderWebhookJob(
  record: JobRecord,
  imageUrls: ImageUrlService,
  baseUrl: string,
): Promise<Record<string, unknown>> {
  const { storedOutputs, storedInputs, storedWebhook, ...job } = toJob(record);
  const sign = (key: string) => imageUrls.urlFor(key, baseUrl);
  return {
    ...job,
    queuePosition: null,
    outputs: await Promise.all(
      storedOutputs.map(async (output) => ({
        key: output.key,
        url: await sign(output.key),
        thumbnailUrl: await sign(output.thumbnailKey),
        width: output.width,
        height: output.height,
        seed: output.seed,
        format: output.format,
      })),
    ),
    inputs: await Promise.all(
      storedInputs.map(async ({ role, key, objectKey }) => ({
        role,
        key,
        url: await sign(objectKey),
      })),
    ),
    webhook: storedWebhook ? { url: storedWebhook.url, events: storedWebhook.events } : null,
  };
}
