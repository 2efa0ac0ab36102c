/**
 * Fair claims across tenants, the same rule in both engines: start-time fair queuing (Goyal,
 * Vin and Cheng, "Start-time Fair Queuing", SIGCOMM 1996) over image counts. Each job gets a
 * static tag at enqueue, and claims take jobs by (priority desc, tag, creation, id): within one
 * priority level the order is fair, and it stays one index lookup on a 100,000-deep queue, and
 * `queuePosition` is a count of smaller keys.
 *
 * Why tags rather than a deficit counter kept at claim time: the order is a plain sort key, so
 * the claim, the position and the images ahead are index reads, and a job handed back (shutdown,
 * a lost worker, a retry) keeps its place because its tag never changes.
 */
import type { JobParams } from './job-record.js';

/** `fair`: rotate among tenants within a priority; `fifo`: priority, then age (as before). */
export type SchedulingMode = 'fair' | 'fifo';

/** The scheduling tunables both engines accept (`JobQueueTunables` carries them). */
export interface SchedulingTunables {
  /** @default 'fair' */
  scheduling?: SchedulingMode;
  /** Tenant → weight (1 … 1000); a tenant of weight 2 gets twice the images. @default 1 each */
  tenantWeights?: Readonly<Record<string, number>>;
  /** QUEUED jobs one tenant may hold (held jobs count); beyond: QUEUE_FULL, scope tenant. */
  tenantMaxQueued?: number;
  /** RUNNING jobs one tenant may hold; a tenant at its cap is skipped by claims. */
  tenantMaxRunning?: number;
}

/** Tag units per image at weight 1, so a weight up to 1000 still divides into integers. */
export const TAG_UNITS_PER_IMAGE = 1_000_000;

/** Weights lie in [1, MAX_TENANT_WEIGHT]. */
export const MAX_TENANT_WEIGHT = 1000;

/** The images a job makes: its `count` (1 for records without one). */
export function imagesOf(params: JobParams): number {
  const count = (params as { count?: unknown }).count;
  return typeof count === 'number' && Number.isInteger(count) && count > 0 ? count : 1;
}

/** How far a job moves its tenant's virtual clock: images over the tenant's weight. */
export function tagCost(
  images: number,
  tenant: string,
  weights: Readonly<Record<string, number>>,
): number {
  // Own keys only: a tenant may be called `constructor`.
  const weight = Object.hasOwn(weights, tenant) ? (weights[tenant] ?? 1) : 1;
  return Math.max(1, Math.round((images * TAG_UNITS_PER_IMAGE) / weight));
}

/**
 * A new job's start tag: the queue's virtual time (the largest tag claimed so far), or later
 * when the tenant still has jobs waiting whose tags reach further (its last finish tag). A tenant
 * with nothing waiting starts at the virtual time: an idle tenant neither banks credit nor pays
 * for jobs it cancelled.
 */
export function startTag(virtualTime: number, tenantFinish: number, tenantQueued: number): number {
  return tenantQueued > 0 ? Math.max(virtualTime, tenantFinish) : virtualTime;
}

/** Tenants HITA_TENANT_WEIGHTS may name, and its length in characters: bounds on the input. */
const MAX_WEIGHTED_TENANTS = 10_000;
const MAX_WEIGHTS_CHARS = MAX_WEIGHTED_TENANTS * 140;
/** One entry: a tenant as HITA_API_KEYS spells it, a colon, a whole weight. */
const TENANT_WEIGHT = /^([A-Za-z0-9_-]{1,128}):(\d{1,4})$/;

/**
 * `tenant:weight,…` (HITA_TENANT_WEIGHTS) as a map, or the first problem: an entry of another
 * shape, a weight outside 1 … MAX_TENANT_WEIGHT, a tenant named twice, or too long a list.
 */
export function parseTenantWeights(
  text: string,
): { weights: Record<string, number> } | { problem: string } {
  if (text.length > MAX_WEIGHTS_CHARS)
    return { problem: `expected at most ${MAX_WEIGHTS_CHARS} characters` };
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length > MAX_WEIGHTED_TENANTS)
    return { problem: `expected at most ${MAX_WEIGHTED_TENANTS} tenants` };
  // No prototype: tenants such as `__proto__` or `constructor` are plain keys here.
  const weights = Object.create(null) as Record<string, number>;
  for (const entry of entries) {
    const match = TENANT_WEIGHT.exec(entry);
    const tenant = match?.[1];
    const weight = Number(match?.[2]);
    if (
      !tenant ||
      !(weight >= 1 && weight <= MAX_TENANT_WEIGHT) ||
      Object.hasOwn(weights, tenant)
    ) {
      const shown = JSON.stringify(entry.slice(0, 100));
      return {
        problem: `expected tenant:weight entries (weight 1 … ${MAX_TENANT_WEIGHT}, each tenant once), got ${shown}`,
      };
    }
    weights[tenant] = weight;
  }
  return { weights };
}
