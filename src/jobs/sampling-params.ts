/**
 * The per-request sampling knobs (SPEC §3, LlamaGen `generate.py`) and their validation: part of
 * a job's request, so they live in the domain module; the engine's sampling pipeline reads them.
 * Every field is wired into the pipeline (`buildPipeline`) or rejected here with `BAD_USER_INPUT`.
 */
import { errors } from '../errors.js';

/** Sampling knobs of one request; identity values switch a stage off. */
export interface SamplingParams {
  /** Classifier-free guidance scale s in [1, 20]; s ≤ 1 runs no unconditional rows at all. */
  cfgScale: number;
  /** Softmax temperature T in [0, 10]; 0 means greedy, 1 leaves logits unchanged. */
  temperature: number;
  /** Keep the k most likely tokens, an integer in [0, vocabSize]; 0 switches top-k off. */
  topK: number;
  /** Nucleus mass p in (0, 1]; 1 switches top-p off. */
  topP: number;
}

/**
 * Every knob of {@link SamplingParams} with the kind of number it takes: the one list that code
 * moving knobs between shapes (defaults, stored parameters, object metadata, the API's checks of
 * stored values) iterates, so that a new knob is named only where it has a meaning.
 */
export const SAMPLING_KNOBS = {
  cfgScale: 'float',
  temperature: 'float',
  topK: 'integer',
  topP: 'float',
} as const satisfies Record<keyof SamplingParams, 'float' | 'integer'>;

/** The knob names, in {@link SAMPLING_KNOBS} order. */
export const SAMPLING_KNOB_NAMES = Object.keys(SAMPLING_KNOBS) as (keyof SamplingParams)[];

/** The sampling knobs of any object that carries them (a flat job request, stored parameters). */
export function pickSamplingParams(source: SamplingParams): SamplingParams {
  return Object.fromEntries(
    SAMPLING_KNOB_NAMES.map((knob) => [knob, source[knob]]),
  ) as unknown as SamplingParams;
}

/** Each knob as given, else its default (a model's manifest defaults); not validated. */
export function withSamplingDefaults(
  given: Partial<SamplingParams>,
  defaults: SamplingParams,
): SamplingParams {
  return Object.fromEntries(
    SAMPLING_KNOB_NAMES.map((knob) => [knob, given[knob] ?? defaults[knob]]),
  ) as unknown as SamplingParams;
}

/** Inclusive or exclusive bounds of one numeric field. */
interface Range {
  min: number;
  max: number;
  isMinExclusive?: boolean;
}

function checkRange(field: keyof SamplingParams, value: unknown, range: Range): number {
  const { min, max, isMinExclusive = false } = range;
  const interval = `${isMinExclusive ? '(' : '['}${min}, ${max}]`;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw errors.badInput(field, `must be a finite number in ${interval}, got ${String(value)}`, {
      min,
      max,
      received: String(value),
    });
  }
  if ((isMinExclusive ? value <= min : value < min) || value > max) {
    throw errors.badInput(field, `must be in ${interval}, got ${value}`, {
      min,
      max,
      received: value,
    });
  }
  return value;
}

/**
 * Checks every field and returns a frozen copy (the sampler caches pipelines of frozen params).
 *
 * @param params the request's knobs, possibly straight from an API input
 * @param vocabSize the model's codebook size V, the upper bound of `topK`
 * @returns a frozen `SamplingParams`
 * @throws AppError `BAD_USER_INPUT` with `details.field` one of `cfgScale`, `temperature`, `topK`,
 *   `topP`: non-finite values, cfgScale outside [1, 20], temperature outside [0, 10], topK not an
 *   integer in [0, vocabSize], topP outside (0, 1]
 * @throws RangeError when `vocabSize` is not a positive integer (a model metadata bug)
 */
export function validateSamplingParams(
  params: SamplingParams,
  vocabSize: number,
): Readonly<SamplingParams> {
  if (!Number.isSafeInteger(vocabSize) || vocabSize < 1) {
    throw new RangeError(`vocabSize must be a positive integer, got ${vocabSize}`);
  }
  const cfgScale = checkRange('cfgScale', params.cfgScale, { min: 1, max: 20 });
  const temperature = checkRange('temperature', params.temperature, { min: 0, max: 10 });
  const topK = checkRange('topK', params.topK, { min: 0, max: vocabSize });
  if (!Number.isInteger(topK)) {
    throw errors.badInput('topK', `must be an integer in [0, ${vocabSize}], got ${topK}`, {
      min: 0,
      max: vocabSize,
      received: topK,
    });
  }
  const topP = checkRange('topP', params.topP, { min: 0, max: 1, isMinExclusive: true });
  return Object.freeze({ cfgScale, temperature, topK, topP });
}
