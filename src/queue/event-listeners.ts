/** How both queue engines hand events to their `onEvent` listeners. */
import type { JobEvent } from './job-queue.js';

/**
 * Hands one event to every listener. A listener's bug must not undo or hide a committed state
 * change, nor keep the other listeners (or a Redis subscription) from hearing it.
 */
export function tell(listeners: Iterable<(event: JobEvent) => void>, event: JobEvent): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch {
      // swallowed on purpose: see above
    }
  }
}
