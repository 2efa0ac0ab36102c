import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { COSTS } from './costs.js';

export enum WebhookEvent {
  STARTED = 'STARTED',
  PROGRESS = 'PROGRESS',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(WebhookEvent, {
  name: 'WebhookEvent',
  description:
    "What a webhook reports: STARTED (a run's first attempt), PROGRESS (at most about once a second), or an ending",
});

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
  GAVE_UP = 'GAVE_UP',
}
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description:
    'PENDING: the next attempt, not made yet; DELIVERED: a 2xx answer; FAILED: retried later, or refused by the address check; GAVE_UP: 410, or the retry window ended',
});

@InputType({ description: "Where to POST the job's events, signed per Standard Webhooks" })
export class WebhookInput {
  @Field(() => String, {
    description:
      'http(s), at most 2048 characters, no user or password, a host name (not an IP address nor localhost)',
  })
  url!: string;

  @Field(() => [WebhookEvent], {
    nullable: true,
    description: 'Default: SUCCEEDED, FAILED, CANCELLED, EXPIRED',
  })
  events?: WebhookEvent[] | null;
}

@ObjectType({ description: 'One attempt of a webhook, or its next one (PENDING)' })
export class WebhookDelivery {
  @Field(() => WebhookEvent)
  event!: WebhookEvent;

  @Field(() => Int, { description: '1-based attempt of this event' })
  attempt!: number;

  @Field(() => WebhookDeliveryStatus)
  status!: WebhookDeliveryStatus;

  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status, if it answered" })
  httpStatus!: number | null;

  @Field(() => Date, { description: 'When it was made; for PENDING, when it is due' })
  at!: Date;
}

@ObjectType({ description: "A job's webhook" })
export class Webhook {
  @Field(() => String)
  url!: string;

  @Field(() => [WebhookEvent], { complexity: COSTS.webhookEvents })
  events!: WebhookEvent[];

  /** The job whose attempts `deliveries` lists. */
  jobId!: string;
}
