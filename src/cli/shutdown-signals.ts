/**
 * The one signal path of `hita serve` and `hita worker` (Apollo's own handler is off):
 * - the first SIGTERM or SIGINT closes gracefully (`Running.close`: new jobs refused, running ones
 *   drained within HITA_DRAIN_SECONDS, the rest handed back, sockets closed with 1001), flushes
 *   the logs and exits 0;
 * - a second one hands back whatever still runs at once and exits with 128 + the signal's number
 *   (130 for SIGINT, 143 for SIGTERM) within `hurryMs`.
 * The process never exits while an engine thread may be inside `session.run`: exiting (or
 * terminating the thread) there aborts with `terminate called after throwing an instance of
 * 'Napi::Error'`. When the engines do not stop in time, the process dies by the signal itself
 * instead, whose default action runs no teardown at all.
 */
import { pino, type Logger } from 'pino';
import type { Running } from '../main.js';

/** Options of `runUntilSignal`. */
export interface RunUntilSignalOptions {
  logger: Logger;
  /** After a second signal, how long hand-back and close may take before the signal kills us. @default 1500 */
  hurryMs?: number;
}

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
type HandledSignal = keyof typeof SIGNAL_NUMBERS;

/**
 * Starts the process's service and never resolves: every way out is a `process.exit` (or the
 * signal itself). The handlers are in place before `start` runs, so a signal during the start
 * closes what has started. @throws whatever `start` throws
 */
export async function runUntilSignal(
  start: () => Promise<Running>,
  options: RunUntilSignalOptions,
): Promise<never> {
  const { logger, hurryMs = 1500 } = options;
  const started = start();
  let closing: Promise<void> | null = null;
  /** 0 until a second signal; then 128 + its number. */
  let exitCode = 0;

  const flushSync = () => {
    try {
      // pino's default stdout stream (sonic-boom) writes asynchronously; exit must not lose lines.
      const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
      (stream as { flushSync?: () => void } | undefined)?.flushSync?.();
    } catch {
      // A full or closed stdout must not keep the process from ending.
    }
  };
  const exit = (code: number) => {
    flushSync();
    process.exit(code);
  };
  const dieBy = (signal: HandledSignal) => {
    logger.warn({ signal }, 'shutdown did not finish in time: exiting by the signal');
    flushSync();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, signal); // no listener left: the default action ends the process
  };

  function onSignal(signal: HandledSignal): void {
    if (!closing) {
      logger.info(
        { signal },
        'shutting down: no new jobs, running ones drain (a second signal hurries)',
      );
      closing = started.then((running) => running.close());
      closing.then(
        () => {
          logger.info({}, 'shut down');
          exit(exitCode);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          exit(exitCode || 1);
        },
      );
      return;
    }
    if (exitCode !== 0) {
      dieBy(signal); // a third signal
      return;
    }
    // The close in progress ends soon once nothing waits for the engines, and exits with this.
    exitCode = 128 + SIGNAL_NUMBERS[signal];
    logger.warn({ signal }, 'second signal: handing back the running jobs and exiting');
    setTimeout(() => dieBy(signal), hurryMs).unref();
    started
      .then((running) => running.handBack())
      .catch((error: unknown) => logger.error({ err: error }, 'handing back failed'));
  }

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await started;
  return new Promise<never>(() => undefined);
}
