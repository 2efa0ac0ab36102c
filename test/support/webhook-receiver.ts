/**
 * A local webhook receiver for tests: an HTTP server on 127.0.0.1 that checks every request's
 * Standard Webhooks signature with the `standardwebhooks` verifier, against the secrets it was
 * given, and answers as the test says (down, a status, a delay).
 */
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { freePort } from './free-port.js';

export interface ReceivedWebhook {
  id: string;
  type: string;
  /** The parsed body (`{ type, timestamp, data: { job } }`). */
  body: { type: string; timestamp: string; data: { job: Record<string, unknown> } };
  headers: Record<string, string>;
  /** The secrets (by their given name) whose verification passed. */
  verifiedBy: string[];
  at: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Every request that reached it, in arrival order. */
  received: ReceivedWebhook[];
  /** Connections it accepted (a refused-by-guard delivery never makes one). */
  connections: number;
  /** What it answers next: a status, after `delayMs`. @default 200 */
  respond: { status: number; delayMs: number };
  /** Starts listening (a receiver starts down unless `up` is given). */
  up(): Promise<void>;
  /** Stops listening: connections are refused. */
  down(): Promise<void>;
  close(): Promise<void>;
}

/** @param secrets name → `whsec_…` secret; each request is verified with each of them */
export async function startWebhookReceiver(
  secrets: Record<string, string>,
  { isUp = true, port: given }: { isUp?: boolean; port?: number } = {},
): Promise<WebhookReceiver> {
  const port = given ?? (await freePort());
  let server: Server | null = null;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received: [],
    connections: 0,
    respond: { status: 200, delayMs: 0 },
    async up() {
      if (server) return;
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const payload = Buffer.concat(chunks).toString('utf8');
          const headers = Object.fromEntries(
            Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
          );
          const verifiedBy = Object.entries(secrets).flatMap(([name, secret]) => {
            try {
              new Webhook(secret).verify(payload, headers);
              return [name];
            } catch {
              return [];
            }
          });
          const body = JSON.parse(payload) as ReceivedWebhook['body'];
          receiver.received.push({
            id: headers['webhook-id'] ?? '',
            type: body.type,
            body,
            headers,
            verifiedBy,
            at: Date.now(),
          });
          const { status, delayMs } = receiver.respond;
          setTimeout(() => res.writeHead(status).end(), delayMs).unref();
        });
      });
      server.on('connection', () => (receiver.connections += 1));
      await new Promise<void>((done) => server!.listen(port, '127.0.0.1', done));
    },
    async down() {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise((done) => s.close(done));
    },
    close: () => receiver.down(),
  };
  if (isUp) await receiver.up();
  return receiver;
}
