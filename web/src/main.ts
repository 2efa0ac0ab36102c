/**
 * The demo page: builds each part over one state and wires them to each other, then loads the
 * models and the jobs (again whenever the API key changes).
 */
import { fetchJobs, fetchModels } from './api';
import { mountApiKeyField } from './api-key';
import { showError } from './errors';
import { createGallery } from './gallery';
import { mountGenerateForm } from './generate-form';
import { mountInpaint } from './inpaint';
import { createJobList } from './jobs';
import type { Job } from './operations';
import { pollQueuePositions } from './queue-positions';
import { createSelection } from './selection';
import { createDemoState } from './state';
import { mountStyleTransfer } from './style-transfer';
import { pollQueueStatus } from './throughput';
import { mountUpload } from './upload';
import { $ } from './ui';

const state = createDemoState();
const track = (job: Job): void => jobs.track(job);

const form = mountGenerateForm({ state, onJob: track });
const gallery = createGallery({
  state,
  onPick: (slot, image) => select(slot, image),
  onSeed: (seed) => form.useSeed(seed),
});
const jobs = createJobList({ state, onTracked: () => gallery.render() });
const samplingInput = () => form.samplingInput();
const select = createSelection({
  state,
  inpaint: mountInpaint({ state, samplingInput, onJob: track }),
  styleTransfer: mountStyleTransfer({ state, samplingInput, onJob: track }),
  gallery,
});
mountUpload({ state, onUploaded: () => gallery.render() });
pollQueuePositions({ state, onChange: () => jobs.render() });
pollQueueStatus();

async function start(): Promise<void> {
  try {
    state.models = await fetchModels();
    form.fillModels();
    for (const job of await fetchJobs()) jobs.track(job);
    jobs.render();
    gallery.render();
    showError($('#form-error'), null);
    document.body.dataset.ready = 'true';
  } catch (error) {
    showError($('#form-error'), error);
  }
}

mountApiKeyField(() => void start());
void start();
