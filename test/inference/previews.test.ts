/**
 * Live previews on the shipped model, through the real pipeline (ORT graphs, sharp): every
 * previewing job gets them, bounded; the last one is closer to the final image than the first
 * and than a flat image of the final's mean colour; and taking them never changes a byte of the
 * result.
 */
import { resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest, PreviewFrame } from '../../src/inference/inference-engine.js';
import { loadModel } from '../../src/inference/model/model-loader.js';
import { openPipeline, type OpenedPipeline } from '../../src/inference/ort/open-pipeline.js';
import { PREVIEW_MAX_BYTES } from '../../src/inference/pipeline/preview-scheduler.js';
import { meanColourPsnr, psnr } from '../support/psnr.js';

const EMOJI = resolve('models/hita-tiny-emoji');
const SAMPLING = { cfgScale: 3, temperature: 1, topK: 0, topP: 1 };

function generate(classId: number, seed: number, count = 1): GenerateRequest {
  return { kind: 'generate', classId, seed, count, sampling: SAMPLING };
}

let opened: OpenedPipeline[] = [];
async function open(previewBudget?: number): Promise<OpenedPipeline['pipeline']> {
  const model = await loadModel(EMOJI);
  const pipeline = await openPipeline(model, {
    providers: ['cpu'],
    threads: 2,
    ...(previewBudget === undefined ? {} : { previewBudget }),
  });
  opened.push(pipeline);
  return pipeline.pipeline;
}

/** RGB bytes of an encoded image at `side` × `side`. */
async function rgbAt(image: Uint8Array, side: number): Promise<Uint8Array> {
  const raw = await sharp(image).removeAlpha().resize(side, side, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(raw);
}

let pipeline: OpenedPipeline['pipeline'];
beforeAll(async () => {
  pipeline = await open();
});
afterAll(async () => {
  for (const { pipeline: p } of opened) await p.close();
  opened = [];
});

describe('live previews', () => {
  it('come first right after the holistic phase and last at M + N, one bounded WebP per image', async () => {
    const frames: PreviewFrame[][] = [];
    const images = await pipeline.run('one', generate(2, 11, 3), undefined, (f) => frames.push(f));
    const { numHolistic, length } = pipeline.layout;
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames[0]![0]!.step).toBe(numHolistic);
    expect(frames.at(-1)![0]!.step).toBe(length);
    for (const batch of frames) {
      expect(batch.map((f) => f.index)).toEqual([0, 1, 2]);
      for (const frame of batch) {
        expect(frame.width).toBeLessThanOrEqual(64);
        expect(frame.height).toBeLessThanOrEqual(64);
        expect(frame.webp.byteLength).toBeLessThanOrEqual(PREVIEW_MAX_BYTES);
        const meta = await sharp(frame.webp).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual(['webp', frame.width, frame.height]);
      }
    }
    const steps = frames.map((batch) => batch[0]!.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(images).toHaveLength(3);
  });

  it('end closer to the final image than they start, and than its mean colour (several classes and seeds)', async () => {
    const jobs = [0, 2, 4, 5, 6, 8].flatMap((classId) =>
      [1, 2].map((seed) => ({ id: `q${classId}-${seed}`, classId, seed: 1000 * seed + classId })),
    );
    // A quality rule, not a timing one: no decode budget, so every job gets an early preview
    // however loaded the machine is.
    const unbudgeted = await open(1);
    const rows = await Promise.all(
      jobs.map(async ({ id, classId, seed }) => {
        const frames: PreviewFrame[] = [];
        const [image] = await unbudgeted.run(id, generate(classId, seed), undefined, (f) =>
          frames.push(f[0]!),
        );
        const first = frames[0]!;
        expect(first.step).toBeLessThan(unbudgeted.layout.length);
        const last = frames.at(-1)!;
        const side = last.width;
        const final = await rgbAt(image!.png, side);
        return {
          first: psnr(await rgbAt(first.webp, side), final),
          last: psnr(await rgbAt(last.webp, side), final),
          meanColour: meanColourPsnr(final),
        };
      }),
    );
    for (const row of rows) {
      expect(row.last).toBeGreaterThan(row.first);
      expect(row.last).toBeGreaterThan(row.meanColour);
    }
  });

  it('never change the result: the same seeds give the same bytes with and without them', async () => {
    const requests = [generate(3, 42, 2), generate(7, 9), generate(1, 123, 3)];
    const plain = await open();
    const without = await Promise.all(requests.map((r, i) => plain.run(`w${i}`, r)));
    const withPreviews = await Promise.all(
      requests.map((r, i) => pipeline.run(`p${i}`, r, undefined, () => undefined)),
    );
    const bytes = (runs: typeof without) => runs.map((images) => images.map((i) => i.png));
    expect(bytes(withPreviews)).toEqual(bytes(without));
  });
});
