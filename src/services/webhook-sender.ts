/**
 * One HTTP POST of a webhook attempt: no redirects followed (node:http never does), a deadline
 * for the whole exchange, and the connection made through the SSRF guard's lookup, so it goes to
 * the address that was checked. The answer is classified, never thrown.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  guardedLookup,
  isRefusedAddress,
  RefusedAddressError,
  type Resolve,
} from './webhook-address-guard.js';

/** How one attempt ended on the wire. */
export type SendResult =
  | { kind: 'response'; status: number }
  /** The guard refused the address: never retried. */
  | { kind: 'refused'; reason: string }
  /** Timeout, connection refused or reset, DNS failure: retried. */
  | { kind: 'error'; reason: string };

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
  /** @default the system resolver (node:dns lookup) */
  resolve?: Resolve;
}

/** POSTs `body` once. */
export function sendWebhook(options: SendOptions): Promise<SendResult> {
  const { url, headers, body, timeoutMs, allowPrivate, resolve } = options;
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An IP literal never reaches the lookup hook: check it here (enqueue refuses them anyway).
  if (!allowPrivate && isIP(host) !== 0 && isRefusedAddress(host)) {
    return Promise.resolve({
      kind: 'refused',
      reason: new RefusedAddressError(host, host).message,
    });
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((done) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(result);
    };
    const req = request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(allowPrivate, resolve),
        // A fresh connection per attempt: a pooled socket would skip the lookup, and its check.
        agent: false,
      },
      (response) => {
        // The status is all that counts; the body is not read, and the connection goes.
        finish({ kind: 'response', status: response.statusCode ?? 0 });
        response.destroy();
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: 'error', reason: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: Error) => {
      finish(
        error instanceof RefusedAddressError
          ? { kind: 'refused', reason: error.message }
          : { kind: 'error', reason: error.message },
      );
    });
    req.end(body);
  });
}
