import { Ctx, Query, Resolver } from 'type-graphql';
import { Model } from '../schema/model.types.js';
import { Health, QueueInfo } from '../schema/queue.types.js';
import type { RequestContext } from './context.js';
import { COSTS } from '../schema/costs.js';

@Resolver()
export class ModelResolver {
  @Query(() => [Model], {
    description: 'Servable models with their classes, capabilities and defaults',
    complexity: COSTS.models,
  })
  async models(@Ctx() ctx: RequestContext): Promise<Model[]> {
    const { registry, defaultModel } = ctx.services;
    const models = await registry.list();
    return models.map((m) => ({
      id: m.id,
      description: m.manifest.description,
      isDefault: m.id === defaultModel,
      imageSize: m.imageSize,
      holisticTokens: m.manifest.tokenizer.numHolistic,
      patchTokens: m.manifest.tokenizer.numPatch,
      classes: m.classes,
      capabilities: {
        generate: m.capabilities.generate,
        inpaint: m.capabilities.inpaint,
        styleTransfer: m.capabilities.style,
      },
      defaults: m.manifest.sampling,
      license: m.manifest.license,
    }));
  }

  @Query(() => QueueInfo, { complexity: COSTS.queue })
  queue(@Ctx() ctx: RequestContext): Promise<QueueInfo> {
    return ctx.services.queueInfo();
  }

  @Query(() => Health, { complexity: COSTS.health })
  health(@Ctx() ctx: RequestContext): Promise<Health> {
    return ctx.services.health();
  }
}
