/**
 * Fair scheduling through the real server, on both queue engines (SQLite; Redis on a
 * redis-server this file starts, skipped with a line without one): one worker holding one job
 * at a time (HITA_WORKERS=1, HITA_JOBS_PER_WORKER=1), tenant alice enqueues 50 jobs, then bob
 * one; after bob's enqueue at most one more of alice's jobs starts before bob's. Start order is
 * read from the jobs' own `startedAt` (one worker, one job at a time: no two starts coincide).
 * The queue-level scenarios (test/integration/queue-fair.suite.ts) cover fifo, weights, quotas
 * and positions against the start order; this file checks the wiring from the environment down.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

const ALICE = 'alice-key-123456';
const BOB = 'bob-key-1234567';
const GENERATE = 'mutation($s: Int!) { generateImages(input: { classId: 1, seed: $s }) { id } }';
const JOB = 'query($id: ID!) { job(id: $id) { status startedAt createdAt queuePosition } }';
const PAGE = `{ jobs(first: 100) { edges { node { id status startedAt queuePosition } } } }`;

interface JobView {
  id: string;
  status: string;
  startedAt: string | null;
  createdAt: string;
  queuePosition: number | null;
}

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (fair scheduling on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

describe.each(engines)('fair scheduling through the server on the %s engine', (_name, env) => {
  let api: ApiHarness | undefined;
  afterAll(async () => {
    await api?.stop();
  });

  async function enqueue(apiKey: string, seed: number): Promise<string> {
    const { data, errors } = await api!.gql<{ generateImages: { id: string } }>(
      GENERATE,
      { s: seed },
      apiKey,
    );
    expect(errors).toBeUndefined();
    return data!.generateImages.id;
  }

  async function view(apiKey: string, id: string): Promise<JobView> {
    const { data } = await api!.gql<{ job: JobView }>(JOB, { id }, apiKey);
    return { ...data!.job, id };
  }

  it('starts a one-job tenant after at most one more job of a 50-job tenant, and refuses past the tenant cap', async () => {
    api = await startApi({
      ...env,
      HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob`,
      HITA_WORKERS: '1',
      HITA_JOBS_PER_WORKER: '1',
      HITA_TENANT_MAX_QUEUED: '60',
    });
    const alices: string[] = [];
    for (let i = 0; i < 50; i += 1) alices.push(await enqueue(ALICE, i));
    const bobs = await enqueue(BOB, 1000);
    // Read at once: bob's place is at most 2 (behind one of alice's at most), whatever runs now.
    const early = await view(BOB, bobs);
    if (early.status === 'QUEUED') expect(early.queuePosition).toBeLessThanOrEqual(2);
    const page = await api.gql<{ jobs: { edges: { node: JobView }[] } }>(PAGE, {}, ALICE);
    const positions = page
      .data!.jobs.edges.map((e) => e.node.queuePosition)
      .filter((p): p is number => p !== null);
    expect(new Set(positions).size).toBe(positions.length); // one place per queued job

    await expect
      .poll(async () => (await view(BOB, bobs)).startedAt, { timeout: 120_000, interval: 100 })
      .not.toBeNull();
    const bob = await view(BOB, bobs);
    const created = Date.parse(bob.createdAt);
    const started = Date.parse(bob.startedAt ?? '');
    const views = await Promise.all(alices.map((id) => view(ALICE, id)));
    const overtook = views.filter((v) => {
      const at = v.startedAt === null ? null : Date.parse(v.startedAt);
      return at !== null && at >= created && at < started;
    });
    expect(overtook.length).toBeLessThanOrEqual(1);

    // HITA_TENANT_MAX_QUEUED: alice still has dozens waiting; 60 in all refuses with scope tenant.
    let refused: Record<string, unknown> | undefined;
    for (let i = 0; i < 60 && !refused; i += 1) {
      const { errors } = await api.gql(GENERATE, { s: 2000 + i }, ALICE);
      refused = errors?.[0]?.extensions;
    }
    expect(refused).toMatchObject({ code: 'QUEUE_FULL', scope: 'tenant', retryable: true });
    expect(await enqueue(BOB, 3000)).toBeTruthy(); // bob's own quota is untouched
  });
});
