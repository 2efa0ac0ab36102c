/**
 * GraphQL over WebSocket (graphql-ws) with the HTTP path's rules. graphql-ws itself neither
 * validates with our rules nor formats errors: every operation goes through GuardedOperations
 * (parse limit, validation rules, admission, JobBatch, formatting, cost) in onSubscribe, before
 * anything runs, and every result and error it sends through the same formatter.
 */
import type { ExecutionResult, GraphQLSchema } from 'graphql';
import type { Disposable } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import type { ApiKeys } from '../auth.js';
import type { CostReport } from '../guard/cost-rate-limiter.js';
import type { RequestContext, Services } from '../resolvers/context.js';
import type { GuardedOperations } from './guarded-operations.js';

export interface GraphqlWsOptions {
  wsServer: WebSocketServer;
  schema: GraphQLSchema;
  apiKeys: ApiKeys;
  operations: GuardedOperations;
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

/** graphql-ws on `wsServer`; returns its disposer (closes every socket with 1001). */
export function startGraphqlWs(options: GraphqlWsOptions): Disposable {
  const { wsServer, schema, apiKeys, operations, services, originOf } = options;

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
        const prepared = await operations.prepare(payload, contextValue);
        if (!prepared.ok) return prepared.errors;
        const { cost, ...args } = prepared.operation;
        ctx.extra.costs!.set(id, cost);
        return args;
      },
      onOperation: async (_ctx, _id, _payload, args, result) => {
        await operations.settle(args.contextValue as RequestContext, result);
      },
      onNext: (ctx, id, _payload, _args, result: ExecutionResult) => {
        // The first result of an operation carries its cost, as on HTTP.
        const cost = ctx.extra.costs?.get(id);
        ctx.extra.costs?.delete(id);
        return operations.present(result, cost);
      },
      onError: (_ctx, _id, _payload, errors) => operations.format(errors),
      onComplete: (ctx, id) => {
        ctx.extra.costs?.delete(id);
      },
    },
    wsServer,
  );
}
