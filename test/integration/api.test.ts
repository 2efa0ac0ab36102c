/** The platform end to end on the embedded default, over real HTTP and WebSocket. */
import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHitaSchema } from '../../src/resolvers/build-schema.js';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';

const JOB_FIELDS =
  'id kind status sequence queuePosition progress { phase step total fraction } outputs { key url thumbnailUrl width height seed format } error { code message retryable } parameters { seed count classId }';
const GENERATE = `mutation($input: GenerateInput!) { generateImages(input: $input) { ${JOB_FIELDS} } }`;
const UPDATES = `subscription($id: ID!, $after: Int) { jobUpdated(id: $id, afterSequence: $after) { sequence status type progress { phase step total } job { ${JOB_FIELDS} } } }`;

interface JobData {
  id: string;
  status: string;
  sequence: number;
  outputs: {
    url: string;
    thumbnailUrl: string;
    width: number;
    height: number;
    seed: number;
    key: string;
  }[];
  parameters: { seed: number };
}
interface EventData {
  jobUpdated: { sequence: number; status: string; type: string; job: JobData };
}

describe('GraphQL API on the embedded default', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    // Two batch rows: one CFG image at a time, so a 16-image job runs long enough to be cancelled mid-run.
    api = await startApi({ HITA_MAX_BATCH_ROWS: '2' });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('the checked-in schema.graphql matches the code', async () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(
      `${printSchema(await buildHitaSchema())}\n`,
    );
  });

  it('generates: mutation, then QUEUED → RUNNING → progress … → SUCCEEDED, then the PNG', async () => {
    const { data, errors } = await api.gql<{ generateImages: JobData }>(GENERATE, {
      input: { classId: 3, count: 2, seed: 9 },
    });
    expect(errors).toBeUndefined();
    const job = data!.generateImages;
    expect(job.status).toBe('QUEUED');
    const client = api.ws();
    const { events, errors: subErrors } = await collect<EventData>(client, UPDATES, { id: job.id });
    await client.dispose();
    expect(subErrors).toEqual([]);
    const statuses = events.map((e) => e.jobUpdated.status);
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses).toContain('RUNNING');
    expect(events.some((e) => e.jobUpdated.type === 'progress')).toBe(true);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    const sequences = events.map((e) => e.jobUpdated.sequence);
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    const done = events.at(-1)!.jobUpdated.job as JobData & {
      progress: { phase: string; fraction: number };
    };
    expect(done.progress).toMatchObject({ phase: 'decode', fraction: 1 });
    expect(done.outputs.map((o) => o.seed)).toEqual([9, 10]);
    const png = Buffer.from(await (await fetch(done.outputs[0]!.url)).arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 32]);
    const thumb = await fetch(done.outputs[0]!.thumbnailUrl);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
  });

  it('resumes with afterSequence after a forced disconnect and loses no event', async () => {
    const { data } = await api.gql<{ generateImages: JobData }>(GENERATE, {
      input: { classId: 1, count: 3, seed: 1 },
    });
    const id = data!.generateImages.id;
    const first = api.ws();
    const part = await collect<EventData>(first, UPDATES, { id }, (events) => events.length >= 3);
    await first.terminate();
    const last = part.events.at(-1)!.jobUpdated.sequence;
    const second = api.ws();
    const rest = await collect<EventData>(second, UPDATES, { id, after: last });
    await second.dispose();
    const all = [...part.events, ...rest.events].map((e) => e.jobUpdated.sequence);
    expect(all).toEqual(all.map((_, i) => i + 1));
    expect(rest.events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
  });

  it('cancels a running job: CANCELLED, and its batch rows are freed', async () => {
    // 16 CFG images through 2 batch rows take seconds even on a quiet machine, and a cancel
    // reaches the engine at the worker's next heartbeat (at most 1 s).
    const { data } = await api.gql<{ generateImages: JobData }>(GENERATE, {
      input: { classId: 2, count: 16, seed: 5 },
    });
    const id = data!.generateImages.id;
    const client = api.ws();
    const watching = collect<EventData>(client, UPDATES, { id });
    await waitFor(
      async () =>
        (await api.gql<{ job: JobData }>(`{ job(id: "${id}") { status } }`)).data!.job.status ===
        'RUNNING',
    );
    const cancelled = await api.gql<{ cancelJob: JobData }>(
      `mutation { cancelJob(id: "${id}") { status } }`,
    );
    expect(cancelled.errors).toBeUndefined();
    const { events } = await watching;
    await client.dispose();
    expect(events.at(-1)!.jobUpdated.status).toBe('CANCELLED');
    await waitFor(
      async () =>
        (await api.gql<{ queue: { batchRows: number } }>('{ queue { batchRows running } }')).data!
          .queue.batchRows === 0,
    );
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    for (const name of [
      'hita_queue_depth',
      'hita_jobs',
      'hita_batch_rows',
      'hita_images_total',
      'hita_step_seconds',
    ]) {
      expect(metrics).toContain(name);
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}
