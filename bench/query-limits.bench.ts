/**
 * Hardening figures: the server as production runs it (a child process, NODE_ENV=production,
 * API keys) holding about 100 finished 4-image jobs, sent the 5,000-alias page query that once
 * took it down. It must be refused with QUERY_TOO_COMPLEX in milliseconds, with no RSS growth.
 */
import { it } from 'vitest';
import { startServerProcess } from '../test/support/server-process.js';
import { record, timed } from './support.js';

const KEY = 'bench-key-000000001';
const JOBS = 100;
const PAGE = 'jobs(first: 100) { edges { node { outputs { url thumbnailUrl } } } }';

it('the 5,000-alias page query against ~100 finished 4-image jobs', async () => {
  const server = await startServerProcess({
    env: { NODE_ENV: 'production', HITA_API_KEYS: `${KEY}:bench`, HITA_JOBS_PER_WORKER: '16' },
  });
  const auth = { authorization: `Bearer ${KEY}` };
  try {
    for (let i = 0; i < JOBS; i++) {
      await server.gql(
        `mutation { generateImages(input: { classId: ${i % 4}, count: 4, seed: ${i * 4} }) { id } }`,
        {},
        auth,
      );
    }
    for (;;) {
      const { data } = await server.gql<{ queue: { depth: number; running: number } }>(
        '{ queue { depth running } }',
        {},
        auth,
      );
      if (data && data.queue.depth + data.queue.running === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const attack = JSON.stringify({
      query: `{ ${Array.from({ length: 5000 }, (_, i) => `a${i}: ${PAGE}`).join(' ')} }`,
    });
    const rssBefore = server.rss();
    let peakRss = rssBefore;
    const latencies: number[] = [];
    let code: unknown;
    for (let run = 0; run < 10; run++) {
      const { seconds, value } = await timed(async () => {
        const response = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: attack,
        });
        return (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      });
      latencies.push(seconds * 1000);
      code = value.errors?.[0]?.extensions?.code;
      peakRss = Math.max(peakRss, server.rss());
    }
    latencies.sort((a, b) => a - b);
    record('hardening', {
      figure: '5,000-alias page query, ~100 finished 4-image jobs, production mode',
      bodyKB: Math.round(attack.length / 1024),
      code,
      medianMs: latencies[5],
      maxMs: latencies.at(-1),
      rssBeforeMiB: rssBefore / 2 ** 20,
      rssGrowthMiB: (peakRss - rssBefore) / 2 ** 20,
    });
  } finally {
    await server.stop();
  }
});
