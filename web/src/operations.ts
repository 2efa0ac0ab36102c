/**
 * Every GraphQL operation the demo page sends, in one module without DOM access, so that a test
 * can cost each one against the server's budget (test/contract/demo-costs.test.ts). Each is typed
 * from the schema by gql.tada (graphql.ts); the page's `Job`, `Model` and `JobEvent` types are the
 * results of these selections, so a field the schema drops fails `npm run typecheck:web`.
 */
import type { ResultOf, VariablesOf } from 'gql.tada';
// `.js`: the cost test compiles this module under the root project's NodeNext resolution too.
import { graphql, operation } from './graphql.js';

/** What the page shows of a job. */
const JOB_FIELDS = graphql(`
  fragment JobFields on Job {
    id
    kind
    status
    sequence
    model
    createdAt
    queuePosition
    progress {
      phase
      step
      total
      fraction
    }
    error {
      code
      message
      retryable
    }
    parameters {
      classId
      count
      seed
      cfgScale
      temperature
      topK
      topP
      mode
      strength
    }
    outputs {
      key
      url
      thumbnailUrl
      width
      height
      seed
    }
    inputs {
      role
      key
      url
    }
  }
`);

const MODELS_DOCUMENT = graphql(`
  query Models {
    models {
      id
      description
      isDefault
      imageSize
      holisticTokens
      patchTokens
      classes {
        id
        name
      }
      capabilities {
        generate
        inpaint
        styleTransfer
      }
      defaults {
        cfgScale
        temperature
        topK
        topP
      }
    }
  }
`);

const JOBS_DOCUMENT = graphql(
  `
    query Jobs($first: Int!) {
      jobs(first: $first) {
        edges {
          node {
            ...JobFields
          }
        }
      }
    }
  `,
  [JOB_FIELDS],
);

const QUEUED_DOCUMENT = graphql(`
  query QueuedPositions {
    jobs(first: 100, filter: { status: [QUEUED] }) {
      edges {
        node {
          id
          status
          queuePosition
          estimatedStartAt
        }
      }
    }
  }
`);

const QUEUE_STATUS_DOCUMENT = graphql(`
  query QueueStatus {
    queue {
      depth
      running
      workers
      imagesPerSecond
    }
  }
`);

const GENERATE_IMAGES_DOCUMENT = graphql(
  `
    mutation GenerateImages($input: GenerateInput!) {
      generateImages(input: $input) {
        ...JobFields
      }
    }
  `,
  [JOB_FIELDS],
);

const INPAINT_IMAGE_DOCUMENT = graphql(
  `
    mutation InpaintImage($input: InpaintInput!) {
      inpaintImage(input: $input) {
        ...JobFields
      }
    }
  `,
  [JOB_FIELDS],
);

const TRANSFER_STYLE_DOCUMENT = graphql(
  `
    mutation TransferStyle($input: StyleTransferInput!) {
      transferStyle(input: $input) {
        ...JobFields
      }
    }
  `,
  [JOB_FIELDS],
);

const CANCEL_JOB_DOCUMENT = graphql(
  `
    mutation CancelJob($id: ID!) {
      cancelJob(id: $id) {
        ...JobFields
      }
    }
  `,
  [JOB_FIELDS],
);

const RETRY_JOB_DOCUMENT = graphql(
  `
    mutation RetryJob($id: ID!) {
      retryJob(id: $id) {
        ...JobFields
      }
    }
  `,
  [JOB_FIELDS],
);

const CREATE_UPLOAD_DOCUMENT = graphql(`
  mutation CreateUpload($input: CreateUploadInput!) {
    createUpload(input: $input) {
      key
      url
      method
    }
  }
`);

const JOB_UPDATED_DOCUMENT = graphql(
  `
    subscription JobUpdated($id: ID!, $after: Int) {
      jobUpdated(id: $id, afterSequence: $after) {
        sequence
        status
        type
        at
        progress {
          phase
          step
          total
          fraction
        }
        previews {
          index
          step
          width
          height
          dataUrl
        }
        job {
          ...JobFields
        }
      }
    }
  `,
  [JOB_FIELDS],
);

