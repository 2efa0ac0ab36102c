/**
 * A controllable clock for the queue engines' `clock` tunable (src/queue/queue-tunables.ts): it
 * stands still at its start time and moves only when a test advances it. Everything an engine
 * decides on its clock (backoffs, leases, TTLs, retention, worker liveness, timestamps; the
 * Redis engine passes it to every Lua script as `now`) then follows the test, not the machine.
 *
 * Real time still drives what no clock option reaches: timers (sweep intervals, waitForWork's
 * sleep) and BullMQ's own dispatch (delayed jobs, lock expiry, its stalled check). A test that
 * advances past a backoff or a lease therefore still waits for BullMQ to deliver on the Redis
 * engine, but never asserts how long that took.
 */
export class TestClock {
  private nowMs: number;

  /** @param startMs the epoch ms it starts at. @default Date.now() */
  constructor(startMs = Date.now()) {
    this.nowMs = startMs;
  }

  /** Milliseconds since the epoch, as `JobQueueTunables.clock` wants; bound, pass it as is. */
  readonly now = (): number => this.nowMs;

  /** Moves the clock forward by `ms` (never back: the engines assume a monotonic clock). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`expected a clock advance ≥ 0 ms, got ${ms}`);
    this.nowMs += ms;
  }
}
