/**
 * Job events over graphql-ws: one lazy client per API key, and `followJob`, which resubscribes
 * after a disconnect from the last sequence it saw.
 */
import type { ResultOf, VariablesOf } from 'gql.tada';
import { createClient, type Client } from 'graphql-ws';
import { apiKey, onApiKeyChange } from './api-key';
import { JOB_UPDATED, type JobEvent } from './operations';

let client: Client | null = null;

function wsClient(): Client {
  if (!client) {
    const url = new URL('graphql', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // No automatic retries: a retry would resubscribe with the original afterSequence, so
    // followJob resubscribes itself with the last sequence it saw.
    client = createClient({
      url: url.href,
      lazy: true,
      retryAttempts: 0,
      // Read at every connect, so a new socket always carries the key in use.
      connectionParams: () => {
        const key = apiKey();
        return key ? { apiKey: key } : {};
      },
    });
  }
  return client;
}

// The server checks the key once per socket: a new key needs a new socket.
onApiKeyChange(() => {
  void client?.dispose();
  client = null;
});

export interface FollowHandlers {
  event(event: JobEvent): void;
  /** The connection dropped; `attempt` counts the resubscriptions so far. */
  reconnecting?(attempt: number, error: unknown): void;
  done?(): void;
}

/**
 * Follows one job until it ends. After a disconnect it subscribes again with the last sequence
 * seen as `afterSequence`, so the server replays exactly what was missed. Returns a stop function.
 */
export function followJob(id: string, afterSequence: number, handlers: FollowHandlers): () => void {
  let last = afterSequence;
  let stopped = false;
  let attempt = 0;
  let unsubscribe: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const start = (): void => {
    const variables: VariablesOf<typeof JOB_UPDATED> = { id, after: last };
    unsubscribe = wsClient().subscribe<ResultOf<typeof JOB_UPDATED>>(
      { query: JOB_UPDATED, variables },
      {
        next: (value) => {
          const event = value.data?.jobUpdated;
          if (!event) return;
          // A preview repeats the last sequence and is never replayed: pass it, keep `last`.
          if (event.type === 'preview') {
            handlers.event(event);
            return;
          }
          if (event.sequence <= last) return;
          last = event.sequence;
          attempt = 0;
          handlers.event(event);
        },
        error: (error) => {
          if (stopped) return;
          // A GraphQL error list (NOT_FOUND, say) will not get better by retrying.
          if (Array.isArray(error)) {
            stopped = true;
            handlers.done?.();
            return;
          }
          attempt += 1;
          handlers.reconnecting?.(attempt, error);
          timer = setTimeout(start, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
        },
        complete: () => {
          if (stopped) return;
          stopped = true;
          handlers.done?.();
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
  };
}
