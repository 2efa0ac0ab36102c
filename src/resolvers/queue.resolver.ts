import { Ctx, Query, Resolver } from 'type-graphql';
import { COSTS } from '../schema/costs.js';
import { QueueInfo } from '../schema/queue.types.js';
import type { RequestContext } from './context.js';

/** The `queue` query: depth, running jobs, live workers and this server's batch rows. */
@Resolver()
export class QueueResolver {
  @Query(() => QueueInfo, { complexity: COSTS.queue })
  queue(@Ctx() ctx: RequestContext): Promise<QueueInfo> {
    return ctx.services.status.queue();
  }
}
