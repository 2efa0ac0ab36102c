/**
 * The SQLite queue's schema as an ordered list of migrations; `PRAGMA user_version` records how
 * many ran, so a newer build upgrades an older database file in place and never re-runs a step.
 */
import type Database from 'better-sqlite3';

/** Append only: never edit a migration that has shipped. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    tenant           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    sequence         INTEGER NOT NULL,
    model            TEXT,
    params           TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    idempotency_key  TEXT,
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    progress         TEXT,
    outputs          TEXT NOT NULL,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    -- when the job last became QUEUED (enqueue, retry): the queued TTL counts from here
    queued_at        INTEGER,
    -- a retrying job is not claimable before this (backoff)
    available_at     INTEGER,
    lease_token      TEXT,
    lease_until      INTEGER,
    worker_id        TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
  ) STRICT;

  -- claim order and queue position: the best QUEUED job is the first row of this index
  CREATE INDEX jobs_claim ON jobs (status, priority DESC, created_at, id);
  -- expired leases, for re-claims and the lost-worker sweep
  CREATE INDEX jobs_lease ON jobs (status, lease_until);
  -- the queued TTL sweep
  CREATE INDEX jobs_queued_at ON jobs (status, queued_at);
  -- tenant listing, newest first, keyed like the cursor
  CREATE INDEX jobs_tenant ON jobs (tenant, created_at DESC, id DESC);
  -- idempotency: one job per (tenant, key)
  CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  -- the retention sweep
  CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

  CREATE TABLE job_events (
    job_id    TEXT NOT NULL,
    sequence  INTEGER NOT NULL,
    type      TEXT NOT NULL,
    status    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    progress  TEXT,
    error     TEXT,
    PRIMARY KEY (job_id, sequence)
  ) STRICT, WITHOUT ROWID;
  `,
  `
  -- sha256 of the request an idempotency key was first used with; NULL for older rows, which
  -- then match any request (the behaviour they were stored under)
  ALTER TABLE jobs ADD COLUMN idempotency_fingerprint TEXT;
  `,
  `
  -- when a held job (EnqueueInput.hold) was enqueued; NULL once released, and for every other
  -- job. A held job also has available_at NULL, which is what keeps claims away from it.
  ALTER TABLE jobs ADD COLUMN held_at INTEGER;
  CREATE INDEX jobs_held ON jobs (held_at) WHERE held_at IS NOT NULL;
  `,
  `
  -- live workers of every process on this file: each JobRunner upserts its row every few
  -- seconds (JobConsumer.announce) and deletes it on a clean stop; a crashed one ages out
  CREATE TABLE workers (
    id         TEXT PRIMARY KEY,
    last_seen  INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX workers_last_seen ON workers (last_seen);
  `,
  `
  -- a job's own retention (EnqueueInput.retentionMs), shorter than the queue's; NULL: the queue's
  ALTER TABLE jobs ADD COLUMN retention_ms INTEGER;
  -- the retention sweep for jobs with their own retention: due once finished_at + retention_ms
  CREATE INDEX jobs_own_retention ON jobs (finished_at + retention_ms)
    WHERE retention_ms IS NOT NULL AND finished_at IS NOT NULL;
  -- deleted jobs whose objects may still exist (JobRemovals): written in the transaction that
  -- deletes the job, dropped once the retention service deleted the objects
  CREATE TABLE removed_jobs (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    params      TEXT NOT NULL,
    outputs     TEXT NOT NULL,
    removed_at  INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX removed_jobs_at ON removed_jobs (removed_at, id);
  `,
  `
  -- a job's webhook (EnqueueInput.webhook) as JSON {url, events}; NULL: none
  ALTER TABLE jobs ADD COLUMN webhook TEXT;
  -- when the job last wrote a PROGRESS entry: PROGRESS is written at most about once a second
  ALTER TABLE jobs ADD COLUMN webhook_progress_at INTEGER;
  -- the outbox (WebhookOutbox): one row per webhook event not yet delivered nor given up,
  -- inserted by the transaction of the change it reports. due_at is both the backoff and the
  -- lease: a claim pushes it to the lease's end, so a dead deliverer's row comes due again.
  CREATE TABLE webhook_outbox (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    event        TEXT NOT NULL,
    url          TEXT NOT NULL,
    -- the JobRecord right after the change, as JSON
    job          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL,
    lease_token  TEXT
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX webhook_outbox_due ON webhook_outbox (due_at);
  CREATE INDEX webhook_outbox_job ON webhook_outbox (job_id);
  -- the last attempts per job, for Webhook.deliveries (trimmed to 50 per job)
  CREATE TABLE webhook_attempts (
    seq          INTEGER PRIMARY KEY,
    job_id       TEXT NOT NULL,
    event        TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    http_status  INTEGER,
    at           INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX webhook_attempts_job ON webhook_attempts (job_id, seq);
  `,
  `
  -- the images of the jobs ahead in claim order (JobProducer.workAhead, sqlite/work-ahead.ts):
  -- the claim order's columns and the image count, so the sum reads this index alone
  CREATE INDEX jobs_claim_images ON jobs (status, priority DESC, created_at, id,
    json_extract(params, '$.count'));
  `,
];

/** Runs the migrations this file has not seen yet, each in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? '');
      // PRAGMA takes no bound parameters; `version` is a loop counter, not input.
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
