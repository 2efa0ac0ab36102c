import { createClient, type Client } from 'graphql-ws';
import {
  CREATE_UPLOAD,
  JOBS_QUERY,
  JOB_UPDATED,
  MAX_LISTED_JOBS,
  MODELS_QUERY,
  jobActionDocument,
  jobMutationDocument,
} from './operations';
import { apiKey, onApiKeyChange } from './api-key';

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
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
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
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`HTTP ${response.status} ${response.statusText}`, 'HTTP');
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code, first.extensions?.field);
  if (!body.data) throw new ApiError(`HTTP ${response.status}: empty response`, 'HTTP');
  return body.data;
}

// ---- types of the parts of the schema the app reads ----

export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'EXPIRED';
export const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'];

export interface Progress {
  phase: string;
  step: number;
  total: number;
  fraction: number;
}

export interface Image {
  key: string;
  url: string;
  thumbnailUrl: string;
  width: number;
  height: number;
  seed: number;
}

export interface Job {
  id: string;
  kind: string;
  status: JobStatus;
  sequence: number;
  progress: Progress | null;
  error: { code: string; message: string; retryable: boolean } | null;
  model: string | null;
  parameters: {
    classId: number | null;
    count: number;
    seed: number;
    cfgScale: number;
    temperature: number;
    topK: number;
    topP: number;
    mode: string | null;
    strength: number | null;
  };
  createdAt: string;
  queuePosition: number | null;
  outputs: Image[];
  inputs: { role: 'image' | 'mask' | 'content' | 'style'; key: string; url: string }[];
}

export interface Model {
  id: string;
  description: string;
  isDefault: boolean;
  imageSize: number;
  holisticTokens: number;
  patchTokens: number;
  classes: { id: number; name: string }[];
  capabilities: { generate: boolean; inpaint: boolean; styleTransfer: boolean };
  defaults: { cfgScale: number; temperature: number; topK: number; topP: number };
}

export interface JobEvent {
  sequence: number;
  status: JobStatus;
  type: string;
  progress: Progress | null;
  job: Job;
}

export async function fetchModels(): Promise<Model[]> {
  const data = await gql<{ models: Model[] }>(MODELS_QUERY);
  return data.models;
}

export async function fetchJobs(first = MAX_LISTED_JOBS): Promise<Job[]> {
  const data = await gql<{ jobs: { edges: { node: Job }[] } }>(JOBS_QUERY, { first });
  return data.jobs.edges.map((edge) => edge.node);
}

/** Runs one of the job-creating or job-changing mutations and returns the job. */
export async function jobMutation(
  name: 'generateImages' | 'inpaintImage' | 'transferStyle',
  inputType: 'GenerateInput' | 'InpaintInput' | 'StyleTransferInput',
  input: Record<string, unknown>,
): Promise<Job> {
  const data = await gql<Record<string, Job>>(jobMutationDocument(name, inputType), { input });
  return data[name]!;
}

export async function jobAction(name: 'cancelJob' | 'retryJob', id: string): Promise<Job> {
  const data = await gql<Record<string, Job>>(jobActionDocument(name), { id });
  return data[name]!;
}

/** Stores a PNG, JPEG or WebP through a presigned PUT and returns its object key. */
export async function uploadImage(blob: Blob, filename: string): Promise<string> {
  const contentType = blob.type || 'image/png';
  const { createUpload } = await gql<{
    createUpload: { key: string; url: string; method: string };
  }>(CREATE_UPLOAD, {
    input: { contentType, filename },
  });
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

// ---- subscriptions ----

let client: Client | null = null;

function wsClient(): Client {
  if (!client) {
    const url = new URL('graphql', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // No automatic retries: a retry would resubscribe with the original afterSequence, so
    // followJob resubscribes itself with the last sequence it saw.
    client = createClient({
      url: url.href,
      lazy: true,
      retryAttempts: 0,
      // Read at every connect, so a new socket always carries the key in use.
      connectionParams: () => {
        const key = apiKey();
        return key ? { apiKey: key } : {};
      },
    });
  }
  return client;
}

// The server checks the key once per socket: a new key needs a new socket.
onApiKeyChange(() => {
  void client?.dispose();
  client = null;
});

export interface FollowHandlers {
  event(event: JobEvent): void;
  /** The connection dropped; `attempt` counts the resubscriptions so far. */
  reconnecting?(attempt: number, error: unknown): void;
  done?(): void;
}

/**
 * Follows one job until it ends. After a disconnect it subscribes again with the last sequence
 * seen as `afterSequence`, so the server replays exactly what was missed. Returns a stop function.
 */
export function followJob(id: string, afterSequence: number, handlers: FollowHandlers): () => void {
  let last = afterSequence;
  let stopped = false;
  let attempt = 0;
  let unsubscribe: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const start = (): void => {
    unsubscribe = wsClient().subscribe<{ jobUpdated: JobEvent }>(
      { query: JOB_UPDATED, variables: { id, after: last } },
      {
        next: (value) => {
          const event = value.data?.jobUpdated;
          if (!event || event.sequence <= last) return;
          last = event.sequence;
          attempt = 0;
          handlers.event(event);
        },
        error: (error) => {
          if (stopped) return;
          // A GraphQL error list (NOT_FOUND, say) will not get better by retrying.
          if (Array.isArray(error)) {
            stopped = true;
            handlers.done?.();
            return;
          }
          attempt += 1;
          handlers.reconnecting?.(attempt, error);
          timer = setTimeout(start, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
        },
        complete: () => {
          if (stopped) return;
          stopped = true;
          handlers.done?.();
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
  };
}
