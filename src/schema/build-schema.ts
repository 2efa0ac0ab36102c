import { createPubSub } from '@graphql-yoga/subscription';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { DeletionResolver } from '../resolvers/deletion.resolver.js';
import { JobEventResolver } from '../resolvers/job-event.resolver.js';
import { JobResolver } from '../resolvers/job.resolver.js';
import { ModelResolver } from '../resolvers/model.resolver.js';
import { NodeResolver } from '../resolvers/node.resolver.js';

/** The public contract; `hita schema` prints it to schema.graphql, and a test fails when they drift. */
export function buildHitaSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [JobResolver, JobEventResolver, ModelResolver, NodeResolver, DeletionResolver],
    // Inputs are validated by the services, with typed errors naming each field.
    validate: false,
    // Every subscription brings its own `subscribe` (JobEventHub); type-graphql still asks for a PubSub.
    pubSub: createPubSub(),
  });
}
