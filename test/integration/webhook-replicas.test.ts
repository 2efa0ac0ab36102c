/**
 * Two API replicas deliver one outbox: two queue instances on the same storage (one SQLite file
 * opened twice; one Redis prefix), each with its own WebhookDeliveryService, drain entries to a
 * local receiver that verifies every signature. Leases keep them apart: every webhook-id is
 * received exactly once, and both replicas took part.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobQueue } from '../../src/queue/job-queue.js';
import { BullJobQueue } from '../../src/queue/redis/bull-job-queue.js';
import { SqliteJobQueue } from '../../src/queue/sqlite/sqlite-job-queue.js';
import { WebhookDeliveryService } from '../../src/services/webhook-delivery-service.js';
import { tenantWebhookSecret } from '../../src/services/webhook-secrets.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const ENTRIES = 200;
const MASTER = 'replica-test-secret-0123456789';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

type Pair = { queues: [JobQueue, JobQueue]; cleanup: () => Promise<void> };
const engines: [string, () => Promise<Pair>][] = [
  [
    'sqlite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hita-replicas-'));
      const path = join(dir, 'queue.db');
      const queues: [JobQueue, JobQueue] = [
        new SqliteJobQueue({ path }),
        new SqliteJobQueue({ path }),
      ];
      for (const q of queues) await q.start();
      return {
        queues,
        cleanup: async () => {
          for (const q of queues) await q.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];
if (hasService('redis-server (webhook replicas on redis)', redis)) {
  engines.push([
    'redis',
    async () => {
      const prefix = `replicas${process.pid}`;
      const queues: [JobQueue, JobQueue] = [
        new BullJobQueue({ redisUrl: redis.url, prefix }),
        new BullJobQueue({ redisUrl: redis.url, prefix }),
      ];
      for (const q of queues) await q.start();
      return {
        queues,
        cleanup: async () => void (await Promise.all(queues.map((q) => q.close()))),
      };
    },
  ]);
}

describe.each(engines)('two replicas on one %s outbox', (engine, open) => {
  it('send every attempt once between them', async () => {
    const { queues, cleanup } = await open();
    const receiver = await startWebhookReceiver({ t: tenantWebhookSecret(MASTER, 't') });
    const sentBy = [0, 0];
    const services = queues.map(
      (queue, i) =>
        new WebhookDeliveryService({
          outbox: queue,
          renderJob: async (job) => ({ id: job.id, status: job.status }),
          secretFor: (tenant) => tenantWebhookSecret(MASTER, tenant),
          allowPrivate: true,
          pollIntervalMs: 5,
          maxConcurrent: 8,
          onAttempt: () => (sentBy[i] = (sentBy[i] ?? 0) + 1),
        }),
    );
    try {
      services.forEach((s) => s.start());
      const [a] = queues;
      const webhook = { url: receiver.url, events: ['CANCELLED' as const] };
      const params = {
        classId: 1,
        count: 1,
        seed: 1,
        cfgScale: 1,
        temperature: 1,
        topK: 0,
        topP: 1,
      };
      for (let i = 0; i < ENTRIES; i++) {
        const { job } = await a.enqueue({
          tenant: 't',
          kind: 'GENERATE',
          model: null,
          params,
          webhook,
        });
        await a.cancel(job.id);
      }
      await expect
        .poll(() => receiver.received.length, { timeout: 60_000 })
        .toBeGreaterThanOrEqual(ENTRIES);
      await new Promise((done) => setTimeout(done, 500));
      const ids = receiver.received.map((r) => r.id);
      expect(ids).toHaveLength(ENTRIES);
      expect(new Set(ids).size).toBe(ENTRIES);
      expect(receiver.received.every((r) => r.verifiedBy.join() === 't')).toBe(true);
      expect(sentBy[0]! + sentBy[1]!).toBe(ENTRIES);
      expect(Math.min(...sentBy)).toBeGreaterThan(0);
      expect(await a.outboxDepth()).toBe(0);
    } finally {
      await Promise.all(services.map((s) => s.close()));
      await receiver.close();
      await cleanup();
    }
  });
});
