import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobProducer } from './queue/job-queue.js';

export interface MetricsSources {
  queue: JobProducer;
  /** Active batch rows over this process's engines. */
  batchRows: () => Promise<number>;
}

/** Prometheus metrics of one process, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly images: Counter;
  readonly stepSeconds: Histogram;

  constructor(sources: MetricsSources) {
    const { registry } = this;
    collectDefaultMetrics({ register: registry });
    new Gauge({
      name: 'hita_queue_depth',
      help: 'Jobs waiting in the queue',
      registers: [registry],
      async collect() {
        this.set((await sources.queue.stats()).depth);
      },
    });
    new Gauge({
      name: 'hita_jobs',
      help: 'Jobs by status',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const { byStatus } = await sources.queue.stats();
        for (const [status, count] of Object.entries(byStatus)) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'hita_batch_rows',
      help: 'Rows in the running batches of this process',
      registers: [registry],
      async collect() {
        this.set(await sources.batchRows());
      },
    });
    this.images = new Counter({
      name: 'hita_images_total',
      help: 'Images generated (rate() gives images/s)',
      registers: [registry],
    });
    this.stepSeconds = new Histogram({
      name: 'hita_step_seconds',
      help: 'Seconds per token step of a running job (batched: one step advances every row)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  }
}
