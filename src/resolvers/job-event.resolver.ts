import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { Job, JobEvent } from '../schema/job.types.js';
import type { RequestContext } from './context.js';
import { toJob } from './job-mapping.js';

@Resolver(() => JobEvent)
export class JobEventResolver {
  /** Fetched only when selected: a subscription fan-out that asks for status alone stays cheap. */
  @FieldResolver(() => Job, { description: 'The job as it is now (not as it was at this event)' })
  async job(@Root() event: JobEvent, @Ctx() ctx: RequestContext): Promise<Job> {
    return toJob(await ctx.services.jobs.get(ctx.tenant, event.jobId));
  }
}
