/**
 * Platform figures (issue: GraphQL platform). Run with `npm run bench`; results go to the README.
 * - a job end to end through GraphQL against the bare engine for the same job;
 * - enqueue mutations per second;
 * - 1,000 open subscriptions and the p99 latency of their events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { it } from 'vitest';
import type { GenerateRequest } from '../src/inference/inference-engine.js';
import { HitaPipeline } from '../src/inference/pipeline/hita-pipeline.js';
import { loadModel } from '../src/inference/model/model-loader.js';
import { collect, startApi } from '../test/support/api-harness.js';
import { record, timed } from './support.js';

const THREADS = String(cpus().length);
const SAMPLING = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };
const RUNS = Number(process.env.HITA_BENCH_REPEATS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
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

/** Runs bench/load-client.mjs; resolves with its last JSON line. `onReady` fires on its "ready" line. */
function loadClient(
  args: string[],
  onReady?: (child: ChildProcess) => void,
): Promise<Record<string, number>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [resolve('bench/load-client.mjs'), ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (onReady && output.includes('ready\n')) {
        onReady(child);
        onReady = undefined;
      }
    });
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise(JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, number>)
        : reject(new Error(`load client exited ${code}`)),
    );
  });
}

/** The guard's two costs, measured side by side: query-cost analysis and the cost rate limiter. */
const GUARD_SETTINGS = {
  // Points no run can spend: the limiter consumes on every request but never refuses.
  on: { HITA_RATE_LIMIT_POINTS: String(1e9) },
  off: { HITA_RATE_LIMIT_POINTS: '0', HITA_MAX_QUERY_COST: '0' },
} as const;

it('enqueue mutations per second, cost analysis and rate limiter on and off (client in another process)', async () => {
  const runs: Record<keyof typeof GUARD_SETTINGS, number[]> = { on: [], off: [] };
  // The server's CPU per mutation (this process runs it; the client runs in its own): unlike the
  // rate, it hardly moves when other work shares the cores.
  const cpuUs: Record<keyof typeof GUARD_SETTINGS, number[]> = { on: [], off: [] };
  const last: Record<string, Record<string, number>> = {};
  const loadAverageAtStart = loadavg()[0]!;
  // on, off / off, on / on, off: whichever runs first also warms up the process's JIT.
  const orders = [
    ['on', 'off'],
    ['off', 'on'],
    ['on', 'off'],
  ] as const;
  for (const order of orders) {
    for (const mode of order) {
      const api = await startApi({ HITA_WORKERS: '0', ...GUARD_SETTINGS[mode] });
      await loadClient(['enqueue', api.url, '1000', '16']); // warm-up
      const cpuBefore = process.cpuUsage();
      const figures = await loadClient(['enqueue', api.url, '3000', '64']);
      const cpu = process.cpuUsage(cpuBefore);
      await api.stop();
      runs[mode].push(figures.perSecond!);
      cpuUs[mode].push((cpu.user + cpu.system) / figures.mutations!);
      last[mode] = figures;
    }
  }
  record('platform', {
    figure: 'enqueue mutations/s, median of 3, guard on vs off',
    guardOnPerSecond: median(runs.on),
    guardOffPerSecond: median(runs.off),
    guardOnRuns: runs.on,
    guardOffRuns: runs.off,
    guardOnServerCpuUsPerMutation: median(cpuUs.on),
    guardOffServerCpuUsPerMutation: median(cpuUs.off),
    guardOnP99Ms: last.on!.p99Ms,
    guardOffP99Ms: last.off!.p99Ms,
    loadAverage: [loadAverageAtStart, loadavg()[0]!],
  });
});

it('1,000 open subscriptions: event latency (clients in another process)', async () => {
  const api = await startApi({ HITA_WORKERS: '0' });
  const events = 50;
  const figures = await loadClient(['subscribe', api.url, '20', '50'], (child) => {
    void (async () => {
      await new Promise((r) => setTimeout(r, 3000)); // let the 1,000 subscriptions register
      for (let i = 0; i < events; i++) {
        await api.gql('mutation { generateImages(input: { classId: 1 }) { id } }');
        await new Promise((r) => setTimeout(r, 100)); // 10 events/s: 10,000 deliveries/s
      }
      await new Promise((r) => setTimeout(r, 2000));
      child.stdin!.end();
    })();
  });
  await api.stop();
  record('platform', {
    figure: '1,000 subscriptions, event latency, 10 events/s',
    events,
    ...figures,
  });
});
