/**
 * The distributed deployment on one machine: the API with no workers of its own, BullMQ on a
 * real redis-server, a real S3-compatible server (Swift s3api), and `hita worker` processes. A
 * remote worker is visible to an operator (its own /metrics and /healthz, one log line per job,
 * `Job.workerId`, the API's `queue { workers }`); a worker killed mid-job is replaced, the
 * client is told why the job runs again, and sees it complete exactly once. Without Redis or
 * Swift this skips with a visible line locally and fails in CI (test/support/require-service.ts).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';
import {
  requireRedisS3Stack,
  startRedisS3Stack,
  type RedisS3Stack,
} from '../support/redis-s3-stack.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const stack = await startRedisS3Stack();
afterAll(async () => {
  if (!Array.isArray(stack)) await stack.stop();
});
const hasStack = requireRedisS3Stack('distributed deployment', stack);

describe.runIf(hasStack)('distributed: API + hita worker over Redis and S3', () => {
  let api: ApiHarness;
  let env: Record<string, string>;
  const workers: ServerProcess[] = [];

  async function startWorker(extra: Record<string, string> = {}): Promise<ServerProcess> {
    const worker = await startServerProcess({
      command: 'worker',
      // info: the harness waits for the worker's "hita workers running" line.
      env: { ...env, HITA_WORKERS: '1', LOG_LEVEL: 'info', ...extra },
    });
    workers.push(worker);
    return worker;
  }

  async function liveWorkers(): Promise<number> {
    const { data } = await api.gql<{ queue: { workers: number } }>('{ queue { workers } }');
    return data!.queue.workers;
  }

  beforeAll(async () => {
    const { env: stackEnv } = stack as RedisS3Stack;
    env = {
      ...stackEnv(),
      HITA_MODELS_DIR: resolve('models'),
      HITA_MODEL: 'hita-tiny-random',
      HITA_LEASE_MS: '2000',
      HITA_THREADS: '1',
      LOG_LEVEL: 'warn',
    };
    api = await startApi({ ...env, HITA_WORKERS: '0' });
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await api?.stop();
  });

  it('a remote worker serves its own metrics and health, logs each job, and counts in queue { workers }', async () => {
    const token = 'worker-scrape-token-0001';
    expect(await liveWorkers()).toBe(0);
    const worker = await startWorker({ HITA_METRICS_TOKEN: token });
    await vi.waitFor(async () => expect(await liveWorkers()).toBe(1), { timeout: 10_000 });
    const health = await fetch(`${worker.url}/healthz`);
    const workerId = `${hostname()}:${worker.child.pid}:0`;
    expect(await health.json()).toEqual({
      ok: true,
      draining: false,
      workers: [{ id: workerId, activeJobs: 0 }],
    });
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 1, count: 2, seed: 8 }) { id } }',
    );
    const id = data!.generateImages.id;
    const job = await vi.waitFor(
      async () => {
        const answer = await api.gql<{ job: { status: string; workerId: string | null } }>(
          'query($id: ID!) { job(id: $id) { status workerId } }',
          { id },
        );
        expect(answer.data!.job.status).toBe('SUCCEEDED');
        return answer.data!.job;
      },
      { timeout: 60_000, interval: 100 },
    );
    expect(job.workerId).toBe(workerId);

    const refused = await fetch(`${worker.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({
      errors: [{ extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const scraped = await fetch(`${worker.url}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await scraped.text();
    expect(text).toMatch(/^hita_images_total 2$/m);
    expect(Number(/^hita_step_seconds_count (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^hita_batch_rows 0$/m);
    expect(text).not.toContain('hita_queue_depth');
    // The API runs no workers: it reports the queue, not work done elsewhere.
    const apiMetrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(apiMetrics).toContain('hita_queue_depth');
    expect(apiMetrics).not.toContain('hita_images_total');

    const lines = worker.logs().filter((line) => line.jobId === id);
    expect(lines.map((line) => line.msg)).toEqual(['job claimed', 'job ended']);
    const model = 'hita-tiny-random';
    expect(lines[0]).toMatchObject({ workerId, model, images: 2, attempt: 1 });
    expect(lines[1]).toMatchObject({ workerId, model, images: 2, outcome: 'succeeded' });
    expect(lines[1]!.seconds).toBeGreaterThan(0);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await liveWorkers()).toBe(0);
  });

  it('a remote worker runs the job, its live previews reach the API, and the image is fetched from S3', async () => {
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 4, count: 2, seed: 21, preview: true }) { id } }',
    );
    const client = api.ws();
    // The worker starts once the stream is live (its replay arrived), so it sees every preview.
    let isLive: () => void = () => undefined;
    const live = new Promise<void>((resolve) => (isLive = resolve));
    const done = collect<{
      jobUpdated: {
        status: string;
        type: string;
        previews: { index: number; dataUrl: string }[] | null;
        job: { outputs: { url: string }[] };
      };
    }>(
      client,
      'subscription($id: ID!) { jobUpdated(id: $id) { status type previews { index dataUrl } job { outputs { url } } } }',
      { id: data!.generateImages.id },
      () => {
        isLive();
        return false;
      },
    );
    await live;
    await startWorker();
    const { events } = await done;
    await client.dispose();
    expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    // From the worker process to the API over Redis pub/sub: one WebP per image.
    const previews = events.filter((e) => e.jobUpdated.type === 'preview');
    expect(previews.length).toBeGreaterThanOrEqual(1);
    for (const { jobUpdated } of previews) {
      expect(jobUpdated.previews!.map((p) => p.index)).toEqual([0, 1]);
      expect(jobUpdated.previews![0]!.dataUrl).toMatch(/^data:image\/webp;base64,/);
    }
    const url = events.at(-1)!.jobUpdated.job.outputs[0]!.url;
    expect(url.startsWith((stack as RedisS3Stack).s3.endPoint)).toBe(true);
    const png = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect((await sharp(png).metadata()).width).toBe(32);
  });

  it('a worker killed mid-job is replaced; the client is told why and sees one completion', async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    const doomed = await startWorker();
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 2, count: 16, seed: 3 }) { id } }',
    );
    const id = data!.generateImages.id;
    const client = api.ws();
    const watching = collect<{
      jobUpdated: {
        status: string;
        type: string;
        error: { code: string; retryable: boolean } | null;
        job: { attempts: number };
      };
    }>(
      client,
      'subscription($id: ID!) { jobUpdated(id: $id) { status type error { code retryable } job { attempts } } }',
      { id },
    );
    for (let i = 0; i < 600; i++) {
      const { data: job } = await api.gql<{ job: { status: string } }>(
        `{ job(id: "${id}") { status } }`,
      );
      if (job!.job.status === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    doomed.child.kill('SIGKILL');
    await startWorker();
    const { events } = await watching;
    await client.dispose();
    const changes = events.map((e) => e.jobUpdated).filter((e) => e.type !== 'progress');
    expect(changes.map((e) => [e.type, e.status, e.error])).toEqual([
      ['added', 'QUEUED', null],
      ['active', 'RUNNING', null],
      ['retrying', 'QUEUED', { code: 'WORKER_LOST', retryable: true }],
      ['active', 'RUNNING', null],
      ['completed', 'SUCCEEDED', null],
    ]);
    expect(events.filter((e) => e.jobUpdated.type === 'completed')).toHaveLength(1);
    expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    expect(events.at(-1)!.jobUpdated.job.attempts).toBe(2);
  });
});
