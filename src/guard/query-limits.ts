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
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
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
  /** Estimated cost of one operation (query-cost.ts); 0 skips the estimate (benchmarks only). */
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

/**
 * Introspection's lists (`types`, `fields`, `args`, …) nested at most this deep. The standard
 * introspection query needs 3 (types → fields → args); re-entering `fields` through `type`
 * multiplies the answer by the size of the schema at every level.
 */
export const MAX_INTROSPECTION_LIST_DEPTH = 3;
const INTROSPECTION_LISTS: ReadonlySet<string> = new Set([
  'types',
  'fields',
  'args',
  'inputFields',
  'interfaces',
  'possibleTypes',
  'enumValues',
  'directives',
]);

/** Refuses introspection whose lists nest deeper than {@link MAX_INTROSPECTION_LIST_DEPTH}. */
export function introspectionDepthRule(context: ValidationContext): ASTVisitor {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  // The deepest list nesting below a fragment does not depend on where it is spread: memoised,
  // spreads that fan out cost linear time. `onPath` breaks cycles, which another rule reports.
  const fragmentDepth = new Map<string, number>();
  const onPath = new Set<string>();
  const depthOf = (selections: SelectionSetNode): number => {
    let deepest = 0;
    for (const selection of selections.selections) {
      if (selection.kind === Kind.FIELD) {
        const below = selection.selectionSet ? depthOf(selection.selectionSet) : 0;
        deepest = Math.max(
          deepest,
          below + (INTROSPECTION_LISTS.has(selection.name.value) ? 1 : 0),
        );
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || onPath.has(name)) continue;
        let below = fragmentDepth.get(name);
        if (below === undefined) {
          onPath.add(name);
          below = depthOf(fragment.selectionSet);
          onPath.delete(name);
          fragmentDepth.set(name, below);
        }
        deepest = Math.max(deepest, below);
      }
    }
    return deepest;
  };
  return {
    Field(node) {
      if ((node.name.value !== '__schema' && node.name.value !== '__type') || !node.selectionSet)
        return;
      const depth = depthOf(node.selectionSet);
      if (depth > MAX_INTROSPECTION_LIST_DEPTH) {
        context.reportError(
          asGraphQLError(
            errors.queryTooComplex(
              `introspection lists nest ${depth} deep; at most ${MAX_INTROSPECTION_LIST_DEPTH}`,
              { limit: 'introspection', max: MAX_INTROSPECTION_LIST_DEPTH },
            ),
          ),
        );
      }
    },
  };
}

/** The validation rules to add to graphql's own, in the same order on every transport. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    introspectionDepthRule,
    maxDepthRule({
      ...armorOptions(limits.maxDepth, 'depth'),
      flattenFragments: true,
      ignoreIntrospection: false,
    }),
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
  const match = /Document contains more th(?:an|at) (\d+) tokens/.exec(error.message);
  return match
    ? errors.queryTooComplex(`the document has more than ${match[1]} tokens`, {
        limit: 'tokens',
        max: Number(match[1]),
      })
    : null;
}
