/** The job list: each job's state, progress and cancel/retry buttons, followed while it is live. */
import { TERMINAL, jobAction } from './api';
import { submit } from './errors';
import { followJob } from './follow-job';
import type { Job, JobActionName, Preview } from './operations';
import { modelById, sortedJobs, type DemoState, type Tracked } from './state';
import { $, className, h, progressBar, progressLabel } from './ui';

export interface JobListOptions {
  state: DemoState;
  /** Called after each change that `track` drew (the gallery draws its images then). */
  onTracked(): void;
}

export interface JobList {
  /**
   * Records a job's state and follows it while it is live. A terminal state from a query or a
   * mutation ends the subscription; one from an event does not (the server completes it, and a
   * replay may go on past a cancel to a retry).
   */
  track(job: Job, fromEvent?: boolean): void;
  /** Draws the list (`#jobs`) from `state.jobs`. */
  render(): void;
}

/** The job's images forming: its newest preview of each, drawn at 64 px. */
function previewRow(previews: Preview[] | undefined): HTMLElement | null {
  if (!previews || previews.length === 0) return null;
  return h(
    'div',
    { class: 'previews' },
    ...previews.map((preview) =>
      h('img', {
        class: 'preview',
        src: preview.dataUrl,
        width: '64',
        height: '64',
        alt: `preview of image ${preview.index + 1}, ${preview.step} tokens`,
        dataset: { step: String(preview.step) },
      }),
    ),
  );
}

function setConnection(text: string): void {
  $('#connection').textContent = text;
}

export function createJobList({ state, onTracked }: JobListOptions): JobList {
  function track(job: Job, fromEvent = false): void {
    const known = state.jobs.get(job.id);
    if (known && known.job.sequence > job.sequence) return;
    const tracked: Tracked = known ?? { job };
    tracked.job = job;
    state.jobs.set(job.id, tracked);
    if (TERMINAL.includes(job.status)) {
      if (!fromEvent) {
        tracked.stop?.();
        tracked.stop = undefined;
      }
    } else if (!tracked.stop) {
      const stop = followJob(job.id, job.sequence, {
        event: (event) => {
          setConnection('');
          if (event.previews) {
            tracked.previews = event.previews;
            render();
            return;
          }
          // event.job is the job as it is now; a replayed event shows the state it recorded.
          track(
            {
              ...event.job,
              sequence: event.sequence,
              status: event.status,
              progress: event.progress,
            },
            true,
          );
        },
        reconnecting: (attempt) => setConnection(`connection lost, resubscribing (${attempt})…`),
        done: () => {
          if (tracked.stop === stop) tracked.stop = undefined;
        },
      });
      tracked.stop = stop;
    }
    render();
    onTracked();
  }

  function jobTitle(job: Job): string {
    const model = modelById(state, job.model);
    const kinds: Record<string, string> = {
      GENERATE: 'generate',
      INPAINT: 'in-paint',
      STYLE_TRANSFER: 'style',
    };
    const count = job.parameters.count;
    return `${kinds[job.kind] ?? job.kind} · ${className(model, job.parameters.classId)} · ${count} image${count === 1 ? '' : 's'}`;
  }

  function jobAct(job: Job, name: JobActionName, label: string): HTMLButtonElement {
    const button = h('button', { type: 'button', class: `small ${name}` }, label);
    button.addEventListener('click', () => {
      void submit(button, $('#form-error'), async () => track(await jobAction(name, job.id)));
    });
    return button;
  }

  function render(): void {
    const list = sortedJobs(state);
    $('#jobs-empty').hidden = list.length > 0;
    $('#jobs').replaceChildren(
      ...list.map((job) =>
        h(
          'li',
          { class: 'job', dataset: { jobId: job.id, status: job.status } },
          h(
            'div',
            { class: 'job-head' },
            h('span', { class: 'title' }, jobTitle(job)),
            h('span', { class: `badge ${job.status.toLowerCase()}` }, job.status.toLowerCase()),
          ),
          progressBar(job, modelById(state, job.model)),
          previewRow(state.jobs.get(job.id)?.previews),
          h(
            'div',
            { class: 'job-foot' },
            h('span', { class: 'label' }, progressLabel(job, state.jobs.get(job.id)?.startsAt)),
            h('span', { class: 'meta' }, `seed ${job.parameters.seed}`),
            job.status === 'QUEUED' || job.status === 'RUNNING'
              ? jobAct(job, 'cancelJob', 'cancel')
              : null,
            job.status === 'FAILED' || job.status === 'CANCELLED'
              ? jobAct(job, 'retryJob', 'retry')
              : null,
          ),
        ),
      ),
    );
  }

  return { track, render };
}
