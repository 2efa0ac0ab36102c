/**
 * The job queue seam: one contract, two engines (`SqliteJobQueue`, embedded and durable;
 * `BullJobQueue`, BullMQ on Redis). Resolvers and services see `JobProducer`; workers see
 * `JobConsumer`. Both engines pass one conformance suite (test/integration/queue.suite.ts) and
 * report failures as the same `AppError`s.
 */
import type {
  JobEvent,
  JobFailure,
  JobKind,
  JobParams,
  JobOutput,
  JobProgress,
  JobRecord,
  JobStatus,
  WebhookEvent,
  WebhookSpec,
} from './job-record.js';

export * from './job-record.js';

export interface EnqueueInput {
  tenant: string;
  kind: JobKind;
  model: string | null;
  params: JobParams;
  priority?: number;
  /** The same (tenant, key) returns the existing job instead of a new one. */
  idempotencyKey?: string;
  /**
   * What the key is bound to (the service hashes the request), stored with it: a later enqueue
   * with the same key and another fingerprint is a CONFLICT. Compared only when both the stored
   * job and the new input have one, so jobs stored before fingerprints keep the old behaviour.
   */
  idempotencyFingerprint?: string;
  /** @default the queue's default (3) */
  maxAttempts?: number;
  /**
   * Keep the job this long (ms) after it finishes; the queue's retention wins when it is
   * shorter. @default the queue's retention
   */
  retentionMs?: number;
  /**
   * Stores the job QUEUED (with its `added` event) but out of every worker's reach until
   * `releaseHeld` names it; `discardHeld` removes it instead. For operations that create several
   * jobs and must create none when they fail. @default false
   */
  hold?: boolean;
  /**
   * Post the job's events there (checked by the caller: services/webhook-address-guard.ts). Each
   * change that reports one of `events` writes an outbox entry in the same atomic step.
   */
  webhook?: WebhookSpec;
}

export interface JobFilter {
  status?: JobStatus[];
  kind?: JobKind[];
}

export interface JobPage {
  jobs: JobRecord[];
  /** Opaque cursor of the last job, for the next page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

export interface QueueStats {
  /** Jobs waiting (QUEUED). */
  depth: number;
  running: number;
  byStatus: Record<JobStatus, number>;
  /**
   * Live workers of every process on this queue: those whose last `announce` is younger than
   * the queue's `workerTtlMs`, less those that `retire`d.
   */
  workers: number;
  /**
   * Images per second over the live workers: the sum of the figures they reported
   * (`JobConsumer.reportThroughput`) within the queue's `workerTtlMs`; null until one has.
   */
  imagesPerSecond: number | null;
}

/** What `JobProducer.workAhead` answers for a QUEUED job. */
export interface WorkAhead {
  /** 1-based place in claim order (`position`). */
  position: number;
  /** Images (`params.count`) of the QUEUED jobs claimed before this one. */
  imagesAhead: number;
}

/** A RUNNING job as the ETA sees it: how many images, and how far along. */
export interface RunningWork {
  id: string;
  /** `params.count`. */
  images: number;
  progress: JobProgress | null;
}

/** One worker's measured throughput, as it reports it (worker/throughput-meter.ts measures it). */
export interface ThroughputFigure {
  /** The model the figure was measured on. */
  model: string;
  /** Images per second, exponentially averaged over the worker's busy time. */
  imagesPerSecond: number;
}

