/**
 * Same seeds, same bytes: eight listed jobs run end to end (GraphQL → queue → worker → engine →
 * store) on the shipped model, and each PNG's sha256 must equal the committed fixture. It pins
 * the whole request path, so a refactor of how a job's parameters travel cannot change a result
 * unnoticed. HITA_UPDATE_GOLDEN=1 rewrites the fixture (only for a deliberate model or sampler
 * change, said so in the commit).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { gradientPng, maskPng } from '../support/images.js';

const FIXTURE = new URL('./fixtures/golden-outputs.json', import.meta.url);

type Mutation = 'generateImages' | 'inpaintImage' | 'transferStyle';
const INPUT_TYPE: Record<Mutation, string> = {
  generateImages: 'GenerateInput',
  inpaintImage: 'InpaintInput',
  transferStyle: 'StyleTransferInput',
};

interface GoldenJob {
  name: string;
  mutation: Mutation;
  /** The input, with `$image`, `$mask`, `$content` and `$style` standing for uploaded keys. */
  input: Record<string, unknown>;
}

const JOBS: GoldenJob[] = [
  {
    name: 'generate with CFG',
    mutation: 'generateImages',
    input: { classId: 3, count: 2, seed: 101, cfgScale: 1.5 },
  },
  {
    name: 'generate without CFG',
    mutation: 'generateImages',
    input: { className: 'Animals & Nature', seed: 202, cfgScale: 1 },
  },
  {
    name: 'generate with top-k, top-p and temperature',
    mutation: 'generateImages',
    input: { classId: 5, seed: 303, cfgScale: 2, temperature: 0.8, topK: 40, topP: 0.9 },
  },
  {
    name: 'in-paint, keeping holistic tokens, composited',
    mutation: 'inpaintImage',
    input: { imageKey: '$image', maskKey: '$mask', classId: 2, seed: 404, count: 2 },
  },
  {
    name: 'in-paint, new holistic tokens, not composited, unconditional',
    mutation: 'inpaintImage',
    input: {
      imageKey: '$image',
      maskKey: '$mask',
      seed: 505,
      keepHolistic: false,
      composite: false,
    },
  },
  {
    name: 'style SWAP',
    mutation: 'transferStyle',
    input: { contentKey: '$content', styleKey: '$style', mode: 'SWAP', seed: 606 },
  },
  {
    name: 'style REGENERATE, strength 0.5',
    mutation: 'transferStyle',
    input: { contentKey: '$content', styleKey: '$style', mode: 'REGENERATE', seed: 707, count: 2 },
  },
  {
    name: 'style REGENERATE, strength 0.9, with a class',
    mutation: 'transferStyle',
    input: {
      contentKey: '$content',
      styleKey: '$style',
      mode: 'REGENERATE',
      strength: 0.9,
      classId: 1,
      seed: 808,
    },
  },
];

describe('golden outputs: the same seeds give the same PNG bytes', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi({ HITA_MODEL: 'hita-tiny-emoji', HITA_WORKERS: '1' });
  });
  afterAll(async () => {
    await api?.stop();
    if (api) await rm(api.dataDir, { recursive: true, force: true });
  });

  async function upload(bytes: Buffer): Promise<string> {
    const { data, errors } = await api.gql<{ createUpload: { key: string; url: string } }>(
      'mutation($i: CreateUploadInput!) { createUpload(input: $i) { key url } }',
      { i: { contentType: 'image/png' } },
    );
    expect(errors).toBeUndefined();
    const response = await fetch(data!.createUpload.url, {
      method: 'PUT',
      body: new Uint8Array(bytes),
      headers: { 'content-type': 'image/png' },
    });
    expect(response.status).toBeLessThan(300);
    return data!.createUpload.key;
  }

  it('matches the committed sha256 of every image of the eight jobs', async () => {
    const keys: Record<string, string> = {
      $image: await upload(await gradientPng(48, 40)),
      $mask: await upload(await maskPng(48, 40, (_, y) => y >= 20)),
      $content: await upload(await gradientPng(32, 32)),
      $style: await upload(await maskPng(40, 40, (x, y) => (x + y) % 16 < 8)),
    };
    const ids: string[] = [];
    for (const job of JOBS) {
      const input = Object.fromEntries(
        Object.entries(job.input).map(([field, value]) => [
          field,
          typeof value === 'string' && value in keys ? keys[value] : value,
        ]),
      );
      const { data, errors } = await api.gql<Record<Mutation, { id: string }>>(
        `mutation($i: ${INPUT_TYPE[job.mutation]}!) { ${job.mutation}(input: $i) { id } }`,
        { i: input },
      );
      expect(errors, job.name).toBeUndefined();
      ids.push(data![job.mutation].id);
    }
    type Finished = {
      job: { status: string; error: unknown; outputs: { seed: number; url: string }[] };
    };
    const actual: Record<string, { seed: number; sha256: string }[]> = {};
    for (const [i, id] of ids.entries()) {
      const query = `{ job(id: "${id}") { status error { code message } outputs { seed url } } }`;
      let finished: Finished['job'] | undefined;
      await vi.waitFor(
        async () => {
          finished = (await api.gql<Finished>(query)).data!.job;
          expect(['SUCCEEDED', 'FAILED', 'CANCELLED']).toContain(finished.status);
        },
        { timeout: 120_000, interval: 100 },
      );
      expect(finished, JOBS[i]!.name).toMatchObject({ status: 'SUCCEEDED', error: null });
      actual[JOBS[i]!.name] = await Promise.all(
        finished!.outputs.map(async (output) => {
          const bytes = Buffer.from(await (await fetch(output.url)).arrayBuffer());
          return { seed: output.seed, sha256: createHash('sha256').update(bytes).digest('hex') };
        }),
      );
    }
    if (process.env.HITA_UPDATE_GOLDEN === '1') {
      writeFileSync(FIXTURE, `${JSON.stringify(actual, null, 2)}\n`);
    }
    const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as typeof actual;
    expect(actual).toEqual(expected);
  }, 300_000);
});
