import sharp from 'sharp';
import { errors } from '../errors.js';
import type { ModelInfo } from '../inference/model-manifest.js';
import {
  validateSamplingParams,
  type SamplingParams,
} from '../inference/sampling/sampling-params.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface InputLimits {
  /** Images per job. @default 16 */
  maxCount: number;
  /** Bytes of a referenced input image. */
  maxImageBytes: number;
  /** Pixels (width × height) of a referenced input image. */
  maxImagePixels: number;
}

export const MAX_SEED = 2 ** 31 - 1;

/** A class given as an id or a name, checked against the model; `undefined` when neither is given. */
export function resolveClassInput(
  model: ModelInfo,
  classId: number | undefined,
  className: string | undefined,
  field = 'classId',
): number | undefined {
  if (classId !== undefined && className !== undefined) {
    throw errors.badInput(field, 'give classId or className, not both');
  }
  if (className !== undefined) {
    const match = model.classes.find(
      (c) => c.name.toLowerCase() === className.trim().toLowerCase(),
    );
    if (!match) {
      throw errors.badInput(
        'className',
        `${JSON.stringify(className)} is not a class of ${model.id}`,
        {
          known: model.classes.map((c) => c.name),
        },
      );
    }
    return match.id;
  }
  if (classId === undefined) return undefined;
  if (!Number.isInteger(classId) || classId < 0 || classId >= model.classes.length) {
    throw errors.badInput(
      field,
      `must be a class id in 0 … ${model.classes.length - 1}, got ${classId}`,
    );
  }
  return classId;
}

export function checkCount(count: number | undefined, limits: InputLimits): number {
  const value = count ?? 1;
  if (!Number.isInteger(value) || value < 1 || value > limits.maxCount) {
    throw errors.badInput('count', `must be an integer in 1 … ${limits.maxCount}, got ${value}`);
  }
  return value;
}

export function checkSeed(seed: number | undefined, random: () => number): number {
  if (seed === undefined) return random();
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw errors.badInput('seed', `must be an integer in 0 … ${MAX_SEED}, got ${seed}`);
  }
  return seed;
}

export function checkPriority(priority: number | undefined): number {
  const value = priority ?? 0;
  if (!Number.isInteger(value) || value < -10 || value > 10) {
    throw errors.badInput('priority', `must be an integer in −10 … 10, got ${value}`);
  }
  return value;
}

export function samplingFor(model: ModelInfo, input: Partial<SamplingParams>): SamplingParams {
  const defaults = model.manifest.sampling;
  return validateSamplingParams(
    {
      cfgScale: input.cfgScale ?? defaults.cfgScale,
      temperature: input.temperature ?? defaults.temperature,
      topK: input.topK ?? defaults.topK,
      topP: input.topP ?? defaults.topP,
    },
    model.manifest.gpt.vocabSize,
  );
}

/**
 * A referenced image exists in the tenant's space, is within the size limits and decodes.
 * @returns its pixel size, to match a mask against it
 */
export async function checkImageObject(
  store: ObjectStore,
  key: string,
  field: string,
  limits: InputLimits,
): Promise<{ width: number; height: number }> {
  const info = await store.stat(key);
  if (!info)
    throw errors.badInput(
      field,
      `no object ${JSON.stringify(key)}: upload it first (createUpload)`,
    );
  if (info.size > limits.maxImageBytes) {
    throw errors.badInput(field, `is ${info.size} bytes; the limit is ${limits.maxImageBytes}`, {
      size: info.size,
      limit: limits.maxImageBytes,
    });
  }
  const bytes = await store.get(key);
  try {
    const meta = await sharp(bytes, { limitInputPixels: limits.maxImagePixels }).metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    if (meta.width * meta.height > limits.maxImagePixels) throw new Error('too many pixels');
    await sharp(bytes, { limitInputPixels: limits.maxImagePixels }).raw().toBuffer();
    return { width: meta.width, height: meta.height };
  } catch (error) {
    throw errors.badInput(
      field,
      `does not decode as an image within ${limits.maxImagePixels} pixels (${(error as Error).message})`,
    );
  }
}