/** What the API side does with jobs. */
export interface JobProducer {
  /**
   * @throws AppError QUEUE_FULL when the queue holds its maximum of waiting jobs; CONFLICT when
   *   the idempotency key is already bound to another fingerprint.
   */
  enqueue(input: EnqueueInput): Promise<{ job: JobRecord; created: boolean }>;
  get(id: string): Promise<JobRecord | null>;
  /** Newest first; `after` is a cursor from a previous page. */
  list(
    tenant: string,
    options: { first: number; after?: string; filter?: JobFilter },
  ): Promise<JobPage>;
  /**
   * Cancels a QUEUED job at once (CANCELLED, `cancelled` event). For a RUNNING job it records
   * the request (`cancelRequested`, one `cancel-requested` event; asking again adds nothing) and
   * returns the job still RUNNING: its worker hears the event and stops, and whichever ending
   * the worker then calls (`complete`, `fail`, `cancelled`, `release`), the job ends CANCELLED.
   * @throws AppError NOT_FOUND, or CONFLICT when the job already finished.
   */
  cancel(id: string): Promise<JobRecord>;
  /**
   * Runs a FAILED or CANCELLED job again under the same id, with a fresh attempt budget.
   * @throws AppError NOT_FOUND, or CONFLICT for any other status.
   */
  retry(id: string): Promise<JobRecord>;
  /**
   * 1-based place among QUEUED jobs in claim order (fair or fifo, as the queue runs): 1 + the
   * jobs that would be claimed before this one if nothing else were enqueued (held jobs and jobs
   * in a backoff count where their keys place them; tenant running caps are not simulated).
   * Null when not queued.
   */
  position(id: string): Promise<number | null>;
  /**
   * `position` and the images of the QUEUED jobs ahead (what an ETA divides by throughput),
   * computed in one pass; null when the job is not QUEUED.
   */
  workAhead(id: string): Promise<WorkAhead | null>;
  /** `workAhead` of many jobs in one pass over the queue (a page of `queuePosition`s). */
  workAheadMany(ids: readonly string[]): Promise<Map<string, WorkAhead>>;
  /** The RUNNING jobs (at most `limit`, oldest lease first): the work in flight ahead of the queue. */
  runningWork(limit: number): Promise<RunningWork[]>;
  /** `stats().imagesPerSecond` alone, without counting the jobs. */
  imagesPerSecond(): Promise<number | null>;
  /** Durable events of a job with sequence > afterSequence, in order. */
  events(id: string, afterSequence: number): Promise<JobEvent[]>;
  stats(): Promise<QueueStats>;
  /**
   * Makes held jobs claimable, in the claim order their priority and creation give them. Ids
   * that are not held (released already, discarded, unknown) are skipped. No event: the job was
   * QUEUED all along.
   */
  releaseHeld(ids: string[]): Promise<void>;
  /**
   * Deletes held jobs with their events and idempotency keys, as if never enqueued (their
   * `added` event was already delivered to live listeners). Ids that are not held are skipped,
   * so a released job is never discarded.
   */
  discardHeld(ids: string[]): Promise<void>;
  /**
   * Deletes a finished job (SUCCEEDED, FAILED, CANCELLED, EXPIRED) in one atomic step: its
   * record, its events and its idempotency key, leaving a `RemovedJob` entry for its objects
   * (`JobRemovals`). Listeners then get a live `deleted` event.
   * @returns what the caller needs to delete the job's objects
   * @throws AppError NOT_FOUND, or CONFLICT for a QUEUED or RUNNING job (cancel it first).
   */
  delete(id: string): Promise<RemovedJob>;
  /** Every event of every job as it happens (any process, for the Redis engine). */
  onEvent(listener: (event: JobEvent) => void): () => void;
}

/**
 * A job the queue deleted (`delete`, or retention) whose objects may still exist: the record's
 * fields that name them. Its entry stays until `forgetRemoved`, so a crash between deleting the
 * record and deleting the objects leaves a durable note of what is left to do.
 */
export interface RemovedJob {
  id: string;
  tenant: string;
  params: JobParams;
  outputs: JobOutput[];
}

/** What the retention service does with deleted jobs (services/retention-service.ts). */
export interface JobRemovals {
  /** Entries of deleted jobs whose objects are not known to be gone, oldest first. */
  removedJobs(limit: number): Promise<RemovedJob[]>;
  /** Drops the entries of `ids` (their objects are gone). Unknown ids are ignored. */
  forgetRemoved(ids: string[]): Promise<void>;
}

/** A job a worker holds under a lease. */
export interface ClaimedJob {
  job: JobRecord;
  /** Proves ownership in the calls below; a reclaimed job gets a new token. */
  token: string;
}

export interface HeartbeatResult {
  /** False when the lease was lost (expired and reclaimed): stop and drop the work. */
  owned: boolean;
  /** True when the job was cancelled: stop, free its resources, call `cancelled`. */
  cancelRequested: boolean;
}

