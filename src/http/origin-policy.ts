/**
 * Which browser origins may call the API. Same origin always; others only when listed in
 * HITA_CORS_ORIGINS. It governs CORS on HTTP and the WebSocket upgrade, where browsers send no
 * preflight, so the `Origin` header is checked at the handshake. Clients that are not browsers
 * send no Origin and pass.
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicyOptions {
  /** Allowed cross origins, such as `https://app.example.com`. */
  allowed: readonly string[];
  /** The public origin behind a proxy (HITA_PUBLIC_URL), also same-origin. */
  publicUrl?: string | undefined;
}

export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly publicOrigin: string | null;

  constructor({ allowed, publicUrl }: OriginPolicyOptions) {
    this.allowed = new Set(allowed.map((origin) => origin.toLowerCase()));
    this.publicOrigin = publicUrl ? new URL(publicUrl).origin.toLowerCase() : null;
  }

  /** Listed for cross-origin use (CORS answers only these). */
  isListed(origin: string): boolean {
    return this.allowed.has(origin.toLowerCase());
  }

  /** Whether a request with this Origin header (undefined for non-browsers) may proceed. */
  admits(origin: string | undefined, request: IncomingMessage): boolean {
    if (origin === undefined) return true;
    const normalised = origin.toLowerCase();
    if (this.isListed(normalised) || normalised === this.publicOrigin) return true;
    // Same origin: the page was served by the host the browser is talking to.
    const host = request.headers.host?.toLowerCase();
    if (!host) return false;
    try {
      return new URL(normalised).host === host;
    } catch {
      return false;
    }
  }
}
