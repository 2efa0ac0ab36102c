/**
 * Live previews through the real server (`hita serve`: GraphQL, graphql-ws, queue, worker thread,
 * ORT, sharp), on both queue engines (Redis: the previews cross Redis pub/sub): every previewing
 * job's live stream carries previews, bounded; a resumed or later stream replays none; webhooks
 * carry none; and the same seed gives the same bytes with and without them.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PREVIEW_DATA_URL_CHARS } from '../../src/queue/preview-channel.js';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const UPDATES = `subscription($id: ID!, $after: Int) {
  jobUpdated(id: $id, afterSequence: $after) {
    sequence status type previews { index step width height dataUrl } } }`;
const GENERATE = `mutation($i: GenerateInput!) { generateImages(input: $i) { id } }`;
const OUTPUTS = `query($id: ID!) { job(id: $id) { status outputs { url } } }`;

interface Preview {
  index: number;
  step: number;
  width: number;
  height: number;
  dataUrl: string;
}
interface Event {
  jobUpdated: { sequence: number; status: string; type: string; previews: Preview[] | null };
}

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});
const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (previews on redis)', redis)) {
  engines.push(['redis', { REDIS_URL: redis.url }]);
}

describe.each(engines)('previews on %s', (_engine, env) => {
  let api: ApiHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    api = await startApi({
      ...env,
      HITA_MODEL: 'hita-tiny-emoji',
      HITA_JOBS_PER_WORKER: '1',
      HITA_WEBHOOK_ALLOW_PRIVATE: 'true',
      HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
    });
    const { data } = await api.gql<{ webhookSecret: string }>('{ webhookSecret }');
    receiver = await startWebhookReceiver({ dev: data!.webhookSecret });
  });
  afterAll(async () => {
    await receiver?.close();
    await api?.stop();
  });

  async function submit(input: Record<string, unknown>): Promise<string> {
    const made = await api.gql<{ generateImages: { id: string } }>(GENERATE, { i: input });
    expect(made.errors).toBeUndefined();
    return made.data!.generateImages.id;
  }

  /** Every event of a job's stream from the start until it ends. */
  async function stream(id: string, after = 0): Promise<Event['jobUpdated'][]> {
    const client = api.ws();
    try {
      const { events, errors } = await collect<Event>(client, UPDATES, { id, after });
      expect(errors).toEqual([]);
      return events.map((e) => e.jobUpdated);
    } finally {
      await client.dispose();
    }
  }

  it('streams previews of every previewing job, one bounded WebP per image, never replayed', async () => {
    // A long job first keeps the previewing ones QUEUED (one job at a time) while they are
    // subscribed: a stream sees only the previews taken after it started.
    const blocker = await submit({ classId: 0, count: 16, seed: 1 });
    const counts = [1, 2, 1];
    const ids = await Promise.all(
      counts.map((count, i) => submit({ classId: i + 2, count, seed: 50 + i, preview: true })),
    );
    const streams = await Promise.all(ids.map((id) => stream(id)));
    await stream(blocker);
    for (const [i, events] of streams.entries()) {
      expect(events.at(-1)!.status).toBe('SUCCEEDED');
      const previews = events.filter((e) => e.type === 'preview');
      expect(previews.length).toBeGreaterThanOrEqual(1);
      for (const event of events) expect(event.previews !== null).toBe(event.type === 'preview');
      for (const [k, event] of events.entries()) {
        if (event.type !== 'preview') continue;
        // A preview repeats the sequence of the event before it, so resuming from it loses nothing.
        expect(event.sequence).toBe(events[k - 1]!.sequence);
        expect(event.status).toBe('RUNNING');
        expect(event.previews!.map((p) => p.index)).toEqual([...Array(counts[i]).keys()]);
        for (const preview of event.previews!) {
          expect(preview.dataUrl.length).toBeLessThanOrEqual(MAX_PREVIEW_DATA_URL_CHARS);
          const [, base64] = preview.dataUrl.split('base64,');
          const meta = await sharp(Buffer.from(base64!, 'base64')).metadata();
          expect(meta.format).toBe('webp');
          expect([meta.width, meta.height]).toEqual([preview.width, preview.height]);
          expect(Math.max(preview.width, preview.height)).toBeLessThanOrEqual(64);
        }
      }
      // Resumed or read again later: durable events only.
      const again = await stream(ids[i]!);
      expect(again.map((e) => e.type)).toEqual(
        events.filter((e) => e.type !== 'preview').map((e) => e.type),
      );
      expect(again.every((e) => e.previews === null)).toBe(true);
    }
  });

  it('sends no preview in webhooks, and changes no byte of the images', async () => {
    const webhook = { url: receiver.url, events: ['PROGRESS', 'SUCCEEDED'] };
    const input = { classId: 6, count: 2, seed: 777, cfgScale: 2 };
    const withPreviews = await submit({ ...input, preview: true, webhook });
    const without = await submit(input);
    await stream(withPreviews);
    await stream(without);
    await expect
      .poll(() => receiver.received.some((r) => r.body.type === 'job.succeeded'), {
        timeout: 30_000,
      })
      .toBe(true);
    const bodies = JSON.stringify(receiver.received.map((r) => r.body));
    expect(bodies).toContain(withPreviews);
    expect(bodies).not.toMatch(/dataUrl|data:image/);
    const bytes = async (id: string) => {
      const { data } = await api.gql<{ job: { outputs: { url: string }[] } }>(OUTPUTS, { id });
      return Promise.all(
        data!.job.outputs.map(async (o) => Buffer.from(await (await fetch(o.url)).arrayBuffer())),
      );
    };
    const [a, b] = [await bytes(withPreviews), await bytes(without)];
    expect(a).toHaveLength(2);
    expect(a).toEqual(b);
  });
});
