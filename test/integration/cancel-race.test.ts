/**
 * The race of a cancel with the end of a short job, through GraphQL on both queue engines: a
 * job of 1–4 images on the tiny model, `cancelJob` sent as soon as the subscription shows it
 * RUNNING, or a small random delay after. A cancel that `cancelJob` accepted (no error) always
 * ends the job CANCELLED, with no outputs and no stored image left; a refused one (CONFLICT)
 * means the job had already SUCCEEDED. Without redis-server the Redis run is skipped with a
 * `SKIP` line (as in queue.test.ts).
 */
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from 'graphql-ws';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

const RACES = 30;
/** Random delays up to the length of a short job on 2 cores, so either side may win. */
const MAX_DELAY_MS = [40, 250] as const;
const GENERATE =
  'mutation($i: GenerateInput!) { generateImages(input: $i) { id status cancelRequested } }';
const CANCEL = 'mutation($id: ID!) { cancelJob(id: $id) { status cancelRequested } }';
const UPDATES = 'subscription($id: ID!) { jobUpdated(id: $id) { sequence status type } }';
const JOB = '{ job(id: $id) { status cancelRequested outputs { key } error { code } } }';

interface Update {
  jobUpdated: { sequence: number; status: string; type: string };
}
interface JobState {
  status: string;
  cancelRequested: boolean;
  outputs: { key: string }[];
}
interface Race {
  id: string;
  count: number;
  delayMs: number;
  accepted: boolean;
  answer: { status: string; cancelRequested: boolean } | null;
  errorCode: unknown;
  types: string[];
  final: JobState;
}

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (cancel races on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(engines)('a cancel accepted for a running job on %s', (engine, env) => {
  let api: ApiHarness;
  let client: Client;
  beforeAll(async () => {
    api = await startApi({ HITA_JOBS_PER_WORKER: '2', ...env });
    client = api.ws();
  });
  afterAll(async () => {
    await client?.dispose();
    await api?.stop();
  });

  /** The image files of a job still in the data directory (bodies and sidecars). */
  async function storedFiles(id: string): Promise<string[]> {
    const entries = await readdir(api.dataDir, { recursive: true });
    return entries.filter((entry) => entry.includes(id) && /\.(png|webp)/.test(entry));
  }

  async function race(count: number, seed: number, delayMs: number): Promise<Race> {
    const made = await api.gql<{ generateImages: { id: string } }>(GENERATE, {
      i: { classId: 1, count, seed },
    });
    expect(made.errors).toBeUndefined();
    const id = made.data!.generateImages.id;
    let cancelling: ReturnType<typeof api.gql<{ cancelJob: Race['answer'] }>> | null = null;
    const { events, errors } = await collect<Update>(client, UPDATES, { id }, (seen) => {
      if (!cancelling && seen.at(-1)?.jobUpdated.status === 'RUNNING') {
        cancelling = sleep(delayMs).then(() => api.gql(CANCEL, { id }));
      }
      return false;
    });
    expect(errors).toEqual([]);
    expect(cancelling, `job ${id} was never seen RUNNING`).not.toBeNull();
    const answer = await cancelling!;
    const final = (await api.gql<{ job: JobState }>(`query($id: ID!) ${JOB}`, { id })).data!.job;
    return {
      id,
      count,
      delayMs,
      accepted: answer.errors === undefined,
      answer: answer.data?.cancelJob ?? null,
      errorCode: answer.errors?.[0]?.extensions?.code,
      types: events.map((event) => event.jobUpdated.type),
      final,
    };
  }

  it(`never lets an accepted cancel end SUCCEEDED (${RACES} races)`, async () => {
    const races: Race[] = [];
    for (let i = 0; i < RACES; i += 1) {
      // Every third race cancels the moment RUNNING shows; the others after a random delay.
      const delayMs = i % 3 === 0 ? 0 : Math.floor(Math.random() * MAX_DELAY_MS[(i % 3) - 1]!);
      races.push(await race(1 + (i % 4), 1000 + i, delayMs));
    }
    for (const r of races) {
      const label = `job ${r.id} (${r.count} images, cancel after ${r.delayMs} ms)`;
      if (!r.accepted) {
        // Refused: the job had already finished, and successfully.
        expect(r.errorCode, label).toBe('CONFLICT');
        expect(r.final.status, label).toBe('SUCCEEDED');
        continue;
      }
      expect(r.final.status, label).toBe('CANCELLED');
      expect(r.final, label).toMatchObject({ cancelRequested: false, outputs: [] });
      expect(r.answer, label).toEqual({ status: 'RUNNING', cancelRequested: true });
      // Progress the worker sent before it heard the cancel may follow the request.
      expect(r.types, label).toContain('cancel-requested');
      expect(r.types.at(-1), label).toBe('cancelled');
      expect(r.types, label).not.toContain('completed');
      // The worker deletes what it stored right after its completion came back CANCELLED.
      await vi.waitFor(async () => expect(await storedFiles(r.id), label).toEqual([]), {
        timeout: 5000,
      });
    }
    // The races must mostly be won by the cancel, or they test nothing.
    const accepted = races.filter((r) => r.accepted).length;
    console.info(`${engine}: ${accepted} of ${RACES} cancels accepted, all ended CANCELLED`);
    expect(accepted).toBeGreaterThanOrEqual(RACES / 3);
  }, 180_000);
});
