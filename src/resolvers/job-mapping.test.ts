import { describe, expect, it, vi } from 'vitest';
import { isAppError } from '../errors.js';
import type { JobPage, JobRecord } from '../queue/job-queue.js';
import type { RequestContext } from './context.js';
import { JobResolver } from './job.resolver.js';
import { assertShowable, toJob, toJobEvent } from './job-mapping.js';

function record(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    tenant: 't',
    kind: 'GENERATE',
    status: 'SUCCEEDED',
    sequence: 5,
    model: null,
    params: { classId: 1, count: 1, seed: 7, cfgScale: 4, temperature: 1, topK: 0, topP: 1 },
    priority: 0,
    idempotencyKey: null,
    attempts: 1,
    maxAttempts: 3,
    workerId: 'gpu-host:41:0',
    progress: { phase: 'decode', step: 1, total: 1 },
    outputs: [{ key: 'k', thumbnailKey: 'k.webp', width: 32, height: 32, seed: 7, format: 'png' }],
    error: null,
    cancelRequested: false,
    retentionMs: null,
    webhook: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}

const seedOf = (seed: number) =>
  record('bad', {
    outputs: [{ key: 'k', thumbnailKey: 'k.webp', width: 32, height: 32, seed, format: 'png' }],
  });

describe('assertShowable', () => {
  it('passes a record whose every Int fits 32 bits and every Float is finite', () => {
    expect(() => assertShowable(record('ok'))).not.toThrow();
    expect(() => assertShowable(seedOf(2 ** 31 - 1))).not.toThrow();
  });

  it.each([
    ['an image seed of 2^31', seedOf(2 ** 31), 'outputs.0.seed'],
    ['a sequence past Int', record('bad', { sequence: 2 ** 40 }), 'sequence'],
    [
      'a fractional count',
      record('bad', { params: { ...record('x').params, count: 1.5 } }),
      'parameters.count',
    ],
    [
      'a null cfg scale',
      record('bad', { params: { ...record('x').params, cfgScale: null as unknown as number } }),
      'parameters.cfgScale',
    ],
  ])('refuses %s with JOB_UNREADABLE naming the field', (_, bad, field) => {
    const error = (() => {
      try {
        toJob(bad);
      } catch (e) {
        return e;
      }
    })();
    expect(isAppError(error) && [error.code, error.details]).toEqual([
      'JOB_UNREADABLE',
      { id: 'bad', field },
    ]);
  });
});

describe('toJob and toJobEvent', () => {
  it('name the worker of a job and carry the reason of an event', () => {
    expect(toJob(record('ran')).workerId).toBe('gpu-host:41:0');
    expect(toJob(record('waiting', { status: 'QUEUED', workerId: null })).workerId).toBeNull();
    const error = {
      code: 'WORKER_LOST',
      message: 'lost; running it again',
      retryable: true,
    } as const;
    const at = '2026-01-01T00:00:00.000Z';
    const base = { jobId: 'j', tenant: 't', sequence: 3, status: 'QUEUED' as const, at };
    expect(toJobEvent({ ...base, type: 'retrying', error })).toMatchObject({
      type: 'retrying',
      status: 'QUEUED',
      error,
    });
    expect(toJobEvent({ ...base, type: 'added' }).error).toBeNull();
  });
});

describe('JobResolver.jobs', () => {
  it('leaves out a record it cannot show and logs its id', async () => {
    const page: JobPage = {
      jobs: [record('a'), seedOf(2 ** 31), record('c')],
      endCursor: 'cursor-c',
      hasNextPage: false,
    };
    const warn = vi.fn();
    const ctx = {
      tenant: 't',
      baseUrl: 'http://x',
      services: { logger: { warn }, jobs: { list: async () => page } },
    } as unknown as RequestContext;
    const connection = await new JobResolver().jobs(20, null, null, ctx);
    expect(connection.edges.map((edge) => edge.node.id)).toEqual(['a', 'c']);
    expect(connection.pageInfo).toEqual({ hasNextPage: false, endCursor: 'cursor-c' });
    expect(warn).toHaveBeenCalledOnce();
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ jobId: 'bad' });
  });
});
