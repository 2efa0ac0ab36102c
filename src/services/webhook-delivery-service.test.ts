import { describe, expect, it } from 'vitest';
import { backoffMs, webhookType } from './webhook-delivery-service.js';

describe('backoffMs', () => {
  it('doubles per attempt from the base, with jitter in [0.5, 1), capped', () => {
    expect(backoffMs(1, 5000, 3_600_000, 0)).toBe(2500);
    expect(backoffMs(1, 5000, 3_600_000, 0.999)).toBeLessThan(5000);
    expect(backoffMs(3, 5000, 3_600_000, 0)).toBe(10_000);
    expect(backoffMs(30, 5000, 3_600_000, 0.5)).toBe(3_600_000 * 0.75);
  });
});

describe('webhookType', () => {
  it('names the Standard Webhooks event type after the job event', () => {
    expect(webhookType('SUCCEEDED')).toBe('job.succeeded');
    expect(webhookType('STARTED')).toBe('job.started');
  });
});
