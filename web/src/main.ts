import {
  ApiError,
  TERMINAL,
  fetchJobs,
  fetchModels,
  followJob,
  gql,
  jobAction,
  jobMutation,
  uploadImage,
  type Image,
  type Job,
  type Model,
} from './api';
import { mountApiKeyField } from './api-key';
import { QUEUED_POSITIONS } from './operations';
import { $, className, h, parameterSummary, progressBar, progressLabel, thumbnail } from './ui';

interface Tracked {
  job: Job;
  stop?: () => void;
}

const jobs = new Map<string, Tracked>();
let models: Model[] = [];
let galleryKeys = '';
const selection: { inpaint?: Image; content?: Image; style?: Image } = {};

const form = $('#generate') as HTMLFormElement;
const modelSelect = $('#model') as HTMLSelectElement;
const classSelect = $('#class') as HTMLSelectElement;
const input = (id: string): HTMLInputElement => $(`#${id}`) as HTMLInputElement;

/** API field names → the inputs that hold them. */
const FIELD_INPUTS: Record<string, string> = {
  model: 'model',
  classId: 'class',
  className: 'class',
  count: 'count',
  seed: 'seed',
  cfgScale: 'cfg',
  temperature: 'temperature',
  topK: 'topk',
  topP: 'topp',
};

function modelById(id: string | null): Model | undefined {
  return models.find((model) => model.id === id) ?? models.find((model) => model.isDefault);
}

// ---------- errors ----------

function showError(target: HTMLElement, error: unknown): void {
  form.querySelectorAll('.invalid').forEach((element) => element.classList.remove('invalid'));
  if (error === null) {
    target.hidden = true;
    target.textContent = '';
    return;
  }
  const apiError = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  const field = apiError?.field;
  target.replaceChildren(
    ...(field ? [h('strong', {}, field), ': '] : []),
    field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message,
    ...(apiError?.code ? [h('span', { class: 'code' }, ` (${apiError.code})`)] : []),
  );
  target.hidden = false;
  const inputId = field ? FIELD_INPUTS[field] : undefined;
  if (inputId) document.getElementById(inputId)?.classList.add('invalid');
}

// ---------- generate form ----------

function fillModels(): void {
  modelSelect.replaceChildren(
    ...models.map((model) => h('option', { value: model.id, selected: model.isDefault }, model.id)),
  );
  modelSelect.title = modelById(modelSelect.value)?.description ?? '';
  fillModel();
}

function fillModel(): void {
  const model = modelById(modelSelect.value);
  if (!model) return;
  modelSelect.title = model.description;
  classSelect.replaceChildren(
    ...model.classes.map((entry) => h('option', { value: String(entry.id) }, entry.name)),
  );
  input('cfg').value = String(model.defaults.cfgScale);
  input('temperature').value = String(model.defaults.temperature);
  input('topk').value = String(model.defaults.topK);
  input('topp').value = String(model.defaults.topP);
}

