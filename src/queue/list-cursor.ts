/** The `list` page cursor and page size, the same for both engines. */
import { errors, MAX_ECHO_CHARS, requireIntegerInRange } from '../errors.js';

/** Most jobs one `list` page may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** The list cursor: base64url of `[createdAtMs, id]`, the same for both engines. */
export function encodeCursor(createdAtMs: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMs, id])).toString('base64url');
}

/** @throws AppError BAD_USER_INPUT when the cursor was not made by `encodeCursor`. */
export function decodeCursor(cursor: string): { createdAtMs: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isInteger(value[0]) &&
      typeof value[1] === 'string'
    ) {
      return { createdAtMs: value[0] as number, id: value[1] };
    }
  } catch {
    // Falls through to the uniform error below: a cursor is opaque, its parse error is noise.
  }
  throw errors.badInput('after', 'expected a cursor returned by a previous page', {
    received: cursor.slice(0, MAX_ECHO_CHARS),
  });
}

/** @throws AppError BAD_USER_INPUT */
export function validatePageSize(first: number): void {
  requireIntegerInRange('first', first, 1, MAX_PAGE_SIZE);
}