/** What a worker does with jobs. */
export interface JobConsumer {
  /**
   * The next QUEUED job by priority then age, leased for `leaseMs`; null when none is waiting. A
   * RUNNING job whose lease ran out (its worker is presumed lost) with attempts left is claimable
   * too: the same atomic step then records a `retrying` event (status QUEUED, error
   * `workerLostRetry`) just before the new `active`, so subscribers see why it runs again.
   */
  claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null>;
  /** Renews the lease; call well within `leaseMs`. */
  heartbeat(claim: ClaimedJob, leaseMs: number): Promise<HeartbeatResult>;
  /** Throttling is the caller's business; every call is one durable event. */
  progress(claim: ClaimedJob, progress: JobProgress): Promise<void>;
  /**
   * Ends the job with `outputs` and returns its record, whose status tells what happened:
   * SUCCEEDED with the outputs (`completed` event), or CANCELLED with no outputs (`cancelled`
   * event) when a cancel was requested before this call: the check and the change are one atomic
   * step, so an accepted cancel is never overtaken. On CANCELLED the caller deletes the objects
   * it stored for `outputs`.
   * @throws AppError CONFLICT when the lease was lost: the outputs must not be published.
   */
  complete(claim: ClaimedJob, outputs: JobOutput[]): Promise<JobRecord>;
  /**
   * Retryable failures with attempts left go back to QUEUED after a backoff; others end FAILED.
   * A job whose cancel was requested ends CANCELLED instead (no error recorded).
   */
  fail(claim: ClaimedJob, failure: JobFailure): Promise<JobRecord>;
  /** Acknowledges a requested cancellation (event or heartbeat): the job ends CANCELLED. */
  cancelled(claim: ClaimedJob): Promise<JobRecord>;
  /**
   * Hands an unfinished job back (a worker shutting down): QUEUED and claimable at once, the lease
   * cleared, `attempts` back to its value before this claim, its place in the queue kept (same
   * priority and creation order), and one `retrying` event without an error. A cancellation
   * that was asked for wins: the job ends CANCELLED instead.
   * @throws AppError CONFLICT when the lease was lost (the job is someone else's now)
   */
  release(claim: ClaimedJob): Promise<JobRecord>;
  /** Resolves when a job may be waiting (new job, retry due, lease expiry) or after `timeoutMs`. */
  waitForWork(timeoutMs: number): Promise<void>;
  /**
   * Says the worker is alive, whether it holds jobs or not: it counts in `stats().workers` until
   * `workerTtlMs` passes without another announce. Call it well within that TTL.
   */
  announce(workerId: string): Promise<void>;
  /**
   * A clean stop: the worker no longer counts in `stats().workers` nor in `imagesPerSecond`.
   * Unknown ids are ignored.
   */
  retire(workerId: string): Promise<void>;
  /**
   * Publishes the worker's measured throughput; it counts in `stats().imagesPerSecond` until
   * `workerTtlMs` passes without another report (a dead worker drops out), or `retire`. The
   * Redis engine shares it with every process; the SQLite engine keeps it in this process.
   */
  reportThroughput(workerId: string, figure: ThroughputFigure): Promise<void>;
  /**
   * The same event stream as `JobProducer.onEvent`; a worker listens for `cancel-requested` of
   * the jobs it holds, so a cancel reaches the engine at once (heartbeats are the fallback).
   */
  onEvent(listener: (event: JobEvent) => void): () => void;
}

/** The status of one attempt, as `WebhookDelivery.status` shows it. */
export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED' | 'GAVE_UP';

/** One outbox entry, claimed for one attempt. */
export interface OutboxDelivery {
  /** The `webhook-id`: the same on every attempt (webhookId in webhook-outbox.ts). */
  id: string;
  jobId: string;
  tenant: string;
  event: WebhookEvent;
  url: string;
  /** The job right after the change it reports: its state for the body (URLs signed per attempt). */
  job: JobRecord;
  /** When the change happened (ISO-8601): the retry window counts from here. */
  createdAt: string;
  /** 1-based number of this attempt. */
  attempt: number;
  /** Proves the claim in `settleDelivery`; an entry claimed again gets a new one. */
  leaseToken: string;
}

/** How one attempt ended. */
export interface AttemptOutcome {
  /** FAILED with `retryAt`: tried again then; every other outcome removes the entry. */
  status: Exclude<WebhookDeliveryStatus, 'PENDING'>;
  /** The receiver's HTTP status; null when none came (refused, timeout, connection error). */
  httpStatus: number | null;
  /** Epoch ms of the next attempt; only with FAILED. */
  retryAt?: number;
}

/** One attempt of a job's webhook (or its next one, PENDING), as `Webhook.deliveries` lists it. */
export interface WebhookAttempt {
  event: WebhookEvent;
  attempt: number;
  status: WebhookDeliveryStatus;
  httpStatus: number | null;
  /** ISO-8601: when it was made; for PENDING, when it is due. */
  at: string;
}

/**
 * The outbox of webhook deliveries (services/webhook-delivery-service.ts reads it). Entries are
 * written by the engine itself, in the atomic step of the change they report, and deleted with
 * their job (`delete`, retention).
 */
export interface WebhookOutbox {
  /**
   * Up to `limit` due entries, the longest due first, each leased for `leaseMs`: no other claim
   * gets one until its lease ends (then it is due again, for a deliverer that died mid-attempt).
   * Each claim counts as an attempt.
   */
  claimDeliveries(limit: number, leaseMs: number): Promise<OutboxDelivery[]>;
  /**
   * Records the attempt (kept for `deliveries`) and removes the entry, or makes it due again at
   * `retryAt`.
   * @returns false when the lease was lost (re-claimed, or gone with its job): nothing changed
   */
  settleDelivery(delivery: OutboxDelivery, outcome: AttemptOutcome): Promise<boolean>;
  /** The job's last 50 attempts (WEBHOOK_ATTEMPTS_KEPT), then its pending entries, oldest first. */
  deliveries(jobId: string): Promise<WebhookAttempt[]>;
  /** Entries neither delivered nor given up yet. */
  outboxDepth(): Promise<number>;
}

export interface JobQueue extends JobProducer, JobConsumer, JobRemovals, WebhookOutbox {
  start(): Promise<void>;
  /** Idempotent; waits for in-flight calls. */
  close(): Promise<void>;
}
