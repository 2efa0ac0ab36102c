import { errors, quote } from '../errors.js';

/**
 * How a job's tokens are decoded. A domain type: the request carries it (`decoding` on job
 * inputs, `--decoding` on the CLI), queues store it with the parameters, the engine runs it per
 * image, and the API shows it as `JobParameters.decoding`.
 */

/**
 * `ar`: one token per GPT call and image; `speculative`: drafts verified several at a time
 * (src/inference/pipeline/speculative-decoder.ts), sampling the same distribution.
 */
export const DECODINGS = ['ar', 'speculative'] as const;

/** One of {@link DECODINGS}. */
export type Decoding = (typeof DECODINGS)[number];

/** A request without `decoding`, and every job stored before decodings existed, decode AR. */
export const DEFAULT_DECODING: Decoding = 'ar';

/** Whether `value` names one of {@link DECODINGS}. */
export function isDecoding(value: unknown): value is Decoding {
  return (DECODINGS as readonly unknown[]).includes(value);
}

/**
 * A request's decoding, checked.
 * @throws AppError BAD_USER_INPUT on `decoding` for anything but one of {@link DECODINGS}
 */
export function checkDecoding(value: unknown): Decoding {
  if (isDecoding(value)) return value;
  throw errors.badInput('decoding', `must be one of ${DECODINGS.join(', ')}, got ${quote(value)}`);
}
