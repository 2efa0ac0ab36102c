/**
 * Shutdown as production runs it: `hita serve` and `hita worker` as child processes under
 * NODE_ENV=production (vitest's NODE_ENV=test would hide Apollo's own signal handler), on both
 * queue engines. A SIGTERM in the middle of a 4 × 16-image run drains within HITA_DRAIN_SECONDS,
 * hands the rest back (QUEUED at once, not after the lease), exits 0, and after a restart on the
 * same data (same data dir, same redis-server) every job completes exactly once. A second signal
 * exits at once with 130/143 and never aborts inside onnxruntime. Without redis-server the Redis
 * runs are skipped with a visible line locally and fail in CI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/queue/create-job-queue.js';
import type { JobRecord } from '../../src/queue/job-queue.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const JOBS = 4;
const IMAGES = 16;
/** A lease far longer than any wait below: a job seen QUEUED was handed back, not expired. */
const LEASE_MS = '120000';
const PRODUCTION = { NODE_ENV: 'production', HITA_LEASE_MS: LEASE_MS };

// Each Redis test starts its own redis-server; this one only asks whether one can start here.
const probe = await tryStart(startRedis);
const hasRedis = hasService('redis-server (shutdown on redis)', probe);
if (!(probe instanceof Error)) await probe.stop();

/** Everything a test started, stopped after it whatever happened. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** One engine's storage for a whole test: a data dir, plus a redis-server for the Redis engine. */
async function storage(engine: string): Promise<{ dataDir: string; env: Record<string, string> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hita-shutdown-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  if (engine === 'sqlite') return { dataDir, env: {} };
  const redis: RedisServer = await startRedis();
  cleanups.push(() => redis.stop());
  return {
    dataDir,
    env: { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  };
}

async function start(
  dataDir: string,
  env: Record<string, string>,
  command: 'serve' | 'worker' = 'serve',
): Promise<ServerProcess> {
  const server = await startServerProcess({ command, dataDir, env: { ...PRODUCTION, ...env } });
  cleanups.push(() => server.stop());
  return server;
}

/** Enqueues the 4 × 16-image run and waits until every job is RUNNING and images are being made. */
async function startRun(api: ServerProcess, workers: ServerProcess = api): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i += 1) {
    const answer = await api.gql<{ generateImages: { id: string } }>(
      'mutation($seed: Int) { generateImages(input: { classId: 1, count: 16, seed: $seed }) { id } }',
      { seed: 100 * i },
    );
    expect(answer.errors).toBeUndefined();
    ids.push(answer.data!.generateImages.id);
  }
  await until(
    async () => {
      const jobs = await Promise.all(ids.map((id) => job(api, id)));
      return jobs.every((j) => j.status === 'RUNNING') && jobs.some((j) => j.progress !== null);
    },
    `all ${JOBS} jobs RUNNING with progress (workers: ${workers.lines.slice(-3).join(' | ')})`,
  );
  return ids;
}

interface JobView {
  status: string;
  attempts: number;
  progress: { step: number } | null;
  outputs: { url: string }[];
}

async function job(api: ServerProcess, id: string): Promise<JobView> {
  const answer = await api.gql<{ job: JobView }>(
    'query($id: ID!) { job(id: $id) { status attempts progress { step } outputs { url } } }',
    { id },
  );
  return answer.data!.job;
}

/** Sends `signal` and resolves with the exit code and the seconds it took. */
async function signalAndWait(
  server: ServerProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number; seconds: number }> {
  const started = performance.now();
  server.child.kill(signal);
  const code = await server.exited;
  return { code, seconds: (performance.now() - started) / 1000 };
}

/** The jobs as the queue holds them right after the process exited (no server in between). */
async function queued(
  dataDir: string,
  env: Record<string, string>,
  ids: string[],
): Promise<JobRecord[]> {
  const queue = createJobQueue(
    env.REDIS_URL
      ? { kind: 'redis', redisUrl: env.REDIS_URL }
      : { kind: 'sqlite', path: join(dataDir, 'queue.sqlite') },
  );
  await queue.start();
  try {
    return await Promise.all(ids.map(async (id) => (await queue.get(id))!));
  } finally {
    await queue.close();
  }
}

