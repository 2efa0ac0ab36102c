// A load generator in its own process, so client work does not share the server's event loop:
//   node bench/load-client.mjs enqueue URL TOTAL CONCURRENCY         (autocannon)
//   node bench/load-client.mjs subscribe URL CLIENTS SUBS_PER_CLIENT   (reports when stdin closes)
// Prints one JSON line with its figures.
import autocannon from 'autocannon';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [mode, url, a, b] = process.argv.slice(2);

/** autocannon drives the mutations: fetch spends about as much CPU per request as the server's
 * whole mutation, and on two shared cores that would measure the client. */
async function enqueue(total, concurrency) {
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  const instance = autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation { generateImages(input: { classId: 1 }) { id } }' }),
    connections: concurrency,
    amount: total,
  });
  instance.on('response', () => {
    lastResponseAt = performance.now();
  });
  const result = await instance;
  if (result.non2xx || result.errors || result.timeouts) {
    throw new Error(`failed requests: ${JSON.stringify(result)}`);
  }
  // Not autocannon's `duration`: with `amount` it ends at the next 1 s sample tick, so a rate
  // from it can only be total / 2.0x, total / 3.0x, … (1,470, 980, 739/s for 3,000 requests).
  const seconds = (lastResponseAt - startedAt) / 1000;
  return {
    mutations: result.requests.total,
    concurrency,
    seconds,
    perSecond: result.requests.total / (seconds || 1e-9),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

async function subscribe(clients, perClient) {
  const latencies = [];
  const sockets = Array.from({ length: clients }, () =>
    createClient({
      url: url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    }),
  );
  for (const client of sockets) {
    for (let i = 0; i < perClient; i++) {
      client.subscribe(
        { query: 'subscription { jobsUpdated { sequence at } }' },
        {
          next: ({ data }) => latencies.push(Date.now() - Date.parse(data.jobsUpdated.at)),
          error: () => {},
          complete: () => {},
        },
      );
    }
  }
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.on('end', resolve).resume());
  await Promise.all(sockets.map((client) => client.dispose()));
  latencies.sort((x, y) => x - y);
  const pick = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return {
    subscriptions: clients * perClient,
    delivered: latencies.length,
    p50Ms: pick(50),
    p99Ms: pick(99),
    maxMs: latencies.at(-1),
  };
}

const figures =
  mode === 'enqueue' ? await enqueue(Number(a), Number(b)) : await subscribe(Number(a), Number(b));
process.stdout.write(`${JSON.stringify(figures)}\n`);
