/**
 * GraphQL over Server-Sent Events (graphql-sse, its PROTOCOL.md) at /graphql/stream, in both of
 * its modes: distinct connections (one GET or POST with `accept: text/event-stream` per
 * operation) and single connection (PUT reserves a stream, GET opens it, POSTs add operations,
 * DELETE stops one). graphql-sse executes with graphql-js itself, so every operation goes
 * through GuardedOperations like graphql-ws: the same limits, admission, JobBatch, formatting and
 * cost. Its own protocol refusals (a body it cannot read, a stream that does not exist) answer
 * as JSON with a code from the catalogue, never its bare `{ errors: [{ message }] }`.
 *
 * The request body is read only from `req.body` (express.json, mounted before with the 1 MiB
 * limit): graphql-sse's express adapter would otherwise read an unparsed body whole, unbounded.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  TOKEN_HEADER_KEY,
  TOKEN_QUERY_KEY,
  createHandler,
  type ExecutionResult,
  type OperationArgs,
  type Response as SseResponse,
} from 'graphql-sse';
import { GraphQLError, type ExecutionResult as GraphQLExecutionResult } from 'graphql';
import type { ApiKeys } from '../auth.js';
import { errors, httpStatusOf, isAppError, type AppError } from '../errors.js';
import type { CostReport } from '../guard/cost-rate-limiter.js';
import type { RequestContext, Services } from '../resolvers/context.js';
import type { GuardedOperations } from './guarded-operations.js';
import { sendAppError } from './http-errors.js';

interface Logger {
  error(obj: Record<string, unknown>, message: string): void;
}

export interface GraphqlSseOptions {
  apiKeys: ApiKeys;
  operations: GuardedOperations;
  services: Services;
  /** Origin for the URLs the fs store signs: HITA_PUBLIC_URL or the request's Host. */
  originOf: (req: Request) => string;
  logger: Logger;
}

export interface GraphqlSse {
  /** The express handler; mount it at /graphql/stream after express.json. */
  handle: RequestHandler;
  /** Ends every open event stream (shutdown); their operations complete. */
  dispose(): Promise<void>;
}

/** What graphql-sse carries per HTTP request (each operation is its own request). */
interface SseRequestContext {
  tenant?: string;
  baseUrl?: string;
  /** Why authentication refused the request. */
  refusal?: AppError;
  /** The stream token the client presented, unscoped. */
  presentedToken?: string;
  /** The admitted operation's cost, for `extensions.cost` on its first result. */
  cost?: CostReport;
}

type OperationContext = RequestContext & Record<PropertyKey, unknown>;