/** A job as the page holds it: the {@link JOB_FIELDS} selection. */
export type Job = ResultOf<typeof JOB_FIELDS>;
export type JobStatus = Job['status'];
export type Image = Job['outputs'][number];
export type Model = ResultOf<typeof MODELS_DOCUMENT>['models'][number];
/** One event of {@link JOB_UPDATED}: the state it recorded, and the job as it is now. */
export type JobEvent = ResultOf<typeof JOB_UPDATED_DOCUMENT>['jobUpdated'];
/** The fields of a job's input that the generate form's sampling controls fill. */
export type SamplingInput = Pick<
  VariablesOf<typeof GENERATE_IMAGES_DOCUMENT>['input'],
  'model' | 'classId' | 'seed' | 'cfgScale' | 'temperature' | 'topK' | 'topP' | 'preview'
>;
/** One live preview of one image of a job (JobEvent.previews). */
export type Preview = NonNullable<JobEvent['previews']>[number];

export const MODELS_QUERY = operation(MODELS_DOCUMENT);

/** The job list; `$first` is at most {@link MAX_LISTED_JOBS}. */
export const JOBS_QUERY = operation(JOBS_DOCUMENT);
export const MAX_LISTED_JOBS = 30;

/** One page of the queued jobs rather than an alias per job: the server caps aliases (and cost). */
export const QUEUED_POSITIONS = operation(QUEUED_DOCUMENT);
/** The header's queue line: depth, running jobs, live workers and their measured throughput. */
export const QUEUE_STATUS = operation(QUEUE_STATUS_DOCUMENT);
export type QueueStatus = ResultOf<typeof QUEUE_STATUS_DOCUMENT>['queue'];

export const GENERATE_IMAGES = operation(GENERATE_IMAGES_DOCUMENT);
export const INPAINT_IMAGE = operation(INPAINT_IMAGE_DOCUMENT);
export const TRANSFER_STYLE = operation(TRANSFER_STYLE_DOCUMENT);
export const CANCEL_JOB = operation(CANCEL_JOB_DOCUMENT);
export const RETRY_JOB = operation(RETRY_JOB_DOCUMENT);
export const CREATE_UPLOAD = operation(CREATE_UPLOAD_DOCUMENT);
export const JOB_UPDATED = operation(JOB_UPDATED_DOCUMENT);

/** The job-creating mutations by root field, each with the type of its `$input`. */
const JOB_MUTATIONS = {
  generateImages: { inputType: 'GenerateInput', text: GENERATE_IMAGES },
  inpaintImage: { inputType: 'InpaintInput', text: INPAINT_IMAGE },
  transferStyle: { inputType: 'StyleTransferInput', text: TRANSFER_STYLE },
} as const;

export type JobMutationName = keyof typeof JOB_MUTATIONS;

/**
 * The text of a job-creating mutation, looked up by root field (the cost test walks them all).
 * @throws Error when `inputType` is not the type of that mutation's `$input`
 */
export function jobMutationDocument<N extends JobMutationName>(
  name: N,
  inputType: (typeof JOB_MUTATIONS)[N]['inputType'],
): (typeof JOB_MUTATIONS)[N]['text'] {
  const mutation = JOB_MUTATIONS[name];
  if (mutation.inputType !== inputType) {
    throw new Error(`${name} takes ${mutation.inputType}, not ${inputType}`);
  }
  return mutation.text;
}

const JOB_ACTIONS = { cancelJob: CANCEL_JOB, retryJob: RETRY_JOB } as const;

export type JobActionName = keyof typeof JOB_ACTIONS;

/** The text of `cancelJob` or `retryJob`. */
export function jobActionDocument<N extends JobActionName>(name: N): (typeof JOB_ACTIONS)[N] {
  return JOB_ACTIONS[name];
}
