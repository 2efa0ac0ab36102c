/**
 * GraphQL over WebSocket (graphql-ws) with the HTTP path's rules: the same parse limit,
 * validation rules, cost budget, job-field cap and rate limit (in onSubscribe, before anything
 * runs), and the same error formatting for every error it sends. graphql-ws itself neither
 * validates with our rules nor formats errors, so this adapter does both.
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
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import type { Disposable } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import type { ApiKeys } from '../auth.js';
import { isAppError, type ErrorCode } from '../errors.js';
import type { FormatError } from '../format-error.js';
import type { CostReport } from '../guard/cost-rate-limiter.js';
import type { OperationGuard } from '../guard/operation-guard.js';
import { asGraphQLError, tokenLimitError } from '../guard/query-limits.js';
import type { RequestContext, Services } from '../resolvers/context.js';

export interface GraphqlWsOptions {
  wsServer: WebSocketServer;
  schema: GraphQLSchema;
  apiKeys: ApiKeys;
  guard: OperationGuard;
  parseOptions: ParseOptions;
  /** Added to graphql's specified rules. */
  validationRules: readonly ValidationRule[];
  formatError: FormatError;
  services: Services;
  /** Origin for the URLs the fs store signs: HITA_PUBLIC_URL or the handshake's Host. */
  originOf: (host: string | undefined) => string;
}

type SocketExtra = {
  tenant?: string;
  origin?: string;
  /** Cost reports of operations admitted but not yet answered, by subscription id. */
  costs?: Map<string, CostReport>;
};

const coded = (message: string, code: ErrorCode) =>
  new GraphQLError(message, { extensions: { code } });

/** What onSubscribe found wrong: one or more errors, already coded. */
class Refusal {
  constructor(readonly errors: readonly GraphQLError[]) {}
}

function parseDocument(query: unknown, options: ParseOptions): DocumentNode {
  if (typeof query !== 'string')
    throw new Refusal([coded('query must be a string', 'BAD_REQUEST')]);
  try {
    return parse(query, options);
  } catch (error) {
    const tooLong = tokenLimitError(error as Error);
    throw new Refusal([
      tooLong ? asGraphQLError(tooLong) : coded((error as Error).message, 'GRAPHQL_PARSE_FAILED'),
    ]);
  }
}

/** graphql-ws on `wsServer`; returns its disposer (closes every socket with 1001). */
export function startGraphqlWs(options: GraphqlWsOptions): Disposable {
  const { wsServer, schema, apiKeys, guard, parseOptions, formatError, services, originOf } =
    options;
  const rules = [...specifiedRules, ...options.validationRules];
  const format = (errors: readonly GraphQLError[]) => errors.map((e) => formatError(e.toJSON(), e));

  return useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      onConnect: (ctx) => {
        const params = ctx.connectionParams ?? {};
        const presented = params.apiKey ?? params.authorization ?? params.Authorization;
        try {
          ctx.extra.tenant = apiKeys.tenantOf(
            typeof presented === 'string' ? presented : undefined,
          );
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        ctx.extra.origin = originOf(ctx.extra.request.headers.host);
        ctx.extra.costs = new Map();
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const contextValue: RequestContext = {
          tenant: ctx.extra.tenant!,
          baseUrl: ctx.extra.origin!,
          services,
        };
        try {
          const document = parseDocument(payload.query, parseOptions);
          const invalid = validate(schema, document, rules);
          if (invalid.length > 0) {
            throw new Refusal(
              invalid.map((e) =>
                e.originalError ? e : coded(e.message, 'GRAPHQL_VALIDATION_FAILED'),
              ),
            );
          }
          const operation = getOperationAST(document, payload.operationName);
          if (!operation) {
            throw new Refusal([
              coded('the document names no operation to run', 'OPERATION_RESOLUTION_FAILURE'),
            ]);
          }
          const variables = payload.variables ?? {};
          const admission = await guard.admit({
            document,
            operationName: payload.operationName ?? undefined,
            variables,
            tenant: contextValue.tenant,
          });
          ctx.extra.costs!.set(id, admission.cost);
          // Several jobs in one operation: all of them or none (JobBatch, settled in onOperation).
          if (admission.jobCreatingFields > 1) contextValue.jobBatch = services.jobs.openBatch();
          return {
            schema,
            document,
            variableValues: variables,
            ...(payload.operationName ? { operationName: payload.operationName } : {}),
            contextValue,
          };
        } catch (error) {
          if (error instanceof Refusal) return [...error.errors];
          if (isAppError(error)) return [asGraphQLError(error)];
          return [new GraphQLError('internal server error', { originalError: error as Error })];
        }
      },
      onOperation: async (_ctx, _id, _payload, args, result) => {
        const batch = (args.contextValue as RequestContext).jobBatch;
        await batch?.settle(Boolean((result as ExecutionResult).errors?.length));
      },
      onNext: (ctx, id, _payload, _args, result: ExecutionResult) => {
        // The first result of an operation carries its cost, as on HTTP.
        const cost = ctx.extra.costs?.get(id);
        ctx.extra.costs?.delete(id);
        return {
          ...result,
          ...(result.errors ? { errors: format(result.errors) } : {}),
          ...(cost ? { extensions: { ...result.extensions, cost } } : {}),
        } as ExecutionResult;
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onComplete: (ctx, id) => {
        ctx.extra.costs?.delete(id);
      },
    },
    wsServer,
  );
}
