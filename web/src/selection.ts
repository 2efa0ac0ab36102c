/** Picking gallery images for the edits: the in-paint image, and style transfer's two inputs. */
import type { Gallery } from './gallery';
import type { InpaintPanel } from './inpaint';
import type { Image } from './operations';
import type { DemoState, Slot } from './state';
import type { StyleTransferPanel } from './style-transfer';
import { $ } from './ui';

export interface SelectionOptions {
  state: DemoState;
  inpaint: InpaintPanel;
  styleTransfer: StyleTransferPanel;
  gallery: Gallery;
}

/**
 * Returns `select(slot, image)`: picks `image` for `slot` (or unpicks it when it was picked),
 * shows the panels that have an input, and draws the gallery's pick buttons again.
 */
export function createSelection({
  state,
  inpaint,
  styleTransfer,
  gallery,
}: SelectionOptions): (slot: Slot, image: Image) => void {
  return (slot, image) => {
    const { selection } = state;
    selection[slot] = selection[slot]?.key === image.key ? undefined : image;
    if (slot === 'inpaint' && selection.inpaint) inpaint.load(image);
    $('#inpaint').hidden = !selection.inpaint;
    $('#style').hidden = !selection.content && !selection.style;
    $('#edit-hint').hidden = !$('#inpaint').hidden || !$('#style').hidden;
    styleTransfer.showPicks();
    gallery.refresh();
  };
}
