/**
 * What an idempotency key is bound to: the mutation and its input as the client sent it. Equal
 * requests must give equal fingerprints whatever the key order or the spelling of "absent", so
 * the JSON is canonical: keys sorted, and fields that are null or undefined dropped (an explicit
 * null means the same as an omitted field).
 */
import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/**
 * sha256 (hex) of the canonical JSON of `[mutation, input]`.
 * @param mutation the GraphQL field name (`generateImages`, `inpaintImage`, `transferStyle`)
 */
export function inputFingerprint(mutation: string, input: object): string {
  return createHash('sha256')
    .update(JSON.stringify([mutation, canonical(input)]))
    .digest('hex');
}
