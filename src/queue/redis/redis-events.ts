/** What a process does with a message on the queue's Redis channel. */
import { tell } from '../event-listeners.js';
import type { JobEvent } from '../job-queue.js';
import type { WorkSignal } from '../work-signal.js';
import { WORK_SIGNAL } from './lua-held-scripts.js';
import { parseEvent } from './redis-records.js';

/**
 * Parses one published message and hands the event to `listeners`; wakes waiting workers for
 * work signals and for events that make a job claimable.
 */
export function deliverMessage(
  message: string,
  work: WorkSignal,
  listeners: Iterable<(event: JobEvent) => void>,
): void {
  if (message === WORK_SIGNAL) {
    work.notify();
    return;
  }
  let event: JobEvent;
  try {
    event = parseEvent(message);
  } catch {
    return; // not one of ours: something else published on the channel
  }
  if (event.type === 'added' || event.type === 'retrying') work.notify();
  tell(listeners, event); // a listener's bug must not stop the others or the subscription
}
