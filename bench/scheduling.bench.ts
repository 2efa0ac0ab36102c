/**
 * Fair scheduling figures, on both queue engines (SQLite on a temp file; Redis on a
 * redis-server this file starts, skipped with a line without one), in one run:
 * - the start latency of a one-job tenant that enqueues right after a 50-job tenant, under
 *   `fair` and `fifo` side by side: one worker loop runs one job at a time, each job holding it
 *   for JOB_MS (a stand-in for inference, so the figure is the queue's order, not the engine);
 * - on a queue HITA_BENCH_DEPTH (100,000) deep over 10 tenants: one claim (plain, and with
 *   HITA_TENANT_MAX_RUNNING), one `workAhead` of the deepest job, and `workAheadMany` of the 100
 *   deepest jobs (what `jobs(first: 100) { queuePosition }` costs the queue).
 * - through GraphQL (`hita serve`, no workers, fifo): `jobs(first: 100) { queuePosition }` for the
 *   100 jobs at the back of that queue, against the same page without `queuePosition`, alternating.
 * Run with `HITA_BENCH=1 npx vitest run bench/scheduling.bench.ts`. Figures, never assertions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { createJobQueue, type JobQueueConfig } from '../src/queue/create-job-queue.js';
import type { EnqueueInput, JobQueue } from '../src/queue/job-queue.js';
import type { JobQueueTunables } from '../src/queue/queue-tunables.js';
import { startApi } from '../test/support/api-harness.js';
import { startRedis } from '../test/support/redis-server.js';
import { record } from './support.js';

const DEPTH = Number(process.env.HITA_BENCH_DEPTH ?? 100_000);
const JOB_MS = 20;
const TENANTS = 10;
const CLAIMS = 50;

const params = { classId: 1, count: 1, seed: 1, cfgScale: 1, temperature: 1, topK: 0, topP: 1 };
const job = (tenant: string): EnqueueInput => ({ tenant, kind: 'GENERATE', model: null, params });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const round = (value: number) => Math.round(value * 100) / 100;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

type Engine = { name: string; config: (tunables: JobQueueTunables) => JobQueueConfig };

async function open(engine: Engine, tunables: JobQueueTunables): Promise<JobQueue> {
  const queue = createJobQueue(engine.config(tunables));
  await queue.start();
  return queue;
}

/** B's wait from its enqueue to its start, and how many of A's jobs started before it. */
async function loneTenantLatency(queue: JobQueue): Promise<{ waitMs: number; aBefore: number }> {
  for (let i = 0; i < 50; i += 1) await queue.enqueue(job('heavy'));
  let first = await queue.claim('w', 60_000);
  while (!first) first = await queue.claim('w', 60_000);
  const enqueuedAt = process.hrtime.bigint();
  const { job: lone } = await queue.enqueue(job('light'));
  let claim = first;
  let aBefore = 0;
  for (;;) {
    await sleep(JOB_MS); // the job "runs"
    await queue.complete(claim, []);
    let next = await queue.claim('w', 60_000);
    while (!next) next = await queue.claim('w', 60_000);
    claim = next;
    if (claim.job.id === lone.id) return { waitMs: ms(enqueuedAt), aBefore };
    aBefore += 1;
  }
}

/** Enqueues DEPTH jobs over TENANTS tenants, in concurrent waves (SQLite commits a wave at once). */
async function fill(queue: JobQueue): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < DEPTH; done += 1000) {
    const wave = Array.from({ length: Math.min(1000, DEPTH - done) }, (_, i) =>
      queue.enqueue(job(`tenant-${(done + i) % TENANTS}`)),
    );
    for (const { job: one } of await Promise.all(wave)) ids.push(one.id);
  }
  return ids;
}

async function deepQueueCosts(queue: JobQueue, ids: string[]): Promise<Record<string, number>> {
  const claimMs: number[] = [];
  for (let i = 0; i < CLAIMS; i += 1) {
    const start = process.hrtime.bigint();
    const claim = await queue.claim('w', 60_000);
    claimMs.push(ms(start));
    if (claim) await queue.complete(claim, []);
  }
  // The 100 jobs of one tenant furthest back: what a page of its newest jobs asks.
  const deepest = ids.filter((id, i) => i % TENANTS === 0).slice(-100);
  const singleMs: number[] = [];
  const pageMs: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    let start = process.hrtime.bigint();
    await queue.workAhead(deepest.at(-1) ?? '');
    singleMs.push(ms(start));
    start = process.hrtime.bigint();
    await queue.workAheadMany(deepest);
    pageMs.push(ms(start));
  }
  const last = await queue.workAhead(deepest.at(-1) ?? '');
  return {
    claimMedianMs: round(median(claimMs)),
    workAheadDeepestMs: round(median(singleMs)),
    workAheadMany100Ms: round(median(pageMs)),
    deepestPosition: last?.position ?? 0,
  };
}

