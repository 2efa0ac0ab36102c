import { errors } from '../errors.js';
import type { WebhookEvent, WebhookSpec } from '../queue/job-queue.js';
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../queue/webhook-outbox.js';
import { checkWebhookUrl } from './webhook-address-guard.js';

/** `webhook` of a job input, as the GraphQL inputs carry it. */
export interface WebhookDraft {
  url: string;
  events?: readonly string[] | null | undefined;
}

/**
 * The webhook stored with a job: its URL through the enqueue-time SSRF check, its events
 * deduplicated in the enum's order (the four endings when none are named). No DNS lookup.
 * @throws AppError BAD_USER_INPUT on `webhook.url` or `webhook.events`
 */
export function toWebhookSpec(draft: WebhookDraft, allowPrivate: boolean): WebhookSpec {
  const url = checkWebhookUrl(draft.url, allowPrivate);
  const asked = draft.events ?? DEFAULT_WEBHOOK_EVENTS;
  const unknown = asked.filter((e) => !WEBHOOK_EVENTS.includes(e as WebhookEvent));
  if (unknown.length > 0) throw errors.badInput('webhook.events', `unknown: ${unknown.join(', ')}`);
  if (asked.length === 0)
    throw errors.badInput('webhook.events', 'at least one event, or none given');
  return { url, events: WEBHOOK_EVENTS.filter((e) => asked.includes(e)) };
}
