/** How both queue engines hand events to their `onEvent` listeners (and previews to theirs). */

/**
 * Hands one event to every listener. A listener's bug must not undo or hide a committed state
 * change, nor keep the other listeners (or a Redis subscription) from hearing it.
 */
export function tell<T>(listeners: Iterable<(event: T) => void>, event: T): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch {
      // swallowed on purpose: see above
    }
  }
}
