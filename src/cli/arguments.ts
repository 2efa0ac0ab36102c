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

/** Resolves `--class` given as an id or a name (case-insensitive) against a model's classes. */
export function resolveClass(
  value: string,
  classes: readonly { id: number; name: string }[],
): number {
  const asNumber = Number(value);
  if (value.trim() !== '' && Number.isInteger(asNumber)) {
    if (classes.some((c) => c.id === asNumber)) return asNumber;
    throw new Error(`unknown class ${value}: the model has classes 0 … ${classes.length - 1}`);
  }
  const wanted = value.trim().toLowerCase();
  const match = classes.find((c) => c.name.toLowerCase() === wanted);
  if (match) return match.id;
  const names = classes.map((c) => c.name);
  const shown = names.length > 12 ? [...names.slice(0, 12), '…'] : names;
  throw new Error(`unknown class ${JSON.stringify(value)}; known: ${shown.join(', ')}`);
}
