/**
 * The SQLite queue's `WebhookOutbox` calls. The entries themselves are written by the change
 * they report (transactions.ts); here they are claimed, settled and listed. Every claim and
 * settle is one IMMEDIATE transaction, so processes sharing the file never claim one row twice.
 */
import { randomUUID } from 'node:crypto';
import type {
  AttemptOutcome,
  JobRecord,
  OutboxDelivery,
  WebhookAttempt,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '../job-queue.js';
import type { Statements } from './statements.js';

/** What the outbox calls need from their queue. */
export interface SqliteOutboxOptions {
  write: <T>(body: (sql: Statements) => T) => T;
  statements: () => Statements;
  clock: () => number;
}

/** `WebhookOutbox` on the queue's SQLite file. */
export class SqliteOutbox {
  constructor(private readonly options: SqliteOutboxOptions) {}

  claimDeliveries(limit: number, leaseMs: number): OutboxDelivery[] {
    const now = this.options.clock();
    const token = randomUUID();
    const rows = this.options.write((sql) =>
      sql.claimOutbox.all({ now, leaseUntil: now + leaseMs, token, limit }),
    );
    return rows.map((row) => ({
      id: row.id,
      jobId: row.job_id,
      tenant: row.tenant,
      event: row.event as WebhookEvent,
      url: row.url,
      job: JSON.parse(row.job) as JobRecord,
      createdAt: new Date(row.created_at).toISOString(),
      attempt: row.attempts,
      leaseToken: token,
    }));
  }

  settleDelivery(delivery: OutboxDelivery, outcome: AttemptOutcome): boolean {
    const now = this.options.clock();
    return this.options.write((sql) => {
      const leased = sql.leasedOutbox.get(delivery.id, delivery.leaseToken);
      if (!leased) return false;
      sql.insertAttempt.run({
        jobId: leased.job_id,
        event: delivery.event,
        attempt: delivery.attempt,
        status: outcome.status,
        httpStatus: outcome.httpStatus,
        at: now,
      });
      sql.trimAttempts.run(leased.job_id, leased.job_id);
      if (outcome.status === 'FAILED' && outcome.retryAt !== undefined) {
        sql.retryOutbox.run(Math.ceil(outcome.retryAt), delivery.id);
      } else {
        sql.deleteOutbox.run(delivery.id);
      }
      return true;
    });
  }

  deliveries(jobId: string): WebhookAttempt[] {
    const sql = this.options.statements();
    const made = sql.attemptsOf.all(jobId).map((row) => ({
      event: row.event as WebhookEvent,
      attempt: row.attempt,
      status: row.status as WebhookDeliveryStatus,
      httpStatus: row.http_status,
      at: new Date(row.at).toISOString(),
    }));
    const pending = sql.pendingOf.all(jobId).map((row) => ({
      event: row.event as WebhookEvent,
      attempt: row.attempts + 1,
      status: 'PENDING' as const,
      httpStatus: null,
      at: new Date(row.due_at).toISOString(),
    }));
    return [...made, ...pending];
  }

  outboxDepth(): number {
    return this.options.statements().outboxDepth.get()?.n ?? 0;
  }
}
