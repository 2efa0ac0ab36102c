import type { Image, Job, Model } from './operations';

type Child = Node | string | null | undefined | false;

/** Creates an element: `h('button', { class: 'x', onclick }, 'text')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value as EventListener);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name in element && name !== 'list') {
      (element as unknown as Record<string, unknown>)[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/**
 * The page's element for `selector`.
 * @throws Error when the page has none
 */
export function $(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`missing element ${selector}`);
  return element;
}

/**
 * The `<input>` with this id.
 * @throws Error when the page has none
 */
export function input(id: string): HTMLInputElement {
  return $(`#${id}`) as HTMLInputElement;
}

const PHASES = [
  { phase: 'holistic', label: 'holistic tokens' },
  { phase: 'patch', label: 'patch tokens' },
  { phase: 'decode', label: 'decode' },
] as const;

/** "in ~12 s", "in ~3 min" from an ISO-8601 time; "any moment" once it is due. */
export function startsIn(iso: string, nowMs = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - nowMs) / 1000);
  if (seconds <= 1) return 'any moment';
  return seconds < 90 ? `in ~${seconds} s` : `in ~${Math.round(seconds / 60)} min`;
}

/** The text under a job's progress bar; `startsAt` is a queued job's estimated start. */
export function progressLabel(job: Job, startsAt?: string | null): string {
  switch (job.status) {
    case 'QUEUED': {
      const place = job.queuePosition ? `queued · position ${job.queuePosition}` : 'queued';
      return startsAt ? `${place} · starts ${startsIn(startsAt)}` : place;
    }
    case 'RUNNING': {
      const p = job.progress;
      if (!p) return 'starting…';
      const label =
        PHASES.find((entry) => entry.phase === p.phase)?.label ??
        (p.phase === 'encode' ? 'encoding input' : p.phase);
      return `${label} ${p.step}/${p.total}`;
    }
    case 'SUCCEEDED':
      return 'done';
    case 'FAILED':
      return `failed: ${job.error?.message ?? 'unknown error'}`;
    case 'CANCELLED':
      return 'cancelled';
    case 'EXPIRED':
      return 'expired';
  }
}

/** A bar of three segments (holistic tokens, patch tokens, decode), each filled by its phase. */
export function progressBar(job: Job, model: Model | undefined): HTMLElement {
  const current = job.progress;
  const index = current ? PHASES.findIndex((entry) => entry.phase === current.phase) : -1;
  const done = job.status === 'SUCCEEDED';
  const weights = {
    holistic: model?.holisticTokens ?? 1,
    patch: model?.patchTokens ?? 3,
    decode: Math.max(1, Math.round(((model?.holisticTokens ?? 1) + (model?.patchTokens ?? 3)) / 8)),
  };
  const bar = h('div', {
    class: `progress ${job.status.toLowerCase()}${done ? ' done' : ''}`,
    role: 'progressbar',
    'aria-label': progressLabel(job),
  });
  PHASES.forEach((entry, i) => {
    let fill = 0;
    if (done || i < index) fill = 1;
    else if (i === index && current) fill = current.fraction;
    const segment = h(
      'div',
      { class: `segment ${entry.phase}`, title: entry.label },
      h('div', { class: 'fill' }),
    );
    segment.style.flexGrow = String(weights[entry.phase]);
    (segment.firstChild as HTMLElement).style.width = `${Math.round(fill * 100)}%`;
    bar.append(segment);
  });
  return bar;
}

export function className(model: Model | undefined, classId: number | null): string {
  if (classId === null) return 'unconditional';
  return model?.classes.find((entry) => entry.id === classId)?.name ?? `class ${classId}`;
}

/** "cfg 4 · temp 1 · top-k 0 · top-p 1" */
export function parameterSummary(job: Job): string {
  const p = job.parameters;
  const parts = [
    `cfg ${p.cfgScale}`,
    `temp ${p.temperature}`,
    `top-k ${p.topK}`,
    `top-p ${p.topP}`,
  ];
  if (p.mode) parts.push(p.mode.toLowerCase());
  if (p.strength !== null && p.mode === 'REGENERATE') parts.push(`strength ${p.strength}`);
  return parts.join(' · ');
}

export function thumbnail(image: Image, alt: string): HTMLAnchorElement {
  return h(
    'a',
    { href: image.url, target: '_blank', rel: 'noopener', class: 'thumb', title: 'open full size' },
    h('img', { src: image.thumbnailUrl, alt, width: 96, height: 96, loading: 'lazy' }),
  );
}
