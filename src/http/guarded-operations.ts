/**
 * The per-operation path of the transports that execute with graphql-js themselves (graphql-ws
 * and graphql-sse), so that they apply exactly what Apollo applies on HTTP: parse with the token
 * limit, validate with the limit rules (a valid document is kept by its query string, as Apollo
 * keeps it on HTTP), admit through the OperationGuard (variables, cost
 * budget, job-field cap, rate limit), open a JobBatch when the operation holds several
 * job-creating fields and settle it after execution, format every error with the one
 * formatter, and put `extensions.cost` on the first result. The adapters only translate their
 * protocol's hooks into these calls.
 */
import {
  GraphQLError,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { isAppError, type AppError, type ErrorCode } from '../errors.js';
import type { FormatError } from '../format-error.js';
import type { CostReport } from '../guard/cost-rate-limiter.js';
import type { OperationGuard } from '../guard/operation-guard.js';
import { asGraphQLError, tokenLimitError } from '../guard/query-limits.js';
import type { RequestContext } from '../resolvers/context.js';
import { DocumentCache } from './document-cache.js';

export interface GuardedOperationsOptions {
  schema: GraphQLSchema;
  guard: OperationGuard;
  parseOptions: ParseOptions;
  /** Added to graphql's specified rules, in this order. */
  validationRules: readonly ValidationRule[];
  formatError: FormatError;
}

/** One operation as a transport received it (graphql-ws `subscribe`, graphql-sse request params). */
export interface OperationRequest {
  query: unknown;
  operationName?: string | null | undefined;
  variables?: Record<string, unknown> | null | undefined;
}

/** The arguments graphql-js's execute and subscribe take, ready to run. */
export interface PreparedOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string;
  variableValues: Record<string, unknown>;
  contextValue: RequestContext;
  /** For `extensions.cost` on the first result ({@link GuardedOperations.present}). */
  cost: CostReport;
}

/** What preparation found: the operation to run, or the errors to answer with (already coded). */
export type Preparation =
  { ok: true; operation: PreparedOperation } | { ok: false; errors: GraphQLError[] };

/**
 * A transport's own refusal of an operation it cannot carry (graphql-sse: a mutation over GET),
 * checked after validation and before admission, so that a refused operation costs nothing.
 */
export type OperationCheck = (operation: OperationDefinitionNode) => AppError | null;

const coded = (message: string, code: ErrorCode) =>
  new GraphQLError(message, { extensions: { code } });

/** What went wrong before execution: one or more errors, already coded. */
class Refusal {
  constructor(readonly errors: GraphQLError[]) {}
}

export class GuardedOperations {
  private readonly options: GuardedOperationsOptions;
  private readonly rules: readonly ValidationRule[];
  /** Valid documents only: the schema and rules are this instance's, so the query decides. */
  private readonly documents = new DocumentCache();

  constructor(options: GuardedOperationsOptions) {
    this.options = options;
    this.rules = [...specifiedRules, ...options.validationRules];
  }

  /**
   * Parses, validates and admits one operation, and opens its JobBatch when it needs one.
   * Never throws: every failure comes back as coded errors (an unforeseen one is masked later
   * by the formatter). `context` must be this operation's alone (the batch is put on it).
   */
  async prepare(
    request: OperationRequest,
    context: RequestContext,
    check?: OperationCheck,
  ): Promise<Preparation> {
    const { schema, guard } = this.options;
    try {
      const document = this.validDocument(request.query);
      const operationName = request.operationName ?? undefined;
      const definition = getOperationAST(document, operationName);
      if (!definition) {
        throw new Refusal([
          coded('the document names no operation to run', 'OPERATION_RESOLUTION_FAILURE'),
        ]);
      }
      const refused = check?.(definition);
      if (refused) throw refused;
      const variableValues = request.variables ?? {};
      const admission = await guard.admit({
        document,
        operationName,
        variables: variableValues,
        tenant: context.tenant,
      });
      // Several jobs in one operation: all of them or none (JobBatch, settled by `settle`).
      if (admission.jobCreatingFields > 1) context.jobBatch = context.services.jobs.openBatch();
      return {
        ok: true,
        operation: {
          schema,
          document,
          ...(operationName ? { operationName } : {}),
          variableValues,
          contextValue: context,
          cost: admission.cost,
        },
      };
    } catch (error) {
      if (error instanceof Refusal) return { ok: false, errors: error.errors };
      if (isAppError(error)) return { ok: false, errors: [asGraphQLError(error)] };
      return {
        ok: false,
        errors: [new GraphQLError('internal server error', { originalError: error as Error })],
      };
    }
  }

  /**
   * Commits the operation's JobBatch when its result has no errors, aborts it otherwise; a
   * no-op without one. Await it before the result leaves. `result` is graphql-js's answer: an
   * ExecutionResult, or a subscription's stream (which never holds a batch).
   */
  async settle(context: RequestContext, result: unknown): Promise<void> {
    const errors = (result as ExecutionResult | null)?.errors;
    await context.jobBatch?.settle(Boolean(errors?.length));
  }

  /** A result as it leaves: errors formatted, and `extensions.cost` when `cost` is given. */
  present(result: ExecutionResult, cost?: CostReport): ExecutionResult {
    return {
      ...result,
      ...(result.errors ? { errors: this.format(result.errors) } : {}),
      ...(cost ? { extensions: { ...result.extensions, cost } } : {}),
    } as ExecutionResult;
  }

  /** Errors as they leave, through the one formatter. */
  format(errors: readonly GraphQLError[]): GraphQLError[] {
    // The formatted shape is what both protocols send; graphql-ws and graphql-sse type it as
    // GraphQLError but only serialise it.
    return errors.map((e) => this.options.formatError(e.toJSON(), e)) as GraphQLError[];
  }

  /** The query parsed and validated, or from the cache when it was before. */
  private validDocument(query: unknown): DocumentNode {
    if (typeof query !== 'string')
      throw new Refusal([coded('query must be a string', 'BAD_REQUEST')]);
    const cached = this.documents.get(query);
    if (cached) return cached;
    const document = this.parseDocument(query);
    const invalid = validate(this.options.schema, document, this.rules);
    if (invalid.length > 0) {
      throw new Refusal(
        invalid.map((e) => (e.originalError ? e : coded(e.message, 'GRAPHQL_VALIDATION_FAILED'))),
      );
    }
    this.documents.set(query, document);
    return document;
  }

  private parseDocument(query: string): DocumentNode {
    try {
      return parse(query, this.options.parseOptions);
    } catch (error) {
      const tooLong = tokenLimitError(error as Error);
      throw new Refusal([
        tooLong ? asGraphQLError(tooLong) : coded((error as Error).message, 'GRAPHQL_PARSE_FAILED'),
      ]);
    }
  }
}
