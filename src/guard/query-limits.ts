/**
 * The structural limits every operation passes before it runs, on every transport: tokens (a
 * parse option, so a huge document is never fully parsed), depth, aliases and directives
 * (graphql-armor's validation rules) and, when introspection is off, no `__schema`/`__type`.
 * Each refusal is a QUERY_TOO_COMPLEX AppError, so clients see one code for every query limit.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { errors, type AppError } from '../errors.js';

/** The settings behind the limits (config.ts reads them from the environment). */
export interface QueryLimits {
  /** Lexical tokens of one document. */
  maxTokens: number;
  /** Nesting of fields, fragments inlined. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Estimated cost of one operation (query-cost.ts). */
  maxCost: number;
  /** Whether `__schema` and `__type` may be queried; off also hides "Did you mean …" hints. */
  introspection: boolean;
}

/** A GraphQL validation error that carries an AppError, which formatError then shows as it is. */
export function asGraphQLError(error: AppError): GraphQLError {
  return new GraphQLError(error.message, { originalError: error });
}

/** graphql-armor reports through callbacks; ours turns each rejection into QUERY_TOO_COMPLEX. */
function armorOptions(n: number, limit: string) {
  return {
    n,
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(
          asGraphQLError(errors.queryTooComplex(error.message, { limit, max: n })),
        );
      },
    ],
  };
}

/** The validation rules to add to graphql's own, in the same order on every transport. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ ...armorOptions(limits.maxDepth, 'depth'), flattenFragments: true }),
    maxAliasesRule(armorOptions(limits.maxAliases, 'aliases')),
    maxDirectivesRule(armorOptions(limits.maxDirectives, 'directives')),
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
}

/** graphql-js stops lexing past `maxTokens`, before the document is built. */
export function parseOptions(limits: QueryLimits): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** The parse error graphql-js raises at the token limit, as our code (it has no code of its own). */
export function tokenLimitError(error: { message: string }): AppError | null {
  const match = /Document contains more th[ae]n (\d+) tokens/.exec(error.message);
  return match
    ? errors.queryTooComplex(`the document has more than ${match[1]} tokens`, {
        limit: 'tokens',
        max: Number(match[1]),
      })
    : null;
}
