import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import { pino } from 'pino';
import WebSocket from 'ws';
import { readServerConfig } from '../../src/config.js';
import { serve, type Running } from '../../src/main.js';

export interface ApiHarness {
  url: string;
  dataDir: string;
  running: Running;
  /** POSTs a GraphQL operation; returns the parsed body and the HTTP status. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    apiKey?: string,
  ): Promise<{
    status: number;
    data?: T;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  }>;
  ws(apiKey?: string): Client;
  /** A graphql-sse client at /graphql/stream, in distinct-connections mode unless `singleConnection`. */
  sse(apiKey?: string, singleConnection?: boolean): SseClient<boolean>;
  stop(): Promise<void>;
}

/** A real `hita serve` (embedded queue and fs store in a temp dir) on an ephemeral port. */
export async function startApi(
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<ApiHarness> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'hita-api-')));
  const config = readServerConfig({
    PORT: '0',
    HITA_HOST: '127.0.0.1',
    HITA_DATA_DIR: dir,
    HITA_MODELS_DIR: resolve('models'),
    HITA_MODEL: 'hita-tiny-random',
    HITA_WORKERS: '1',
    HITA_THREADS: '2',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const running = await serve(config, pino({ level: 'warn' }));
  const url = running.url!;
  return {
    url,
    dataDir: dir,
    running,
    async gql(query, variables = {}, apiKey) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    ws(apiKey) {
      return createClient({
        url: url.replace('http', 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        ...(apiKey ? { connectionParams: { apiKey } } : {}),
      });
    },
    sse(apiKey, singleConnection = false) {
      return createSseClient({
        url: `${url}/graphql/stream`,
        singleConnection,
        retryAttempts: 0,
        ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
      });
    },
    async stop() {
      await running.close();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What `collect` needs of a client: graphql-ws's and graphql-sse's both have it. */
export interface SubscribingClient {
  subscribe<T>(
    payload: { query: string; variables: Record<string, unknown> },
    sink: {
      next(value: { data?: T | null; errors?: readonly unknown[] }): void;
      error(error: unknown): void;
      complete(): void;
    },
  ): () => void;
}

/** Collects the events of one subscription until it completes (or `until` says stop). */
export function collect<T>(
  client: SubscribingClient,
  query: string,
  variables: Record<string, unknown>,
  until: (events: T[]) => boolean = () => false,
): Promise<{ events: T[]; errors: unknown[] }> {
  return new Promise((done) => {
    const events: T[] = [];
    const errors: unknown[] = [];
    const stop = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) errors.push(...value.errors);
          if (value.data) events.push(value.data);
          if (until(events)) {
            stop();
            done({ events, errors });
          }
        },
        error: (error) => {
          errors.push(error);
          done({ events, errors });
        },
        complete: () => done({ events, errors }),
      },
    );
  });
}
