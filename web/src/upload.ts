/** The upload button: an image from disk into the gallery, pickable for edits. */
import { uploadImage } from './api';
import { submit } from './errors';
import type { Image } from './operations';
import type { DemoState } from './state';
import { $, input } from './ui';

export interface UploadOptions {
  state: DemoState;
  /** Called after an upload was added to `state.uploads`. */
  onUploaded(image: Image): void;
}

/**
 * Wires `#upload`: reads the picked file's size in the browser, stores it through a presigned PUT,
 * and adds it to the uploads; the API still judges it (size, pixels, decoding) when a job
 * references it.
 */
export function mountUpload({ state, onUploaded }: UploadOptions): void {
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
      state.uploads.unshift(image);
      field.value = '';
      onUploaded(image);
    });
  });
  $('#upload-button').addEventListener('click', () => input('upload').click());
}
