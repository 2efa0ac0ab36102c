import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { Node } from '../schema/node.types.js';
import type { RequestContext } from './context.js';
import { toJob } from './job-mapping.js';

/** Relay's `node(id)`: the caller's own objects only, null for anything else. */
@Resolver()
export class NodeResolver {
  @Query(() => Node, {
    nullable: true,
    description: "The caller's object with this id (a Job); null when unknown or another tenant's",
  })
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Node | null> {
    const record = await ctx.services.jobs.find(ctx.tenant, id);
    return record ? toJob(record) : null;
  }
}