const WITH_POSITION = '{ jobs(first: 100) { edges { node { id queuePosition } } } }';
const WITHOUT_POSITION = '{ jobs(first: 100) { edges { node { id } } } }';

/**
 * A page of 100 positions through the whole server: DEPTH jobs of other tenants (enqueued on a
 * second queue instance on the server's storage), then 100 of the caller's through GraphQL.
 */
async function graphqlPage(
  name: string,
  env: Record<string, string>,
  config: (dir: string) => JobQueueConfig,
): Promise<void> {
  // fifo, here and in `config` (the filler), puts the caller's 100 jobs at the very back (under
  // fair they would interleave with the others near the front): the deepest page there is.
  const api = await startApi({
    ...env,
    HITA_WORKERS: '0',
    HITA_MAX_QUEUED: String(DEPTH * 2),
    HITA_SCHEDULING: 'fifo',
  });
  const filler = createJobQueue(config(api.dataDir));
  try {
    await filler.start();
    await fill(filler);
    for (let i = 0; i < 100; i += 1) {
      const { errors } = await api.gql(
        'mutation($s: Int!) { generateImages(input: { classId: 1, seed: $s }) { id } }',
        { s: i },
      );
      if (errors) throw new Error(JSON.stringify(errors));
    }
    const withMs: number[] = [];
    const withoutMs: number[] = [];
    let deepest = 0;
    for (let i = 0; i < 5; i += 1) {
      let start = process.hrtime.bigint();
      const page = await api.gql<{ jobs: { edges: { node: { queuePosition: number } }[] } }>(
        WITH_POSITION,
      );
      withMs.push(ms(start));
      deepest = Math.max(...(page.data?.jobs.edges ?? []).map((e) => e.node.queuePosition));
      start = process.hrtime.bigint();
      await api.gql(WITHOUT_POSITION);
      withoutMs.push(ms(start));
    }
    record('scheduling', {
      engine: name,
      graphql: 'jobs(first: 100) { queuePosition }',
      depth: DEPTH + 100,
      deepestPosition: deepest,
      withPositionMedianMs: round(median(withMs)),
      withoutPositionMedianMs: round(median(withoutMs)),
    });
  } finally {
    await filler.close();
    await api.stop();
  }
}

async function runEngine(engine: Engine): Promise<void> {
  for (const scheduling of ['fair', 'fifo'] as const) {
    const queue = await open(engine, { scheduling });
    try {
      const figure = await loneTenantLatency(queue);
      record('scheduling', { engine: engine.name, scheduling, jobMs: JOB_MS, ...figure });
    } finally {
      await queue.close();
    }
  }
  for (const tenantMaxRunning of [undefined, 5]) {
    const queue = await open(engine, { scheduling: 'fair', tenantMaxRunning });
    try {
      const start = process.hrtime.bigint();
      const ids = await fill(queue);
      const fillSeconds = round(ms(start) / 1000);
      const costs = await deepQueueCosts(queue, ids);
      record('scheduling', {
        engine: engine.name,
        depth: DEPTH,
        tenants: TENANTS,
        tenantMaxRunning: tenantMaxRunning ?? null,
        fillSeconds,
        ...costs,
      });
    } finally {
      await queue.close();
    }
  }
}

it('fair vs fifo start latency, and claim / workAhead costs on a deep queue', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hita-sched-'));
  let run = 0;
  try {
    await runEngine({
      name: 'sqlite',
      config: (t) => ({ kind: 'sqlite', path: join(dir, `q${++run}.db`), ...t }),
    });
    await graphqlPage('sqlite', {}, (dataDir) => ({
      kind: 'sqlite',
      path: join(dataDir, 'queue.sqlite'),
      scheduling: 'fifo',
    }));
    const redis = await startRedis().catch((error: unknown) => error as Error);
    if (redis instanceof Error) {
      console.info(`SKIP redis-server: ${redis.message}`);
      return;
    }
    try {
      await runEngine({
        name: 'redis',
        config: (t) => ({ kind: 'redis', redisUrl: redis.url, prefix: `sched${++run}`, ...t }),
      });
      const env = { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789' };
      await graphqlPage('redis', env, () => ({
        kind: 'redis',
        redisUrl: redis.url,
        scheduling: 'fifo',
      }));
    } finally {
      redis.process.kill('SIGTERM');
      await rm(redis.dir, { recursive: true, force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
