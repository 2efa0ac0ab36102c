// A load generator in its own process, so client work does not share the server's event loop:
//   node bench/load-client.mjs enqueue URL TOTAL CONCURRENCY
//   node bench/load-client.mjs subscribe URL CLIENTS SUBS_PER_CLIENT   (reports when stdin closes)
// Prints one JSON line with its figures.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [mode, url, a, b] = process.argv.slice(2);

async function enqueue(total, concurrency) {
  const body = JSON.stringify({
    query: 'mutation { generateImages(input: { classId: 1 }) { id } }',
  });
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const result = await response.json();
      if (result.errors) throw new Error(JSON.stringify(result.errors));
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { mutations: total, concurrency, perSecond: total / ((performance.now() - start) / 1000) };
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
