/**
 * The demo's HTTP side of the API: typed queries and mutations over `POST /graphql`, and uploads
 * through presigned PUTs. Subscriptions are in follow-job.ts.
 */
import type { VariablesOf } from 'gql.tada';
import { apiKey } from './api-key';
import type { Operation } from './graphql';
import {
  CANCEL_JOB,
  CREATE_UPLOAD,
  GENERATE_IMAGES,
  INPAINT_IMAGE,
  JOBS_QUERY,
  MAX_LISTED_JOBS,
  MODELS_QUERY,
  QUEUED_POSITIONS,
  QUEUE_STATUS,
  RETRY_JOB,
  TRANSFER_STYLE,
  type Job,
  type JobActionName,
  type JobStatus,
  type Model,
  type QueueStatus,
} from './operations';

/** An error the API reported: `errors[0]` of a GraphQL response, or a transport failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The states a job leaves only through a retry. */
export const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'];

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

const endpoint = new URL('graphql', document.baseURI).href;

function authorization(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** POSTs a query or mutation; throws ApiError carrying `errors[0]`. */
export async function gql<Result, Variables>(
  query: Operation<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorization() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new ApiError(`network error: ${(error as Error).message}`, 'NETWORK');
  }
  let body: GraphQLResponse<Result>;
  try {
    body = (await response.json()) as GraphQLResponse<Result>;
  } catch {
    throw new ApiError(`HTTP ${response.status} ${response.statusText}`, 'HTTP');
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code, first.extensions?.field);
  if (!body.data) throw new ApiError(`HTTP ${response.status}: empty response`, 'HTTP');
  return body.data;
}

export async function fetchModels(): Promise<Model[]> {
  return (await gql(MODELS_QUERY, {})).models;
}

export async function fetchJobs(first = MAX_LISTED_JOBS): Promise<Job[]> {
  const data = await gql(JOBS_QUERY, { first });
  return data.jobs.edges.map((edge) => edge.node);
}

/** Id, status, place and estimated start of the caller's queued jobs (one page of at most 100). */
export async function fetchQueuePositions(): Promise<
  (Pick<Job, 'id' | 'status' | 'queuePosition'> & { estimatedStartAt: string | null })[]
> {
  const data = await gql(QUEUED_POSITIONS, {});
  return data.jobs.edges.map((edge) => edge.node);
}

/** The queue's depth, running jobs, live workers and measured throughput. */
export async function fetchQueueStatus(): Promise<QueueStatus> {
  return (await gql(QUEUE_STATUS, {})).queue;
}

/** Enqueues class-conditional generation; returns the job at once. */
export async function generateImages(
  input: VariablesOf<typeof GENERATE_IMAGES>['input'],
): Promise<Job> {
  return (await gql(GENERATE_IMAGES, { input })).generateImages;
}

/** Enqueues in-painting of the masked part of an image. */
export async function inpaintImage(
  input: VariablesOf<typeof INPAINT_IMAGE>['input'],
): Promise<Job> {
  return (await gql(INPAINT_IMAGE, { input })).inpaintImage;
}

/** Enqueues a style transfer. */
export async function transferStyle(
  input: VariablesOf<typeof TRANSFER_STYLE>['input'],
): Promise<Job> {
  return (await gql(TRANSFER_STYLE, { input })).transferStyle;
}

/** Cancels or retries a job and returns it as it is now. */
export async function jobAction(name: JobActionName, id: string): Promise<Job> {
  return name === 'cancelJob'
    ? (await gql(CANCEL_JOB, { id })).cancelJob
    : (await gql(RETRY_JOB, { id })).retryJob;
}

/** Stores a PNG, JPEG or WebP through a presigned PUT and returns its object key. */
export async function uploadImage(blob: Blob, filename: string): Promise<string> {
  const contentType = blob.type || 'image/png';
  const { createUpload } = await gql(CREATE_UPLOAD, { input: { contentType, filename } });
  const response = await fetch(createUpload.url, {
    method: createUpload.method || 'PUT',
    headers: { 'content-type': contentType },
    body: blob,
  });
  if (!response.ok) {
    let message = `upload failed: HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { message?: string };
      if (body.message) message = `upload failed: ${body.message}`;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, 'UPLOAD');
  }
  return createUpload.key;
}
