import {
  Arg,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type {
  JobEvent as QueueJobEvent,
  JobKind,
  JobStatus as QueueJobStatus,
} from '../queue/job-queue.js';
import {
  CreateUploadInput,
  GenerateInput,
  InpaintInput,
  JobFilter,
  StyleTransferInput,
} from '../schema/job.inputs.js';
import { Image, InputImage, Job, JobConnection, JobEvent } from '../schema/job.types.js';
import { Upload } from '../schema/queue.types.js';
import { encodeCursor } from '../queue/list-cursor.js';
import type { RequestContext } from './context.js';
import type { StreamedJobEvent } from '../services/job-event-hub.js';
import { etaJobOf, toJob, toJobEvent, toShowableJobs } from './job-mapping.js';
import { COSTS } from '../schema/costs.js';

function dateOrNull(ms: number | undefined): Date | null {
  return ms === undefined ? null : new Date(Math.round(ms));
}

/** Thin by design: validation and authorization live in JobService. */
@Resolver(() => Job)
export class JobResolver {
  @FieldResolver(() => [Image], {
    description: 'Stored images, each with presigned URLs',
    complexity: COSTS.outputs,
  })
  outputs(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<Image[]> {
    const { imageUrls } = ctx.services;
    return Promise.all(
      job.storedOutputs.map(async (output) => ({
        key: output.key,
        url: await imageUrls.urlFor(output.key, ctx.baseUrl),
        thumbnailUrl: await imageUrls.urlFor(output.thumbnailKey, ctx.baseUrl),
        width: output.width,
        height: output.height,
        seed: output.seed,
        format: output.format,
      })),
    );
  }

  @FieldResolver(() => [InputImage], {
    description: 'The images the job read (before/after views), each with a presigned URL',
    complexity: COSTS.inputs,
  })
  inputs(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<InputImage[]> {
    const { imageUrls } = ctx.services;
    return Promise.all(
      job.storedInputs.map(async ({ role, key, objectKey }) => ({
        role,
        key,
        url: await imageUrls.urlFor(objectKey, ctx.baseUrl),
      })),
    );
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description: '1-based place in the queue while QUEUED',
    complexity: COSTS.queuePosition,
  })
  queuePosition(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<number | null> | null {
    return job.status === 'QUEUED' ? ctx.services.jobs.position(job.id) : null;
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description:
      'When the job is expected to start (while QUEUED; its start while RUNNING): the work ahead ' +
      'over the measured throughput (queue.imagesPerSecond). Null otherwise, and until a ' +
      'throughput has been measured',
    complexity: COSTS.estimate,
  })
  estimatedStartAt(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<Date | null> {
    return ctx.services.eta.estimate(etaJobOf(job)).then((eta) => dateOrNull(eta?.startMs));
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description:
      'When the job is expected to finish, while QUEUED or RUNNING: as estimatedStartAt, plus ' +
      'its own images. Null otherwise, and until a throughput has been measured',
    complexity: COSTS.estimate,
  })
  estimatedFinishAt(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<Date | null> {
    return ctx.services.eta.estimate(etaJobOf(job)).then((eta) => dateOrNull(eta?.finishMs));
  }

  @Query(() => Job, { nullable: true, description: "One of the caller's jobs" })
  async job(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job | null> {
    const record = await ctx.services.jobs.find(ctx.tenant, id);
    return record ? toJob(record) : null;
  }

  @Query(() => JobConnection, {
    description: "The caller's jobs, newest first",
    complexity: COSTS.jobsPage,
  })
  async jobs(
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => JobFilter, { nullable: true }) filter: JobFilter | null,
    @Ctx() ctx: RequestContext,
  ): Promise<JobConnection> {
    const page = await ctx.services.jobs.list(ctx.tenant, first, after ?? undefined, {
      ...(filter?.status ? { status: filter.status as QueueJobStatus[] } : {}),
      ...(filter?.kind ? { kind: filter.kind as JobKind[] } : {}),
    });
    const nodes = toShowableJobs(page.jobs, (record, error) =>
      ctx.services.logger.warn(
        { jobId: record.id, field: error.details?.field, reason: error.message },
        'job left out of a list: its stored record cannot be shown',
      ),
    );
    return {
      // Every edge's cursor continues after its own job: a client may page from any edge.
      edges: nodes.map((node) => ({
        cursor: encodeCursor(node.createdAt.getTime(), node.id),
        node,
      })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    };
  }

  @Mutation(() => Job, {
    description: 'Enqueue class-conditional generation; returns the job at once',
    complexity: COSTS.generate,
  })
  async generateImages(
    @Arg('input', () => GenerateInput) input: GenerateInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Job> {
    return toJob(await ctx.services.jobs.generate(ctx.tenant, input, ctx.jobBatch));
  }

  @Mutation(() => Job, {
    description: 'Enqueue in-painting of the masked part of an image',
    complexity: COSTS.inpaint,
  })
  async inpaintImage(
    @Arg('input', () => InpaintInput) input: InpaintInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Job> {
    return toJob(await ctx.services.jobs.inpaint(ctx.tenant, input, ctx.jobBatch));
  }

  @Mutation(() => Job, {
    description: "Enqueue a style transfer: the style image's holistic tokens on the content",
    complexity: COSTS.styleTransfer,
  })
  async transferStyle(
    @Arg('input', () => StyleTransferInput) input: StyleTransferInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Job> {
    return toJob(await ctx.services.jobs.transferStyle(ctx.tenant, input, ctx.jobBatch));
  }

  @Mutation(() => Job, {
    description:
      'Cancel a queued job (CANCELLED at once) or a running one: the answer is then still ' +
      'RUNNING with cancelRequested true, and the job ends CANCELLED, never SUCCEEDED. ' +
      'CONFLICT when the job already finished.',
    complexity: COSTS.changeJob,
  })
  async cancelJob(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return toJob(await ctx.services.jobs.cancel(ctx.tenant, id));
  }

  @Mutation(() => Job, {
    description: 'Run a failed or cancelled job again',
    complexity: COSTS.changeJob,
  })
  async retryJob(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return toJob(await ctx.services.jobs.retry(ctx.tenant, id));
  }

  @Mutation(() => Upload, {
    description: 'A presigned PUT for an input image, and the key to reference it by',
    complexity: COSTS.createUpload,
  })
  createUpload(
    @Arg('input', () => CreateUploadInput) input: CreateUploadInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Upload> {
    return ctx.services.uploads.create(ctx.tenant, input, ctx.baseUrl);
  }

  @Subscription(() => JobEvent, {
    description:
      'Replays every event after afterSequence from durable state, then streams live ones until the job ends',
    complexity: COSTS.subscription,
    subscribe: ({ args, context }) => {
      const { id, afterSequence } = args as { id: string; afterSequence?: number | null };
      const ctx = context as RequestContext;
      const { events, subscriptions } = ctx.services;
      return subscriptions.track(ctx.tenant, events.jobUpdates(ctx.tenant, id, afterSequence ?? 0));
    },
  })
  jobUpdated(
    @Root() event: StreamedJobEvent,
    @Arg('id', () => ID) _id: string,
    @Arg('afterSequence', () => Int, { nullable: true }) _afterSequence: number | null,
  ): JobEvent {
    return toJobEvent(event);
  }

  @Subscription(() => JobEvent, {
    description: "Live events of all the caller's jobs",
    complexity: COSTS.subscription,
    subscribe: ({ context }) => {
      const ctx = context as RequestContext;
      const { events, subscriptions } = ctx.services;
      return subscriptions.track(ctx.tenant, events.tenantUpdates(ctx.tenant));
    },
  })
  jobsUpdated(@Root() event: QueueJobEvent): JobEvent {
    return toJobEvent(event);
  }
}
