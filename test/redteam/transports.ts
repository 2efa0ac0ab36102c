/** One GraphQL operation over each transport, answered in one shape, for the red-team suite. */
import type { Client as SseClient } from 'graphql-sse';
import type { Client } from 'graphql-ws';
import type { ServerProcess } from '../support/server-process.js';

export interface GraphQLErrorShape {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface Answer {
  transport: 'http' | 'ws' | 'sse';
  /**
   * HTTP status, or for graphql-ws 200 for a result and the close code when the socket closed;
   * for graphql-sse 200 for a result in the stream and the status of a refused request.
   */
  status: number;
  data?: unknown;
  errors: GraphQLErrorShape[];
  extensions?: Record<string, unknown>;
  /** Everything received, as text, for leak checks. */
  raw: string;
}

/** Runs one operation over graphql-ws and resolves with its first result or its errors. */
export function overWs(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: Omit<Answer, 'transport'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      resolve({ transport: 'ws', ...answer });
    };
    const timer = setTimeout(() => finish({ status: 0, errors: [], raw: 'timeout' }), timeoutMs);
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) =>
          finish({
            status: 200,
            data: result.data,
            errors: (result.errors ?? []) as GraphQLErrorShape[],
            ...(result.extensions
              ? { extensions: result.extensions as Record<string, unknown> }
              : {}),
            raw: JSON.stringify(result),
          }),
        error: (error: unknown) => {
          if (Array.isArray(error)) {
            finish({
              status: 200,
              errors: error as GraphQLErrorShape[],
              raw: JSON.stringify(error),
            });
          } else {
            const code = (error as { code?: number }).code ?? -1;
            const reason = (error as { reason?: string }).reason ?? String(error);
            finish({ status: code, errors: [], raw: reason });
          }
        },
        complete: () => finish({ status: 200, errors: [], raw: 'complete' }),
      },
    );
  });
}

/**
 * Runs one operation over graphql-sse (either mode, as the client was made) and resolves with
 * its first result, or with the refused request's status and JSON body (graphql-sse's client
 * reports a non-2xx answer as a NetworkError holding the response).
 */
export function overSse(
  client: SseClient<boolean>,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: Omit<Answer, 'transport'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      resolve({ transport: 'sse', ...answer });
    };
    const timer = setTimeout(() => finish({ status: 0, errors: [], raw: 'timeout' }), timeoutMs);
    const refused = async (error: unknown) => {
      const response = (error as { response?: Response }).response;
      if (!response) return finish({ status: -1, errors: [], raw: String(error) });
      const raw = await response.text().catch(() => '');
      let errors: GraphQLErrorShape[] = [];
      try {
        errors = (JSON.parse(raw) as { errors?: GraphQLErrorShape[] }).errors ?? [];
      } catch {
        // not JSON: the code checks report it
      }
      finish({ status: response.status, errors, raw });
    };
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) =>
          finish({
            status: 200,
            data: result.data,
            errors: (result.errors ?? []) as unknown as GraphQLErrorShape[],
            ...(result.extensions
              ? { extensions: result.extensions as Record<string, unknown> }
              : {}),
            raw: JSON.stringify(result),
          }),
        error: (error: unknown) => void refused(error),
        complete: () => finish({ status: 200, errors: [], raw: 'complete' }),
      },
    );
  });
}

/** POSTs one operation (or any body) and parses the answer when it is JSON. */
export async function overHttp(
  server: ServerProcess,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const raw = await response.text();
  let parsed: {
    data?: unknown;
    errors?: GraphQLErrorShape[];
    extensions?: Record<string, unknown>;
  } = {};
  try {
    parsed = JSON.parse(raw) as typeof parsed;
  } catch {
    // not JSON: the leak checks and the code checks below report it
  }
  return {
    transport: 'http',
    status: response.status,
    data: parsed.data,
    errors: parsed.errors ?? [],
    ...(parsed.extensions ? { extensions: parsed.extensions } : {}),
    raw,
  };
}

/** The code of the first error, or undefined. */
export const codeOf = (answer: Answer): unknown => answer.errors[0]?.extensions?.code;

/** Text that must never reach a client: stack frames, source paths, Node internals. */
export function leaks(answer: Answer): string[] {
  const found: string[] = [];
  if (/stacktrace/i.test(answer.raw)) found.push('stacktrace');
  if (answer.raw.includes(process.cwd())) found.push('a server path');
  if (/node_modules|node:internal|\bat \S+ \(/.test(answer.raw)) found.push('a stack frame');
  if (/<html|<!DOCTYPE/i.test(answer.raw)) found.push('an HTML page');
  return found;
}
