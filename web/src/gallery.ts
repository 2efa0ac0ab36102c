/** The gallery: uploads and generated images, each with buttons to pick it for an edit. */
import type { Image, Job } from './operations';
import { modelById, sortedJobs, type DemoState, type Slot } from './state';
import { $, className, h, parameterSummary, thumbnail } from './ui';

export interface GalleryOptions {
  state: DemoState;
  /** An image's pick button for `slot` was pressed (pressing it again unpicks). */
  onPick(slot: Slot, image: Image): void;
  /** A generated image's seed was clicked. */
  onSeed(seed: number): void;
}

export interface Gallery {
  /** Draws `#gallery` again when its images or the picks changed since the last draw. */
  render(): void;
  /** Draws it again unconditionally. */
  refresh(): void;
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

export function createGallery({ state, onPick, onSeed }: GalleryOptions): Gallery {
  /** What the last draw showed: image keys, then the picked keys. */
  let drawn = '';

  function pickButtons(image: Image): HTMLElement {
    const pick = (slot: Slot, label: string) =>
      h(
        'button',
        {
          type: 'button',
          class: `small pick${state.selection[slot]?.key === image.key ? ' on' : ''}`,
          onclick: () => onPick(slot, image),
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

  function generatedFigure(job: Job, image: Image): HTMLElement {
    const name = className(modelById(state, job.model), job.parameters.classId);
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
            onclick: () => onSeed(image.seed),
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

  function render(): void {
    const done = sortedJobs(state).filter(
      (job) => job.status === 'SUCCEEDED' && job.outputs.length,
    );
    const keys = [...state.uploads, ...done.flatMap((job) => job.outputs)].map(
      (image) => image.key,
    );
    const { inpaint, content, style } = state.selection;
    const picked = [inpaint?.key, content?.key, style?.key].join(',');
    if (keys.join(',') + '|' + picked === drawn) return;
    drawn = keys.join(',') + '|' + picked;
    $('#gallery-empty').hidden = keys.length > 0;
    $('#gallery').replaceChildren(
      ...state.uploads.map(uploadedFigure),
      ...done.flatMap((job) => job.outputs.map((image) => generatedFigure(job, image))),
    );
  }

  return {
    render,
    refresh: () => {
      drawn = '';
      render();
    },
  };
}
