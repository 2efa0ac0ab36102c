/**
 * The ETA error distribution: in a steady run of N single-image jobs on one worker (one job at a
 * time, the embedded stack with the shipped emoji model), every queued job's
 * `estimatedStartAt` is read once after each of several numbers of completed jobs, and compared
 * with its real start: ratio = (estimatedStartAt − t) / (startedAt − t), t the read. Prints the
 * quantiles of the ratio (all reads, and only jobs that waited ≥ 2 s, the test's rule), the
 * same for `estimatedFinishAt`, and the job times early and late in the run (warm-up shows
 * there). Run with `HITA_BENCH=1 npx vitest run bench/eta.bench.ts`; `HITA_BENCH_ETA_JOBS` sets N
 * (60).
 */
import { it } from 'vitest';
import { startApi } from '../test/support/api-harness.js';
import { quantile, runEtaScenario, type EtaSample, type JobRow } from '../test/support/eta-run.js';
import { ThroughputMeter } from '../src/worker/throughput-meter.js';
import { record } from './support.js';

const JOBS = Number(process.env.HITA_BENCH_ETA_JOBS ?? 60);
const READS = [3, 10, 20].filter((n) => n < JOBS / 2);

const round = (value: number) => Math.round(value * 100) / 100;

function quantiles(values: number[]) {
  return {
    n: values.length,
    p10: round(quantile(values, 0.1)),
    p50: round(quantile(values, 0.5)),
    p90: round(quantile(values, 0.9)),
    within: round(values.filter((r) => r >= 0.5 && r <= 2).length / Math.max(1, values.length)),
  };
}

/**
 * The same run replayed through meters of other time constants, side by side: each is fed the
 * jobs finished by a read (their claim-to-finish times, a little longer than the worker's
 * busy time from the first step), and its start estimate of each job still queued then is
 * t + (jobs ahead + half the running one) / rate. Ratios of the jobs that waited ≥ 2 s.
 */
function replay(jobs: JobRow[], reads: { readAtMs: number }[], timeConstantMs: number): number[] {
  const ran = jobs
    .map((job) => ({
      start: Date.parse(job.startedAt ?? ''),
      end: Date.parse(job.finishedAt ?? ''),
    }))
    .filter((job) => Number.isFinite(job.start) && Number.isFinite(job.end))
    .sort((a, b) => a.start - b.start);
  return reads.flatMap(({ readAtMs: t }) => {
    const meter = new ThroughputMeter({ timeConstantMs });
    for (const job of ran.filter((j) => j.end <= t)) {
      meter.started('m', job.start);
      meter.ended('m', 1, job.end, job.start);
    }
    const rate = meter.imagesPerSecond('m');
    if (rate === null) return [];
    const running = ran.some((j) => j.start <= t && j.end > t) ? 0.5 : 0;
    return ran
      .filter((j) => j.start > t)
      .flatMap((job, ahead) => {
        const waited = job.start - t;
        if (waited < 2000) return [];
        return [(((ahead + running) / rate) * 1000) / waited];
      });
  });
}

it(`ETA error over ${JOBS} single-image jobs on one worker`, async () => {
  const api = await startApi({
    HITA_MODEL: 'hita-tiny-emoji',
    HITA_WORKERS: '1',
    HITA_JOBS_PER_WORKER: '1',
    HITA_RATE_LIMIT_POINTS: '0',
  });
  try {
    const { samples, imagesPerSecond, finished, reads } = await runEtaScenario(api, {
      jobs: JOBS,
      readAfter: READS,
      timeoutMs: 30 * 60_000,
    });
    const waited = (list: EtaSample[]) => list.filter((s) => s.waitedMs >= 2000);
    for (const readAfter of ['all', ...READS] as const) {
      const at = samples.filter((s) => readAfter === 'all' || s.readAfter === readAfter);
      record('eta', {
        jobs: JOBS,
        readAfter,
        start: quantiles(at.map((s) => s.ratio)),
        startWaited2s: quantiles(waited(at).map((s) => s.ratio)),
        finish: quantiles(at.map((s) => s.finishRatio)),
      });
    }
    for (const timeConstantMs of [5000, 10_000, 30_000, 120_000]) {
      const byRead = READS.map((readAfter, i) => ({
        readAfter,
        ratios: quantiles(replay(finished, [reads[i]!], timeConstantMs)),
      }));
      record('eta', { jobs: JOBS, replayTimeConstantMs: timeConstantMs, byRead });
    }
    // Job times (s) by run order: a slower start is warm-up the estimate must live through.
    const seconds = finished
      .filter((job) => job.startedAt && job.finishedAt)
      .sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!))
      .map((job) => (Date.parse(job.finishedAt!) - Date.parse(job.startedAt!)) / 1000);
    const span =
      (Date.parse(
        finished
          .map((j) => j.finishedAt!)
          .sort()
          .at(-1)!,
      ) -
        Date.parse(finished.map((j) => j.startedAt!).sort()[0]!)) /
      1000;
    record('eta', {
      jobs: JOBS,
      jobSecondsFirst5: seconds.slice(0, 5).map(round),
      jobSecondsMedian: round(quantile(seconds, 0.5)),
      imagesPerSecondMeasured: round(imagesPerSecond ?? Number.NaN),
      imagesPerSecondOverRun: round(finished.length / span),
    });
  } finally {
    await api.stop();
  }
});
