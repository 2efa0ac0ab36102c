/**
 * The SQLite queue's enqueue path as a group commit: enqueues arriving in the same event-loop
 * turn share one transaction, since the commit, not the insert, is what costs.
 */
import { errors, type AppError } from '../../errors.js';
import { ownRetention, validateEnqueue } from '../enqueue-checks.js';
import { imagesOf, startTag, tagCost } from '../fair-scheduling.js';
import type { JobIdGenerator } from '../job-ids.js';
import type { EnqueueInput, JobRecord } from '../job-queue.js';
import { idempotencyConflict } from '../queue-errors.js';
import type { ResolvedTunables } from '../queue-tunables.js';
import { rowToRecord, type JobRow } from './rows.js';
import type { Statements } from './statements.js';
import type { Emit } from './transactions.js';

type Enqueued = { job: JobRecord; created: boolean };

export interface GroupEnqueueOptions {
  tunables: ResolvedTunables;
  ids: JobIdGenerator;
  /** One write transaction of the queue (its events told after commit). */
  write: <T>(body: (sql: Statements, emit: Emit) => T) => T;
  /** Wakes the queue's waiting workers. */
  notify: () => void;
}

export class GroupEnqueue {
  private readonly tunables: ResolvedTunables;
  private readonly ids: JobIdGenerator;
  private readonly write: GroupEnqueueOptions['write'];
  private readonly notify: () => void;
  private readonly pending: {
    input: EnqueueInput;
    priority: number;
    maxAttempts: number;
    resolve: (value: Enqueued) => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(options: GroupEnqueueOptions) {
    ({ tunables: this.tunables, ids: this.ids, write: this.write, notify: this.notify } = options);
  }

  /**
   * Enqueues arriving in the same event-loop turn share one transaction (a group commit): the
   * commit, not the insert, is what costs, so a burst of mutations pays for it once. Each call
   * still resolves only after its row is committed, and fails alone (QUEUE_FULL) without
   * affecting the others.
   */
  enqueue(input: EnqueueInput): Promise<Enqueued> {
    return new Promise((resolve, reject) => {
      try {
        const validated = validateEnqueue(input, this.tunables.defaultMaxAttempts);
        this.pending.push({ input, ...validated, resolve, reject });
      } catch (error) {
        reject(error);
        return;
      }
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    let outcomes: ({ ok: true; value: Enqueued } | { ok: false; error: unknown })[];
    try {
      outcomes = this.write((sql, emit) => {
        const { maxQueued } = this.tunables;
        let queued = maxQueued === undefined ? 0 : (sql.countQueued.get()?.n ?? 0);
        return batch.map(({ input, priority, maxAttempts }) => {
          if (input.idempotencyKey !== undefined) {
            const existing = sql.byIdempotencyKey.get(input.tenant, input.idempotencyKey);
            const stored = existing?.idempotency_fingerprint;
            const given = input.idempotencyFingerprint;
            if (existing && stored && given && stored !== given)
              return { ok: false as const, error: idempotencyConflict(input.idempotencyKey) };
            if (existing)
              return { ok: true as const, value: { job: rowToRecord(existing), created: false } };
          }
          if (maxQueued !== undefined && queued >= maxQueued)
            return { ok: false as const, error: errors.queueFull(maxQueued, 'global') };
          const placed = this.place(sql, input);
          if ('error' in placed) return { ok: false as const, error: placed.error };
          const now = this.tunables.clock();
          // INSERT … RETURNING always yields the row it inserted.
          const row = sql.insert.get({
            id: this.ids.next(now),
            tenant: input.tenant,
            kind: input.kind,
            model: input.model,
            params: JSON.stringify(input.params),
            priority,
            idempotencyKey: input.idempotencyKey ?? null,
            fingerprint: input.idempotencyFingerprint ?? null,
            maxAttempts,
            now,
            // A held job has no time it becomes available: no claim can pick it.
            availableAt: input.hold ? null : now,
            heldAt: input.hold ? now : null,
            retentionMs: ownRetention(input.retentionMs, this.tunables.retentionMs),
            webhook: input.webhook ? JSON.stringify(input.webhook) : null,
            fairTag: placed.tag,
            images: placed.images,
          }) as JobRow;
          if (placed.finish !== null) sql.setTenantFinish.run(placed.finish, input.tenant);
          queued++;
          return {
            ok: true as const,
            value: { job: rowToRecord(emit(row, 'added')), created: true },
          };
        });
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) =>
      outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.error),
    );
    if (outcomes.some((o) => o.ok && o.value.created)) this.notify();
  }

  /**
   * The tenant quota, and the new job's place in the fair order: its start tag and the finish
   * tag its tenant moves to (null under fifo, where every tag is 0 and age decides).
   */
  private place(
    sql: Statements,
    input: EnqueueInput,
  ): { tag: number; finish: number | null; images: number } | { error: AppError } {
    const { scheduling, tenantMaxQueued, tenantWeights } = this.tunables;
    const images = imagesOf(input.params);
    const counts = sql.tenantCounts.get(input.tenant);
    const queued = counts?.queued ?? 0;
    if (tenantMaxQueued !== undefined && queued >= tenantMaxQueued)
      return { error: errors.queueFull(tenantMaxQueued, 'tenant') };
    if (scheduling === 'fifo') return { tag: 0, finish: null, images };
    const tag = startTag(sql.virtualTime.get()?.t ?? 0, counts?.finish ?? 0, queued);
    return { tag, finish: tag + tagCost(images, input.tenant, tenantWeights), images };
  }
}
