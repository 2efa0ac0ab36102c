import type { GraphQLFormattedError } from 'graphql';
import {
  ERROR_CODES,
  MAX_ECHO_CHARS,
  isAppError,
  type AppError,
  type ErrorCode,
} from './errors.js';
import { tokenLimitError } from './guard/query-limits.js';

interface Logger {
  error(obj: Record<string, unknown>, message: string): void;
}

export interface FormatErrorOptions {
  logger: Logger;
  /** Strip "Did you mean …?" hints, which reveal the schema when introspection is off. */
  hideSuggestions: boolean;
}

/** Longest message sent; quoted client values inside it are cut to MAX_ECHO_CHARS first. */
const MAX_MESSAGE_CHARS = 1000;
const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** The AppError behind a GraphQL error, however many wrappers (resolver, validation) lie between. */
function appErrorIn(error: unknown): AppError | null {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (isAppError(current)) return current;
    current = (current as { originalError?: unknown }).originalError;
  }
  return null;
}

/** Cuts every long quoted value (graphql-js echoes variables whole) and the message itself. */
export function shortenMessage(message: string, hideSuggestions: boolean): string {
  let text = message.replace(
    new RegExp(`"((?:[^"\\\\]|\\\\.){${MAX_ECHO_CHARS}})(?:[^"\\\\]|\\\\.)+"`, 'g'),
    '"$1…"',
  );
  if (hideSuggestions) text = text.replace(/ ?Did you mean .+\?/g, '');
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS)}…`;
}

/**
 * The single mapping from errors to GraphQL, for every transport: an AppError shows its code,
 * message and safe details (with the field path); the protocol codes of the catalogue pass
 * through with nothing but their code; anything else is logged on one line and masked. No stack
 * trace, server path or whole echoed value ever leaves, whatever NODE_ENV is.
 */
export function createFormatError({ logger, hideSuggestions }: FormatErrorOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const location = {
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
    };
    const app = appErrorIn(error) ?? tokenLimitError(formatted);
    if (app) {
      const retryAfter = app.details?.retryAfterSeconds;
      return {
        message: shortenMessage(app.message, hideSuggestions),
        ...location,
        extensions: {
          code: app.code,
          retryable: app.retryable,
          ...(app.details ? { details: app.details } : {}),
          ...(typeof app.details?.field === 'string' ? { field: app.details.field } : {}),
          ...(typeof retryAfter === 'number' ? { retryAfterSeconds: retryAfter } : {}),
          // QUEUE_FULL says whose limit it hit (global or tenant), as the other limits name theirs.
          ...(typeof app.details?.scope === 'string' ? { scope: app.details.scope } : {}),
        },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && KNOWN_CODES.has(code) && code !== 'INTERNAL_SERVER_ERROR') {
      return {
        message: shortenMessage(formatted.message, hideSuggestions),
        ...location,
        extensions: { code: code as ErrorCode },
      };
    }
    // Apollo refuses some requests with a 4xx status and no code (a persisted query whose hash
    // does not match): a client error, so BAD_REQUEST rather than a masked 500.
    const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions
      ?.http?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        message: shortenMessage(formatted.message, hideSuggestions),
        ...location,
        extensions: { code: 'BAD_REQUEST' },
      };
    }
    logger.error({ err: error, message: formatted.message }, 'unexpected error');
    return {
      message: 'internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** The formatter's type, for the transports that call it. */
export type FormatError = ReturnType<typeof createFormatError>;
