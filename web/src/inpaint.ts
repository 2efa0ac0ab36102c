/** The in-paint panel: paint a mask over the picked image, then regenerate what it covers. */
import { inpaintImage, uploadImage } from './api';
import { submit } from './errors';
import type { Image, Job, SamplingInput } from './operations';
import type { DemoState } from './state';
import { $, input } from './ui';

export interface InpaintOptions {
  state: DemoState;
  /** The generate form's sampling controls, which the in-paint job uses too. */
  samplingInput(): SamplingInput;
  /** Called with each job the panel enqueued. */
  onJob(job: Job): void;
}

export interface InpaintPanel {
  /** Shows `image` under an empty mask of its size. */
  load(image: Image): void;
}

/** The mask the API takes: white where painted (regenerate), black elsewhere, as a PNG. */
function maskPng(mask: HTMLCanvasElement, maskContext: CanvasRenderingContext2D): Promise<Blob> {
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

/** Wires the mask canvas (`#mask`) and `#inpaint-submit`. */
export function mountInpaint({ state, samplingInput, onJob }: InpaintOptions): InpaintPanel {
  const mask = $('#mask') as HTMLCanvasElement;
  const maskContext = mask.getContext('2d', { willReadFrequently: true })!;

  /** The visible mask is red strokes on transparent pixels, over the image. */
  function clearMask(): void {
    maskContext.clearRect(0, 0, mask.width, mask.height);
  }

  let isDrawing = false;
  function paint(event: PointerEvent): void {
    if (!isDrawing) return;
    const box = mask.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * mask.width;
    const y = ((event.clientY - box.top) / box.height) * mask.height;
    const size = Number(input('brush').value);
    maskContext.fillStyle = 'rgb(230 40 60)';
    maskContext.fillRect(Math.floor(x - size / 2), Math.floor(y - size / 2), size, size);
  }
  mask.addEventListener('pointerdown', (event) => {
    isDrawing = true;
    mask.setPointerCapture(event.pointerId);
    paint(event);
  });
  mask.addEventListener('pointermove', paint);
  mask.addEventListener('pointerup', () => {
    isDrawing = false;
  });
  $('#mask-clear').addEventListener('click', clearMask);

  $('#inpaint-submit').addEventListener('click', (event) => {
    const image = state.selection.inpaint;
    if (!image) return;
    void submit(event.currentTarget as HTMLButtonElement, $('#edit-error'), async () => {
      const maskKey = await uploadImage(await maskPng(mask, maskContext), 'mask.png');
      onJob(await inpaintImage({ ...samplingInput(), count: 1, imageKey: image.key, maskKey }));
    });
  });

  return {
    load: (image) => {
      mask.width = image.width;
      mask.height = image.height;
      clearMask();
      ($('#inpaint-image') as HTMLImageElement).src = image.url;
    },
  };
}
