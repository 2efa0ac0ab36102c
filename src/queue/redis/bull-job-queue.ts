/**
 * The distributed job queue: BullMQ on Redis dispatches (priority, delays, lost-lock detection),
 * and our own Redis keys hold the authoritative job records and event logs, changed only by
 * atomic Lua scripts (redis/). Any number of API and worker processes share one queue, and every
 * event is published on a Redis channel so `onEvent` sees the events of all of them.
 */
import { errors } from '../../errors.js';
import type {
  ClaimedJob,
  EnqueueInput,
  HeartbeatResult,
  JobEvent,
  JobFailure,
  JobFilter,
  JobOutput,
  JobPage,
  JobProgress,
  JobQueue,
  JobRecord,
  QueueStats,
  RemovedJob,
  RunningWork,
  ThroughputFigure,
  AttemptOutcome,
  OutboxDelivery,
  WebhookAttempt,
  WorkAhead,
} from '../job-queue.js';
import { JobIdGenerator } from '../job-ids.js';
import { queueClosed } from '../queue-errors.js';
import {
  resolveTunables,
  type JobQueueTunables,
  type ResolvedTunables,
} from '../queue-tunables.js';
import { WorkSignal } from '../work-signal.js';
import { BullDispatcher } from './bull-dispatcher.js';
import { enqueueOnRedis } from './redis-enqueue.js';
import { deliverMessage } from './redis-events.js';
import { LuaRunner } from './lua-scripts.js';
import {
  closeRedisConnections,
  openRedisConnections,
  type RedisConnections,
} from './redis-connections.js';
import { listTenantJobs } from './redis-list.js';
import {
  hashToRecord,
  pairsToHash,
  parseEvent,
  parseRemovedJob,
  redisKeys,
  type RedisKeys,
} from './redis-records.js';
import { sweepRedis } from './redis-sweep.js';
import { expectOutcome, ScriptOutcome } from './script-outcomes.js';
import { RedisWorkerCalls } from './redis-worker-calls.js';
import { RedisOutbox } from './redis-outbox.js';
import { releaseHeldOnRedis } from './redis-held.js';
import { forgetRemovedOnRedis, removedJobsOnRedis } from './redis-removals.js';
import {
  imagesPerSecondOnRedis,
  reportThroughputOnRedis,
  runningWorkOnRedis,
  statsOnRedis,
  workAheadOnRedis,
} from './redis-work-reads.js';

/** Options of `BullJobQueue`. */
export interface BullJobQueueOptions extends JobQueueTunables {
  /** `redis://[:password@]host:port[/db]`. */
  redisUrl: string;
  /** Prefix of every key, ours and BullMQ's; `{hita}` keeps them in one Cluster slot. @default 'hita' */
  prefix?: string;
  /**
   * How often BullMQ looks for expired locks. A dead worker's job runs again between one and two
   * intervals after its lease expired. @default 5000
   */
  stalledCheckIntervalMs?: number;
}

/** How soon a worker looks again for a job that is due but not yet claimable. */
const DUE_POLL_MS = 100;

/** What exists between `start()` and `close()`. */
interface Running {
  connections: RedisConnections;
  lua: LuaRunner;
  bull: BullDispatcher;
  worker: RedisWorkerCalls;
  outbox: RedisOutbox;
  sweepTimer: NodeJS.Timeout;
}

/**
 * `JobQueue` on Redis with BullMQ. Processes must share a clock (NTP) for leases and delays.
 * Listeners of `onEvent` receive every process's events, asynchronously (Redis pub/sub, which
 * drops messages during a reconnect: replay from `events()` where that matters).
 */
