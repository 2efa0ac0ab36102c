/**
 * The `JobConsumer` half of `BullJobQueue`. Each call changes our record first (a Lua script that
 * checks the lease token) and then tells BullMQ; when the two disagree the record wins and the
 * BullMQ side is repaired later (stale deliveries are dropped, orphans re-dispatched).
 */
import type {
  ClaimedJob,
  HeartbeatResult,
  JobFailure,
  JobOutput,
  JobProgress,
  JobRecord,
} from '../job-queue.js';
import { newLeaseToken } from '../job-ids.js';
import type { ResolvedTunables } from '../queue-tunables.js';
import type { BullDispatcher } from './bull-dispatcher.js';
import type { LuaRunner } from './lua-scripts.js';
import { hashToRecord, pairsToHash } from './redis-records.js';
import { expectOutcome, ScriptOutcome } from './script-outcomes.js';

/** Slack when comparing our lease with BullMQ's lock: both expire together, give or take. */
const LEASE_GRACE_MS = 1000;

/** Claim, heartbeat, progress, the three endings and the hand-back, for one Redis queue. */
export class RedisWorkerCalls {
  constructor(
    private readonly lua: LuaRunner,
    private readonly bull: BullDispatcher,
    private readonly tunables: ResolvedTunables,
    /** Where BullMQ keeps a delivery's hash (`RedisKeys.bullJobPrefix`): claims rewrite its data. */
    private readonly bullJobPrefix: string,
  ) {}

  async claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    // Each stale delivery is dropped and the next one tried; the bound only guards a bug.
    for (let tries = 0; tries < 100; tries += 1) {
      const token = newLeaseToken();
      const delivery = await this.bull.next(token);
      if (!delivery) return null;
      const { id, bullId } = delivery;
      const { scheduling, tenantMaxRunning } = this.tunables;
      const args = [
        ...[id, bullId, token, workerId, leaseMs, LEASE_GRACE_MS],
        ...[scheduling, tenantMaxRunning ?? '', this.bullJobPrefix],
      ];
      const [outcome, pairs] = await this.lua.reply('hitaClaim', this.lua.jobKeys(id), args);
      // Anything else (stale, ended) is a delivery to drop.
      if (outcome === ScriptOutcome.Claimed) {
        // BullMQ locked it for its default duration; make its lock our lease.
        await this.bull.extend(bullId, token, leaseMs);
        return { job: hashToRecord(pairsToHash(pairs)), token };
      }
      if (outcome === ScriptOutcome.Wait) {
        // Every due job's tenant is at its running cap: the delivery waits for the next claim.
        await this.bull.requeue(bullId, token);
        return null;
      }
      await this.bull.finish(bullId, token, 'dropped');
    }
    return null;
  }

  async heartbeat(claim: ClaimedJob, leaseMs: number): Promise<HeartbeatResult> {
    const args = [claim.job.id, claim.token, leaseMs];
    const keys = this.lua.jobKey(claim.job.id);
    const reply = (await this.lua.run('hitaHeartbeat', keys, [...args, '1'])) as [
      number,
      number,
      string,
    ];
    const [owned, cancel, bullId] = reply;
    const cancelRequested = cancel === 1;
    if (owned === 1 && (await this.bull.extend(bullId, claim.token, leaseMs))) {
      return { owned: true, cancelRequested };
    }
    // BullMQ's lock is gone, so it will hand the job out again: give the lease up to match.
    if (owned === 1) await this.lua.run('hitaHeartbeat', keys, [...args, '0']);
    this.bull.forget(claim.token);
    return { owned: false, cancelRequested };
  }

  async progress(claim: ClaimedJob, progress: JobProgress): Promise<void> {
    const args = [claim.job.id, claim.token, JSON.stringify(progress)];
    const [outcome] = await this.lua.reply('hitaProgress', this.lua.jobKeys(claim.job.id), args);
    assertLeased(claim.job.id, outcome, [ScriptOutcome.Ok]);
  }

  /** SUCCEEDED, or CANCELLED when a cancel was requested first (`JobConsumer.complete`). */
  complete(claim: ClaimedJob, outputs: JobOutput[]): Promise<JobRecord> {
    return this.finish(claim, 'completed', JSON.stringify(outputs));
  }

  async fail(claim: ClaimedJob, failure: JobFailure): Promise<JobRecord> {
    const [word, pairs, oldBullId] = await this.lua.reply(
      'hitaFail',
      this.lua.jobKeys(claim.job.id),
      [
        claim.job.id,
        claim.token,
        JSON.stringify(failure),
        failure.retryable ? '1' : '0',
        // The token proves claim.job.attempts is still the record's: only a claim changes both.
        this.tunables.retryBackoffMs(claim.job.attempts),
      ],
    );
    const outcome = assertLeased(claim.job.id, word, [
      ScriptOutcome.Retrying,
      ScriptOutcome.Failed,
      ScriptOutcome.Cancelled,
    ]);
    const hash = pairsToHash(pairs);
    if (outcome === ScriptOutcome.Retrying) {
      await this.bull.addRun(hash, Number(hash.availableAt) - this.tunables.clock());
    }
    await this.bull.finish(String(oldBullId), claim.token, 'dropped');
    return hashToRecord(hash);
  }

  cancelled(claim: ClaimedJob): Promise<JobRecord> {
    return this.finish(claim, 'cancelled', '');
  }

  /** `JobConsumer.release`: the record first, then its BullMQ delivery back to the wait list. */
  async release(claim: ClaimedJob): Promise<JobRecord> {
    const [word, pairs, bullId] = await this.lua.reply(
      'hitaRelease',
      this.lua.jobKeys(claim.job.id),
      [claim.job.id, claim.token],
    );
    const outcome = assertLeased(claim.job.id, word, [
      ScriptOutcome.Released,
      ScriptOutcome.Cancelled,
    ]);
    const hash = pairsToHash(pairs);
    if (outcome === ScriptOutcome.Released) await this.bull.requeue(String(bullId), claim.token);
    else await this.bull.finish(String(bullId), claim.token, 'dropped');
    return hashToRecord(hash);
  }

  /** `JobConsumer.announce` (`isLive`) and `retire` (not). */
  async announce(workerId: string, isLive: boolean): Promise<void> {
    await this.lua.run(
      'hitaAnnounce',
      [],
      [workerId, this.tunables.workerTtlMs, isLive ? '1' : '0'],
    );
  }

  private async finish(
    claim: ClaimedJob,
    outcome: 'completed' | 'cancelled',
    outputs: string,
  ): Promise<JobRecord> {
    const args = [claim.job.id, claim.token, outcome, outputs];
    const [result, pairs] = await this.lua.reply(
      'hitaFinish',
      this.lua.jobKeys(claim.job.id),
      args,
    );
    assertLeased(claim.job.id, result, [ScriptOutcome.Ok]);
    const hash = pairsToHash(pairs);
    // The record decides: a 'completed' call overtaken by a cancel ended CANCELLED.
    const bullOutcome = hash.status === 'SUCCEEDED' ? 'completed' : 'dropped';
    await this.bull.finish(hash.bullId ?? '', claim.token, bullOutcome);
    return hashToRecord(hash);
  }
}

/**
 * The outcome of a call under a lease, when it is one of `accepted`.
 * @throws AppError NOT_FOUND, or CONFLICT when the token no longer holds the lease
 */
function assertLeased<const T extends ScriptOutcome>(
  id: string,
  outcome: unknown,
  accepted: readonly T[],
): T {
  return expectOutcome(outcome, accepted, { jobId: id, change: 'leased-call' });
}
