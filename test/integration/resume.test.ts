/**
 * The resume contract of `jobUpdated(id, afterSequence)` over graphql-ws and graphql-sse (one
 * suite looped over both transports), on both queue engines:
 * a client that saw the terminal event (or anything past it) and subscribes again gets a
 * subscription that completes at once; one lower replays just the terminal event; a job that is
 * not terminal yet is streamed live until it is. Without redis-server the Redis run is skipped
 * with a visible line locally and fails in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collect,
  startApi,
  type ApiHarness,
  type SubscribingClient,
} from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

const UPDATES = `subscription($id: ID!, $after: Int) {
  jobUpdated(id: $id, afterSequence: $after) { sequence status type } }`;

interface EventData {
  jobUpdated: { sequence: number; status: string; type: string };
}

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (resume on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

type Transport = SubscribingClient & { dispose(): unknown };
const transports: [string, (api: ApiHarness) => Transport][] = [
  ['graphql-ws', (api) => api.ws()],
  ['graphql-sse', (api) => api.sse()],
];

describe.each(engines)('jobUpdated resume on the %s engine', (_engine, env) => {
  let api: ApiHarness;

  /** Subscribes and waits for completion, failing (not hanging) after `withinMs`. */
  async function resume(
    connect: (api: ApiHarness) => Transport,
    id: string,
    after: number,
    withinMs = 5000,
  ): Promise<EventData[]> {
    const client = connect(api);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`afterSequence ${after}: no completion within ${withinMs} ms`)),
        withinMs,
      );
    });
    try {
      const { events, errors } = await Promise.race([
        collect<EventData>(client, UPDATES, { id, after }),
        timeout,
      ]);
      expect(errors).toEqual([]);
      return events;
    } finally {
      clearTimeout(timer);
      await client.dispose();
    }
  }

  async function generate(count: number): Promise<{ id: string; sequence: number }> {
    const { data, errors } = await api.gql<{ generateImages: { id: string; sequence: number } }>(
      'mutation($n: Int) { generateImages(input: { classId: 1, count: $n, seed: 3 }) { id sequence } }',
      { n: count },
    );
    expect(errors).toBeUndefined();
    return data!.generateImages;
  }

  beforeAll(async () => {
    api = await startApi(env);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it.each(transports)(
    'over %s: completes at once after the terminal event, or past it; one lower replays it',
    async (_transport, connect) => {
      const { id } = await generate(1);
      const all = await resume(connect, id, 0, 60_000);
      const terminal = all.at(-1)!.jobUpdated;
      expect(terminal.status).toBe('SUCCEEDED');
      expect(await resume(connect, id, terminal.sequence)).toEqual([]);
      expect(await resume(connect, id, terminal.sequence + 10)).toEqual([]);
      const tail = await resume(connect, id, terminal.sequence - 1);
      expect(tail.map((e) => e.jobUpdated)).toEqual([terminal]);
    },
  );

  it.each(transports)(
    'over %s: streams a job that is not terminal yet until it is',
    async (_transport, connect) => {
      const { id, sequence } = await generate(8);
      const events = await resume(connect, id, sequence, 60_000);
      const sequences = events.map((e) => e.jobUpdated.sequence);
      expect(sequences).toEqual(sequences.map((_, i) => sequence + 1 + i));
      expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    },
  );
});
