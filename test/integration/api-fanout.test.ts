/**
 * Several job-creating fields in one operation (HITA_MAX_JOBS_PER_REQUEST above 1): all of its
 * jobs, or none, over HTTP, graphql-ws and graphql-sse alike, on both queue engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { overSse, overWs } from '../redteam/transports.js';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});
const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (fan-out on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

const gen = (alias: string, classId: number) =>
  `${alias}: generateImages(input: { classId: ${classId}, seed: 3 }) { id status }`;
const LIST = '{ jobs(first: 50) { edges { node { id status } } } }';

describe.each(engines)('one operation, several jobs, on %s', (engine, env) => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi({ HITA_MAX_JOBS_PER_REQUEST: '4', ...env });
  });
  afterAll(() => api?.stop());

  async function jobIds(): Promise<string[]> {
    const { data } = await api.gql<{ jobs: { edges: { node: { id: string } }[] } }>(LIST);
    return data!.jobs.edges.map((e) => e.node.id);
  }

  it('creates no job when any field fails, over HTTP, graphql-ws and graphql-sse', async () => {
    const failing = `mutation { ${gen('a', 1)} ${gen('b', 999)} }`;
    const http = await api.gql(failing);
    expect(http.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const client = api.ws();
    const ws = await overWs(client, failing);
    await client.dispose();
    expect(ws.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    for (const single of [false, true]) {
      const stream = api.sse(undefined, single);
      const sse = await overSse(stream, failing);
      stream.dispose();
      expect(sse.errors[0]?.extensions?.code, sse.raw).toBe('BAD_USER_INPUT');
    }
    expect(await jobIds()).toEqual([]);
    const tooMany = await api.gql(
      `mutation { ${[1, 2, 3, 4, 5].map((i) => gen(`g${i}`, 1)).join(' ')} }`,
    );
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'operation',
    });
    expect(await jobIds()).toEqual([]);
  });

  it('runs every job of an operation that succeeds', async () => {
    const client = api.ws();
    const ws = await overWs(client, `mutation { ${gen('c', 2)} ${gen('d', 3)} }`);
    await client.dispose();
    expect(ws.errors).toEqual([]);
    const http = await api.gql(`mutation { ${gen('e', 1)} ${gen('f', 2)} }`);
    expect(http.errors).toBeUndefined();
    const stream = api.sse();
    const sse = await overSse(stream, `mutation { ${gen('h', 1)} ${gen('i', 2)} }`);
    stream.dispose();
    expect(sse.errors).toEqual([]);
    for (let tries = 0; tries < 200; tries++) {
      const { data } = await api.gql<{ jobs: { edges: { node: { status: string } }[] } }>(LIST);
      const statuses = data!.jobs.edges.map((e) => e.node.status);
      if (statuses.length === 6 && statuses.every((s) => s === 'SUCCEEDED')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the jobs of a committed operation did not all run');
  });
});
