/**
 * GraphQL over Server-Sent Events at /graphql/stream through graphql-sse's own client, in both
 * of its modes, with and without API keys: a client follows a job, its connection drops, and a
 * new one resumes with `afterSequence` without losing or repeating an event. Then the transport's
 * own refusals: each answers JSON with a code from the catalogue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';

const ALICE = 'sse-key-alice-0001';
const BOB = 'sse-key-bob-000002';
const UPDATES = `subscription($id: ID!, $after: Int) {
  jobUpdated(id: $id, afterSequence: $after) { sequence status } }`;

interface EventData {
  jobUpdated: { sequence: number; status: string };
}

const profiles: [string, Record<string, string>, string | undefined][] = [
  ['without API keys', {}, undefined],
  ['with API keys', { HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob` }, ALICE],
];
const modes: [string, boolean][] = [
  ['distinct connections', false],
  ['a single connection', true],
];

describe.each(profiles)('graphql-sse %s', (_name, env, key) => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi(env);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it.each(modes)(
    'follows a job over %s, drops, and resumes with afterSequence',
    async (_mode, single) => {
      const { data, errors } = await api.gql<{ generateImages: { id: string; sequence: number } }>(
        'mutation { generateImages(input: { classId: 2, count: 8, seed: 5 }) { id sequence } }',
        {},
        key,
      );
      expect(errors).toBeUndefined();
      const { id, sequence } = data!.generateImages;
      // The first connection drops after three events (the client goes away mid-stream).
      const first = api.sse(key, single);
      const head = await collect<EventData>(
        first,
        UPDATES,
        { id, after: sequence },
        (events) => events.length >= 3,
      );
      first.dispose();
      expect(head.errors).toEqual([]);
      const last = head.events.at(-1)!.jobUpdated.sequence;
      const second = api.sse(key, single);
      const tail = await collect<EventData>(second, UPDATES, { id, after: last });
      second.dispose();
      expect(tail.errors).toEqual([]);
      const sequences = [...head.events, ...tail.events].map((e) => e.jobUpdated.sequence);
      expect(sequences).toEqual(sequences.map((_, i) => sequence + 1 + i));
      expect(tail.events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
      // Resumed past the terminal event: the subscription completes at once.
      const third = api.sse(key, single);
      const none = await collect<EventData>(third, UPDATES, { id, after: sequences.at(-1)! });
      third.dispose();
      expect(none).toEqual({ events: [], errors: [] });
    },
    90_000,
  );

  it.each(modes)('runs queries over %s with extensions.cost', async (_mode, single) => {
    const client = api.sse(key, single);
    const results: unknown[] = [];
    await new Promise<void>((done, fail) =>
      client.subscribe(
        { query: '{ health { ok } }' },
        { next: (r) => void results.push(r), error: fail, complete: done },
      ),
    );
    client.dispose();
    expect(results).toEqual([
      expect.objectContaining({
        data: { health: { ok: true } },
        extensions: { cost: expect.objectContaining({ requestedQueryCost: 5 }) },
      }),
    ]);
  });

  it('answers its protocol refusals with JSON and a code', async () => {
    const stream = `${api.url}/graphql/stream`;
    const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
    const codeOf = async (response: Response) =>
      [
        response.status,
        ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!
          .extensions.code,
      ] as const;
    const sse = { ...auth, accept: 'text/event-stream' };
    // A single-connection POST to a stream nobody reserved.
    expect(
      await codeOf(
        await fetch(stream, {
          method: 'POST',
          headers: {
            ...auth,
            'content-type': 'application/json',
            'x-graphql-event-stream-token': 'x',
          },
          body: JSON.stringify({ query: '{ health { ok } }', extensions: { operationId: '1' } }),
        }),
      ),
    ).toEqual([404, 'NOT_FOUND']);
    expect(
      await codeOf(
        await fetch(stream, {
          method: 'POST',
          headers: { ...sse, 'content-type': 'text/plain' },
          body: '{}',
        }),
      ),
    ).toEqual([415, 'BAD_REQUEST']);
    // text/plain with "application/json" in a parameter: a CORS-simple request graphql-sse would
    // parse; express.json did not, so there is no body.
    expect(
      await codeOf(
        await fetch(stream, {
          method: 'POST',
          headers: { ...sse, 'content-type': 'text/plain; x=application/json' },
          body: JSON.stringify({ query: 'mutation { cancelJob(id: "x") { id } }' }),
        }),
      ),
    ).toEqual([400, 'BAD_REQUEST']);
    expect(
      await codeOf(
        await fetch(stream, {
          method: 'POST',
          headers: { ...sse, 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ health { ok } }', pad: 'x'.repeat(1_100_000) }),
        }),
      ),
    ).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(
      await codeOf(
        await fetch(`${stream}?query=${encodeURIComponent('{ health { ok } }')}`, {
          headers: { ...sse, origin: 'https://evil.example' },
        }),
      ),
    ).toEqual([403, 'FORBIDDEN']);
    const put = await fetch(stream, { method: 'PUT', headers: auth });
    expect(put.status).toBe(201);
    const token = await put.text();
    const opened = await fetch(stream, {
      headers: { ...sse, 'x-graphql-event-stream-token': token },
    });
    expect(opened.status).toBe(200);
    expect(
      await codeOf(
        await fetch(stream, { headers: { ...sse, 'x-graphql-event-stream-token': token } }),
      ),
    ).toEqual([409, 'CONFLICT']);
    await opened.body?.cancel();
    // A mutation over GET is refused in the stream, before it is admitted.
    const get = await fetch(
      `${stream}?query=${encodeURIComponent('mutation { cancelJob(id: "x") { id } }')}`,
      { headers: sse },
    );
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('"code":"BAD_REQUEST"');
    if (!key) return;
    expect(
      await codeOf(
        await fetch(`${stream}?query=${encodeURIComponent('{ health { ok } }')}`, {
          headers: { accept: 'text/event-stream' },
        }),
      ),
    ).toEqual([401, 'UNAUTHENTICATED']);
    // Another tenant's stream token names no stream of bob's: he can add nothing to it.
    const other = await fetch(stream, { method: 'PUT', headers: auth });
    const alices = await other.text();
    expect(
      await codeOf(
        await fetch(stream, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${BOB}`,
            'content-type': 'application/json',
            'x-graphql-event-stream-token': alices,
          },
          body: JSON.stringify({ query: '{ health { ok } }', extensions: { operationId: '1' } }),
        }),
      ),
    ).toEqual([404, 'NOT_FOUND']);
  });
});

describe('graphql-sse at shutdown', () => {
  it('ends open event streams at once, so the server closes without waiting for them', async () => {
    const api = await startApi({ HITA_WORKERS: '0' });
    let stopped = false;
    try {
      const { data } = await api.gql<{ generateImages: { id: string } }>(
        'mutation { generateImages(input: { classId: 1 }) { id } }',
      );
      const query = `subscription { jobUpdated(id: "${data!.generateImages.id}") { sequence } }`;
      const response = await fetch(`${api.url}/graphql/stream?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'text/event-stream' },
      });
      const reader = response.body!.getReader();
      let seen = '';
      while (!seen.includes('event: next')) {
        const chunk = await reader.read();
        seen += new TextDecoder().decode(chunk.value);
      }
      const started = Date.now();
      const closing = api.stop().then(() => (stopped = true));
      // The job stays QUEUED (no workers): only the server can end this stream.
      while (!(await reader.read()).done);
      await closing;
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      if (!stopped) await api.stop();
    }
  });
});
