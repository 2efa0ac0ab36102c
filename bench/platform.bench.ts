/**
 * Platform figures (issue: GraphQL platform). Run with `npm run bench`; results go to the README.
 * - a job end to end through GraphQL against the bare engine for the same job;
 * - enqueue mutations per second;
 * - 1,000 open subscriptions and the p99 latency of their events.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { it } from 'vitest';
import { HitaPipeline, type GenerateRequest } from '../src/inference/hita-pipeline.js';
import { loadModel } from '../src/inference/model-loader.js';
import { collect, startApi } from '../test/support/api-harness.js';
import { record, timed } from './support.js';

const THREADS = String(cpus().length);
const SAMPLING = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };
const RUNS = Number(process.env.HITA_BENCH_REPEATS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

it('GraphQL end to end against the bare engine, the same job', async () => {
  const model = await loadModel(resolve('models/hita-tiny-random'));
  const options = { executionProviders: ['cpu'], intraOpNumThreads: Number(THREADS) };
  const pipeline = new HitaPipeline({
    manifest: model.manifest,
    gpt: await ort.InferenceSession.create(model.graphPath('gpt'), options),
    decode: await ort.InferenceSession.create(model.graphPath('decode'), options),
  });
  const request = (seed: number): GenerateRequest => ({
    kind: 'generate',
    classId: 3,
    count: 4,
    seed,
    sampling: SAMPLING,
  });
  const api = await startApi({ HITA_THREADS: THREADS });
  const client = api.ws();
  const once = async (seed: number) => {
    const { data } = await api.gql<{ generateImages: { id: string } }>(
      'mutation($s: Int!) { generateImages(input: { classId: 3, count: 4, seed: $s, cfgScale: 2 }) { id } }',
      { s: seed },
    );
    await collect(client, 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', {
      id: data!.generateImages.id,
    });
  };
  await pipeline.run('warm', request(0));
  await once(0);
  const bare: number[] = [];
  const graphql: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    bare.push((await timed(() => pipeline.run(`b${i}`, request(i)))).seconds);
    graphql.push((await timed(() => once(i))).seconds);
  }
  await client.dispose();
  await api.stop();
  const overheadMs = (median(graphql) - median(bare)) * 1000;
  record('platform', {
    figure: 'GraphQL end to end vs bare engine (4 images, CFG)',
    bareMedianSeconds: median(bare),
    graphqlMedianSeconds: median(graphql),
    overheadMs,
    budgetMs: median(bare) * 50 + 15,
    withinTarget: overheadMs <= median(bare) * 50 + 15,
  });
});

it('enqueue mutations per second', async () => {
  const api = await startApi({ HITA_WORKERS: '0' });
  const total = 3000;
  const concurrency = 64;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const { errors } = await api.gql('mutation { generateImages(input: { classId: 1 }) { id } }');
      if (errors) throw new Error(JSON.stringify(errors));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker)); // warm-up of 8 × a few
  next = 0;
  const { seconds } = await timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
  await api.stop();
  record('platform', {
    figure: 'enqueue mutations/s',
    mutations: total,
    concurrency,
    perSecond: total / seconds,
  });
});

it('1,000 open subscriptions: event latency', async () => {
  const api = await startApi({ HITA_WORKERS: '0' });
  const clients = Array.from({ length: 20 }, () => api.ws());
  const latencies: number[] = [];
  const stops: (() => void)[] = [];
  let subscribed = 0;
  await new Promise<void>((ready) => {
    for (const client of clients) {
      for (let i = 0; i < 50; i++) {
        stops.push(
          client.subscribe<{ jobsUpdated: { at: string } }>(
            { query: 'subscription { jobsUpdated { sequence at } }' },
            {
              next: ({ data }) => latencies.push(Date.now() - Date.parse(data!.jobsUpdated.at)),
              error: (error) => console.error(error),
              complete: () => undefined,
            },
          ),
        );
        subscribed++;
      }
    }
    // graphql-ws acknowledges subscriptions asynchronously; give the 1,000 time to register.
    setTimeout(ready, 3000);
  });
  const events = 50;
  for (let i = 0; i < events; i++) {
    await api.gql('mutation { generateImages(input: { classId: 1 }) { id } }');
    await new Promise((r) => setTimeout(r, 100)); // 10 events/s: 10,000 deliveries/s
  }
  await new Promise((r) => setTimeout(r, 2000));
  for (const stop of stops) stop();
  await Promise.all(clients.map((c) => c.dispose()));
  await api.stop();
  record('platform', {
    figure: '1,000 subscriptions, event latency',
    subscriptions: subscribed,
    events,
    delivered: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
  });
});
