import { InvalidArgumentError, Option } from 'commander';
import { DECODINGS } from '../jobs/decoding.js';
import { GPT_PRECISIONS, type GptPrecision } from '../jobs/gpt-precision.js';

/**
 * `--precision`: the GPT graph to run (overrides HITA_PRECISION); a model without it runs fp32
 * and the command says so.
 */
export function precisionOption(): Option {
  return new Option(
    '--precision <p>',
    'GPT precision: fp32, or a quantized graph the model lists (int8, int4); default HITA_PRECISION or fp32',
  ).choices(GPT_PRECISIONS);
}

/** `--decoding`: how the GPT's tokens are decoded (the request's `decoding`). */
export function decodingOption(): Option {
  return new Option(
    '--decoding <d>',
    'ar: one token per GPT call; speculative: drafts verified several at a time, same distribution',
  )
    .choices(DECODINGS)
    .default('ar');
}

/** The precision of a command: its `--precision`, else the configuration's (HITA_PRECISION). */
export function chosenPrecision(flag: GptPrecision | undefined, configured: GptPrecision) {
  return flag ?? configured;
}

/** Commander parser for a finite number; rejects '', 'abc', 'NaN', 'Infinity' in one line. */
export function parseNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed))
    throw new InvalidArgumentError('not a finite number.');
  return parsed;
}

/** Commander parser for an integer. */
export function parseInteger(value: string): number {
  const parsed = parseNumber(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError('not an integer.');
  return parsed;
}

/**
 * `--class` as a request's field: an integer is a class id, anything else a class name
 * (validateJobRequest looks either up in the model).
 */
export function classArgument(value: string | undefined): { classId?: number; className?: string } {
  if (value === undefined) return {};
  const asNumber = Number(value);
  return value.trim() !== '' && Number.isInteger(asNumber)
    ? { classId: asNumber }
    : { className: value };
}
