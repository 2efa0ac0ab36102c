/**
 * Every GraphQL operation the demo page sends, in one module without DOM access, so that a test
 * can cost each one against the server's budget (test/contract/demo-costs.test.ts).
 */

/** What the page shows of a job. */
export const JOB_FIELDS = `
  id kind status sequence model createdAt queuePosition
  progress { phase step total fraction }
  error { code message retryable }
  parameters { classId count seed cfgScale temperature topK topP mode strength }
  outputs { key url thumbnailUrl width height seed }
  inputs { role key url }
`;

export const MODELS_QUERY = `{ models {
  id description isDefault imageSize holisticTokens patchTokens
  classes { id name }
  capabilities { generate inpaint styleTransfer }
  defaults { cfgScale temperature topK topP } } }`;

/** The job list; `$first` is at most {@link MAX_LISTED_JOBS}. */
export const JOBS_QUERY = `query($first: Int!) { jobs(first: $first) { edges { node { ${JOB_FIELDS} } } } }`;
export const MAX_LISTED_JOBS = 30;

/** One page of the queued jobs rather than an alias per job: the server caps aliases (and cost). */
export const QUEUED_POSITIONS =
  '{ jobs(first: 100, filter: { status: [QUEUED] }) { edges { node { id status queuePosition } } } }';

export type JobMutationName = 'generateImages' | 'inpaintImage' | 'transferStyle';
export type JobInputType = 'GenerateInput' | 'InpaintInput' | 'StyleTransferInput';

export function jobMutationDocument(name: JobMutationName, inputType: JobInputType): string {
  return `mutation($input: ${inputType}!) { ${name}(input: $input) { ${JOB_FIELDS} } }`;
}

export function jobActionDocument(name: 'cancelJob' | 'retryJob'): string {
  return `mutation($id: ID!) { ${name}(id: $id) { ${JOB_FIELDS} } }`;
}

export const CREATE_UPLOAD =
  'mutation($input: CreateUploadInput!) { createUpload(input: $input) { key url method } }';

export const JOB_UPDATED = `subscription($id: ID!, $after: Int) {
  jobUpdated(id: $id, afterSequence: $after) {
    sequence status type at
    progress { phase step total fraction }
    job { ${JOB_FIELDS} }
  }
}`;
