/**
 * What an operation will cost, estimated from the document before it runs (graphql-query-complexity).
 * Every list field and mutation declares its cost on its type-graphql decorator (src/schema/costs.ts);
 * any other field costs 1 when it returns an object (times UNDECLARED_LIST_LENGTH for a list) and 0
 * when it returns a scalar.
 */
import {
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import {
  fieldExtensionsEstimator,
  getComplexity,
  type ComplexityEstimator,
} from 'graphql-query-complexity';
import type { CostContext } from '../schema/costs.js';

/**
 * Lists without a declared cost are introspection's (`types`, `fields`, `args`…; a test makes
 * ours declare one): each counts as this many entries, so that nesting them cannot multiply
 * work unchecked.
 */
const UNDECLARED_LIST_LENGTH = 4;

const undeclaredFieldCost: ComplexityEstimator = ({ field, childComplexity }) => {
  if (isLeafType(getNamedType(field.type))) return 0;
  const entries = isListType(getNullableType(field.type)) ? UNDECLARED_LIST_LENGTH : 1;
  return 1 + entries * childComplexity;
};

const ESTIMATORS = [fieldExtensionsEstimator(), undeclaredFieldCost];

/** Most field nodes the estimator visits before it gives up (a huge document is refused anyway). */
const MAX_QUERY_NODES = 10_000;

export interface CostQuery {
  document: DocumentNode;
  operationName?: string | undefined;
  variables: Record<string, unknown>;
}

/**
 * The estimated cost of the operation `operationName` of a validated document.
 * @throws GraphQLError when the document has more than {@link MAX_QUERY_NODES} field nodes
 */
export function estimateCost(
  schema: GraphQLSchema,
  query: CostQuery,
  context: CostContext,
): number {
  return getComplexity({
    schema,
    query: query.document,
    variables: query.variables,
    ...(query.operationName ? { operationName: query.operationName } : {}),
    estimators: ESTIMATORS,
    context: context as unknown as Record<string, unknown>,
    maxQueryNodes: MAX_QUERY_NODES,
  });
}
