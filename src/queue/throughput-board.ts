/**
 * The workers' throughput figures as both engines keep them: one entry per worker, stamped with
 * when it was reported, so an entry older than the queue's `workerTtlMs` (a worker that died
 * without retiring) no longer counts. The SQLite engine holds a board in memory; the Redis
 * engine stores the same entries as JSON in one hash and sums them with `liveThroughput`.
 */
import type { ThroughputFigure } from './job-queue.js';

/** A figure with the time it was reported (epoch ms). */
export interface ThroughputEntry extends ThroughputFigure {
  at: number;
}

/** Workers reported at once, at most: a bound on what a board (or the Redis hash) holds. */
export const MAX_THROUGHPUT_ENTRIES = 10_000;

/**
 * The sum of the entries reported after `seenSince`, and the workers whose entries are older.
 * @returns `imagesPerSecond` null when no entry is live
 */
export function liveThroughput(
  entries: Iterable<[string, ThroughputEntry]>,
  seenSince: number,
): { imagesPerSecond: number | null; stale: string[] } {
  let sum: number | null = null;
  const stale: string[] = [];
  for (const [workerId, entry] of entries) {
    if (
      entry.at > seenSince &&
      Number.isFinite(entry.imagesPerSecond) &&
      entry.imagesPerSecond >= 0
    ) {
      sum = (sum ?? 0) + entry.imagesPerSecond;
    } else stale.push(workerId);
  }
  return { imagesPerSecond: sum, stale };
}

/**
 * An entry as the Redis hash holds it, or null for text that is not one (a foreign or corrupt
 * field is ignored rather than breaking `stats()`).
 */
export function parseThroughputEntry(text: string): ThroughputEntry | null {
  try {
    const value = JSON.parse(text) as Partial<ThroughputEntry>;
    const { model, imagesPerSecond, at } = value;
    if (typeof model !== 'string' || typeof imagesPerSecond !== 'number') return null;
    if (typeof at !== 'number') return null;
    return { model, imagesPerSecond, at };
  } catch {
    return null;
  }
}

/** The in-memory board of one SQLite queue: the embedded deployment's workers share a process. */
export class ThroughputBoard {
  private readonly entries = new Map<string, ThroughputEntry>();

  report(workerId: string, figure: ThroughputFigure, at: number): void {
    // Re-inserted at the end, so the oldest report is the first to go when the board is full.
    this.entries.delete(workerId);
    this.entries.set(workerId, { ...figure, at });
    if (this.entries.size > MAX_THROUGHPUT_ENTRIES) {
      this.entries.delete(this.entries.keys().next().value ?? '');
    }
  }

  retire(workerId: string): void {
    this.entries.delete(workerId);
  }

  /** The live sum; entries of silent workers are dropped on the way. */
  imagesPerSecond(seenSince: number): number | null {
    const { imagesPerSecond, stale } = liveThroughput(this.entries, seenSince);
    stale.forEach((workerId) => this.entries.delete(workerId));
    return imagesPerSecond;
  }
}
