import { describe, expect, it } from 'vitest';
import { workerLostFailure, workerLostRetry } from './worker-lost.js';

describe('worker-lost failures', () => {
  // These texts are stored (JobError.message) and lua-prelude.ts writes them too: pinned here.
  it('fail the job for good once the attempts are spent', () => {
    expect(workerLostFailure(3, 3)).toEqual({
      code: 'WORKER_LOST',
      message: 'the worker stopped renewing its lease; 3 of 3 attempts used',
      retryable: false,
    });
  });

  it('say why a job runs again while attempts are left', () => {
    expect(workerLostRetry(1, 3)).toEqual({
      code: 'WORKER_LOST',
      message: 'the worker stopped renewing its lease; running it again (1 of 3 attempts used)',
      retryable: true,
    });
  });
});
