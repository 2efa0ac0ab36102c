import { describe, expect, it } from 'vitest';
import { toWebhookSpec } from './webhook-input.js';

describe('toWebhookSpec', () => {
  it('defaults to the four endings and orders and deduplicates the events', () => {
    expect(toWebhookSpec({ url: 'https://hooks.example/x' }, false)).toEqual({
      url: 'https://hooks.example/x',
      events: ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'],
    });
    expect(
      toWebhookSpec(
        { url: 'https://hooks.example/x', events: ['FAILED', 'STARTED', 'FAILED'] },
        false,
      ).events,
    ).toEqual(['STARTED', 'FAILED']);
  });

  it('refuses an empty or unknown event list, naming webhook.events', () => {
    for (const events of [[], ['DONE']]) {
      expect(() => toWebhookSpec({ url: 'https://hooks.example/x', events }, false)).toThrow(
        expect.objectContaining({
          code: 'BAD_USER_INPUT',
          details: expect.objectContaining({ field: 'webhook.events' }),
        }),
      );
    }
  });
});
