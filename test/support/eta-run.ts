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
  /** Jobs completed when this estimate was read. */
  readAfter: number;
}

export interface JobRow {
  id: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

const PAGE = `query Page($first: Int!) { jobs(first: $first) { edges { node {
  id status startedAt finishedAt estimatedStartAt estimatedFinishAt } } } }`;
/** Statuses only: the polls between reads must not load the server with estimates. */
const STATUS_PAGE = `query Status($first: Int!) { jobs(first: $first) { edges { node {
  id status } } } }`;

/** The newest `first` jobs of the API's dev tenant, with their times and estimates. */
export async function readJobs(api: ApiHarness, first = 100, query = PAGE): Promise<JobRow[]> {
  const { data, errors } = await api.gql<{ jobs: { edges: { node: JobRow }[] } }>(query, {
    first,
  });
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
  /** Completed jobs to wait for before the estimates are read: once, or once per entry. */
  readAfter: number | number[];
  /** How long the whole run may take. */
  timeoutMs: number;
  /** The class of every job. @default 1 */
  classId?: number;
}

/** Runs the scenario on `api` (whose dev tenant has no other jobs) and returns every sample. */
export async function runEtaScenario(
  api: ApiHarness,
  options: EtaRunOptions,
): Promise<{
  samples: EtaSample[];
  imagesPerSecond: number | null;
  finished: JobRow[];
  reads: { readAtMs: number; readAfter: number }[];
}> {
  const { jobs, readAfter: readAfterOption, timeoutMs, classId = 1 } = options;
  const mutation = `mutation Go($seed: Int!) {
    generateImages(input: { classId: ${classId}, count: 1, seed: $seed }) { id } }`;
  for (let i = 0; i < jobs; i += 1) {
    const { errors } = await api.gql(mutation, { seed: 100 + i });
    if (errors) throw new Error(`enqueue failed: ${JSON.stringify(errors)}`);
  }
  const succeeded = async () =>
    (await readJobs(api, jobs, STATUS_PAGE)).filter((job) => job.status === 'SUCCEEDED').length;
  const reads: { readAtMs: number; readAfter: number; jobs: JobRow[] }[] = [];
  let imagesPerSecond: number | null = null;
  for (const readAfter of [readAfterOption].flat()) {
    await until(async () => (await succeeded()) >= readAfter, timeoutMs);
    const before = Date.now();
    const read = await readJobs(api, jobs);
    reads.push({ readAtMs: (before + Date.now()) / 2, readAfter, jobs: read });
    const queue = await api.gql<{ queue: { imagesPerSecond: number | null } }>(
      '{ queue { imagesPerSecond } }',
    );
    imagesPerSecond = queue.data?.queue.imagesPerSecond ?? null;
  }
  await until(async () => (await succeeded()) === jobs, timeoutMs);
  const finished = await readJobs(api, jobs);
  const byId = new Map(finished.map((job) => [job.id, job]));
  const samples = reads.flatMap(({ readAtMs, readAfter, jobs: read }) =>
    read.flatMap((job): EtaSample[] => {
      const done = byId.get(job.id);
      if (job.status !== 'QUEUED' || !job.estimatedStartAt || !job.estimatedFinishAt) return [];
      if (!done?.startedAt || !done.finishedAt) return [];
      const waitedMs = Date.parse(done.startedAt) - readAtMs;
      const estimatedMs = Date.parse(job.estimatedStartAt) - readAtMs;
      const finishRatio =
        (Date.parse(job.estimatedFinishAt) - readAtMs) / (Date.parse(done.finishedAt) - readAtMs);
      const ratio = estimatedMs / waitedMs;
      return [{ id: job.id, waitedMs, estimatedMs, ratio, finishRatio, readAfter }];
    }),
  );
  const readTimes = reads.map(({ readAtMs, readAfter }) => ({ readAtMs, readAfter }));
  return { samples, imagesPerSecond, finished, reads: readTimes };
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
