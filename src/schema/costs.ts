/**
 * The declared cost of every list field and mutation, read by the query-cost analysis
 * (src/guard/query-cost.ts) from each field's `complexity`. A test walks the schema and fails for
 * a list field or mutation without one, so fields added later must say what they cost.
 */
import type { ComplexityEstimatorArgs } from 'graphql-query-complexity';

/** Server settings an estimate depends on. */
export interface CostContext {
  /** Images one job may make (HITA_MAX_COUNT): the length bound of `outputs`. */
  maxOutputs: number;
}

type Estimate = (args: ComplexityEstimatorArgs) => number;

const contextOf = (args: ComplexityEstimatorArgs) => args.context as unknown as CostContext;

/** Enqueueing a job: a queue write, plus the images it will make. */
const JOB_BASE = 10;
const PER_IMAGE = 10;
/** Reading input images at enqueue (stat, load and decode each). */
const PER_INPUT_IMAGE = 5;

/** A list of `items` entries, each costing the selection under it. */
const listOf =
  (items: (args: ComplexityEstimatorArgs) => number): Estimate =>
  (args) =>
    1 + items(args) * args.childComplexity;

/** A job-creating mutation, in proportion to the images it asks for (at most the server's count). */
const jobCreation =
  (inputImages: number): Estimate =>
  (args) => {
    const input = args.args.input as { count?: unknown } | undefined;
    const asked = typeof input?.count === 'number' && input.count > 1 ? input.count : 1;
    const images = Math.min(asked, contextOf(args).maxOutputs);
    return JOB_BASE + inputImages * PER_INPUT_IMAGE + images * PER_IMAGE + args.childComplexity;
  };

/** Costs by field; each is used as `@Field({ complexity })` or on a query/mutation decorator. */
export const COSTS = {
  /** A presigned URL is one signature. */
  signedUrl: 1,
  /** `jobs(first)`: a page of `first` jobs (the connection's `edges` cost is per job). */
  jobsPage: listOf((args) => (typeof args.args.first === 'number' ? args.args.first : 20)),
  /** `edges` of a page: counted once per job by `jobs`. */
  pageEdges: ((args) => args.childComplexity) as Estimate,
  outputs: listOf((args) => contextOf(args).maxOutputs),
  /** image, mask, content, style */
  inputs: listOf(() => 4),
  /** A queue lookup. */
  queuePosition: 2,
  /** A queue lookup (the work ahead), the shared throughput read amortised over a page. */
  estimate: 2,
  /** Models of the models directory; a server holds a handful. */
  models: listOf(() => 10),
  /** GPT precisions of a model: fp32, int8, int4. */
  precisions: listOf(() => 3),
  /** Classes of a model (ImageNet has 1,000). */
  classes: listOf(() => 1000),
  queue: 5,
  /** A job's webhook attempts: a queue read of at most 50 (WEBHOOK_ATTEMPTS_KEPT) and its pending ones. */
  webhookDeliveries: listOf(() => 50),
  /** A webhook's events: at most the six of the enum, from the record. */
  webhookEvents: listOf(() => 6),
  /** An HMAC. */
  webhookSecret: 1,
  /**
   * A preview event's frames: at most one per image, already in memory (no read, no signing),
   * so one flat unit whatever is selected under it.
   */
  previews: 1,
  health: 5,
  generate: jobCreation(0),
  inpaint: jobCreation(2),
  styleTransfer: jobCreation(2),
  /** A queue read and a write. */
  changeJob: ((args) => 5 + args.childComplexity) as Estimate,
  createUpload: ((args) => 2 + args.childComplexity) as Estimate,
  /** An open stream: a queue read at start and on every resync. */
  subscription: ((args) => 10 + args.childComplexity) as Estimate,
} as const;
