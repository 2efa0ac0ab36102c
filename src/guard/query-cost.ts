/**
 * What an operation will cost, estimated from the document before it runs (graphql-query-complexity).
 * Every list field and mutation declares its cost on its type-graphql decorator (src/schema/costs.ts);
 * any other field costs 1 when it returns an object (times UNDECLARED_LIST_LENGTH for a list) and 0
 * when it returns a scalar.
 */
import {
  TypeInfo,
  ValidationContext,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isLeafType,
  isListType,
  type DocumentNode,
  type GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import {
  createComplexityRule,
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

/** Declared costs first, then {@link UNDECLARED_LIST_LENGTH}'s rule for every other field. */
export const ESTIMATORS: readonly ComplexityEstimator[] = [
  fieldExtensionsEstimator(),
  undeclaredFieldCost,
];

/** Most field nodes the estimator visits before it gives up (a huge document is refused anyway). */
export const MAX_QUERY_NODES = 10_000;

export interface CostQuery {
  document: DocumentNode;
  operationName?: string | undefined;
  variables: Record<string, unknown>;
}

/**
 * The estimated cost of the operation `operationName` of a validated document, from raw
 * variables (coerced here).
 * @throws GraphQLError when the variables do not coerce, or the document has more than
 *   {@link MAX_QUERY_NODES} field nodes
 */
export function estimateCost(
  schema: GraphQLSchema,
  query: CostQuery,
  context: CostContext,
): number {
  const operation = getOperationAST(query.document, query.operationName);
  if (!operation) {
    // No single operation to run (the transports refuse these before admission): the library's
    // walk, which sums every operation of the document.
    return getComplexity({
      schema,
      query: query.document,
      variables: query.variables,
      estimators: [...ESTIMATORS],
      context: context as unknown as Record<string, unknown>,
      maxQueryNodes: MAX_QUERY_NODES,
    });
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], query.variables);
  if (coerced.errors) throw coerced.errors[0]!;
  return estimateOperationCost(schema, query.document, operation, coerced.coerced, context);
}

/**
 * The estimated cost of one operation of a validated document, from variables graphql-js has
 * already coerced (`getVariableValues(…).coerced`). The same walk as graphql-query-complexity's
 * `getComplexity`, which would visit the whole document once more with a TypeInfo only to find
 * the operation, and coerce the variables again: here its walk starts at the operation itself.
 * @throws GraphQLError when the document has more than {@link MAX_QUERY_NODES} field nodes, or
 *   an argument does not coerce
 */
export function estimateOperationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variableValues: Record<string, unknown>,
  context: CostContext,
): number {
  const reported: GraphQLError[] = [];
  // The ValidationContext gives the walk its fragments and collects what it reports.
  const walk = createComplexityRule({
    maximumComplexity: Infinity,
    estimators: [...ESTIMATORS],
    context: context as unknown as Record<string, unknown>,
    maxQueryNodes: MAX_QUERY_NODES,
  })(new ValidationContext(schema, document, new TypeInfo(schema), (e) => reported.push(e)));
  walk.variableValues = variableValues;
  const cost = walk.nodeComplexity(operation, rootTypeOf(schema, operation));
  // As getComplexity: the last error it reported.
  const error = reported.pop();
  if (error) throw error;
  return cost;
}

function rootTypeOf(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
): GraphQLObjectType | undefined {
  switch (operation.operation) {
    case 'query':
      return schema.getQueryType() ?? undefined;
    case 'mutation':
      return schema.getMutationType() ?? undefined;
    case 'subscription':
      return schema.getSubscriptionType() ?? undefined;
  }
}
