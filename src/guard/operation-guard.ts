/**
 * Admission of one GraphQL operation, the same on every transport (HTTP through an Apollo plugin,
 * graphql-ws through its onSubscribe hook): after parsing (token limit) and validation (the limit
 * rules), the operation's cost against the budget, the cap on job-creating fields, and the
 * tenant's rate-limit points, all before any resolver runs.
 */
import {
  Kind,
  getOperationAST,
  getVariableValues,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { errors } from '../errors.js';
import type { CostContext } from '../schema/costs.js';
import type { CostRateLimiter, CostReport } from './cost-rate-limiter.js';
import { estimateCost, estimateOperationCost } from './query-cost.js';
import type { QueryLimits } from './query-limits.js';

/** The mutations that create a job, counted against `maxJobsPerRequest`. */
export const JOB_CREATING_FIELDS: ReadonlySet<string> = new Set([
  'generateImages',
  'inpaintImage',
  'transferStyle',
]);

export interface OperationGuardOptions {
  schema: GraphQLSchema;
  limits: QueryLimits;
  costContext: CostContext;
  rateLimiter: CostRateLimiter;
  /** Job-creating fields one operation may hold (HITA_MAX_JOBS_PER_REQUEST). */
  maxJobsPerRequest: number;
}

export interface OperationToAdmit {
  document: DocumentNode;
  operationName?: string | undefined;
  variables: Record<string, unknown>;
  tenant: string;
}

/** What admission found: the cost report for `extensions.cost`, and the job fields it holds. */
export interface Admission {
  cost: CostReport;
  jobCreatingFields: number;
}

/** What admission learns of an operation once, for as long as its document lives. */
interface OperationFacts {
  jobCreatingFields: number;
  /** The estimate of an operation without variables; absent until first estimated. */
  cost?: number;
}

export class OperationGuard {
  private readonly options: OperationGuardOptions;
  /**
   * Keyed by the operation's AST node, so an entry lives exactly as long as its document: Apollo
   * hands every request of the same query string the same DocumentNode from its document store
   * (an LRU of about 30 MiB), and graphql-ws and graphql-sse from GuardedOperations' document
   * LRU. The WeakMap holds no document alive, so it is bounded by those caches, never by what
   * clients send; a document parsed for one request takes its entry with it.
   */
  private readonly facts = new WeakMap<OperationDefinitionNode, OperationFacts>();

  constructor(options: OperationGuardOptions) {
    this.options = options;
  }

  /**
   * @throws AppError BAD_USER_INPUT for variables that do not coerce, QUERY_TOO_COMPLEX over the cost budget, BAD_USER_INPUT over the job-field
   *   cap, RATE_LIMITED without enough points (in that order: a refused operation costs nothing)
   */
  async admit(operation: OperationToAdmit): Promise<Admission> {
    const { schema, limits, rateLimiter, maxJobsPerRequest } = this.options;
    const definition = getOperationAST(operation.document, operation.operationName);
    // The cost depends on variables (`first`, `count`): they must coerce before it is estimated.
    const coerced = getVariableValues(
      schema,
      definition?.variableDefinitions ?? [],
      operation.variables,
      { maxErrors: 1 },
    );
    if (coerced.errors) throw errors.badVariables(coerced.errors[0]!.message);
    const facts = definition ? this.factsOf(operation.document, definition) : null;
    const cost =
      limits.maxCost > 0 ? this.costOf(operation, definition, facts, coerced.coerced) : 0;
    if (cost > limits.maxCost) {
      throw errors.queryTooComplex(
        `the operation costs ${cost}; the most one operation may cost is ${limits.maxCost}`,
        { limit: 'cost', max: limits.maxCost, cost },
      );
    }
    const jobCreatingFields = facts?.jobCreatingFields ?? 0;
    if (jobCreatingFields > maxJobsPerRequest) {
      throw errors.badInput(
        'operation',
        `holds ${jobCreatingFields} job-creating fields; at most ${maxJobsPerRequest} per request`,
        { max: maxJobsPerRequest, received: jobCreatingFields },
      );
    }
    return { cost: await rateLimiter.consume(operation.tenant, cost), jobCreatingFields };
  }

  private factsOf(document: DocumentNode, definition: OperationDefinitionNode): OperationFacts {
    let facts = this.facts.get(definition);
    if (!facts) {
      facts = { jobCreatingFields: countJobCreatingFields(document, definition) };
      this.facts.set(definition, facts);
    }
    return facts;
  }

  /**
   * The operation's estimate from its coerced variables. An operation that declares no variables
   * can use none (validation's NoUndefinedVariables, fragments included), so its cost is a
   * function of the document alone and is estimated once; any other is estimated every time,
   * since `first` or `count` may come from a variable.
   * @throws AppError QUERY_TOO_COMPLEX when the estimator gives up (too many field nodes)
   */
  private costOf(
    operation: OperationToAdmit,
    definition: OperationDefinitionNode | null | undefined,
    facts: OperationFacts | null,
    variableValues: Record<string, unknown>,
  ): number {
    const { schema, limits, costContext } = this.options;
    if (facts?.cost !== undefined) return facts.cost;
    try {
      if (!definition) return estimateCost(schema, operation, costContext);
      const cost = estimateOperationCost(
        schema,
        operation.document,
        definition,
        variableValues,
        costContext,
      );
      if (facts && !definition.variableDefinitions?.length) facts.cost = cost;
      return cost;
    } catch (error) {
      throw errors.queryTooComplex(`the operation cannot be costed: ${(error as Error).message}`, {
        limit: 'cost',
        max: limits.maxCost,
      });
    }
  }

  /** The tenant's standing for a response refused before its cost was known. */
  standing(tenant: string): Promise<CostReport> {
    return this.options.rateLimiter.peek(tenant);
  }
}

/** Root fields of a mutation that create a job, through fragments and aliases alike. */
function countJobCreatingFields(
  document: DocumentNode,
  operation: OperationDefinitionNode,
): number {
  if (operation.operation !== 'mutation') return 0;
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [],
    ),
  );
  // A fragment's count does not depend on where it is spread: memoised, a document whose
  // fragments spread each other twice over costs linear time, not exponential.
  const fragmentCounts = new Map<string, number>();
  const count = (selections: SelectionSetNode): number =>
    selections.selections.reduce((n, selection) => {
      if (selection.kind === Kind.FIELD)
        return n + (JOB_CREATING_FIELDS.has(selection.name.value) ? 1 : 0);
      if (selection.kind === Kind.INLINE_FRAGMENT) return n + count(selection.selectionSet);
      const name = selection.name.value;
      let inner = fragmentCounts.get(name);
      if (inner === undefined) {
        const fragment = fragments.get(name); // validation has ruled out unknown and cyclic spreads
        inner = fragment ? count(fragment) : 0;
        fragmentCounts.set(name, inner);
      }
      return n + inner;
    }, 0);
  return count(operation.selectionSet);
}
