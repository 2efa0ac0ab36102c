import { describe, expect, it } from 'vitest';
import { bearerMatches, isScrapeAllowed } from './metrics-route.js';

const TOKEN = 'scrape-token-0123456789';

describe('the /metrics token rule', () => {
  it('matches only the exact bearer token', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer   ${TOKEN} `, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}`, undefined)).toBe(false);
  });

  it('is open only in development mode without a token', () => {
    const dev = { isDevelopmentMode: true, metricsToken: undefined };
    expect(isScrapeAllowed(undefined, dev)).toBe(true);
    const devWithToken = { isDevelopmentMode: true, metricsToken: TOKEN };
    expect(isScrapeAllowed(undefined, devWithToken)).toBe(false);
    expect(isScrapeAllowed(`Bearer ${TOKEN}`, devWithToken)).toBe(true);
    const keys = { isDevelopmentMode: false, metricsToken: undefined };
    expect(isScrapeAllowed(undefined, keys)).toBe(false);
    expect(isScrapeAllowed('Bearer anything', keys)).toBe(false);
    const keysWithToken = { isDevelopmentMode: false, metricsToken: TOKEN };
    expect(isScrapeAllowed(`Bearer ${TOKEN}`, keysWithToken)).toBe(true);
  });
});
