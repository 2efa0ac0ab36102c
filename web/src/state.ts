/** What the demo page holds between renders: main.ts makes one and hands it to every part. */
import type { Image, Job, Model, Preview } from './operations';

/** A job the page shows, with the stop function of its subscription while it is followed. */
export interface Tracked {
  job: Job;
  stop?: () => void;
  /** While QUEUED: the server's estimate of its start (ISO-8601), from the queue poll. */
  startsAt?: string | null;
  /** The newest live preview of each image, while the page followed the job. */
  previews?: Preview[];
}

/** The edit inputs an image can be picked for in the gallery. */
export type Slot = 'inpaint' | 'content' | 'style';

export interface DemoState {
  /** The servable models, as the last `models` query returned them. */
  models: Model[];
  /** Every job the page shows, by id. */
  readonly jobs: Map<string, Tracked>;
  /** Images the user uploaded in this page, newest first, pickable like generated ones. */
  readonly uploads: Image[];
  /** The image picked for each edit input, if any. */
  readonly selection: Partial<Record<Slot, Image>>;
}

export function createDemoState(): DemoState {
  return { models: [], jobs: new Map(), uploads: [], selection: {} };
}

/** The model with this id or, for null or an unknown id, the default model. */
export function modelById(state: DemoState, id: string | null): Model | undefined {
  return (
    state.models.find((model) => model.id === id) ?? state.models.find((model) => model.isDefault)
  );
}

/** The jobs, newest first. */
export function sortedJobs(state: DemoState): Job[] {
  return [...state.jobs.values()]
    .map((tracked) => tracked.job)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
