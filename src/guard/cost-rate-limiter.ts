/**
 * Per-tenant rate limits on query cost (rate-limiter-flexible): each operation consumes its
 * estimated cost from the tenant's points of the current window. With Redis the points are shared
 * by every API replica; in memory one process owns them and a restart resets them.
 */
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { errors } from '../errors.js';

/** `extensions.cost` of every response. Nulls mean that no rate limit applies. */
export interface CostReport {
  requestedQueryCost: number;
  maximumAvailable: number | null;
  currentlyAvailable: number | null;
  resetSeconds: number | null;
}

export interface CostRateLimiterOptions {
  /** Points per window and tenant; 0 turns rate limiting off. */
  points: number;
  windowSeconds: number;
  /** Share the points through this Redis (every API replica); in memory when absent. */
  redis?: Redis | undefined;
}

/** Consumes query cost from per-tenant points. */
export class CostRateLimiter {
  private readonly points: number;
  private readonly limiter: RateLimiterAbstract | null;

  constructor(options: CostRateLimiterOptions) {
    const { points, windowSeconds, redis } = options;
    this.points = points;
    if (points <= 0) {
      this.limiter = null;
      return;
    }
    const common = { points, duration: windowSeconds, keyPrefix: 'hita:rate' };
    // A Redis outage must not turn into an open door or a closed one: each process then limits on
    // its own until Redis is back.
    this.limiter = redis
      ? new RateLimiterRedis({
          ...common,
          storeClient: redis,
          insuranceLimiter: new RateLimiterMemory(common),
        })
      : new RateLimiterMemory(common);
  }

  get isEnabled(): boolean {
    return this.limiter !== null;
  }

  /**
   * Takes `cost` points (at least 1: every request is work) from the tenant.
   * @throws AppError RATE_LIMITED with `retryAfterSeconds` when the tenant has too few points left
   */
  async consume(tenant: string, cost: number): Promise<CostReport> {
    if (!this.limiter) return this.unlimited(cost);
    try {
      return this.report(cost, await this.limiter.consume(tenant, Math.max(1, Math.ceil(cost))));
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw errors.rateLimited(
        `this operation costs ${cost} points; the limit is ${this.points} per window, retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
        { cost: this.report(cost, rejection) },
      );
    }
  }

  /** The tenant's standing without consuming, for responses refused before their cost was known. */
  async peek(tenant: string): Promise<CostReport> {
    if (!this.limiter) return this.unlimited(0);
    const state = await this.limiter.get(tenant).catch(() => null);
    return state
      ? this.report(0, state)
      : {
          requestedQueryCost: 0,
          maximumAvailable: this.points,
          currentlyAvailable: this.points,
          resetSeconds: 0,
        };
  }

  private unlimited(cost: number): CostReport {
    return {
      requestedQueryCost: cost,
      maximumAvailable: null,
      currentlyAvailable: null,
      resetSeconds: null,
    };
  }

  private report(cost: number, state: RateLimiterRes): CostReport {
    return {
      requestedQueryCost: cost,
      maximumAvailable: this.points,
      currentlyAvailable: Math.max(0, state.remainingPoints),
      resetSeconds: Math.ceil(state.msBeforeNext / 1000),
    };
  }
}
