import { errors } from '../errors.js';

/**
 * Open subscriptions per tenant, capped (HITA_MAX_SUBSCRIPTIONS_PER_TENANT): each one re-reads
 * durable state on silence, so an unbounded number on one socket is an unbounded load.
 * Per process: a tenant spread over several API replicas gets the cap on each.
 */
export class SubscriptionQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerTenant: number) {}

  /** Open subscriptions of a tenant in this process. */
  count(tenant: string): number {
    return this.open.get(tenant) ?? 0;
  }

  /**
   * Counts `stream` against the tenant until it ends, however it ends (completion, error, or the
   * client's unsubscribe through `return()`).
   * @throws AppError RATE_LIMITED when the tenant already holds its maximum
   */
  track<T>(tenant: string, stream: AsyncIterable<T>): AsyncIterableIterator<T> {
    const held = this.count(tenant);
    if (held >= this.maxPerTenant) {
      throw errors.rateLimited(
        `${held} subscriptions are open; at most ${this.maxPerTenant} per tenant`,
        1,
        { limit: 'subscriptions', max: this.maxPerTenant },
      );
    }
    this.open.set(tenant, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = this.count(tenant) - 1;
      if (left > 0) this.open.set(tenant, left);
      else this.open.delete(tenant);
    };
    const source = stream[Symbol.asyncIterator]();
    const iterator: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]: () => iterator,
      async next() {
        try {
          const result = await source.next();
          if (result.done) release();
          return result;
        } catch (error) {
          release();
          throw error;
        }
      },
      async return(value?: unknown) {
        release();
        return (await source.return?.(value)) ?? { done: true, value: undefined };
      },
      async throw(error?: unknown) {
        release();
        if (source.throw) return source.throw(error);
        throw error;
      },
    };
    return iterator;
  }
}
