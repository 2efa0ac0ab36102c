import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { COSTS } from '../schema/costs.js';
import { DeleteJobPayload } from '../schema/deletion.types.js';
import type { RequestContext } from './context.js';

/** Thin by design: JobService checks the owner and the state. */
@Resolver()
export class DeletionResolver {
  @Mutation(() => DeleteJobPayload, {
    description:
      'Delete a finished job (SUCCEEDED, FAILED, CANCELLED or EXPIRED) with its events, ' +
      'idempotency key, images, thumbnails and input copies; open jobUpdated streams of it ' +
      'complete. CONFLICT for a QUEUED or RUNNING job (cancel it first); NOT_FOUND for an ' +
      "unknown or another tenant's job.",
    complexity: COSTS.changeJob,
  })
  async deleteJob(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<DeleteJobPayload> {
    return { deletedId: await ctx.services.jobs.delete(ctx.tenant, id) };
  }
}
