import { createPubSub } from '@graphql-yoga/subscription';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
// In this order: type-graphql lists fields in the order their decorators ran, and schema.graphql
// (the checked-in contract) has Query's models, queue and health before node.
import { DeletionResolver } from './deletion.resolver.js';
import { JobEventResolver } from './job-event.resolver.js';
import { JobResolver } from './job.resolver.js';
import { ModelResolver } from './model.resolver.js';
import { QueueResolver } from './queue.resolver.js';
import { HealthResolver } from './health.resolver.js';
import { NodeResolver } from './node.resolver.js';
import { JobWebhookResolver, WebhookResolver } from './webhook.resolver.js';

/**
 * The public contract, built where the schema's classes meet the resolvers that serve them (so
 * src/schema imports nothing above it); `hita schema` prints it to schema.graphql, and a test
 * fails when they drift.
 */
export function buildHitaSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      JobResolver,
      JobEventResolver,
      ModelResolver,
      QueueResolver,
      HealthResolver,
      NodeResolver,
      DeletionResolver,
      JobWebhookResolver,
      WebhookResolver,
    ],
    // Inputs are validated by the services, with typed errors naming each field.
    validate: false,
    // Every subscription brings its own `subscribe` (JobEventHub); type-graphql still asks for a PubSub.
    pubSub: createPubSub(),
  });
}
