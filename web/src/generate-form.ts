/** The generate form: model, class and sampling controls, and the Generate button. */
import { generateImages } from './api';
import { submit } from './errors';
import type { Job, SamplingInput } from './operations';
import { modelById, type DemoState } from './state';
import { $, h, input } from './ui';

export interface GenerateFormOptions {
  state: DemoState;
  /** Called with each job the form enqueued. */
  onJob(job: Job): void;
}

export interface GenerateForm {
  /** Lists `state.models`, selects the default one and fills its classes and defaults. */
  fillModels(): void;
  /** The sampling controls' values, blank ones left out; in-paint and style send them too. */
  samplingInput(): SamplingInput;
  /** Puts `seed` into the seed field (a gallery image's "use this seed"). */
  useSeed(seed: number): void;
}

/** Sends what the user typed: the API, not the browser, judges the ranges. */
function numberField(id: string): number | undefined {
  const raw = input(id).value.trim();
  if (raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** Wires the form (`#generate`) and returns what the other parts of the page use of it. */
export function mountGenerateForm({ state, onJob }: GenerateFormOptions): GenerateForm {
  const form = $('#generate') as HTMLFormElement;
  const modelSelect = $('#model') as HTMLSelectElement;
  const classSelect = $('#class') as HTMLSelectElement;

  function fillModel(): void {
    const model = modelById(state, modelSelect.value);
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

  function fillModels(): void {
    modelSelect.replaceChildren(
      ...state.models.map((model) =>
        h('option', { value: model.id, selected: model.isDefault }, model.id),
      ),
    );
    modelSelect.title = modelById(state, modelSelect.value)?.description ?? '';
    fillModel();
  }

  function samplingInput(): SamplingInput {
    const values: SamplingInput = {
      model: modelSelect.value || undefined,
      classId: classSelect.value === '' ? undefined : Number(classSelect.value),
      seed: numberField('seed'),
      cfgScale: numberField('cfg'),
      temperature: numberField('temperature'),
      topK: numberField('topk'),
      topP: numberField('topp'),
      // Every job card shows its images forming (JobEvent.previews): cheap, and never a change
      // to the images themselves.
      preview: true,
    };
    return Object.fromEntries(
      Object.entries(values).filter(([, value]) => value !== undefined),
    ) as SamplingInput;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit($('#submit') as HTMLButtonElement, $('#form-error'), async () => {
      onJob(await generateImages({ ...samplingInput(), count: numberField('count') ?? 1 }));
    });
  });
  modelSelect.addEventListener('change', fillModel);
  $('#seed-clear').addEventListener('click', () => {
    input('seed').value = '';
  });

  return {
    fillModels,
    samplingInput,
    useSeed: (seed) => {
      input('seed').value = String(seed);
    },
  };
}
