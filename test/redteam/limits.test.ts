/**
 * Rate limits and quotas on the real server (a child process, production mode): cost-based
 * points per tenant over HTTP (429 with Retry-After), graphql-ws and graphql-sse, and the cap on
 * open subscriptions per tenant, whichever transport holds them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { codeOf, overHttp, overSse, overWs } from './transports.js';

const ALICE = 'limits-key-alice-0001';
const BOB = 'limits-key-bob-000002';

describe('rate limits and quotas (production mode)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServerProcess({
      env: {
        NODE_ENV: 'production',
        HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob`,
        HITA_RATE_LIMIT_POINTS: '120',
        HITA_RATE_LIMIT_WINDOW_SECONDS: '30',
        HITA_MAX_SUBSCRIPTIONS_PER_TENANT: '3',
        HITA_WORKERS: '0',
        HITA_PERSISTED_QUERIES: 'true',
      },
      readyMessage: 'hita-serve listening on',
    });
  }, 60_000);
  afterAll(() => server?.stop());

  it("spends each operation's cost from its tenant's points, then answers 429 with Retry-After", async () => {
    const query = { query: '{ health { ok } }' }; // costs 5
    const auth = { authorization: `Bearer ${ALICE}` };
    const first = await overHttp(server, query, auth);
    expect(first.extensions?.cost).toEqual({
      requestedQueryCost: 5,
      maximumAvailable: 120,
      currentlyAvailable: 115,
      resetSeconds: expect.any(Number) as number,
    });
    let status = 200;
    for (let i = 0; i < 40 && status !== 429; i++) {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify(query),
      });
      status = response.status;
      if (status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      await response.arrayBuffer();
    }
    expect(status).toBe(429);
    const again = await overHttp(server, query, auth);
    expect(again.status).toBe(429);
    expect(codeOf(again)).toBe('RATE_LIMITED');
    expect(again.errors[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    // Over graphql-ws the same points run out the same way.
    const ws = server.ws({ apiKey: ALICE });
    const overSocket = await overWs(ws, '{ health { ok } }');
    expect(codeOf(overSocket)).toBe('RATE_LIMITED');
    await ws.dispose();
    // And over graphql-sse, in both of its modes.
    for (const single of [false, true]) {
      const sse = server.sse(auth, single);
      const overStream = await overSse(sse, '{ health { ok } }');
      expect(codeOf(overStream), overStream.raw).toBe('RATE_LIMITED');
      expect(overStream.errors[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
      sse.dispose();
    }
    // Another tenant's points are its own.
    const bob = await overHttp(server, query, { authorization: `Bearer ${BOB}` });
    expect(bob.status).toBe(200);
    expect(bob.errors).toEqual([]);
  });

  it('answers persisted-query mistakes with their codes when APQ is turned on', async () => {
    const auth = { authorization: `Bearer ${BOB}` };
    const unknownHash = await overHttp(
      server,
      { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } },
      auth,
    );
    expect(codeOf(unknownHash)).toBe('PERSISTED_QUERY_NOT_FOUND');
    const wrongHash = await overHttp(
      server,
      {
        query: '{ health { ok } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } },
      },
      auth,
    );
    expect([wrongHash.status, codeOf(wrongHash)]).toEqual([400, 'BAD_REQUEST']);
  });

  it('caps the open subscriptions of a tenant over every transport, and frees a place when one ends', async () => {
    const ws = server.ws({ apiKey: BOB });
    const bobAuth = { authorization: `Bearer ${BOB}` };
    const held = server.sse(bobAuth);
    const { data } = await server.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 1 }) { id } }',
      {},
      { authorization: `Bearer ${BOB}` },
    );
    const id = data!.generateImages.id;
    const query = `subscription { jobUpdated(id: "${id}") { sequence } }`;
    const stops: (() => void)[] = [];
    // Two subscriptions over graphql-ws, the third over graphql-sse.
    const firstEvents = await Promise.all(
      [ws, ws, held].map(
        (client) =>
          new Promise<void>((resolve) => {
            stops.push(
              client.subscribe(
                { query },
                { next: () => resolve(), error: () => resolve(), complete: () => resolve() },
              ),
            );
          }),
      ),
    );
    expect(firstEvents).toHaveLength(3);
    const fourth = await overWs(ws, query);
    expect(fourth.errors[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      details: { limit: 'subscriptions', max: 3 },
    });
    const single = server.sse(bobAuth, true);
    const fourthSse = await overSse(single, query);
    expect(fourthSse.errors[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      details: { limit: 'subscriptions', max: 3 },
    });
    // The SSE client goes away: its connection closes, and so does its subscription.
    held.dispose();
    await new Promise((r) => setTimeout(r, 200));
    const afterOneEnded = await overSse(single, query);
    expect(afterOneEnded.errors).toEqual([]);
    for (const stop of stops) stop();
    single.dispose();
    await ws.dispose();
  });
});
