import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { COSTS } from '../schema/costs.js';
import { Job } from '../schema/job.types.js';
import {
  Webhook,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '../schema/webhook.types.js';
import type { RequestContext } from './context.js';

/** `Job.webhook` and the caller's `webhookSecret`. */
@Resolver(() => Job)
export class JobWebhookResolver {
  @FieldResolver(() => Webhook, {
    nullable: true,
    description: 'Where the job posts its events; null when it has no webhook',
  })
  webhook(@Root() job: Job): Webhook | null {
    const spec = job.storedWebhook;
    if (!spec) return null;
    return Object.assign(new Webhook(), {
      url: spec.url,
      events: spec.events.map((event) => WebhookEvent[event]),
      jobId: job.id,
    });
  }

  @Query(() => String, {
    description:
      "The caller's own Standard Webhooks secret (whsec_…): verify this tenant's webhooks with it",
    complexity: COSTS.webhookSecret,
  })
  webhookSecret(@Ctx() ctx: RequestContext): string {
    return ctx.services.webhooks.secretFor(ctx.tenant);
  }
}

/** `Webhook.deliveries`, read only when selected (the job was the caller's to see). */
@Resolver(() => Webhook)
export class WebhookResolver {
  @FieldResolver(() => [WebhookDelivery], {
    description: 'The last 50 attempts, then the pending ones, oldest first',
    complexity: COSTS.webhookDeliveries,
  })
  async deliveries(
    @Root() webhook: Webhook,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookDelivery[]> {
    const attempts = await ctx.services.webhooks.deliveries(webhook.jobId);
    return attempts.map((a) => ({
      event: WebhookEvent[a.event],
      attempt: a.attempt,
      status: WebhookDeliveryStatus[a.status],
      httpStatus: a.httpStatus,
      at: new Date(a.at),
    }));
  }
}
