/**
 * Webhook figures (issue 13). Run with `npm run bench` (HITA_BENCH=1); results go to the README.
 * - delivery latency: job finished → its verified SUCCEEDED webhook at a local receiver, p50 and
 *   p99 over 100 jobs through GraphQL, on each queue engine;
 * - outbox throughput: completes per second that write an entry, and entries per second the
 *   delivery service drains to a local receiver (claim, sign, POST, settle), on each engine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, it } from 'vitest';
import type { JobQueue } from '../src/queue/job-queue.js';
import { BullJobQueue } from '../src/queue/redis/bull-job-queue.js';
import { SqliteJobQueue } from '../src/queue/sqlite/sqlite-job-queue.js';
import { WebhookDeliveryService } from '../src/services/webhook-delivery-service.js';
import { tenantWebhookSecret } from '../src/services/webhook-secrets.js';
import { startApi } from '../test/support/api-harness.js';
import { startRedis } from '../test/support/redis-server.js';
import { tryStart } from '../test/support/require-service.js';
import { startWebhookReceiver } from '../test/support/webhook-receiver.js';
import { record } from './support.js';

const JOBS = 100;
const ENTRIES = Number(process.env.HITA_BENCH_OUTBOX_ENTRIES ?? 2000);
const SECRET = 'bench-webhook-secret-0123456789';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});
const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (!(redis instanceof Error)) {
  engines.push(['redis', { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: SECRET }]);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

it.each(engines)('webhook delivery latency over 100 jobs (%s)', async (engine, env) => {
  const api = await startApi({ ...env, HITA_WEBHOOK_ALLOW_PRIVATE: 'true' });
  const secret = (await api.gql<{ webhookSecret: string }>('{ webhookSecret }')).data!
    .webhookSecret;
  const receiver = await startWebhookReceiver({ dev: secret });
  const webhook = { url: receiver.url, events: ['SUCCEEDED'] };
  // Eight at a time: a realistic load for one CPU worker, so latency is not queueing for it.
  for (let i = 0; i < JOBS; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, JOBS - i) }, (_, j) =>
        api.gql('mutation($i: GenerateInput!) { generateImages(input: $i) { id } }', {
          i: { classId: 1, seed: i + j, webhook },
        }),
      ),
    );
    const want = Math.min(JOBS, i + 8);
    while (receiver.received.length < want) await new Promise((done) => setTimeout(done, 5));
  }
  const latencies = receiver.received.map(
    (r) => r.at - Date.parse(String(r.body.data.job.finishedAt)),
  );
  const verified = receiver.received.filter((r) => r.verifiedBy.includes('dev')).length;
  await receiver.close();
  await api.stop();
  record('webhooks', {
    figure: `webhook delivery latency, job finished → verified receipt (${engine})`,
    load: '100 jobs, 8 in flight, 1 CPU worker, receiver on loopback answering 200 at once',
    jobs: JOBS,
    verified,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
  });
});

async function openQueue(
  engine: string,
): Promise<{ queue: JobQueue; cleanup: () => Promise<void> }> {
  if (engine === 'redis' && !(redis instanceof Error)) {
    const queue = new BullJobQueue({ redisUrl: redis.url, prefix: `bench${process.pid}` });
    await queue.start();
    return { queue, cleanup: () => queue.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'hita-bench-outbox-'));
  const queue = new SqliteJobQueue({ path: join(dir, 'queue.db') });
  await queue.start();
  return {
    queue,
    cleanup: async () => {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

it.each(engines)('outbox throughput (%s)', async (engine) => {
  const { queue, cleanup } = await openQueue(engine);
  const receiver = await startWebhookReceiver({});
  const webhook = { url: receiver.url, events: ['SUCCEEDED' as const] };
  const params = { classId: 1, count: 1, seed: 1, cfgScale: 1, temperature: 1, topK: 0, topP: 1 };
  for (let i = 0; i < ENTRIES; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, () =>
        queue.enqueue({ tenant: 'dev', kind: 'GENERATE', model: null, params, webhook }),
      ),
    );
  }
  const writeStart = performance.now();
  for (;;) {
    const claim = await queue.claim('bench', 60_000);
    if (!claim) break;
    await queue.complete(claim, []);
  }
  const writeSeconds = (performance.now() - writeStart) / 1000;
  const depth = await queue.outboxDepth();
  const service = new WebhookDeliveryService({
    outbox: queue,
    renderJob: async (job) => job,
    secretFor: (tenant) => tenantWebhookSecret(SECRET, tenant),
    allowPrivate: true,
    pollIntervalMs: 10,
  });
  const drainStart = performance.now();
  service.start();
  while ((await queue.outboxDepth()) > 0) await new Promise((done) => setTimeout(done, 20));
  const drainSeconds = (performance.now() - drainStart) / 1000;
  await service.close();
  await receiver.close();
  await cleanup();
  record('webhooks', {
    figure: `outbox throughput (${engine})`,
    load: `${ENTRIES} jobs with a SUCCEEDED webhook, one client; drained by one delivery service (32 attempts in flight) to a loopback receiver`,
    entries: depth,
    completesWithEntryPerSecond: ENTRIES / writeSeconds,
    deliveredPerSecond: depth / drainSeconds,
    received: receiver.received.length,
  });
});