/** Sends what the user typed: the API, not the browser, judges the ranges. */
function numberField(id: string): number | undefined {
  const raw = input(id).value.trim();
  if (raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

function samplingInput(): Record<string, unknown> {
  const values: Record<string, unknown> = {
    model: modelSelect.value || undefined,
    classId: classSelect.value === '' ? undefined : Number(classSelect.value),
    seed: numberField('seed'),
    cfgScale: numberField('cfg'),
    temperature: numberField('temperature'),
    topK: numberField('topk'),
    topP: numberField('topp'),
  };
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

async function submit<T>(
  button: HTMLButtonElement,
  errorTarget: HTMLElement,
  run: () => Promise<T>,
) {
  button.disabled = true;
  showError(errorTarget, null);
  try {
    return await run();
  } catch (error) {
    showError(errorTarget, error);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void submit($('#submit') as HTMLButtonElement, $('#form-error'), async () => {
    const job = await jobMutation('generateImages', 'GenerateInput', {
      ...samplingInput(),
      count: numberField('count') ?? 1,
    });
    track(job);
  });
});
modelSelect.addEventListener('change', fillModel);
$('#seed-clear').addEventListener('click', () => {
  input('seed').value = '';
});

// ---------- jobs ----------

/**
 * Records a job's state and follows it while it is live. A terminal state from a query or a
 * mutation ends the subscription; one from an event does not (the server completes it, and a
 * replay may go on past a cancel to a retry).
 */
function track(job: Job, fromEvent = false): void {
  const known = jobs.get(job.id);
  if (known && known.job.sequence > job.sequence) return;
  const tracked: Tracked = known ?? { job };
  tracked.job = job;
  jobs.set(job.id, tracked);
  if (TERMINAL.includes(job.status)) {
    if (!fromEvent) {
      tracked.stop?.();
      tracked.stop = undefined;
    }
  } else if (!tracked.stop) {
    const stop = followJob(job.id, job.sequence, {
      event: (event) => {
        setConnection('');
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
}

function setConnection(text: string): void {
  $('#connection').textContent = text;
}

function sortedJobs(): Job[] {
  return [...jobs.values()]
    .map((tracked) => tracked.job)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

function jobTitle(job: Job): string {
  const model = modelById(job.model);
  const kind = { GENERATE: 'generate', INPAINT: 'in-paint', STYLE_TRANSFER: 'style' }[job.kind];
  const count = job.parameters.count;
  return `${kind ?? job.kind} · ${className(model, job.parameters.classId)} · ${count} image${count === 1 ? '' : 's'}`;
}

function jobAct(job: Job, name: 'cancelJob' | 'retryJob', label: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: `small ${name}` }, label);
  button.addEventListener('click', () => {
    void submit(button, $('#form-error'), async () => track(await jobAction(name, job.id)));
  });
  return button;
}

function renderJobs(): void {
  const list = sortedJobs();
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
        progressBar(job, modelById(job.model)),
        h(
          'div',
          { class: 'job-foot' },
          h('span', { class: 'label' }, progressLabel(job)),
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

// ---------- gallery ----------

/** Images the user uploaded in this page, pickable like generated ones. */
const uploads: Image[] = [];

function pickButtons(image: Image): HTMLElement {
  const pick = (slot: 'inpaint' | 'content' | 'style', label: string) =>
    h(
      'button',
      {
        type: 'button',
        class: `small pick${selection[slot]?.key === image.key ? ' on' : ''}`,
        onclick: () => select(slot, image),
      },
      label,
    );
  return h(
    'span',
    { class: 'picks' },
    pick('inpaint', 'in-paint'),
    pick('content', 'content'),
    pick('style', 'style'),
  );
}

/** "before" of an edit: the images a job read, mask excluded (its effect is the difference). */
function sources(job: Job): HTMLElement[] {
  const read = job.inputs.filter((entry) => entry.role !== 'mask');
  if (!read.length) return [];
  return [
    h(
      'span',
      { class: 'sources', title: 'the images this job started from' },
      ...read.map((entry) =>
        h(
          'span',
          { class: 'source' },
          h('img', { src: entry.url, alt: entry.role, width: 32, height: 32 }),
          entry.role,
        ),
      ),
      h('span', { class: 'arrow' }, '→'),
    ),
  ];
}

function generatedFigure(job: Job, image: Image): HTMLElement {
  const model = modelById(job.model);
  const name = className(model, job.parameters.classId);
  return h(
    'figure',
    { class: 'image', dataset: { key: image.key, kind: job.kind } },
    ...sources(job),
    thumbnail(image, `${name}, seed ${image.seed}`),
    h(
      'figcaption',
      {},
      h('span', { class: 'name' }, name),
      h(
        'button',
        {
          type: 'button',
          class: 'link seed',
          title: 'use this seed',
          onclick: () => {
            input('seed').value = String(image.seed);
          },
        },
        `seed ${image.seed}`,
      ),
      h('span', { class: 'meta' }, parameterSummary(job)),
      pickButtons(image),
    ),
  );
}

function uploadedFigure(image: Image): HTMLElement {
  return h(
    'figure',
    { class: 'image uploaded', dataset: { key: image.key } },
    thumbnail(image, 'uploaded image'),
    h(
      'figcaption',
      {},
      h('span', { class: 'name' }, 'uploaded'),
      h('span', { class: 'meta' }, `${image.width}×${image.height}`),
      pickButtons(image),
    ),
  );
}

function renderGallery(): void {
  const done = sortedJobs().filter((job) => job.status === 'SUCCEEDED' && job.outputs.length);
  const keys = [...uploads, ...done.flatMap((job) => job.outputs)].map((image) => image.key);
  const selected = [selection.inpaint?.key, selection.content?.key, selection.style?.key].join(',');
  if (keys.join(',') + '|' + selected === galleryKeys) return;
  galleryKeys = keys.join(',') + '|' + selected;
  $('#gallery-empty').hidden = keys.length > 0;
  $('#gallery').replaceChildren(
    ...uploads.map(uploadedFigure),
    ...done.flatMap((job) => job.outputs.map((image) => generatedFigure(job, image))),
  );
}

// ---------- upload ----------

/** Reads the picked file's size in the browser, stores it through a presigned PUT, and adds it
 * to the gallery; the API still judges it (size, pixels, decoding) when a job references it. */
$('#upload').addEventListener('change', (event) => {
  const field = event.currentTarget as HTMLInputElement;
  const file = field.files?.[0];
  if (!file) return;
  void submit($('#upload-button') as HTMLButtonElement, $('#edit-error'), async () => {
    const url = URL.createObjectURL(file);
    const probe = new window.Image();
    probe.src = url;
    await probe.decode().catch(() => {
      throw new Error(`${file.name} is not an image this browser can read`);
    });
    const key = await uploadImage(file, file.name);
    const image: Image = {
      key,
      url,
      thumbnailUrl: url,
      width: probe.naturalWidth,
      height: probe.naturalHeight,
      seed: 0,
    };
    uploads.unshift(image);
    field.value = '';
    renderGallery();
  });
});
$('#upload-button').addEventListener('click', () => input('upload').click());

function render(): void {
  renderJobs();
  renderGallery();
}

// ---------- in-paint ----------

const mask = $('#mask') as HTMLCanvasElement;
const maskContext = mask.getContext('2d', { willReadFrequently: true })!;

/** The visible mask is red strokes on transparent pixels, over the image. */
function clearMask(): void {
  maskContext.clearRect(0, 0, mask.width, mask.height);
}

/** The mask the API takes: white where painted (regenerate), black elsewhere, as a PNG. */
function maskPng(): Promise<Blob> {
  const out = document.createElement('canvas');
  out.width = mask.width;
  out.height = mask.height;
  const context = out.getContext('2d')!;
  const painted = maskContext.getImageData(0, 0, mask.width, mask.height);
  if (!painted.data.some((value, i) => i % 4 === 3 && value > 0)) {
    return Promise.reject(new Error('paint the part to regenerate on the image first'));
  }
  const pixels = context.createImageData(mask.width, mask.height);
  for (let i = 0; i < painted.data.length; i += 4) {
    const value = painted.data[i + 3]! > 0 ? 255 : 0;
    pixels.data.set([value, value, value, 255], i);
  }
  context.putImageData(pixels, 0, 0);
  return new Promise<Blob>((resolve, reject) =>
    out.toBlob(
      (value) => (value ? resolve(value) : reject(new Error('mask: no PNG'))),
      'image/png',
    ),
  );
}

function select(slot: 'inpaint' | 'content' | 'style', image: Image): void {
  selection[slot] = selection[slot]?.key === image.key ? undefined : image;
  if (slot === 'inpaint' && selection.inpaint) {
    mask.width = image.width;
    mask.height = image.height;
    clearMask();
    ($('#inpaint-image') as HTMLImageElement).src = image.url;
  }
  $('#inpaint').hidden = !selection.inpaint;
  $('#style').hidden = !selection.content && !selection.style;
  $('#edit-hint').hidden = !$('#inpaint').hidden || !$('#style').hidden;
  for (const which of ['content', 'style'] as const) {
    const chosen = selection[which];
    $(`#${which}-slot`).replaceChildren(
      chosen ? h('img', { src: chosen.thumbnailUrl, alt: which }) : '—',
    );
  }
  galleryKeys = '';
  renderGallery();
}

let drawing = false;
function paint(event: PointerEvent): void {
  if (!drawing) return;
  const box = mask.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * mask.width;
  const y = ((event.clientY - box.top) / box.height) * mask.height;
  const size = Number(input('brush').value);
  maskContext.fillStyle = 'rgb(230 40 60)';
  maskContext.fillRect(Math.floor(x - size / 2), Math.floor(y - size / 2), size, size);
}
mask.addEventListener('pointerdown', (event) => {
  drawing = true;
  mask.setPointerCapture(event.pointerId);
  paint(event);
});
mask.addEventListener('pointermove', paint);
mask.addEventListener('pointerup', () => {
  drawing = false;
});
$('#mask-clear').addEventListener('click', clearMask);

$('#inpaint-submit').addEventListener('click', (event) => {
  const image = selection.inpaint;
  if (!image) return;
  void submit(event.currentTarget as HTMLButtonElement, $('#edit-error'), async () => {
    const maskKey = await uploadImage(await maskPng(), 'mask.png');
    const job = await jobMutation('inpaintImage', 'InpaintInput', {
      ...samplingInput(),
      count: 1,
      imageKey: image.key,
      maskKey,
    });
    track(job);
  });
});

// ---------- style transfer ----------

$('#style-submit').addEventListener('click', (event) => {
  const { content, style } = selection;
  if (!content || !style) {
    showError($('#edit-error'), new Error('pick a content and a style image in the gallery'));
    return;
  }
  void submit(event.currentTarget as HTMLButtonElement, $('#edit-error'), async () => {
    const mode = ($('#style-mode') as HTMLSelectElement).value;
    const job = await jobMutation('transferStyle', 'StyleTransferInput', {
      ...samplingInput(),
      count: 1,
      contentKey: content.key,
      styleKey: style.key,
      mode,
      ...(mode === 'REGENERATE' ? { strength: Number(input('strength').value) } : {}),
    });
    track(job);
  });
});

// ---------- queue positions ----------

/** Another job's progress moves a queued one up without an event of its own: poll those. */
async function refreshQueuePositions(): Promise<void> {
  if (![...jobs.values()].some((tracked) => tracked.job.status === 'QUEUED')) return;
  // One page of the queued jobs rather than an alias per job: the server caps aliases (and cost).
  const data = await gql<{
    jobs: { edges: { node: Pick<Job, 'id' | 'status' | 'queuePosition'> }[] };
  }>(QUEUED_POSITIONS);
  let changed = false;
  for (const { node } of data.jobs.edges) {
    const tracked = jobs.get(node.id);
    if (
      tracked &&
      tracked.job.status === 'QUEUED' &&
      node.queuePosition !== tracked.job.queuePosition
    ) {
      tracked.job = { ...tracked.job, queuePosition: node.queuePosition };
      changed = true;
    }
  }
  if (changed) renderJobs();
}

setInterval(() => {
  refreshQueuePositions().catch(() => undefined);
}, 2000);

// ---------- start ----------

async function start(): Promise<void> {
  try {
    models = await fetchModels();
    fillModels();
    for (const job of await fetchJobs()) track(job);
    render();
    showError($('#form-error'), null);
    document.body.dataset.ready = 'true';
  } catch (error) {
    showError($('#form-error'), error);
  }
}

mountApiKeyField(() => void start());
void start();
