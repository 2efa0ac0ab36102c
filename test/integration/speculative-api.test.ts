/**
 * `decoding` through the API: a job asks for SPECULATIVE on its input, the worker runs it so, and
 * `parameters.decoding` says what it ran with (AR when the input gives none). The speculative
 * job's PNG is the bytes the engine makes for that seed and mode alone, though it shared the
 * worker's batches with an AR job.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '../../src/inference/model/model-loader.js';
import { openPipeline } from '../../src/inference/ort/open-pipeline.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';

type Finished = {
  status: string;
  parameters: { decoding: string; seed: number };
  outputs: { url: string }[];
};

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ HITA_MODEL: 'hita-tiny-emoji' });
});
afterAll(async () => {
  await api.stop();
});

async function enqueue(input: Record<string, unknown>) {
  return api.gql<{ generateImages: { id: string; parameters: { decoding: string } } }>(
    'mutation($i: GenerateInput!) { generateImages(input: $i) { id parameters { decoding } } }',
    { i: input },
  );
}

async function finished(id: string): Promise<Finished & { sha256: string }> {
  const query = `{ job(id: "${id}") { status parameters { decoding seed } outputs { url } } }`;
  let job: Finished | undefined;
  await vi.waitFor(
    async () => {
      job = (await api.gql<{ job: Finished }>(query)).data!.job;
      expect(['SUCCEEDED', 'FAILED', 'CANCELLED']).toContain(job.status);
    },
    { timeout: 120_000, interval: 100 },
  );
  const bytes = Buffer.from(await (await fetch(job!.outputs[0]!.url)).arrayBuffer());
  return { ...job!, sha256: createHash('sha256').update(bytes).digest('hex') };
}

describe('decoding through GraphQL', () => {
  it('runs SPECULATIVE when asked, records it, and gives the engine’s bytes for that seed', async () => {
    const spec = await enqueue({ classId: 4, seed: 808, decoding: 'SPECULATIVE' });
    const ar = await enqueue({ classId: 4, seed: 808 });
    expect(spec.errors).toBeUndefined();
    expect(spec.data!.generateImages.parameters.decoding).toBe('SPECULATIVE');
    expect(ar.data!.generateImages.parameters.decoding).toBe('AR');
    const [specJob, arJob] = [
      await finished(spec.data!.generateImages.id),
      await finished(ar.data!.generateImages.id),
    ];
    expect(specJob).toMatchObject({ status: 'SUCCEEDED', parameters: { decoding: 'SPECULATIVE' } });
    expect(arJob).toMatchObject({ status: 'SUCCEEDED', parameters: { decoding: 'AR' } });

    const model = await loadModel(resolve('models/hita-tiny-emoji'));
    const { pipeline } = await openPipeline(model, { providers: ['cpu'], threads: 2 });
    const run = (decoding: 'ar' | 'speculative') =>
      pipeline.run(decoding, {
        kind: 'generate',
        classId: 4,
        seed: 808,
        count: 1,
        sampling: model.manifest.sampling,
        decoding,
      });
    const sha = (png: Buffer) => createHash('sha256').update(png).digest('hex');
    const [alone] = await run('speculative');
    const [arAlone] = await run('ar');
    await pipeline.close();
    expect(specJob.sha256).toBe(sha(alone!.png));
    expect(arJob.sha256).toBe(sha(arAlone!.png));
    // Another decoding samples other tokens for the same seed.
    expect(specJob.sha256).not.toBe(arJob.sha256);
  }, 180_000);

  it('refuses a decoding the enum does not have', async () => {
    const { errors } = await enqueue({ classId: 1, decoding: 'JACOBI' });
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
