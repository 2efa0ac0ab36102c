/**
 * Webhooks end to end on both queue engines: a real `hita serve` (in process) and a local
 * receiver that verifies every signature with the `standardwebhooks` verifier. Receivers are
 * loopback only, so the API runs with HITA_WEBHOOK_ALLOW_PRIVATE=true, except the refusal
 * checks, which never open a connection to a private range. HITA_WEBHOOK_BACKOFF_MS=50 keeps
 * retries fast (attempt n waits 50·2^(n−1) ms with jitter), so no test waits out real backoffs.
 * The crash test (kill -9 between the change and its delivery) is webhooks-crash.test.ts.
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRefusedAddress } from '../../src/services/webhook-address-guard.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});
const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (webhooks on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef01';
const GENERATE = `mutation($i: GenerateInput!) { generateImages(input: $i) { id status } }`;
const JOB = `query($id: ID!) { job(id: $id) { id status sequence
  webhook { url events deliveries { event attempt status httpStatus at } } } }`;

interface Delivery {
  event: string;
  attempt: number;
  status: string;
  httpStatus: number | null;
}

describe.each(engines)('webhooks on %s', (engine, env) => {
  let api: ApiHarness;
  let receiver: WebhookReceiver;
  let secrets: Record<string, string>;

  beforeAll(async () => {
    api = await startApi({
      ...env,
      HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob`,
      HITA_WEBHOOK_ALLOW_PRIVATE: 'true',
      HITA_WEBHOOK_BACKOFF_MS: '50',
      HITA_WEBHOOK_TIMEOUT_SECONDS: '30',
    });
    secrets = {};
    for (const [name, key] of [
      ['alice', ALICE],
      ['bob', BOB],
    ] as const) {
      const { data } = await api.gql<{ webhookSecret: string }>('{ webhookSecret }', {}, key);
      secrets[name] = data!.webhookSecret;
    }
    receiver = await startWebhookReceiver(secrets, { isUp: false });
  });
  afterAll(async () => {
    await receiver?.close();
    await api?.stop();
  });

  async function submit(webhook: Record<string, unknown>, key = ALICE): Promise<string> {
    const made = await api.gql<{ generateImages: { id: string } }>(
      GENERATE,
      { i: { classId: 1, seed: 5, webhook } },
      key,
    );
    expect(made.errors).toBeUndefined();
    return made.data!.generateImages.id;
  }

  async function jobOf(id: string, key = ALICE) {
    const { data } = await api.gql<{
      job: { status: string; webhook: { url: string; events: string[]; deliveries: Delivery[] } };
    }>(JOB, { id }, key);
    return data!.job;
  }

  const receivedFor = (id: string) =>
    receiver.received.filter((r) => (r.body.data.job as { id: string }).id === id);

  it('each tenant has its own secret, and only its own verifies', async () => {
    expect(secrets.alice).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secrets.alice).not.toBe(secrets.bob);
    await receiver.up();
    receiver.respond = { status: 204, delayMs: 0 };
    const id = await submit({ url: receiver.url });
    await expect.poll(() => receivedFor(id).length, { timeout: 30_000 }).toBe(1);
    const [got] = receivedFor(id);
    expect(got).toMatchObject({ type: 'job.succeeded', verifiedBy: ['alice'] });
    expect(got!.body.data.job).toMatchObject({ id, status: 'SUCCEEDED', kind: 'GENERATE' });
    const outputs = got!.body.data.job.outputs as { url: string }[];
    expect(outputs[0]!.url).toMatch(/^http/);
    expect(await fetch(outputs[0]!.url).then((r) => r.status)).toBe(200);
    const job = await jobOf(id);
    expect(job.webhook).toMatchObject({
      url: receiver.url,
      events: ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'],
      deliveries: [{ event: 'SUCCEEDED', attempt: 1, status: 'DELIVERED', httpStatus: 204 }],
    });
    // Another tenant cannot see the job, nor its deliveries.
    expect((await api.gql<{ job: unknown }>(JOB, { id }, BOB)).data!.job).toBeNull();
  });

  it('a receiver down for the first attempts gets the delivery once it is back, with the same id', async () => {
    await receiver.down();
    const id = await submit({ url: receiver.url, events: ['STARTED', 'SUCCEEDED'] });
    // Connection refused a few times: retried with backoff.
    await expect
      .poll(
        async () =>
          (await jobOf(id)).webhook.deliveries.filter((d) => d.status === 'FAILED').length,
        {
          timeout: 30_000,
        },
      )
      .toBeGreaterThanOrEqual(4);
    receiver.respond = { status: 500, delayMs: 0 };
    await receiver.up();
    await expect.poll(() => receivedFor(id).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    receiver.respond = { status: 200, delayMs: 0 };
    await expect
      .poll(
        async () =>
          (await jobOf(id)).webhook.deliveries.filter((d) => d.status === 'DELIVERED').length,
        {
          timeout: 30_000,
        },
      )
      .toBe(2);
    const got = receivedFor(id);
    const started = got.filter((r) => r.type === 'job.started');
    const succeeded = got.filter((r) => r.type === 'job.succeeded');
    // Every attempt of one event carries one webhook-id; two events, two ids.
    expect(new Set(started.map((r) => r.id)).size).toBe(1);
    expect(new Set(succeeded.map((r) => r.id)).size).toBe(1);
    expect(started[0]!.id).not.toBe(succeeded[0]!.id);
    expect(got.every((r) => r.verifiedBy.join() === 'alice')).toBe(true);
    const deliveries = (await jobOf(id)).webhook.deliveries;
    expect(deliveries.filter((d) => d.status === 'DELIVERED')).toHaveLength(2);
    expect(deliveries.some((d) => d.httpStatus === 500)).toBe(true);
    expect(deliveries.some((d) => d.status === 'FAILED' && d.httpStatus === null)).toBe(true);
  });

  it('410 stops the retries', async () => {
    await receiver.up();
    receiver.respond = { status: 410, delayMs: 0 };
    const id = await submit({ url: receiver.url });
    await expect
      .poll(async () => (await jobOf(id)).webhook.deliveries, { timeout: 30_000 })
      .toMatchObject([{ event: 'SUCCEEDED', attempt: 1, status: 'GAVE_UP', httpStatus: 410 }]);
    await new Promise((done) => setTimeout(done, 1000)); // ~5 backoffs of 50 ms and more
    expect(receivedFor(id)).toHaveLength(1);
    receiver.respond = { status: 200, delayMs: 0 };
  });

  it('a receiver that takes 10 s to answer does not delay the job', async () => {
    await receiver.up();
    receiver.respond = { status: 200, delayMs: 10_000 };
    const started = Date.now();
    const id = await submit({ url: receiver.url, events: ['STARTED', 'PROGRESS', 'SUCCEEDED'] });
    await expect.poll(async () => (await jobOf(id)).status, { timeout: 9000 }).toBe('SUCCEEDED');
    const jobMs = Date.now() - started;
    // The STARTED attempt is still waiting for its answer while the job is done.
    expect(receivedFor(id).length).toBeGreaterThanOrEqual(1);
    expect(jobMs).toBeLessThan(9000);
    expect((await jobOf(id)).webhook.deliveries.some((d) => d.status === 'PENDING')).toBe(true);
    receiver.respond = { status: 200, delayMs: 0 };
    await expect
      .poll(
        async () =>
          (await jobOf(id)).webhook.deliveries.filter((d) => d.status === 'DELIVERED').length,
        { timeout: 30_000 },
      )
      .toBeGreaterThanOrEqual(2);
  });
});

describe.each(engines)('the SSRF guard on %s (no HITA_WEBHOOK_ALLOW_PRIVATE)', (engine, env) => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi({ ...env, HITA_WEBHOOK_BACKOFF_MS: '50' });
  });
  afterAll(() => api?.stop());

  it.each([
    'http://127.0.0.1:9/hooks',
    'http://10.0.0.1/hooks',
    'http://[::ffff:169.254.169.254]/latest',
    'http://localhost:9/hooks',
    'http://hooks.localhost/x',
    'file:///etc/passwd',
    'https://user:pw@hooks.example/x',
  ])('refuses %s at enqueue with BAD_USER_INPUT on webhook.url', async (url) => {
    const made = await api.gql(GENERATE, { i: { classId: 1, webhook: { url } } });
    expect(made.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'webhook.url',
    });
  });

  it('refuses at delivery a host name that resolves to a private address, without retrying', async (ctx) => {
    // The machine's own name resolves through /etc/hosts, no DNS server involved; the guard
    // refuses it before any connection is made.
    const name = hostname();
    const resolved = await lookup(name, { all: true }).catch(() => []);
    if (resolved.length === 0 || !resolved.some((a) => isRefusedAddress(a.address))) {
      console.log(`SKIP ${name} does not resolve to a private address here`);
      ctx.skip();
    }
    const made = await api.gql<{ generateImages: { id: string } }>(GENERATE, {
      i: { classId: 1, webhook: { url: `http://${name}:9/hooks` } },
    });
    expect(made.errors).toBeUndefined();
    const id = made.data!.generateImages.id;
    await expect
      .poll(
        async () =>
          (await api.gql<{ job: { webhook: { deliveries: Delivery[] } } }>(JOB, { id })).data!.job
            .webhook.deliveries,
        { timeout: 30_000 },
      )
      .toMatchObject([{ event: 'SUCCEEDED', attempt: 1, status: 'FAILED', httpStatus: null }]);
    await new Promise((done) => setTimeout(done, 500));
    const { data } = await api.gql<{ job: { webhook: { deliveries: Delivery[] } } }>(JOB, { id });
    expect(data!.job.webhook.deliveries).toHaveLength(1);
  });
});
