import { timingSafeEqual } from 'node:crypto';
import { errors } from './errors.js';

/** The tenant of single-tenant development mode (no HITA_API_KEYS). */
export const DEV_TENANT = 'dev';

/**
 * API keys from `HITA_API_KEYS` (`key:tenant,key:tenant`). With no keys every request is the
 * development tenant.
 */
export class ApiKeys {
  private readonly keys: { key: Buffer; tenant: string }[];

  constructor(spec: string | undefined) {
    this.keys = [];
    for (const entry of (spec ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const at = entry.lastIndexOf(':');
      const key = entry.slice(0, at);
      const tenant = entry.slice(at + 1);
      if (at < 1 || !/^[A-Za-z0-9_-]{1,64}$/.test(tenant) || key.length < 8) {
        throw errors.badInput(
          'HITA_API_KEYS',
          'each entry is key:tenant, keys ≥ 8 characters, tenants [A-Za-z0-9_-]',
        );
      }
      this.keys.push({ key: Buffer.from(key), tenant });
    }
  }

  get isDevelopmentMode(): boolean {
    return this.keys.length === 0;
  }

  /**
   * The tenant of a presented key (`Authorization: Bearer KEY`, `x-api-key`, or a graphql-ws
   * `connection_init` payload field).
   * @throws AppError UNAUTHENTICATED for a missing or unknown key.
   */
  tenantOf(presented: string | undefined | null): string {
    if (this.isDevelopmentMode) return DEV_TENANT;
    const candidate = Buffer.from(presented?.replace(/^Bearer\s+/i, '').trim() ?? '');
    // Compare against every key in constant time, so timing never tells which prefix matched.
    let tenant: string | null = null;
    for (const { key, tenant: owner } of this.keys) {
      if (key.length === candidate.length && timingSafeEqual(key, candidate)) tenant = owner;
    }
    if (!tenant) {
      throw errors.unauthenticated(
        presented ? 'unknown API key' : 'an API key is required (Authorization: Bearer KEY)',
      );
    }
    return tenant;
  }
}
