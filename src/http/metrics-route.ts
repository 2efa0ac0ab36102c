/**
 * `/metrics` of every process that serves one (the API, and `hita worker` on its own port): the
 * process's Prometheus registry behind one bearer-token rule, so the two cannot drift apart.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { errors } from '../errors.js';
import { sendAppError } from './http-errors.js';

/** Who may scrape: the slice of `ApiConfig` the rule reads. */
export interface MetricsAccess {
  /** HITA_METRICS_TOKEN. */
  metricsToken: string | undefined;
  /** HITA_API_KEYS unset. */
  isDevelopmentMode: boolean;
}

/** Constant-time check of `Authorization: Bearer TOKEN`; false when either side is missing. */
export function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const presented = Buffer.from(header.replace(/^Bearer\s+/i, '').trim());
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * A scrape needs the token once one is set, and always once API keys are set (then an unset
 * token refuses every scrape); only development mode without a token is open.
 */
export function isScrapeAllowed(header: string | undefined, access: MetricsAccess): boolean {
  const isTokenRequired = access.metricsToken !== undefined || !access.isDevelopmentMode;
  return !isTokenRequired || bearerMatches(header, access.metricsToken);
}

/** The `/metrics` handler: the registry's text, or 401 UNAUTHENTICATED JSON. */
export function metricsRoute(registry: Registry, access: MetricsAccess): RequestHandler {
  return async (req, res) => {
    if (!isScrapeAllowed(req.get('authorization'), access)) {
      sendAppError(
        res,
        errors.unauthenticated('/metrics needs Authorization: Bearer HITA_METRICS_TOKEN'),
      );
      return;
    }
    res.type(registry.contentType).send(await registry.metrics());
  };
}
