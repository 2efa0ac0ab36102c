/**
 * The fs store's presigned URLs: `${baseUrl}/objects/<key>?method=&expires=&signature=`, where the
 * signature is a hex HMAC-SHA256 over "METHOD\nkey\nexpires" (plus "\ncontentType" when a PUT fixes
 * one, which then also travels as `contentType=`). `expires` is in unix seconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What `signUrl` needs besides the secret. */
export interface UrlToSign {
  method: 'GET' | 'PUT';
  key: string;
  /** Whole seconds the URL lives, at least (expiry is rounded up to the next second). */
  expiresSeconds: number;
  /** The API's public origin; the router is mounted at `${baseUrl}/objects`. */
  baseUrl: string;
  contentType?: string | undefined;
}

/** The parts of a request that `verifySignedUrl` checks; query values arrive as strings or not at all. */
export interface SignedUrlParts {
  /** The HTTP method the request uses (HEAD is checked as GET). */
  method: string;
  key: string;
  expires: string | undefined;
  signature: string | undefined;
  contentType?: string | undefined;
}

export type SignedUrlVerdict =
  { isValid: true; remainingSeconds: number } | { isValid: false; message: string };

function sign(
  secret: string,
  method: string,
  key: string,
  expires: string,
  contentType?: string,
): Buffer {
  const fields = [method, key, expires, ...(contentType === undefined ? [] : [contentType])];
  return createHmac('sha256', secret).update(fields.join('\n')).digest();
}

/** Builds a presigned URL; the caller has validated key and lifetime. */
export function signUrl(signingSecret: string, url: UrlToSign, nowMs = Date.now()): string {
  const { method, key, expiresSeconds, baseUrl, contentType } = url;
  const expires = String(Math.ceil(nowMs / 1000) + expiresSeconds);
  const signature = sign(signingSecret, method, key, expires, contentType).toString('hex');
  const query = new URLSearchParams({
    method,
    expires,
    ...(contentType === undefined ? {} : { contentType }),
    signature,
  });
  // Segment by segment, so "/" stays a separator and "+", spaces and unicode are escaped.
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/objects/${path}?${query.toString()}`;
}

/**
 * Checks a presigned URL: the signature first (in constant time), then expiry, so that a forged
 * `expires` reads as a bad signature rather than as an expired URL.
 */
export function verifySignedUrl(
  signingSecret: string,
  parts: SignedUrlParts,
  nowMs = Date.now(),
): SignedUrlVerdict {
  const { key, expires, signature, contentType } = parts;
  if (!/^\d{1,12}$/.test(expires ?? '') || !/^[0-9a-f]{64}$/.test(signature ?? '')) {
    return {
      isValid: false,
      message: 'signature missing or malformed: expected expires and a hex signature',
    };
  }
  const method = parts.method === 'HEAD' ? 'GET' : parts.method;
  const expected = sign(signingSecret, method, key, expires!, contentType);
  if (!timingSafeEqual(Buffer.from(signature!, 'hex'), expected)) {
    return { isValid: false, message: 'signature does not match this method, key and expiry' };
  }
  const remainingMs = Number(expires) * 1000 - nowMs;
  if (remainingMs <= 0) return { isValid: false, message: 'URL expired' };
  return { isValid: true, remainingSeconds: Math.floor(remainingMs / 1000) };
}
