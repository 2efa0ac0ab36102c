/** The style transfer panel: the picked content and style images, mode, strength and submit. */
import { transferStyle } from './api';
import { showError, submit } from './errors';
import type { Job, SamplingInput } from './operations';
import type { DemoState } from './state';
import { $, h, input } from './ui';

export interface StyleTransferOptions {
  state: DemoState;
  /** The generate form's sampling controls, which the style job uses too. */
  samplingInput(): SamplingInput;
  /** Called with each job the panel enqueued. */
  onJob(job: Job): void;
}

export interface StyleTransferPanel {
  /** Shows the picked content and style images in their slots. */
  showPicks(): void;
}

/** `#style-mode`'s value as the API's StyleMode; the select offers no other. */
function styleMode(): 'SWAP' | 'REGENERATE' {
  return ($('#style-mode') as HTMLSelectElement).value as 'SWAP' | 'REGENERATE';
}

/** Wires `#style-submit`. */
export function mountStyleTransfer({
  state,
  samplingInput,
  onJob,
}: StyleTransferOptions): StyleTransferPanel {
  $('#style-submit').addEventListener('click', (event) => {
    const { content, style } = state.selection;
    if (!content || !style) {
      showError($('#edit-error'), new Error('pick a content and a style image in the gallery'));
      return;
    }
    void submit(event.currentTarget as HTMLButtonElement, $('#edit-error'), async () => {
      const mode = styleMode();
      const job = await transferStyle({
        ...samplingInput(),
        count: 1,
        contentKey: content.key,
        styleKey: style.key,
        mode,
        ...(mode === 'REGENERATE' ? { strength: Number(input('strength').value) } : {}),
      });
      onJob(job);
    });
  });

  return {
    showPicks: () => {
      for (const which of ['content', 'style'] as const) {
        const chosen = state.selection[which];
        $(`#${which}-slot`).replaceChildren(
          chosen ? h('img', { src: chosen.thumbnailUrl, alt: which }) : '—',
        );
      }
    },
  };
}
