import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { toInferenceRequest } from './engine-request.js';
import type { InpaintJobRequest, StyleJobRequest } from '../jobs/job-request.js';

const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
}

/** An in-memory store of input images that records the keys read, in order. */
function inputs(objects: Record<string, Buffer>) {
  const reads: string[] = [];
  const read = async (key: string, role: string) => {
    reads.push(`${role}:${key}`);
    const bytes = objects[key];
    if (!bytes) throw new Error(`no ${key}`);
    return bytes;
  };
  return { reads, read };
}

const INPAINT: InpaintJobRequest = {
  kind: 'inpaint',
  model: null,
  count: 2,
  seed: 9,
  ...SAMPLING,
  decoding: 'ar',
  imageKey: 'given/image.png',
  maskKey: 'given/mask.png',
  keepHolistic: false,
  composite: true,
};

describe('toInferenceRequest', () => {
  it('groups the knobs and passes a generate request through', async () => {
    const { read } = inputs({});
    const request = await toInferenceRequest(
      {
        kind: 'generate',
        model: 'tiny',
        count: 1,
        seed: 3,
        ...SAMPLING,
        decoding: 'speculative',
        classId: 4,
      },
      read,
    );
    expect(request).toEqual({
      kind: 'generate',
      classId: 4,
      count: 1,
      seed: 3,
      sampling: SAMPLING,
      decoding: 'speculative',
    });
  });

  it('reads the job’s own copies when it has them, else the keys given, image before mask', async () => {
    const [image, mask] = [await png(8, 6), await png(8, 6)];
    const copies = inputs({ 'copy/1.png': image, 'copy/2.png': mask });
    const copied = await toInferenceRequest(
      { ...INPAINT, inputCopies: { image: 'copy/1.png', mask: 'copy/2.png' } },
      copies.read,
    );
    expect(copies.reads).toEqual(['image:copy/1.png', 'mask:copy/2.png']);
    expect(copied).toEqual({
      kind: 'inpaint',
      image,
      mask,
      keepHolistic: false,
      composite: true,
      count: 2,
      seed: 9,
      sampling: SAMPLING,
      decoding: 'ar',
    });
    const given = inputs({ 'given/image.png': image, 'given/mask.png': mask });
    await toInferenceRequest(INPAINT, given.read);
    expect(given.reads).toEqual(['image:given/image.png', 'mask:given/mask.png']);
  });

  it('refuses a mask whose size is not the image’s, on mask', async () => {
    const { read } = inputs({
      'given/image.png': await png(48, 40),
      'given/mask.png': await png(20, 20),
    });
    await expect(toInferenceRequest(INPAINT, read)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'mask: is 20×20, the image is 48×40; they must match',
    });
  });

  it('reads content and style and keeps mode, strength and class', async () => {
    const [content, style] = [await png(8, 8), await png(4, 4)];
    const { read } = inputs({ c: content, s: style });
    const request: StyleJobRequest = {
      kind: 'style',
      model: null,
      count: 1,
      seed: 2,
      ...SAMPLING,
      decoding: 'speculative',
      classId: 1,
      contentKey: 'c',
      styleKey: 's',
      mode: 'regenerate',
      strength: 0.9,
    };
    expect(await toInferenceRequest(request, read)).toEqual({
      kind: 'style',
      content,
      style,
      mode: 'regenerate',
      strength: 0.9,
      classId: 1,
      count: 1,
      seed: 2,
      sampling: SAMPLING,
      decoding: 'speculative',
    });
  });
});
