import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type Request, type Router } from 'express';
import { WebSocketServer } from 'ws';
import type { ApiKeys } from './auth.js';
import type { ApiConfig } from './config.js';
import { errors, isAppError } from './errors.js';
import { createFormatError } from './format-error.js';
import type { CostRateLimiter } from './guard/cost-rate-limiter.js';
import { OperationGuard } from './guard/operation-guard.js';
import { limitRules, parseOptions } from './guard/query-limits.js';
import { apolloGuardPlugin, toHttpGraphQLError } from './http/apollo-guard-plugin.js';
import { createGraphqlSse } from './http/graphql-sse-route.js';
import { startGraphqlWs } from './http/graphql-ws-server.js';
import { GuardedOperations } from './http/guarded-operations.js';
import { httpErrorHandler, sendAppError } from './http/http-errors.js';
import { metricsRoute } from './http/metrics-route.js';
import { OriginPolicy } from './http/origin-policy.js';
import type { Metrics } from './metrics.js';
import type { RequestContext, Services } from './resolvers/context.js';
import { buildHitaSchema } from './resolvers/build-schema.js';

interface Logger {
  info(obj: Record<string, unknown>, message: string): void;
  warn(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

/** The largest HTTP body and WebSocket frame accepted, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpServerOptions {
  services: Services;
  apiKeys: ApiKeys;
  api: ApiConfig;
  rateLimiter: CostRateLimiter;
  /** Images one job may make (bounds `outputs` in the cost analysis). */
  maxOutputs: number;
  logger: Logger;
  metrics: Metrics;
  /** Serves the fs store's signed URLs at /objects (absent for S3). */
  objectRouter?: Router;
  /** Built demo app served at / when present. */
  webDir?: string;
  /** Public origin behind a proxy; otherwise taken from each request. */
  publicUrl?: string;
  /** Whether queue, storage and workers are usable (for /readyz). */
  isReady: () => Promise<boolean>;
}

export interface HttpServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Apollo over express and graphql-ws at /graphql, graphql-sse at /graphql/stream, on one HTTP
 * server; drains on close.
 */
export async function startHttpServer(
  options: HttpServerOptions,
  port: number,
  host: string,
): Promise<HttpServer> {
  const { services, apiKeys, api, logger, metrics, objectRouter, webDir, publicUrl, isReady } =
    options;
  const schema = await buildHitaSchema();
  const limits = api.queryLimits;
  const guard = new OperationGuard({
    schema,
    limits,
    costContext: { maxOutputs: options.maxOutputs },
    rateLimiter: options.rateLimiter,
    maxJobsPerRequest: api.maxJobsPerRequest,
  });
  const formatError = createFormatError({ logger, hideSuggestions: !limits.introspection });
  const validationRules = limitRules(limits);
  const origins = new OriginPolicy({ allowed: api.corsOrigins, publicUrl });
  const app = express();
  app.disable('x-powered-by');
  // GraphQL responses are POST answers that change with every job: an ETag would only cost a hash.
  app.disable('etag');
  const server = createServer(app);
  const originOf = (req: Request) =>
    publicUrl ?? `${req.protocol}://${req.get('host') ?? `localhost:${port}`}`;

  const wsServer = new WebSocketServer({
    server,
    path: '/graphql',
    // A bigger frame closes the socket with 1009 before it is buffered.
    maxPayload: MAX_BODY_BYTES,
    // Browsers send no preflight for WebSockets: the handshake's Origin is the only check.
    verifyClient: ({ origin, req }, done) => {
      const allowed = origins.admits(origin, req);
      if (!allowed) logger.warn({ origin }, 'WebSocket refused: origin not allowed');
      done(allowed, 403, 'origin not allowed');
    },
  });
  // graphql-ws and graphql-sse execute with graphql-js themselves: one per-operation path for both.
  const operations = new GuardedOperations({
    schema,
    guard,
    parseOptions: parseOptions(limits),
    validationRules,
    formatError,
  });
  const ws = startGraphqlWs({
    wsServer,
    schema,
    apiKeys,
    operations,
    services,
    originOf: (requestHost) => publicUrl ?? `http://${requestHost ?? `localhost:${port}`}`,
  });
  const sse = createGraphqlSse({ apiKeys, operations, services, originOf, logger });

  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError,
    // Safe whatever NODE_ENV is: no stack traces, introspection only when configured.
    includeStacktraceInErrorResponses: false,
    introspection: limits.introspection,
    persistedQueries: api.persistedQueries ? {} : false,
    parseOptions: parseOptions(limits),
    validationRules,
    allowBatchedHttpRequests: false,
    // Shutdown is ours (the CLI's signal path); Apollo's handler would signal the process again.
    stopOnTerminationSignals: false,
    plugins: [
      // No response is cacheable (jobs change under it): skip the per-field cache-hint wrapping.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      {
        serverWillStart: async () => ({
          drainServer: async () => {
            await Promise.all([ws.dispose(), sse.dispose()]);
          },
        }),
      },
      apolloGuardPlugin(guard),
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ ready });
  });
  app.get('/metrics', metricsRoute(metrics.registry, api));
  if (objectRouter) app.use('/objects', objectRouter);
  // Unset HITA_CORS_ORIGINS: no CORS headers at all, so browsers allow the same origin only.
  const graphqlCors = cors({
    origin: (origin, done) => done(null, origin !== undefined && origins.isListed(origin)),
  });
  // Before /graphql, whose Apollo middleware would answer /graphql/stream too.
  app.use(
    '/graphql/stream',
    graphqlCors,
    // An EventSource GET needs no preflight: as at the WebSocket upgrade, Origin is checked here.
    (req, res, next) => {
      if (origins.admits(req.get('origin'), req)) return next();
      logger.warn({ origin: req.get('origin') }, 'event stream refused: origin not allowed');
      sendAppError(res, errors.forbidden('this origin may not use the API'));
    },
    // graphql-sse reads the body only from here (graphql-sse-route.ts), so this limit holds.
    express.json({ limit: MAX_BODY_BYTES }),
    sse.handle,
  );
  app.use(
    '/graphql',
    graphqlCors,
    express.json({ limit: MAX_BODY_BYTES }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const header = req.get('authorization') ?? req.get('x-api-key');
        try {
          return { tenant: apiKeys.tenantOf(header), baseUrl: originOf(req), services };
        } catch (error) {
          throw isAppError(error) ? toHttpGraphQLError(error) : error;
        }
      },
    }),
  );
  if (webDir) app.use(express.static(webDir));
  app.use((req, res) => sendAppError(res, errors.notFound('route', req.path)));
  app.use(httpErrorHandler(logger, MAX_BODY_BYTES));

  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? 'localhost' : host}:${address.port}`;
  let closing: Promise<void> | null = null;
  return {
    server,
    url,
    close() {
      // Apollo's drain plugin stops new requests and waits for in-flight ones; graphql-ws closes
      // its sockets with 1001 Going Away through dispose().
      closing ??= (async () => {
        for (const client of wsServer.clients) client.close(1001, 'server shutting down');
        await sse.dispose();
        await apollo.stop();
        wsServer.close();
      })();
      return closing;
    },
  };
}
