/**
 * docker-compose.yml against the code it deploys: every variable it sets for our images is one
 * src/config.ts reads and accepts, the API listens where its published port reaches it, each
 * worker's health and metrics port is reachable on the compose network, and each GPU worker
 * reserves exactly one GPU.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { env } from '../../src/config.js';

interface Service {
  build?: { context: string; target: string };
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  expose?: (string | number)[];
  healthcheck?: { test?: string[] };
  deploy?: { resources?: { reservations?: { devices?: Record<string, unknown>[] } } };
}

// merge: the services share their variables through a YAML merge key (<<: *shared-env).
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const ours = Object.entries(compose.services).filter(([, s]) => s.build?.context === '.');
const workers = ours.filter(([, s]) => s.build?.target === 'worker-cuda');

/** The environment as the container sees it: `${VAR:-default}` as its default, values as strings. */
function resolved(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [
      key,
      String(value).replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, fallback?: string) => fallback ?? ''),
    ]),
  );
}

describe('docker-compose.yml', () => {
  it('builds the api and at least one worker from this repository', () => {
    expect(ours.map(([name]) => name)).toContain('api');
    expect(workers.length).toBeGreaterThan(0);
  });

  it.each(ours)('%s: sets only variables the config reads, with values it accepts', (_, s) => {
    const unknown = Object.keys(s.environment ?? {}).filter((key) => !(key in env.shape));
    expect(unknown).toEqual([]);
    const parsed = env.safeParse(resolved(s));
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it('api: listens on all interfaces, on the port it publishes', () => {
    const api = compose.services.api!;
    const vars = resolved(api);
    expect(vars.HITA_HOST).toBe('0.0.0.0');
    const published = (api.ports ?? []).map((p) => String(p).split(':').at(-1));
    expect(published).toContain(vars.PORT ?? '4000');
  });

  it.each(workers)(
    '%s: exposes /healthz and /metrics on all interfaces, and probes /healthz',
    (_, s) => {
      const vars = resolved(s);
      expect(vars.HITA_HOST).toBe('0.0.0.0');
      const port = vars.HITA_WORKER_PORT ?? '9400';
      expect((s.expose ?? []).map(String)).toContain(port);
      expect((s.healthcheck?.test ?? []).join(' ')).toContain(`localhost:${port}/healthz`);
    },
  );

  it.each(workers)('%s: reserves exactly one GPU', (_, s) => {
    const devices = s.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
  });
});
