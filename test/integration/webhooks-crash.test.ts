/**
 * The outbox survives a crash: with the receiver refusing connections, a job succeeds (its
 * outbox entries exist), the server is killed with SIGKILL, restarted on the same data (SQLite
 * file, or Redis), and only then does the receiver come up: exactly one verified delivery per
 * event, each with its original webhook-id. `hita serve` runs as a child process in production
 * mode (test/support/server-process.ts; `npm run build` first). HITA_WEBHOOK_BACKOFF_MS=50.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});
const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (webhook crash on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

const JOB = `query($id: ID!) { job(id: $id) { status sequence
  webhook { deliveries { event attempt status } } } }`;

describe.each(engines)('webhooks across kill -9 on %s', (engine, engineEnv) => {
  it('delivers each event exactly once after a restart, with its original webhook-id', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hita-webhook-crash-'));
    const env = {
      ...engineEnv,
      NODE_ENV: 'production',
      HITA_WEBHOOK_ALLOW_PRIVATE: 'true',
      HITA_WEBHOOK_BACKOFF_MS: '50',
    };
    let server: ServerProcess | null = null;
    const receiver = await startWebhookReceiver({}, { isUp: false });
    try {
      server = await startServerProcess({ env, dataDir });
      const secret = (await server.gql<{ webhookSecret: string }>('{ webhookSecret }')).data!
        .webhookSecret;
      const made = await server.gql<{ generateImages: { id: string } }>(
        `mutation($i: GenerateInput!) { generateImages(input: $i) { id } }`,
        {
          i: {
            classId: 1,
            seed: 9,
            webhook: { url: receiver.url, events: ['STARTED', 'SUCCEEDED'] },
          },
        },
      );
      expect(made.errors).toBeUndefined();
      const id = made.data!.generateImages.id;
      const jobNow = async (s: ServerProcess) =>
        (
          await s.gql<{
            job: {
              status: string;
              sequence: number;
              webhook: { deliveries: { status: string }[] };
            };
          }>(JOB, { id })
        ).data!.job;
      // Succeeded, both entries still pending after failed attempts (connection refused).
      await expect
        .poll(
          async () => {
            const job = await jobNow(server!);
            return (
              job.status === 'SUCCEEDED' &&
              job.webhook.deliveries.filter((d) => d.status === 'PENDING').length === 2 &&
              job.webhook.deliveries.some((d) => d.status === 'FAILED')
            );
          },
          { timeout: 60_000 },
        )
        .toBe(true);
      const { sequence } = await jobNow(server);
      server.child.kill('SIGKILL');
      expect(await server.exited).toBe(137);

      server = await startServerProcess({ env, dataDir });
      // The data dir kept the generated HITA_WEBHOOK_SECRET: the same tenant secret.
      expect(
        (await server.gql<{ webhookSecret: string }>('{ webhookSecret }')).data!.webhookSecret,
      ).toBe(secret);
      const verify = await startWebhookReceiver(
        { dev: secret },
        { isUp: false, port: receiver.port },
      );
      await verify.up();
      try {
        await expect
          .poll(() => verify.received.length, { timeout: 30_000 })
          .toBeGreaterThanOrEqual(2);
        await new Promise((done) => setTimeout(done, 1500)); // nothing more may come
        // Either may come first: each waits out its own backoff.
        const got = verify.received.map((r) => [r.type, r.id, r.verifiedBy]).sort();
        expect(got).toEqual([
          ['job.started', `msg_${id}_2`, ['dev']],
          ['job.succeeded', `msg_${id}_${sequence}`, ['dev']],
        ]);
        const after = await jobNow(server);
        expect(after.webhook.deliveries.filter((d) => d.status === 'DELIVERED')).toHaveLength(2);
        expect(after.webhook.deliveries.some((d) => d.status === 'PENDING')).toBe(false);
      } finally {
        await verify.close();
      }
    } finally {
      await server?.stop();
      await receiver.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
