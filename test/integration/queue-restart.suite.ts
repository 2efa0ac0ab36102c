/**
 * Conformance scenarios for durability: jobs survive a restart of the queue, and a worker
 * process killed mid-job (SIGKILL, in a child process) has its job re-run exactly once.
 * Registered by describeJobQueue (queue.suite.ts) for every engine.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import type { JobQueueConfig } from '../../src/queue/create-job-queue.js';
import type { ClaimedJob, EnqueueInput, JobOutput, JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';

const CHILD = resolve('test/integration/fixtures/queue-worker-child.mjs');
const COMPILED_ENGINE = resolve('dist/queue/create-job-queue.js');

/** What the scenarios need from the suite that registers them. */
export interface RestartScenarioHooks {
  open(tunables?: JobQueueTunables): Promise<JobQueue>;
  /** The storage of the last opened queue: a second instance on it, and its plain config. */
  fixture(): { reopen(): Promise<JobQueue>; config: JobQueueConfig };
  input(overrides?: Partial<EnqueueInput>): EnqueueInput;
  claimNext(
    queue: JobQueue,
    options?: { workerId?: string; leaseMs?: number; withinMs?: number },
  ): Promise<ClaimedJob>;
  outputsOf(id: string, seed?: number): JobOutput[];
  record(scenario: string, queue: JobQueue, id: string): Promise<string[]>;
}

function runChild(
  config: JobQueueConfig,
  leaseMs: number,
): Promise<{ stdout: string; signal: string | null }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(config), String(leaseMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') done({ stdout, signal });
      else fail(new Error(`child exited with ${code ?? signal}: ${stdout}${stderr}`));
    });
  });
}

/** Registers the scenarios inside the engine's describe block. */
export function restartScenarios(hooks: RestartScenarioHooks): void {
  const { open, fixture, input, claimNext, outputsOf, record } = hooks;

  it('keeps every job across a restart and finishes them all', async () => {
    const queue = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1)
      ids.push((await queue.enqueue(input({ priority: i % 2 }))).job.id);
    const interrupted = await claimNext(queue, { leaseMs: 300 }); // its process "dies" at close
    await queue.close();
    await queue.close(); // idempotent
    const reopened = await fixture().reopen();
    for (const id of ids)
      expect((await reopened.get(id))?.status).toBe(
        id === interrupted.job.id ? 'RUNNING' : 'QUEUED',
      );
    for (let i = 0; i < ids.length; i += 1) {
      const claim = await claimNext(reopened);
      await reopened.complete(claim, outputsOf(claim.job.id));
    }
    for (const id of ids) expect((await reopened.get(id))?.status).toBe('SUCCEEDED');
    expect((await reopened.get(interrupted.job.id))?.attempts).toBe(2);
    expect((await reopened.stats()).byStatus.SUCCEEDED).toBe(5);
  });

  it('re-runs the job of a worker process killed mid-job exactly once', async () => {
    if (!existsSync(COMPILED_ENGINE))
      throw new Error(`${COMPILED_ENGINE} is missing: run npm run build first`);
    const queue = await open();
    const { job } = await queue.enqueue(input());
    const { stdout } = await runChild(fixture().config, 400);
    const dead = JSON.parse(stdout.trim()) as { jobId: string; token: string; attempts: number };
    expect(dead).toMatchObject({ jobId: job.id, attempts: 1 });
    expect((await queue.get(job.id))?.status).toBe('RUNNING');

    const claim = await claimNext(queue, { workerId: 'survivor', withinMs: 15_000 });
    expect(claim.job).toMatchObject({ id: job.id, attempts: 2 });
    const deadClaim: ClaimedJob = { job: claim.job, token: dead.token };
    await expect(queue.complete(deadClaim, outputsOf(job.id, 1))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const done = await queue.complete(claim, outputsOf(job.id));
    await expect(queue.complete(deadClaim, outputsOf(job.id, 1))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 2, outputs: outputsOf(job.id) });
    expect(await queue.get(job.id)).toEqual(done);
    const types = await record('killed-worker', queue, job.id);
    expect(types.filter((type) => type === 'completed')).toHaveLength(1);
    expect(types).toEqual(['added', 'active', 'progress', 'retrying', 'active', 'completed']);
  });
}
