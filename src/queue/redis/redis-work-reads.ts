/**
 * The Redis engine's reads for the ETA and the `queue` figures: stats with the workers'
 * throughput, the RUNNING jobs' work in flight, and
 * the throughput reports themselves (one hash every process reads, throughput-board.ts).
 */
import type { Redis } from 'ioredis';
import type {
  JobProgress,
  QueueStats,
  RunningWork,
  ThroughputFigure,
  WorkAhead,
} from '../job-queue.js';
import { countsToStats } from '../job-shapes.js';
import type { ResolvedTunables } from '../queue-tunables.js';
import { liveThroughput, parseThroughputEntry, type ThroughputEntry } from '../throughput-board.js';
import type { LuaRunner } from './lua-scripts.js';
import type { RedisKeys } from './redis-records.js';

/** Counts per status, live workers and the sum of their live throughput figures, in one round trip. */
export async function statsOnRedis(
  commands: Redis,
  keys: RedisKeys,
  tunables: Pick<ResolvedTunables, 'clock' | 'workerTtlMs'>,
): Promise<QueueStats> {
  const seenSince = tunables.clock() - tunables.workerTtlMs;
  const replies = await commands
    .multi()
    .hgetall(keys.counts)
    .zcount(keys.workers, `(${seenSince}`, '+inf')
    .hgetall(keys.throughput)
    .exec();
  const counts = (replies?.[0]?.[1] ?? {}) as Record<string, string>;
  const workers = Number(replies?.[1]?.[1] ?? 0);
  const reports = (replies?.[2]?.[1] ?? {}) as Record<string, string>;
  const imagesPerSecond = await sumReports(commands, keys, reports, seenSince);
  return countsToStats((status) => Number(counts[status] ?? 0), workers, imagesPerSecond);
}

/** The live throughput alone: one HGETALL of the reports. */
export async function imagesPerSecondOnRedis(
  commands: Redis,
  keys: RedisKeys,
  tunables: Pick<ResolvedTunables, 'clock' | 'workerTtlMs'>,
): Promise<number | null> {
  const seenSince = tunables.clock() - tunables.workerTtlMs;
  return sumReports(commands, keys, await commands.hgetall(keys.throughput), seenSince);
}

/** The sum of the live reports; dead workers' and unreadable ones are deleted on the way. */
async function sumReports(
  commands: Redis,
  keys: RedisKeys,
  reports: Record<string, string>,
  seenSince: number,
): Promise<number | null> {
  const entries: [string, ThroughputEntry][] = [];
  const unreadable: string[] = [];
  for (const [workerId, text] of Object.entries(reports)) {
    const entry = parseThroughputEntry(text);
    if (entry) entries.push([workerId, entry]);
    else unreadable.push(workerId);
  }
  const { imagesPerSecond, stale } = liveThroughput(entries, seenSince);
  // Here, lazily: a dead worker is not there to retire its report.
  const gone = [...stale, ...unreadable];
  if (gone.length > 0) await commands.hdel(keys.throughput, ...gone);
  return imagesPerSecond;
}

/** Position and images ahead of each QUEUED job of `ids` (lua-producer-scripts.ts WORK_AHEAD). */
export async function workAheadOnRedis(
  lua: LuaRunner,
  ids: readonly string[],
): Promise<Map<string, WorkAhead>> {
  const unique = [...new Set(ids)];
  const result = new Map<string, WorkAhead>();
  if (unique.length === 0) return result;
  const flat = (await lua.run('hitaWorkAhead', [], unique)) as number[];
  unique.forEach((id, i) => {
    const position = Number(flat[2 * i]);
    if (position > 0) result.set(id, { position, imagesAhead: Number(flat[2 * i + 1]) });
  });
  return result;
}

/** RUNNING jobs by the `:leases` ZSET, the lease ending first first; one pipelined read. */
export async function runningWorkOnRedis(
  commands: Redis,
  keys: RedisKeys,
  limit: number,
): Promise<RunningWork[]> {
  if (limit < 1) return [];
  const ids = await commands.zrange(keys.leases, 0, limit - 1);
  if (ids.length === 0) return [];
  const pipeline = commands.pipeline();
  ids.forEach((id) => pipeline.hmget(keys.job(id), 'status', 'params', 'progress'));
  const replies = (await pipeline.exec()) ?? [];
  return ids.flatMap((id, i): RunningWork[] => {
    const [status, params, progress] = (replies[i]?.[1] ?? []) as (string | null)[];
    // Ended between the two reads: no longer in flight.
    if (status !== 'RUNNING') return [];
    const count = (JSON.parse(params ?? '{}') as { count?: unknown }).count;
    return [
      {
        id,
        images: typeof count === 'number' ? count : 1,
        progress: progress ? (JSON.parse(progress) as JobProgress | null) : null,
      },
    ];
  });
}

/** Stamps the figure with now; `stats()` drops it once `workerTtlMs` passes without another. */
export async function reportThroughputOnRedis(
  commands: Redis,
  keys: RedisKeys,
  workerId: string,
  figure: ThroughputFigure,
  now: number,
): Promise<void> {
  const entry: ThroughputEntry = { ...figure, at: now };
  await commands.hset(keys.throughput, workerId, JSON.stringify(entry));
}
