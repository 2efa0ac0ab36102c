/**
 * The red team: the real server as a child process, once with production settings
 * (NODE_ENV=production, API keys) and once with `npm start`'s defaults (no NODE_ENV, no keys),
 * under bounded attacks over HTTP, graphql-ws and graphql-sse (both of its modes) and a seeded
 * fuzzer. Throughout, /healthz must
 * answer within 1 s and the server's RSS stay under 1 GiB; every refusal carries a code from the
 * catalogue and nothing leaks. `npm run build` must have run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ERROR_CODES } from '../../src/errors.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { watch, type WatchdogReport } from '../support/watchdog.js';
import { ATTACKS, SUBSCRIBE_UNKNOWN } from './attacks.js';
import { fuzzRequests } from './fuzz.js';
import { codeOf, leaks, overHttp, overSse, overWs, type Answer } from './transports.js';

const KEY = 'redteam-key-alice-0001';
const METRICS_TOKEN = 'redteam-metrics-token-01';
const GiB = 1024 ** 3;
const FUZZ_SEED = 20261201;
const KNOWN = new Set<unknown>(ERROR_CODES);

interface Profile {
  name: string;
  env: Record<string, string>;
  headers: Record<string, string>;
  connectionParams: Record<string, unknown> | undefined;
  production: boolean;
}

const PROFILES: Profile[] = [
  {
    name: 'production settings (NODE_ENV=production, API keys)',
    env: {
      NODE_ENV: 'production',
      HITA_API_KEYS: `${KEY}:alice,redteam-key-bob-00002:bob`,
      HITA_METRICS_TOKEN: METRICS_TOKEN,
    },
    headers: { authorization: `Bearer ${KEY}` },
    connectionParams: { apiKey: KEY },
    production: true,
  },
  {
    name: "npm start's defaults (no NODE_ENV, no keys)",
    env: {},
    headers: {},
    connectionParams: undefined,
    production: false,
  },
];

function expectClean(answer: Answer, what: string): void {
  expect(leaks(answer), `${what} over ${answer.transport} leaks`).toEqual([]);
  expect(answer.status, `${what} over ${answer.transport}: status`).toBeLessThan(500);
  for (const error of answer.errors) {
    expect(
      KNOWN.has(error.extensions?.code),
      `${what}: code ${String(error.extensions?.code)}`,
    ).toBe(true);
    expect(error.message.length, `${what}: message length`).toBeLessThanOrEqual(1001);
  }
}

/** Enqueues finished 4-image jobs, so that pages have outputs to sign. */
async function seedJobs(server: ServerProcess, headers: Record<string, string>, jobs: number) {
  for (let i = 0; i < jobs; i++) {
    const answer = await server.gql(
      `mutation { generateImages(input: { classId: ${i % 4}, count: 4, seed: ${i * 10} }) { id } }`,
      {},
      headers,
    );
    expect(answer.errors).toBeUndefined();
  }
  for (let tries = 0; tries < 600; tries++) {
    const { data } = await server.gql<{ jobs: { edges: { node: { status: string } }[] } }>(
      '{ jobs(first: 50) { edges { node { status } } } }',
      {},
      headers,
    );
    const statuses = data?.jobs.edges.map((e) => e.node.status) ?? [];
    if (statuses.length >= jobs && statuses.every((s) => s === 'SUCCEEDED')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('seed jobs did not finish');
}

describe.each(PROFILES)('red team against $name', (profile) => {
  let server: ServerProcess;
  let watchdog: { stop(): Promise<WatchdogReport> };

  beforeAll(async () => {
    server = await startServerProcess({ env: profile.env });
    await seedJobs(server, profile.headers, 6);
    watchdog = watch(server);
  }, 120_000);

  afterAll(async () => {
    const report = await watchdog?.stop();
    const alive = server?.child.exitCode === null;
    await server?.stop();
    expect(alive, 'the server survived').toBe(true);
    if (report) {
      expect(report.healthFailures, '/healthz failures (over 1 s or an error)').toBe(0);
      expect(report.maxHealthMs).toBeLessThan(1000);
      expect(report.maxRssBytes).toBeLessThan(GiB);
      expect(report.samples).toBeGreaterThan(10);
    }
  });

  it('refuses every expensive or malformed operation with its code, over HTTP, graphql-ws and graphql-sse', async () => {
    const ws = server.ws(profile.connectionParams);
    const sse = server.sse(profile.headers);
    const sseSingle = server.sse(profile.headers, true);
    try {
      for (const attack of ATTACKS) {
        if (
          attack.onlyWhenIntrospection !== undefined &&
          attack.onlyWhenIntrospection !== !profile.production
        )
          continue;
        const answers = [
          await overHttp(
            server,
            { query: attack.query, variables: attack.variables ?? {} },
            profile.headers,
          ),
          await overWs(ws, attack.query, attack.variables),
          await overSse(sse, attack.query, attack.variables),
          await overSse(sseSingle, attack.query, attack.variables),
        ];
        for (const answer of answers) {
          expectClean(answer, attack.name);
          if (attack.expect.length === 0) expect(answer.errors, attack.name).toEqual([]);
          else
            expect(
              attack.expect,
              `${attack.name} over ${answer.transport}: ${answer.raw.slice(0, 300)}`,
            ).toContain(codeOf(answer));
        }
      }
      for (const client of [ws, sse, sseSingle]) {
        const unknownJob = await (client === ws
          ? overWs(ws, SUBSCRIBE_UNKNOWN)
          : overSse(client as typeof sse, SUBSCRIBE_UNKNOWN));
        expect(codeOf(unknownJob), unknownJob.raw).toBe('NOT_FOUND');
      }
    } finally {
      await ws.dispose();
      sse.dispose();
      sseSingle.dispose();
    }
    // Nothing above created a job: the six seeded ones are all there are.
    const { data } = await server.gql<{ jobs: { edges: unknown[] } }>(
      '{ jobs(first: 100) { edges { cursor } } }',
      {},
      profile.headers,
    );
    expect(data?.jobs.edges).toHaveLength(6);
  });

  it('answers broken HTTP requests with JSON and a code, never an HTML page or a stack', async () => {
    const cases: [string, () => Promise<Answer>, number, string][] = [
      ['malformed JSON', () => overHttp(server, '{"query":', profile.headers), 400, 'BAD_REQUEST'],
      [
        'a 1.5 MB body',
        () =>
          overHttp(
            server,
            { query: `{ health { ok } }`, pad: 'x'.repeat(1_500_000) },
            profile.headers,
          ),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        'a batched array',
        () =>
          overHttp(
            server,
            [{ query: '{ health { ok } }' }, { query: '{ health { ok } }' }],
            profile.headers,
          ),
        400,
        'BAD_REQUEST',
      ],
      [
        'a subscription over POST',
        () => overHttp(server, { query: SUBSCRIBE_UNKNOWN }, profile.headers),
        400,
        'BAD_REQUEST',
      ],
      [
        'a persisted query with a wrong hash',
        () =>
          overHttp(
            server,
            { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } },
            profile.headers,
          ),
        // The APQ protocol answers 200: clients read the code and resend the whole query.
        200,
        'PERSISTED_QUERY_NOT_SUPPORTED',
      ],
      [
        'a text/plain body (CSRF)',
        () =>
          overHttp(server, '{"query":"{ health { ok } }"}', {
            ...profile.headers,
            'content-type': 'text/plain',
          }),
        400,
        'BAD_REQUEST',
      ],
    ];
    for (const [what, send, status, code] of cases) {
      const answer = await send();
      expectClean(answer, what);
      expect(answer.status, what).toBe(status);
      expect(codeOf(answer), what).toBe(code);
    }
    const notFound = await fetch(`${server.url}/no/such/route`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({
      errors: [{ extensions: { code: 'NOT_FOUND' } }],
    });
    // One JSON log line per refusal: nothing multi-line reached the log stream.
    const bad = server.lines.filter((line) => line.trim() && !line.startsWith('{'));
    expect(bad).toEqual([]);
  });

  it('keeps other origins out of HTTP and the WebSocket upgrade, and guards /metrics', async () => {
    const preflight = await fetch(`${server.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const handshake = await new Promise<number>((resolve) => {
      const socket = new WebSocket(
        `ws://127.0.0.1:${server.port}/graphql`,
        'graphql-transport-ws',
        {
          headers: { origin: 'https://evil.example' },
        },
      );
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => resolve(-1));
    });
    expect(handshake).toBe(403);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(profile.production ? 401 : 200);
    if (profile.production) {
      const authorised = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(authorised.status).toBe(200);
      const anonymous = await overHttp(server, { query: '{ health { ok } }' });
      expect([anonymous.status, codeOf(anonymous)]).toEqual([401, 'UNAUTHENTICATED']);
    }
  });

  it('closes a socket whose frame is over 1 MiB before buffering it (1009)', async () => {
    const before = server.rss();
    const code = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/graphql`, 'graphql-transport-ws');
      socket.on('open', () =>
        socket.send(
          JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(8 << 20) } }),
        ),
      );
      socket.on('close', (closeCode) => resolve(closeCode));
      socket.on('error', () => undefined);
    });
    expect(code).toBe(1009);
    expect(server.rss() - before).toBeLessThan(32 << 20);
  });

  it('has the defaults of its mode: binding, introspection, suggestions, stack traces', async () => {
    const start = server.logs().find((l) => String(l.msg).includes('development mode'));
    if (profile.production) expect(start).toBeUndefined();
    else expect(String(start?.msg)).toContain('127.0.0.1 only');
    const introspection = await overHttp(
      server,
      { query: '{ __schema { queryType { name } } }' },
      profile.headers,
    );
    expect(introspection.errors.length > 0).toBe(profile.production);
    const typo = await overHttp(
      server,
      { query: '{ jbos { pageInfo { hasNextPage } } }' },
      profile.headers,
    );
    expect(codeOf(typo)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(typo.errors[0]!.message.includes('Did you mean')).toBe(!profile.production);
    const costed = await overHttp(server, { query: '{ health { ok } }' }, profile.headers);
    expect(costed.extensions?.cost).toMatchObject({ requestedQueryCost: 5 });
  });

  it(`survives 1,200 seeded fuzz requests (seed ${FUZZ_SEED}): no crash, no 5xx, every error coded`, async () => {
    const ws = server.ws(profile.connectionParams);
    // SSE requests alternate between graphql-sse's two modes.
    const sse = [server.sse(profile.headers), server.sse(profile.headers, true)] as const;
    try {
      for (const [i, request] of fuzzRequests(FUZZ_SEED, 1200).entries()) {
        const answer =
          request.transport === 'ws'
            ? await overWs(ws, request.body, request.variables)
            : request.transport === 'sse'
              ? await overSse(sse[i % 2]!, request.body, request.variables)
              : await overHttp(server, request.body, {
                  ...profile.headers,
                  'content-type': request.contentType ?? 'application/json',
                });
        const what = `fuzz #${i} (${request.transport}) ${request.body.slice(0, 120)}`;
        expectClean(answer, what);
        if (request.transport === 'http' && answer.status >= 400) {
          expect(answer.errors.length, `${what}: a refusal says why`).toBeGreaterThan(0);
        }
      }
    } finally {
      await ws.dispose();
      for (const client of sse) client.dispose();
    }
    expect(server.child.exitCode).toBeNull();
  }, 180_000);
});
