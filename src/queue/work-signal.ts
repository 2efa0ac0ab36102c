/** Wakes workers parked in `waitForWork`, one signal per queue instance. */

/**
 * Wakes `waitForWork` callers: `notify()` resolves every pending wait, a wait resolves by itself
 * after its timeout, and `close()` releases everyone so shutdown never hangs on a sleeping worker.
 */
export class WorkSignal {
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /** Bumped by every notify: a waiter that started before an async step compares it. */
  private notifications = 0;

  get version(): number {
    return this.notifications;
  }

  /**
   * @param since a `version` read before the caller's own async work: a notify that landed in
   *   between wakes the caller at once instead of being lost.
   */
  wait(timeoutMs: number, since = this.notifications): Promise<void> {
    // After close a worker loop must fall through at once and see the queue is gone.
    if (this.closed || since !== this.notifications) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      // Not unref'd: a worker loop parked here is what keeps a worker-only process alive.
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }

  notify(): void {
    this.notifications++;
    for (const done of [...this.waiters]) done();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }
}
