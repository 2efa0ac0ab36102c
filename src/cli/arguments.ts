import { InvalidArgumentError } from 'commander';

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
