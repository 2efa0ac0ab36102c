import { describe, expect, it } from 'vitest';
import { countsToStats, deletedEvent, isoOrNull } from './job-shapes.js';

describe('job shapes', () => {
  it('count every status, absent ones as 0', () => {
    const counts: Record<string, number> = { QUEUED: 4, RUNNING: 1, FAILED: 2 };
    expect(countsToStats((status) => counts[status] ?? 0, 3, 1.5)).toEqual({
      depth: 4,
      running: 1,
      workers: 3,
      imagesPerSecond: 1.5,
      byStatus: { QUEUED: 4, RUNNING: 1, SUCCEEDED: 0, FAILED: 2, CANCELLED: 0, EXPIRED: 0 },
    });
  });

  it('describe a deletion with the job’s last sequence and status', () => {
    const job = { id: 'j', tenant: 't', sequence: 7, status: 'SUCCEEDED' as const };
    expect(deletedEvent(job, 0)).toEqual({
      jobId: 'j',
      tenant: 't',
      type: 'deleted',
      sequence: 7,
      status: 'SUCCEEDED',
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('turn epoch ms into ISO-8601, keeping null', () => {
    expect(isoOrNull(null)).toBeNull();
    expect(isoOrNull(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
