/**
 * `hita worker`'s HTTP side on its own: /healthz, /metrics behind the shared token rule, JSON for
 * unknown routes, and a taken port named as HITA_WORKER_PORT instead of a bare EADDRINUSE.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startWorkerHttpServer, type WorkerHttpServer } from '../../src/http/worker-http-server.js';
import { Metrics } from '../../src/metrics.js';

const silent = { warn: () => undefined, error: () => undefined };
const servers: WorkerHttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(port: number, metricsToken?: string): Promise<WorkerHttpServer> {
  const metrics = new Metrics({ batchRows: async () => 3 });
  metrics.images.inc(2);
  const server = await startWorkerHttpServer({
    metrics,
    access: { isDevelopmentMode: true, metricsToken },
    health: () => ({ ok: true, draining: false, workers: [{ id: 'h:1:0', activeJobs: 1 }] }),
    logger: silent,
    port,
    host: '127.0.0.1',
  });
  servers.push(server);
  return server;
}

describe('the worker HTTP server', () => {
  it('answers /healthz, /metrics of this process only, and JSON for other routes', async () => {
    const server = await start(0);
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({
      ok: true,
      draining: false,
      workers: [{ id: 'h:1:0', activeJobs: 1 }],
    });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^hita_images_total 2$/m);
    expect(text).toMatch(/^hita_batch_rows 3$/m);
    expect(text).not.toContain('hita_queue_depth');
    const missing = await fetch(`${server.url}/graphql`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
  });

  it('needs the token once HITA_METRICS_TOKEN is set', async () => {
    const server = await start(0, 'worker-token-0123456789');
    const refused = await fetch(`${server.url}/metrics`);
    expect(refused.status).toBe(401);
    const allowed = await fetch(`${server.url}/metrics`, {
      headers: { authorization: 'Bearer worker-token-0123456789' },
    });
    expect(allowed.status).toBe(200);
  });

  it('names HITA_WORKER_PORT when the port is taken', async () => {
    const first = await start(0);
    const port = Number(new URL(first.url).port);
    await expect(start(port)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('HITA_WORKER_PORT'),
    });
  });
});
