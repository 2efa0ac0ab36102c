/** How the page reports a failed action: next to the button that ran it, on the field at fault. */
import { ApiError } from './api';
import { $, h } from './ui';

/** API field names → the ids of the generate form's inputs that hold them. */
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

const form = $('#generate') as HTMLFormElement;

/**
 * Shows `error` in `target` (its field in bold, its code after it) and marks the input of that
 * field; null hides `target`. Either way the previous marks are cleared.
 */
export function showError(target: HTMLElement, error: unknown): void {
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

/**
 * Runs a button's action with the button disabled, showing its failure in `errorTarget`.
 * @returns what `run` returned, or undefined when it threw (the error is shown, not rethrown)
 */
export async function submit<T>(
  button: HTMLButtonElement,
  errorTarget: HTMLElement,
  run: () => Promise<T>,
): Promise<T | undefined> {
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
