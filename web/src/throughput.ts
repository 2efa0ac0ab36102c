/**
 * The header's queue line: jobs waiting and running, live workers, and the images per second
 * they measured (the sum over the cluster; "not measured yet" until a worker has).
 */
import { fetchQueueStatus } from './api';
import type { QueueStatus } from './operations';
import { $ } from './ui';

/** The line for one answer of the `queue` query. */
export function queueLine(queue: QueueStatus): string {
  const rate =
    queue.imagesPerSecond === null
      ? 'throughput not measured yet'
      : `${queue.imagesPerSecond.toFixed(2)} images/s`;
  const workers = `${queue.workers} worker${queue.workers === 1 ? '' : 's'}`;
  return `${queue.depth} queued · ${queue.running} running · ${workers} · ${rate}`;
}

/** Polls the queue every `intervalMs` into `#queue-status`; returns the stop function. */
export function pollQueueStatus(intervalMs = 3000): () => void {
  async function refresh(): Promise<void> {
    $('#queue-status').textContent = queueLine(await fetchQueueStatus());
  }
  void refresh().catch(() => undefined);
  const timer = setInterval(() => {
    refresh().catch(() => undefined);
  }, intervalMs);
  return () => clearInterval(timer);
}
