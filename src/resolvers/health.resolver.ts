import { Ctx, Query, Resolver } from 'type-graphql';
import { COSTS } from '../schema/costs.js';
import { Health } from '../schema/queue.types.js';
import type { RequestContext } from './context.js';

/** The `health` query: whether the queue and the store answer, and this process's workers. */
@Resolver()
export class HealthResolver {
  @Query(() => Health, { complexity: COSTS.health })
  health(@Ctx() ctx: RequestContext): Promise<Health> {
    return ctx.services.status.health();
  }
}