/** An operation refused before it ran: one result with its errors, then completion. */
async function* refusedResult(errors: GraphQLError[]): AsyncGenerator<ExecutionResult> {
  await Promise.resolve();
  yield { errors } as unknown as ExecutionResult;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A subscription as graphql-sse should run it. A source that fails (an unknown job: NOT_FOUND on
 * the first read) gives one last result with the error, then completion: graphql-sse would end
 * the whole event stream instead, every other operation of a single connection with it, and the
 * client would see no code. And `return()` (a DELETE, a closed connection, shutdown) ends it at
 * once: the source is told without waiting, since an async generator busy awaiting its next
 * event only returns once that event comes (graphql-sse awaits every return before it closes a
 * stream). SubscriptionQuota frees the tenant's place on that call.
 */
function asStreamed(source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const iterator = source[Symbol.asyncIterator]();
  let isClosed = false;
  let close!: (result: IteratorReturnResult<undefined>) => void;
  const closed = new Promise<IteratorReturnResult<undefined>>((resolve) => (close = resolve));
  const wrapped: AsyncGenerator<unknown> = {
    [Symbol.asyncIterator]: () => wrapped,
    async next() {
      if (isClosed) return DONE;
      try {
        return await Promise.race([iterator.next(), closed]);
      } catch (error) {
        isClosed = true;
        const cause = error instanceof Error ? error : new Error(String(error));
        return {
          done: false,
          value: { errors: [new GraphQLError(cause.message, { originalError: cause })] },
        };
      }
    },
    async return() {
      if (!isClosed) {
        isClosed = true;
        close(DONE);
        iterator.return?.().catch(() => undefined);
      }
      return DONE;
    },
    async throw(error?: unknown) {
      await wrapped.return(undefined);
      throw error;
    },
  };
  return wrapped;
}

/**
 * Single-connection streams are keyed by token in one map for every tenant: each token is
 * prefixed with its tenant, so a token presented under another tenant's key names no stream.
 */
function scopedToken(tenant: string, method: string, presented: string | undefined): string {
  // A PUT reserves a fresh stream: the server picks its token (crypto-random), never the client.
  if (method === 'PUT' || !presented) return `${tenant}.${randomUUID()}`;
  return presented.startsWith(`${tenant}.`) ? presented : `${tenant}.${presented}`;
}

/** graphql-sse's refusal (status, and its `{ errors: [{ message }] }` body or none) as an AppError. */
function protocolError(body: string | null, status: number, token: string | undefined): AppError {
  let message = `the event stream request was refused (${status})`;
  try {
    const parsed = JSON.parse(body ?? '') as { errors?: { message?: unknown }[] };
    if (typeof parsed.errors?.[0]?.message === 'string') message = parsed.errors[0].message;
  } catch {
    // no body, or not JSON: the status says it all
  }
  if (status === 404) return errors.notFound('event stream', token ?? '');
  if (status === 409) return errors.conflict(message);
  if (status === 405) return errors.badRequest(`${message}: this method is not allowed here`);
  if (status === 406) return errors.badRequest(`${message}: the accept header is not served`);
  if (status === 415) return errors.badRequest(`${message}: send application/json`);
  return errors.badRequest(message);
}

export function createGraphqlSse(options: GraphqlSseOptions): GraphqlSse {
  const { apiKeys, operations, services, originOf, logger } = options;
  const open = new Set<AsyncGenerator<string, void, undefined>>();

  const handler = createHandler<Request, SseRequestContext, OperationContext>({
    authenticate: (req) => {
      const header = req.headers.get('authorization') ?? req.headers.get('x-api-key');
      try {
        req.context.tenant = apiKeys.tenantOf(header);
      } catch (error) {
        req.context.refusal = isAppError(error) ? error : errors.internal('auth failed', error);
        return [null, { status: httpStatusOf(req.context.refusal.code), statusText: '' }];
      }
      req.context.baseUrl = originOf(req.raw);
      const presented =
        req.headers.get(TOKEN_HEADER_KEY) ??
        new URL(req.url, 'http://localhost/').searchParams.get(TOKEN_QUERY_KEY) ??
        undefined;
      req.context.presentedToken = presented;
      return scopedToken(req.context.tenant, req.method, presented);
    },
    // onSubscribe validated with every rule already: graphql-sse's own pass would repeat it.
    validate: () => [],
    onSubscribe: async (req, params) => {
      const context: RequestContext = {
        tenant: req.context.tenant!,
        baseUrl: req.context.baseUrl!,
        services,
      };
      const prepared = await operations.prepare(params, context, (definition) =>
        definition.operation === 'mutation' && req.method === 'GET'
          ? errors.badRequest('a mutation cannot run over GET; POST it')
          : null,
      );
      if (!prepared.ok) return refusedResult(prepared.errors);
      const { cost, ...args } = prepared.operation;
      req.context.cost = cost;
      return args as OperationArgs<OperationContext>;
    },
    onOperation: async (_ctx, _req, args, result) => {
      await operations.settle(args.contextValue as RequestContext, result);
      if (Symbol.asyncIterator in Object(result))
        return asStreamed(result as AsyncIterable<unknown>) as AsyncGenerator<ExecutionResult>;
      return undefined;
    },
    onNext: (_ctx, req, result) => {
      // The first result of an operation carries its cost, as on HTTP.
      const cost = req.context.cost;
      delete req.context.cost;
      return operations.present(result as GraphQLExecutionResult, cost) as ExecutionResult;
    },
  });

  async function stream(res: Response, body: AsyncGenerator<string, void, undefined>) {
    open.add(body);
    const stop = () => void body.return(undefined);
    res.once('close', stop);
    try {
      for await (const chunk of body) {
        if (!res.writable) break;
        await new Promise<void>((resolve, reject) =>
          res.write(chunk, (error) => (error ? reject(error) : resolve())),
        );
      }
    } catch (error) {
      logger.error({ err: error }, 'event stream failed');
    } finally {
      res.off('close', stop);
      open.delete(body);
      res.end();
    }
  }

  async function handle(req: Request, res: Response, next: NextFunction): Promise<void> {
    const context: SseRequestContext = {};
    let answer: SseResponse;
    try {
      answer = await handler({
        method: req.method,
        url: req.url,
        headers: {
          get: (key) => {
            const value = req.headers[key.toLowerCase()];
            return Array.isArray(value) ? value.join('\n') : value;
          },
        },
        body: () => (req.body as Record<string, unknown> | undefined) ?? null,
        raw: req,
        context,
      });
    } catch (error) {
      next(error);
      return;
    }
    const [body, init] = answer;
    if (body !== null && typeof body !== 'string') {
      res.writeHead(init.status, init.statusText, init.headers);
      res.flushHeaders();
      await stream(res, body);
      return;
    }
    if (init.status >= 400) {
      const { 'content-type': _ignored, ...headers } = init.headers ?? {};
      const error = context.refusal ?? protocolError(body, init.status, context.presentedToken);
      sendAppError(res, error, headers, init.status);
      return;
    }
    res.writeHead(init.status, init.statusText, init.headers);
    res.end(body ?? undefined);
  }

  return {
    handle: (req, res, next) => void handle(req, res, next),
    async dispose() {
      await Promise.all([...open].map((body) => body.return(undefined)));
    },
  };
}
