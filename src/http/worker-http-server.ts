/**
 * The HTTP side of `hita worker`, on its own port (HITA_WORKER_PORT): `/healthz` and `/metrics`
 * only, so an operator can probe and scrape a process that serves no API. Binds like the API
 * (127.0.0.1 in development mode unless HITA_HOST says otherwise).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { errors } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { httpErrorHandler, sendAppError } from './http-errors.js';
import { metricsRoute, type MetricsAccess } from './metrics-route.js';

interface Logger {
  warn(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

/** What `/healthz` answers (always 200 while the process runs: it is a liveness probe). */
export interface WorkerHealth {
  ok: boolean;
  /** True from the first SIGTERM/SIGINT: no claims, running jobs draining. */
  draining: boolean;
  workers: { id: string; activeJobs: number }[];
}

/** Options of `startWorkerHttpServer`. */
export interface WorkerHttpServerOptions {
  metrics: Metrics;
  access: MetricsAccess;
  health: () => WorkerHealth;
  logger: Logger;
  /** 0 picks a free port. */
  port: number;
  host: string;
}

/** A started worker HTTP server. */
export interface WorkerHttpServer {
  url: string;
  /** Idempotent; ends keep-alive connections (a scraper's) instead of waiting for them. */
  close(): Promise<void>;
}

/**
 * Starts the server and resolves once it listens.
 * @throws AppError BAD_USER_INPUT naming HITA_WORKER_PORT when the port is taken; other listen errors as they are
 */
export async function startWorkerHttpServer(
  options: WorkerHttpServerOptions,
): Promise<WorkerHttpServer> {
  const { metrics, access, health, logger, port, host } = options;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json(health());
  });
  app.get('/metrics', metricsRoute(metrics.registry, access));
  app.use((req, res) => sendAppError(res, errors.notFound('route', req.path)));
  app.use(httpErrorHandler(logger, 0));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? errors.badInput(
              'HITA_WORKER_PORT',
              `port ${port} on ${host} is already in use (another hita worker?); choose another, or 0 for a free one`,
            )
          : error,
      );
    server.once('error', refuse);
    server.listen(port, host, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${bound}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