/** Every job SUCCEEDED on its first attempt with all its images and exactly one `completed` event. */
async function expectCompletedOnce(api: ServerProcess, ids: string[]): Promise<void> {
  await until(async () => {
    const jobs = await Promise.all(ids.map((id) => job(api, id)));
    return jobs.every((j) => j.status === 'SUCCEEDED');
  }, 'every job SUCCEEDED after the restart');
  const client = api.ws();
  try {
    for (const id of ids) {
      const view = await job(api, id);
      expect(view.attempts).toBe(1);
      expect(view.outputs).toHaveLength(IMAGES);
      expect((await fetch(view.outputs.at(-1)!.url)).status).toBe(200);
      const types = await new Promise<string[]>((done, fail) => {
        const seen: string[] = [];
        client.subscribe<{ jobUpdated: { type: string } }>(
          {
            query: 'subscription($id: ID!) { jobUpdated(id: $id, afterSequence: 0) { type } }',
            variables: { id },
          },
          {
            next: ({ data }) => seen.push(data!.jobUpdated.type),
            error: fail,
            complete: () => done(seen),
          },
        );
      });
      expect(types.filter((type) => type === 'completed')).toHaveLength(1);
      expect(types.at(-1)).toBe('completed');
    }
  } finally {
    await client.dispose();
  }
}

