import { afterEach, describe, expect, it } from 'vitest';
import type { WorkAhead } from '../queue/job-queue.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import { WorkAheadBatcher } from './work-ahead-batcher.js';

/** A real in-memory queue that counts its batched passes. */
class CountingQueue extends SqliteJobQueue {
  passes = 0;
  override workAheadMany(ids: readonly string[]): Promise<Map<string, WorkAhead>> {
    this.passes += 1;
    return super.workAheadMany(ids);
  }
}

describe('WorkAheadBatcher', () => {
  const queue = new CountingQueue({ path: ':memory:' });
  afterEach(() => queue.close());

  it('answers the lookups of one turn with one pass, each with its own place', async () => {
    await queue.start();
    const ids: string[] = [];
    for (const count of [2, 1, 3]) {
      const params = { classId: 1, count, seed: 1, cfgScale: 1, temperature: 1, topK: 0, topP: 1 };
      ids.push(
        (await queue.enqueue({ tenant: 't', kind: 'GENERATE', model: null, params })).job.id,
      );
    }
    const batcher = new WorkAheadBatcher(queue);
    const answers = await Promise.all(
      [...ids, ids[0] ?? '', 'unknown'].map((id) => batcher.workAhead(id)),
    );
    expect(queue.passes).toBe(1);
    expect(answers).toEqual([
      { position: 1, imagesAhead: 0 },
      { position: 2, imagesAhead: 2 },
      { position: 3, imagesAhead: 3 },
      { position: 1, imagesAhead: 0 },
      null,
    ]);
  });
});
