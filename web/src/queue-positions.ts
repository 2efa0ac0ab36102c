/**
 * Queue positions and estimated starts: another job's progress moves a queued one up, and its
 * estimate along, without an event of its own.
 */
import { fetchQueuePositions } from './api';
import type { DemoState } from './state';

export interface QueuePositionsOptions {
  state: DemoState;
  /** Called when a queued job's position changed. */
  onChange(): void;
  /** @default 2000 */
  intervalMs?: number;
}

/** Polls the queued jobs' positions while the page has any; returns the stop function. */
export function pollQueuePositions({
  state,
  onChange,
  intervalMs = 2000,
}: QueuePositionsOptions): () => void {
  async function refresh(): Promise<void> {
    if (![...state.jobs.values()].some((tracked) => tracked.job.status === 'QUEUED')) return;
    let changed = false;
    for (const node of await fetchQueuePositions()) {
      const tracked = state.jobs.get(node.id);
      if (!tracked || tracked.job.status !== 'QUEUED') continue;
      if (node.queuePosition !== tracked.job.queuePosition) {
        tracked.job = { ...tracked.job, queuePosition: node.queuePosition };
        changed = true;
      }
      if (node.estimatedStartAt !== (tracked.startsAt ?? null)) {
        tracked.startsAt = node.estimatedStartAt;
        changed = true;
      }
    }
    if (changed) onChange();
  }

  const timer = setInterval(() => {
    refresh().catch(() => undefined);
  }, intervalMs);
  return () => clearInterval(timer);
}
