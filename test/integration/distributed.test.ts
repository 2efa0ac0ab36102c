/**
 * The distributed deployment on one machine: the API with no workers of its own, BullMQ on a
 * real redis-server, a real S3-compatible server (Swift s3api), and `hita worker` processes. A
 * worker killed mid-job is replaced and the client sees the job complete exactly once. Without
 * Redis or Swift this skips with a visible line locally and fails in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';

const inCi = process.env.CI === 'true';
let redis: RedisServer | null = null;
let s3: S3Server | null = null;
let why = '';
try {
  redis = await startRedis();
  s3 = await startS3Server();
  if (!s3)
    why =
      'Swift is not installed (apt-get install swift swift-proxy swift-account swift-container swift-object)';
} catch (error) {
  why = String(error);
}
if (why && !inCi) console.info(`SKIP distributed deployment: ${why}`);

afterAll(async () => {
  await redis?.stop();
  await s3?.stop();
});

describe.skipIf(Boolean(why) && !inCi)('distributed: API + hita worker over Redis and S3', () => {
  let api: ApiHarness;
  let env: Record<string, string>;
  const workers: ChildProcess[] = [];

  function startWorker(): ChildProcess {
    const child = spawn(process.execPath, [resolve('dist/cli.js'), 'worker'], {
      env: { ...process.env, ...env, HITA_WORKERS: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
    return child;
  }

  beforeAll(async () => {
    if (why) throw new Error(`the distributed deployment needs Redis and Swift in CI: ${why}`);
    env = {
      REDIS_URL: redis!.url,
      S3_ENDPOINT: s3!.endPoint,
      S3_ACCESS_KEY: s3!.accessKey,
      S3_SECRET_KEY: s3!.secretKey,
      S3_BUCKET: `hita-${Date.now()}`,
      HITA_MODELS_DIR: resolve('models'),
      HITA_MODEL: 'hita-tiny-random',
      HITA_LEASE_MS: '2000',
      HITA_THREADS: '1',
      LOG_LEVEL: 'warn',
    };
    api = await startApi({ ...env, HITA_WORKERS: '0' });
  });

  afterAll(async () => {
    for (const child of workers) child.kill('SIGKILL');
    await api?.stop();
  });

  it('a remote worker runs the job and the image is fetched from S3', async () => {
    startWorker();
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 4, count: 2, seed: 21 }) { id } }',
    );
    const client = api.ws();
    const { events } = await collect<{
      jobUpdated: { status: string; job: { outputs: { url: string }[] } };
    }>(
      client,
      'subscription($id: ID!) { jobUpdated(id: $id) { status job { outputs { url } } } }',
      { id: data!.generateImages.id },
    );
    await client.dispose();
    expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    const url = events.at(-1)!.jobUpdated.job.outputs[0]!.url;
    expect(url.startsWith(s3!.endPoint)).toBe(true);
    const png = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect((await sharp(png).metadata()).width).toBe(32);
  });

  it('a worker killed mid-job is replaced; the client sees one completion', async () => {
    for (const child of workers) child.kill('SIGKILL');
    const doomed = startWorker();
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 2, count: 16, seed: 3 }) { id } }',
    );
    const id = data!.generateImages.id;
    const client = api.ws();
    const watching = collect<{
      jobUpdated: { status: string; type: string; job: { attempts: number } };
    }>(client, 'subscription($id: ID!) { jobUpdated(id: $id) { status type job { attempts } } }', {
      id,
    });
    for (let i = 0; i < 600; i++) {
      const { data: job } = await api.gql<{ job: { status: string } }>(
        `{ job(id: "${id}") { status } }`,
      );
      if (job!.job.status === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    doomed.kill('SIGKILL');
    startWorker();
    const { events } = await watching;
    await client.dispose();
    expect(events.filter((e) => e.jobUpdated.type === 'completed')).toHaveLength(1);
    expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    expect(events.at(-1)!.jobUpdated.job.attempts).toBe(2);
  });
});
