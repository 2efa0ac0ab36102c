import type { ServerProcess } from './server-process.js';

export interface WatchdogReport {
  samples: number;
  maxRssBytes: number;
  /** Slowest /healthz answer, ms (a timeout counts as the timeout). */
  maxHealthMs: number;
  /** /healthz calls that failed or took longer than `healthTimeoutMs`. */
  healthFailures: number;
}

/**
 * Samples a server's RSS (from /proc) and the latency of /healthz every `intervalMs`, until
 * stopped: the red-team suite asserts that no attack starves the event loop or the heap.
 */
export function watch(
  server: ServerProcess,
  { intervalMs = 100, healthTimeoutMs = 1000 } = {},
): { stop(): Promise<WatchdogReport> } {
  const report: WatchdogReport = { samples: 0, maxRssBytes: 0, maxHealthMs: 0, healthFailures: 0 };
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    report.samples++;
    try {
      report.maxRssBytes = Math.max(report.maxRssBytes, server.rss());
    } catch {
      // the process is gone; the health check below counts it
    }
    // One health probe at a time: a slow server shows as long probes, not as a pile of them.
    inFlight = inFlight.then(async () => {
      const started = performance.now();
      try {
        const response = await fetch(`${server.url}/healthz`, {
          signal: AbortSignal.timeout(healthTimeoutMs),
        });
        await response.arrayBuffer();
        if (!response.ok) report.healthFailures++;
      } catch {
        report.healthFailures++;
      }
      report.maxHealthMs = Math.max(report.maxHealthMs, performance.now() - started);
    });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return report;
    },
  };
}
