/**
 * Cancel latency through GraphQL: the time from sending `cancelJob` for a RUNNING job to its
 * `CANCELLED` event on a `jobUpdated` subscription, p50 and p99 over N cancels, on the embedded
 * stack (SQLite) and on Redis (a redis-server this file starts; skipped with a line without one).
 * Each job makes 16 CFG images through 2 batch rows, so it runs for seconds and the cancel lands
 * in the middle of it, at a random moment 0–200 ms after RUNNING shows. Run with
 * `HITA_BENCH=1 npx vitest run bench/cancel.bench.ts`; `HITA_BENCH_CANCELS` sets N (30).
 */
import { it } from 'vitest';
import { collect, startApi } from '../test/support/api-harness.js';
import { startRedis } from '../test/support/redis-server.js';
import { record } from './support.js';

const CANCELS = Number(process.env.HITA_BENCH_CANCELS ?? 30);
const GENERATE =
  'mutation($s: Int!) { generateImages(input: { classId: 2, count: 16, seed: $s }) { id } }';
const UPDATES = 'subscription($id: ID!) { jobUpdated(id: $id) { status } }';
const CANCEL = 'mutation($id: ID!) { cancelJob(id: $id) { status } }';

interface Update {
  jobUpdated: { status: string };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** N cancels on one stack; returns cancelJob → CANCELLED and the mutation's own round trip (ms). */
async function measure(
  env: Record<string, string>,
): Promise<{ toCancelled: number[]; answer: number[]; lost: number }> {
  const api = await startApi({ HITA_MAX_BATCH_ROWS: '2', ...env });
  const client = api.ws();
  const toCancelled: number[] = [];
  const answer: number[] = [];
  let lost = 0;
  try {
    for (let i = 0; i < CANCELS; i += 1) {
      const { data } = await api.gql<{ generateImages: { id: string } }>(GENERATE, { s: i });
      const id = data!.generateImages.id;
      let sentAt = 0;
      let cancelling: Promise<unknown> | null = null;
      let cancelledAt = 0;
      await collect<Update>(client, UPDATES, { id }, (events) => {
        const status = events.at(-1)?.jobUpdated.status;
        if (status === 'RUNNING' && !cancelling) {
          cancelling = new Promise((r) => setTimeout(r, Math.random() * 200)).then(async () => {
            sentAt = performance.now();
            await api.gql(CANCEL, { id });
            answer.push(performance.now() - sentAt);
          });
        }
        if (status === 'CANCELLED') cancelledAt = performance.now();
        return false;
      });
      await cancelling;
      if (cancelledAt === 0) lost += 1;
      else toCancelled.push(cancelledAt - sentAt);
    }
  } finally {
    await client.dispose();
    await api.stop();
  }
  return { toCancelled, answer, lost };
}

function report(stack: string, figures: Awaited<ReturnType<typeof measure>>): void {
  const { toCancelled, answer, lost } = figures;
  record('cancel', {
    figure: `cancelJob → CANCELLED through GraphQL, ${stack}, running 16-image job`,
    cancels: toCancelled.length,
    notCancelled: lost,
    p50Ms: round(percentile(toCancelled, 50)),
    p99Ms: round(percentile(toCancelled, 99)),
    maxMs: round(Math.max(...toCancelled)),
    mutationP50Ms: round(percentile(answer, 50)),
  });
}

it('cancel latency on the embedded stack (SQLite)', async () => {
  report('embedded (SQLite)', await measure({}));
});

it('cancel latency on Redis', async () => {
  const redis = await startRedis().catch((error: unknown) => String(error));
  if (typeof redis === 'string') {
    console.info(`SKIP cancel latency on Redis: ${redis}`);
    return;
  }
  try {
    report(
      'Redis',
      await measure({
        REDIS_URL: redis.url,
        HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
      }),
    );
  } finally {
    await redis.stop();
  }
});
