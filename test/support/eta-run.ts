/**
 * A steady run for judging `Job.estimatedStartAt` (the ETA test and bench/eta.bench.ts): enqueue
 * single-image jobs on a running API, wait until a few have completed (the worker has measured its
 * throughput), read every queued job's estimate once at time t, let the run finish, and compare
 * each estimate with the job's real start: ratio = (estimatedStartAt − t) / (startedAt − t).
 * A comparison inside one run: both sides come from the same machine under the same load.
 */
import type { ApiHarness } from './api-harness.js';

/** One queued job's estimate against its real start, ms after t. */
export interface EtaSample {
  id: string;
  /** startedAt − t */
  waitedMs: number;
  /** estimatedStartAt − t */
  estimatedMs: number;
  /** estimatedMs / waitedMs */
  ratio: number;
  /** estimatedFinishAt − t against finishedAt − t */
  finishRatio: number;
}

interface JobRow {
  id: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

const PAGE = `query Page($first: Int!) { jobs(first: $first) { edges { node {
  id status startedAt finishedAt estimatedStartAt estimatedFinishAt } } } }`;

/** Every job of the API's dev tenant (newest first), with its times and estimates. */
export async function readJobs(api: ApiHarness, first = 100): Promise<JobRow[]> {
  const { data, errors } = await api.gql<{ jobs: { edges: { node: JobRow }[] } }>(PAGE, { first });
  if (!data) throw new Error(`jobs query failed: ${JSON.stringify(errors)}`);
  return data.jobs.edges.map((edge) => edge.node);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Options of {@link runEtaScenario}. */
export interface EtaRunOptions {
  /** Single-image jobs enqueued at once. */
  jobs: number;
  /** Completed jobs to wait for before the estimates are read. */
  readAfter: number;
  /** How long the whole run may take. */
  timeoutMs: number;
  /** The class of every job. @default 1 */
  classId?: number;
}

/** Runs the scenario on `api` (whose dev tenant has no other jobs) and returns every sample. */
export async function runEtaScenario(
  api: ApiHarness,
  options: EtaRunOptions,
): Promise<{ samples: EtaSample[]; readAtMs: number; imagesPerSecond: number | null }> {
  const { jobs, readAfter, timeoutMs, classId = 1 } = options;
  const mutation = `mutation Go($seed: Int!) {
    generateImages(input: { classId: ${classId}, count: 1, seed: $seed }) { id } }`;
  for (let i = 0; i < jobs; i += 1) {
    const { errors } = await api.gql(mutation, { seed: 100 + i });
    if (errors) throw new Error(`enqueue failed: ${JSON.stringify(errors)}`);
  }
  const succeeded = async () =>
    (await readJobs(api, jobs)).filter((job) => job.status === 'SUCCEEDED').length;
  await until(async () => (await succeeded()) >= readAfter, timeoutMs);
  const before = Date.now();
  const read = await readJobs(api, jobs);
  const readAtMs = (before + Date.now()) / 2;
  const queue = await api.gql<{ queue: { imagesPerSecond: number | null } }>(
    '{ queue { imagesPerSecond } }',
  );
  await until(async () => (await succeeded()) === jobs, timeoutMs);
  const finished = new Map((await readJobs(api, jobs)).map((job) => [job.id, job]));
  const samples = read.flatMap((job): EtaSample[] => {
    const done = finished.get(job.id);
    if (job.status !== 'QUEUED' || !job.estimatedStartAt || !job.estimatedFinishAt) return [];
    if (!done?.startedAt || !done.finishedAt) return [];
    const waitedMs = Date.parse(done.startedAt) - readAtMs;
    const estimatedMs = Date.parse(job.estimatedStartAt) - readAtMs;
    const finishRatio =
      (Date.parse(job.estimatedFinishAt) - readAtMs) / (Date.parse(done.finishedAt) - readAtMs);
    return [{ id: job.id, waitedMs, estimatedMs, ratio: estimatedMs / waitedMs, finishRatio }];
  });
  return { samples, readAtMs, imagesPerSecond: queue.data?.queue.imagesPerSecond ?? null };
}

/** The q-quantile (0 … 1) of `values`, by linear interpolation; NaN when empty. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (at - low);
}