function expectNoAbort(server: ServerProcess): void {
  expect(server.lines.join('\n')).not.toMatch(/Napi::Error|Aborted|core dumped/);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const engines = hasRedis ? (['sqlite', 'redis'] as const) : (['sqlite'] as const);

describe.each(engines)('shutdown of hita serve on the %s engine', (engine) => {
  it(
    'HITA_DRAIN_SECONDS=30: every running job finishes, nothing new is taken, exit 0',
    { timeout: 180_000 },
    async () => {
      const { dataDir, env } = await storage(engine);
      const api = await start(dataDir, { ...env, HITA_DRAIN_SECONDS: '30' });
      const ids = await startRun(api);
      // A subscriber that stays to the end: its socket must close with 1001 Going Away.
      const watcher = api.ws();
      const closed = new Promise<number>((done) =>
        watcher.on('closed', (event) => done((event as { code: number }).code)),
      );
      await new Promise((subscribed) =>
        watcher.subscribe(
          { query: 'subscription { jobsUpdated { sequence } }' },
          { next: subscribed, error: () => undefined, complete: () => undefined },
        ),
      );
      const started = performance.now();
      api.child.kill('SIGTERM');
      // While it drains: not ready, and every job-creating mutation is refused with a 503.
      await until(async () => (await fetch(`${api.url}/readyz`)).status === 503, 'readyz 503');
      for (const mutation of [
        'generateImages(input: { classId: 1 }) { id }',
        'inpaintImage(input: { imageKey: "a", maskKey: "b" }) { id }',
        'transferStyle(input: { contentKey: "a", styleKey: "b" }) { id }',
        `retryJob(id: "${ids[0]}") { id }`,
      ]) {
        const refused = await api.gql(`mutation { ${mutation} }`);
        expect(refused.status).toBe(503);
        expect(refused.errors?.[0]?.extensions).toMatchObject({
          code: 'SHUTTING_DOWN',
          retryable: true,
        });
      }
      const code = await api.exited;
      const seconds = (performance.now() - started) / 1000;
      console.info(`${engine}: SIGTERM, drain 30 s: exit ${code} after ${seconds.toFixed(2)} s`);
      expect(code).toBe(0);
      expect(seconds).toBeLessThan(30 + 5);
      expect(await closed).toBe(1001);
      expectNoAbort(api);
      const after = await queued(dataDir, env, ids);
      expect(after.map((j) => [j.status, j.attempts])).toEqual(ids.map(() => ['SUCCEEDED', 1]));
      await watcher.dispose();

      await expectCompletedOnce(await start(dataDir, env), ids);
    },
  );

  it(
    'HITA_DRAIN_SECONDS=1: the unfinished jobs are QUEUED at once; a restart completes each once',
    { timeout: 180_000 },
    async () => {
      const { dataDir, env } = await storage(engine);
      const api = await start(dataDir, { ...env, HITA_DRAIN_SECONDS: '1' });
      const ids = await startRun(api);
      const { code, seconds } = await signalAndWait(api, 'SIGTERM');
      console.info(`${engine}: SIGTERM, drain 1 s: exit ${code} after ${seconds.toFixed(2)} s`);
      expect(code).toBe(0);
      expect(seconds).toBeLessThan(1 + 5);
      expectNoAbort(api);
      const after = await queued(dataDir, env, ids);
      const handedBack = after.filter((j) => j.status !== 'SUCCEEDED');
      expect(handedBack.length).toBeGreaterThan(0);
      for (const j of handedBack)
        expect([j.status, j.attempts, j.progress]).toEqual(['QUEUED', 0, null]);

      await expectCompletedOnce(await start(dataDir, env), ids);
    },
  );

  it(
    'a second signal hands back at once and exits within 2 s with 143 (SIGTERM) or 130 (SIGINT)',
    { timeout: 180_000 },
    async () => {
      for (const [signal, expected] of [
        ['SIGTERM', 143],
        ['SIGINT', 130],
      ] as const) {
        const { dataDir, env } = await storage(engine);
        const api = await start(dataDir, { ...env, HITA_DRAIN_SECONDS: '30' });
        const ids = await startRun(api);
        api.child.kill(signal);
        await until(async () => (await fetch(`${api.url}/readyz`)).status === 503, 'draining');
        const { code, seconds } = await signalAndWait(api, signal);
        console.info(`${engine}: second ${signal}: exit ${code} after ${seconds.toFixed(2)} s`);
        expect(code).toBe(expected);
        expect(seconds).toBeLessThan(2);
        expectNoAbort(api);
        const after = await queued(dataDir, env, ids);
        for (const j of after.filter((j) => j.status !== 'SUCCEEDED'))
          expect([j.status, j.attempts]).toEqual(['QUEUED', 0]);
        await api.stop();
      }
    },
  );
});

describe.runIf(hasRedis)('shutdown of hita worker on the Redis engine', () => {
  it(
    'SIGTERM to the worker hands its jobs back while the API keeps serving; a new worker finishes them once',
    { timeout: 180_000 },
    async () => {
      const { dataDir, env } = await storage('redis');
      // One data dir for both processes: the fs object store is shared on this one machine.
      const api = await start(dataDir, { ...env, HITA_WORKERS: '0' });
      const worker = await start(dataDir, { ...env, HITA_DRAIN_SECONDS: '1' }, 'worker');
      const ids = await startRun(api, worker);
      const { code, seconds } = await signalAndWait(worker, 'SIGTERM');
      console.info(
        `redis: hita worker SIGTERM, drain 1 s: exit ${code} after ${seconds.toFixed(2)} s`,
      );
      expect(code).toBe(0);
      expect(seconds).toBeLessThan(1 + 5);
      expectNoAbort(worker);
      // The API is not shutting down: ready, and still taking jobs.
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
      const views = await Promise.all(ids.map((id) => job(api, id)));
      const handedBack = views.filter((view) => view.status !== 'SUCCEEDED');
      expect(handedBack.length).toBeGreaterThan(0);
      for (const view of handedBack) expect([view.status, view.attempts]).toEqual(['QUEUED', 0]);

      await start(dataDir, env, 'worker');
      await expectCompletedOnce(api, ids);
    },
  );
});