export class BullJobQueue implements JobQueue {
  private readonly redisUrl: string;
  private readonly prefix: string;
  private readonly stalledCheckIntervalMs: number;
  private readonly tunables: ResolvedTunables;
  private readonly keys: RedisKeys;
  private readonly listeners = new Set<(event: JobEvent) => void>();
  private readonly work = new WorkSignal();
  private readonly ids = new JobIdGenerator();
  private readonly inFlight = new Set<Promise<unknown>>();
  private running: Running | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: BullJobQueueOptions) {
    const { redisUrl, prefix = 'hita', stalledCheckIntervalMs = 5000, ...tunables } = options;
    this.redisUrl = redisUrl;
    this.prefix = prefix;
    this.stalledCheckIntervalMs = stalledCheckIntervalMs;
    this.tunables = resolveTunables(tunables);
    this.keys = redisKeys(prefix);
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.closing) throw queueClosed();
    const { onWarning, clock, sweepIntervalMs } = this.tunables;
    const connections = await openRedisConnections({
      redisUrl: this.redisUrl,
      channel: this.keys.channel,
      onMessage: (message) => deliverMessage(message, this.work, this.listeners),
      onWarning,
    });
    const lua = new LuaRunner(connections.commands, this.keys, this.prefix, clock);
    const bull = new BullDispatcher({
      connection: connections.bull,
      prefix: this.prefix,
      stalledCheckIntervalMs: this.stalledCheckIntervalMs,
      onWarning,
    });
    await bull.start();
    const sweepTimer = setInterval(() => {
      // Tracked, so close() waits for a sweep in progress instead of cutting its connection.
      this.track(() => this.sweep()).catch((error: unknown) =>
        onWarning('job queue sweep failed; retrying at the next interval', error),
      );
    }, sweepIntervalMs);
    sweepTimer.unref(); // housekeeping must not keep an otherwise finished process alive
    const worker = new RedisWorkerCalls(lua, bull, this.tunables, this.keys.bullJobPrefix);
    const outbox = new RedisOutbox(lua, connections.commands, this.keys);
    this.running = { connections, lua, bull, worker, outbox, sweepTimer };
    await this.sweep().catch((error: unknown) =>
      onWarning('job queue sweep at start failed', error),
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const running = this.running;
      if (!running) return;
      clearInterval(running.sweepTimer);
      this.work.close();
      await Promise.allSettled([...this.inFlight]);
      await running.bull.close();
      await closeRedisConnections(running.connections);
      this.running = null;
    })();
    return this.closing;
  }

  enqueue(input: EnqueueInput): Promise<{ job: JobRecord; created: boolean }> {
    return this.track(({ lua, bull }) =>
      enqueueOnRedis({ lua, bull, keys: this.keys, tunables: this.tunables, ids: this.ids }, input),
    );
  }

  get(id: string): Promise<JobRecord | null> {
    return this.track(async ({ connections }) => {
      const hash = await connections.commands.hgetall(this.keys.job(id));
      return hash.id ? hashToRecord(hash) : null;
    });
  }

  list(
    tenant: string,
    options: { first: number; after?: string; filter?: JobFilter },
  ): Promise<JobPage> {
    return this.track(({ connections }) =>
      listTenantJobs(connections.commands, this.keys, tenant, options),
    );
  }

  cancel(id: string): Promise<JobRecord> {
    return this.track(async ({ lua, bull }) => {
      const [word, pairs] = await lua.reply('hitaCancel', lua.jobKeys(id), [id]);
      const outcome = expectOutcome(
        word,
        [ScriptOutcome.Cancelled, ScriptOutcome.CancelRequested],
        { jobId: id, change: 'cancel' },
      );
      const hash = pairsToHash(pairs);
      // A delivery BullMQ already handed out is dropped as stale at claim time instead.
      if (outcome === ScriptOutcome.Cancelled) await bull.remove(hash.bullId ?? '');
      return hashToRecord(hash);
    });
  }

  retry(id: string): Promise<JobRecord> {
    return this.track(async ({ lua, bull }) => {
      const [word, pairs] = await lua.reply('hitaRetry', lua.jobKeys(id), [id]);
      expectOutcome(word, [ScriptOutcome.Ok], { jobId: id, change: 'retry' });
      const hash = pairsToHash(pairs);
      await bull.addRun(hash, 0);
      return hashToRecord(hash);
    });
  }

  async position(id: string): Promise<number | null> {
    return (await this.workAhead(id))?.position ?? null;
  }

  async workAhead(id: string): Promise<WorkAhead | null> {
    return (await this.workAheadMany([id])).get(id) ?? null;
  }

  workAheadMany(ids: readonly string[]): Promise<Map<string, WorkAhead>> {
    return this.track(({ lua }) => workAheadOnRedis(lua, ids));
  }

  events(id: string, afterSequence: number): Promise<JobEvent[]> {
    return this.track(async ({ connections }) => {
      // Event n sits at list index n − 1, so the tail after `afterSequence` starts at that index.
      const replies = await connections.commands
        .multi()
        .exists(this.keys.job(id))
        .lrange(this.keys.events(id), Math.max(0, afterSequence), -1)
        .exec();
      if (!replies || replies[0]?.[1] !== 1) throw errors.notFound('job', id);
      return ((replies[1]?.[1] ?? []) as string[]).map(parseEvent);
    });
  }

  stats(): Promise<QueueStats> {
    return this.track(({ connections }) =>
      statsOnRedis(connections.commands, this.keys, this.tunables),
    );
  }

  imagesPerSecond(): Promise<number | null> {
    return this.track(({ connections }) =>
      imagesPerSecondOnRedis(connections.commands, this.keys, this.tunables),
    );
  }

  runningWork(limit: number): Promise<RunningWork[]> {
    return this.track(({ connections }) =>
      runningWorkOnRedis(connections.commands, this.keys, limit),
    );
  }

  releaseHeld(ids: string[]): Promise<void> {
    return this.track(async ({ lua, bull }) => {
      if (await releaseHeldOnRedis(lua, bull, ids)) this.work.notify();
    });
  }

  discardHeld(ids: string[]): Promise<void> {
    return this.track(async ({ lua }) => {
      if (ids.length > 0) await lua.run('hitaDiscard', [], ids);
    });
  }

  delete(id: string): Promise<RemovedJob> {
    return this.track(async ({ lua }) => {
      const [word, note] = await lua.reply('hitaDelete', lua.jobKeys(id), [id]);
      expectOutcome(word, [ScriptOutcome.Deleted], { jobId: id, change: 'delete' });
      return parseRemovedJob(String(note));
    });
  }

  removedJobs(limit: number): Promise<RemovedJob[]> {
    return this.track(({ connections }) =>
      removedJobsOnRedis(connections.commands, this.keys, limit),
    );
  }

  forgetRemoved(ids: string[]): Promise<void> {
    return this.track(({ connections }) =>
      forgetRemovedOnRedis(connections.commands, this.keys, ids),
    );
  }

  claimDeliveries(limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    return this.track(({ outbox }) => outbox.claimDeliveries(limit, leaseMs));
  }

  settleDelivery(delivery: OutboxDelivery, outcome: AttemptOutcome): Promise<boolean> {
    return this.track(({ outbox }) => outbox.settleDelivery(delivery, outcome));
  }

  deliveries(jobId: string): Promise<WebhookAttempt[]> {
    return this.track(({ outbox }) => outbox.deliveries(jobId));
  }

  outboxDepth(): Promise<number> {
    return this.track(({ outbox }) => outbox.outboxDepth());
  }

  onEvent(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    return this.track(({ worker }) => worker.claim(workerId, leaseMs));
  }

  heartbeat(claim: ClaimedJob, leaseMs: number): Promise<HeartbeatResult> {
    return this.track(({ worker }) => worker.heartbeat(claim, leaseMs));
  }

  progress(claim: ClaimedJob, progress: JobProgress): Promise<void> {
    return this.track(({ worker }) => worker.progress(claim, progress));
  }

  complete(claim: ClaimedJob, outputs: JobOutput[]): Promise<JobRecord> {
    return this.track(({ worker }) => worker.complete(claim, outputs));
  }

  fail(claim: ClaimedJob, failure: JobFailure): Promise<JobRecord> {
    return this.track(({ worker }) => worker.fail(claim, failure));
  }

  cancelled(claim: ClaimedJob): Promise<JobRecord> {
    return this.track(({ worker }) => worker.cancelled(claim));
  }

  release(claim: ClaimedJob): Promise<JobRecord> {
    return this.track(({ worker }) => worker.release(claim));
  }

  announce(workerId: string): Promise<void> {
    return this.track(({ worker }) => worker.announce(workerId, true));
  }

  retire(workerId: string): Promise<void> {
    return this.track(async ({ worker, connections }) => {
      await worker.announce(workerId, false);
      await connections.commands.hdel(this.keys.throughput, workerId);
    });
  }

  reportThroughput(workerId: string, figure: ThroughputFigure): Promise<void> {
    return this.track(({ connections }) =>
      reportThroughputOnRedis(
        connections.commands,
        this.keys,
        workerId,
        figure,
        this.tunables.clock(),
      ),
    );
  }

  async waitForWork(timeoutMs: number): Promise<void> {
    // Woken early by 'added'/'retrying' events of any process, and when the next backoff ends.
    // A dead worker's job comes back through BullMQ's stalled check: the caller's next poll.
    const since = this.work.version; // an event arriving during the lookup below still wakes us
    let untilDue = timeoutMs;
    const commands = this.closing ? null : this.running?.connections.commands;
    if (commands) {
      const now = this.tunables.clock();
      const next = await commands
        .zrange(this.keys.available, 0, 0, 'WITHSCORES')
        .catch(() => [] as string[]);
      // The earliest queued job. Due in the future: wake when it is. Already due but the caller
      // found nothing to claim: BullMQ promotes delayed jobs on its own clock, so look again soon
      // instead of sleeping the whole timeout.
      if (next[1] !== undefined) untilDue = Math.max(DUE_POLL_MS, Number(next[1]) - now);
    }
    await this.work.wait(Math.min(timeoutMs, untilDue), since);
  }

  private sweep(): Promise<void> {
    const { lua, bull } = this.running as Running;
    // Orphans younger than this may simply be between their script and their BullMQ call.
    const orphanAgeMs = Math.max(10_000, this.stalledCheckIntervalMs * 2);
    return sweepRedis({ lua, bull, keys: this.keys, tunables: this.tunables, orphanAgeMs });
  }

  /** Runs a call on the started queue and lets close() wait for it. */
  private track<T>(body: (running: Running) => Promise<T>): Promise<T> {
    if (!this.running || this.closing) return Promise.reject(queueClosed());
    const call = body(this.running);
    this.inFlight.add(call);
    const forget = (): boolean => this.inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }
}
