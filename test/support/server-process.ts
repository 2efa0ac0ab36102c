/**
 * The one child-process server harness: `node dist/cli.js serve|worker` as production runs it
 * (NODE_ENV from the caller, never vitest's `test`), with its JSON log lines collected. Shared by
 * the red-team, shutdown and fresh-machine tests; `npm run build` must have run first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { freePort } from './free-port.js';

export interface GqlAnswer<T> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: unknown }[];
  extensions?: Record<string, unknown>;
  /** The body when it is not JSON. */
  text?: string;
}

export interface ServerProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`: the API of `serve`, the /healthz and /metrics of `worker`. */
  url: string;
  /** PORT for `serve`, HITA_WORKER_PORT for `worker` (a free one unless `env` sets it). */
  port: number;
  dataDir: string;
  /** Every stdout and stderr line so far, in order. */
  lines: string[];
  /** The stdout lines that parse as JSON (pino). */
  logs(): Record<string, unknown>[];
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GqlAnswer<T>>;
  ws(connectionParams?: Record<string, unknown>, headers?: Record<string, string>): Client;
  /** A graphql-sse client at /graphql/stream (Node's fetch), distinct connections by default. */
  sse(headers?: Record<string, string>, singleConnection?: boolean): SseClient<boolean>;
  /** Resident set size of the child in bytes, from /proc. */
  rss(): number;
  /** Resolves with the exit code (or 128 + signal number) once the child has exited. */
  exited: Promise<number>;
  /** SIGKILLs the child if it still runs, and removes its data dir unless it was given. */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  command?: 'serve' | 'worker';
  /**
   * Added to a minimal environment: PATH, HOME and this process's CI, nothing of vitest's (no
   * NODE_ENV unless given). HITA_HOST is left to the server's default unless given.
   */
  env?: Record<string, string>;
  /** Reuse a data dir (restarts); otherwise a temp dir that stop() removes. */
  dataDir?: string;
  /** Log line (pino `msg`) that says the process is up. @default "hita-serve listening on" for serve */
  readyMessage?: string;
  /** @default 60_000 */
  startTimeoutMs?: number;
}

/** So an abort (SIGABRT, 134) or a crash reads as the shell would report it. */
const SIGNALS: Record<string, number> = {
  SIGINT: 2,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
};

/** Starts the built CLI as a child process and waits until it says it is up. */
export async function startServerProcess(options: StartServerOptions = {}): Promise<ServerProcess> {
  const { command = 'serve', env = {}, startTimeoutMs = 60_000 } = options;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'hita-proc-')));
  const portVariable = command === 'worker' ? 'HITA_WORKER_PORT' : 'PORT';
  const given = env[portVariable];
  const port = given ? Number(given) : await freePort();
  const readyMessage =
    options.readyMessage ??
    (command === 'serve' ? 'hita-serve listening on' : 'hita workers running');
  const child = spawn(process.execPath, [resolve('dist/cli.js'), command], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ...(process.env.CI ? { CI: process.env.CI } : {}),
      HITA_DATA_DIR: dataDir,
      HITA_MODELS_DIR: resolve('models'),
      HITA_MODEL: 'hita-tiny-random',
      HITA_THREADS: '2',
      [portVariable]: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number>((done) =>
    child.once('exit', (code, signal) => done(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0))),
  );
  const ready = new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () =>
        fail(new Error(`${command} did not start in ${startTimeoutMs} ms:\n${lines.join('\n')}`)),
      startTimeoutMs,
    );
    const onLine = (line: string) => {
      lines.push(line);
      if (line.includes(readyMessage)) {
        clearTimeout(timer);
        done();
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        parts.forEach(onLine);
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${command} exited with ${code} before it was up:\n${lines.join('\n')}`));
    });
  });
  await ready;
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    port,
    dataDir,
    lines,
    logs: () =>
      lines.flatMap((line) => {
        try {
          const value: unknown = JSON.parse(line);
          return value && typeof value === 'object' ? [value as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    async gql(query, variables = {}, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      try {
        return {
          status: response.status,
          headers: response.headers,
          ...(JSON.parse(text) as object),
        };
      } catch {
        return { status: response.status, headers: response.headers, text };
      }
    },
    ws(connectionParams, headers) {
      return createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: headers
          ? class extends WebSocket {
              constructor(address: string, protocols?: string | string[]) {
                super(address, protocols, { headers });
              }
            }
          : WebSocket,
        retryAttempts: 0,
        lazy: true,
        // Keep the socket between operations: a lazy client closes it after each one, and with no
        // retries an operation that starts while the old socket closes fails on its close event.
        lazyCloseTimeout: 5_000,
        ...(connectionParams ? { connectionParams } : {}),
      });
    },
    sse(headers = {}, singleConnection = false) {
      return createSseClient({
        url: `${url}/graphql/stream`,
        // A copy: in single-connection mode the client writes its stream token into this object.
        headers: { ...headers },
        singleConnection,
        retryAttempts: 0,
      });
    },
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
