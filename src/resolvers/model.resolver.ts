import { Ctx, Query, Resolver } from 'type-graphql';
import { COSTS } from '../schema/costs.js';
import { Model } from '../schema/model.types.js';
import type { RequestContext } from './context.js';

/** The `models` query. */
@Resolver()
export class ModelResolver {
  @Query(() => [Model], {
    description: 'Servable models with their classes, capabilities and defaults',
    complexity: COSTS.models,
  })
  models(@Ctx() ctx: RequestContext): Promise<Model[]> {
    return ctx.services.models.list();
  }
}
