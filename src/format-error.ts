import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { isAppError } from './errors.js';

interface Logger {
  error(obj: Record<string, unknown>, message: string): void;
}

/**
 * The single mapping from errors to GraphQL: an AppError shows its code, message and safe
 * details (with the field path); Apollo's own codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
 * BAD_USER_INPUT for variable coercion) pass through; anything else is logged and masked.
 */
export function createFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (isAppError(original)) {
      return {
        ...formatted,
        message: original.message,
        extensions: {
          code: original.code,
          retryable: original.retryable,
          ...(original.details ? { details: original.details } : {}),
          ...(typeof original.details?.field === 'string' ? { field: original.details.field } : {}),
        },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error({ err: original }, 'unexpected error in a resolver');
    return {
      message: 'internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
