import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type Request, type Router } from 'express';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ApiKeys } from './auth.js';
import { createFormatError } from './format-error.js';
import type { Metrics } from './metrics.js';
import type { RequestContext, Services } from './resolvers/context.js';
import { buildHitaSchema } from './schema/build-schema.js';

interface Logger {
  info(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

export interface HttpServerOptions {
  services: Services;
  apiKeys: ApiKeys;
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

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

/** Apollo over express and graphql-ws on one HTTP server, all at /graphql; drains on close. */
export async function startHttpServer(
  options: HttpServerOptions,
  port: number,
  host = '0.0.0.0',
): Promise<HttpServer> {
  const { services, apiKeys, logger, metrics, objectRouter, webDir, publicUrl, isReady } = options;
  const schema = await buildHitaSchema();
  const app = express();
  app.disable('x-powered-by');
  // GraphQL responses are POST answers that change with every job: an ETag would only cost a hash.
  app.disable('etag');
  const server = createServer(app);
  const originOf = (req: Request) =>
    publicUrl ?? `${req.protocol}://${req.get('host') ?? `localhost:${port}`}`;

  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer<Record<string, unknown>, { tenant?: string; origin?: string }>(
    {
      schema,
      onConnect: (ctx) => {
        const params = ctx.connectionParams ?? {};
        const presented = (params.apiKey ?? params.authorization ?? params.Authorization) as
          string | undefined;
        try {
          ctx.extra.tenant = apiKeys.tenantOf(presented);
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        const host = ctx.extra.request.headers.host ?? `localhost:${port}`;
        ctx.extra.origin = publicUrl ?? `http://${host}`;
        return true;
      },
      context: (ctx): RequestContext => ({
        tenant: ctx.extra.tenant!,
        baseUrl: ctx.extra.origin!,
        services,
      }),
    },
    wsServer,
  );

  const apollo = new ApolloServer<RequestContext>({
    schema,
    // Shutdown is ours (src/cli/shutdown-signals.ts). Apollo's handler would stop the server and
    // send the process the signal again, which counts as a second signal.
    stopOnTerminationSignals: false,
    formatError: createFormatError(logger),
    plugins: [
      // No response is cacheable (jobs change under it): skip the per-field cache-hint wrapping.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { serverWillStart: async () => ({ drainServer: async () => ws.dispose() }) },
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
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  if (objectRouter) app.use('/objects', objectRouter);
  app.use(
    '/graphql',
    cors(),
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const header = req.get('authorization') ?? req.get('x-api-key');
        let tenant: string;
        try {
          tenant = apiKeys.tenantOf(header);
        } catch (error) {
          throw unauthenticated((error as Error).message);
        }
        return { tenant, baseUrl: originOf(req), services };
      },
    }),
  );
  if (webDir) app.use(express.static(webDir));

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
        await apollo.stop();
        wsServer.close();
      })();
      return closing;
    },
  };
}
