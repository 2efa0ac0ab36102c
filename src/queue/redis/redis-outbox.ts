/**
 * The Redis engine's `WebhookOutbox` calls. The entries are written by the Lua script of the
 * change they report (`writeOutbox` in lua-prelude.ts); claims and settles are scripts too
 * (lua-webhook-scripts.ts), so two API replicas never claim one entry for the same attempt.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AttemptOutcome, OutboxDelivery, WebhookAttempt, WebhookEvent } from '../job-queue.js';
import type { LuaRunner } from './lua-scripts.js';
import { hashToRecord, pairsToHash, type RedisKeys } from './redis-records.js';

/** Claims, settles and lists outbox entries on one connection. */
export class RedisOutbox {
  constructor(
    private readonly lua: LuaRunner,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async claimDeliveries(limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    const token = randomUUID();
    const entries = (await this.lua.run('hitaClaimDeliveries', [], [limit, leaseMs, token])) as
      unknown[] | null;
    return (entries ?? []).map((pairs) => {
      const hash = pairsToHash(pairs);
      return {
        id: hash.id ?? '',
        jobId: hash.jobId ?? '',
        tenant: hash.tenant ?? '',
        event: hash.event as WebhookEvent,
        url: hash.url ?? '',
        job: hashToRecord(JSON.parse(hash.job ?? '{}') as Record<string, string>),
        createdAt: new Date(Number(hash.createdAt)).toISOString(),
        attempt: Number(hash.attempts),
        leaseToken: token,
      };
    });
  }

  async settleDelivery(delivery: OutboxDelivery, outcome: AttemptOutcome): Promise<boolean> {
    const settled = await this.lua.run(
      'hitaSettleDelivery',
      [],
      [
        delivery.id,
        delivery.leaseToken,
        outcome.status,
        outcome.httpStatus ?? '',
        outcome.status === 'FAILED' && outcome.retryAt !== undefined ? outcome.retryAt : '',
      ],
    );
    return settled === 1;
  }

  async deliveries(jobId: string): Promise<WebhookAttempt[]> {
    const [log, ids] = await Promise.all([
      this.redis.lrange(this.keys.webhookLog(jobId), 0, -1),
      this.redis.smembers(this.keys.jobOutbox(jobId)),
    ]);
    const made = log.map((text) => JSON.parse(text) as WebhookAttempt);
    const pending = await Promise.all(
      ids.map(async (entryId) => {
        const [fields, due] = await Promise.all([
          this.redis.hmget(this.keys.outboxEntry(entryId), 'event', 'attempts', 'createdAt'),
          this.redis.zscore(this.keys.outbox, entryId),
        ]);
        return { fields, due };
      }),
    );
    return [
      ...made,
      ...pending
        .filter(({ fields }) => fields[0] !== null)
        .sort((a, b) => Number(a.fields[2]) - Number(b.fields[2]))
        .map(({ fields, due }) => ({
          event: fields[0] as WebhookEvent,
          attempt: Number(fields[1]) + 1,
          status: 'PENDING' as const,
          httpStatus: null,
          at: new Date(Number(due ?? fields[2])).toISOString(),
        })),
    ];
  }

  outboxDepth(): Promise<number> {
    return this.redis.zcard(this.keys.outbox);
  }
}
