/**
 * Same seeds, same bytes, per GPT precision: generation jobs run end to end (GraphQL → queue →
 * worker → engine → store) on the shipped model at int8 and at int4, and each PNG's sha256 must
 * equal the committed fixture (golden-precision-outputs.json; the fp32 fixture is
 * golden-outputs.json), pinned per CPU instruction set (support/cpu-isa.ts: MLAS's integer
 * kernels differ in the last bits between AVX2 and AVX-512 VNNI). The jobs are enqueued together, so they share batches: the
 * one-row job (cfgScale 1) is pinned too, which for int4 needs lone-row padding. The int8 jobs
 * are queued on a server at fp32 without workers and run after a restart at int8: each job's
 * `parameters.precision` must say int8, what it ran with.
 *
 * The fixture names the quantized graphs its hashes belong to (`graphs`: their sha256 in
 * model.json): a graph changed without re-recording fails here. HITA_UPDATE_GOLDEN=1 rewrites
 * this machine's ISA entry (for a deliberate model, quantizer or sampler change, said so in the
 * commit, or to pin a new ISA); recorded for other graphs, it drops the other ISAs' entries, which
 * no longer describe anything. On an ISA without an entry the jobs still run and every check but
 * the hashes holds (determinism per precision is also pinned ISA-free, alone and batched, by
 * test/inference/*-determinism tests); the hashes are printed to record.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { cpuIsa } from '../support/cpu-isa.js';

const FIXTURE = new URL('./fixtures/golden-precision-outputs.json', import.meta.url);

const JOBS: { name: string; input: Record<string, unknown> }[] = [
  { name: 'generate with CFG', input: { classId: 3, count: 2, seed: 101, cfgScale: 1.5 } },
  {
    name: 'generate without CFG',
    input: { className: 'Animals & Nature', seed: 202, cfgScale: 1 },
  },
  {
    name: 'generate with top-k, top-p and temperature',
    input: { classId: 5, seed: 303, cfgScale: 2, temperature: 0.8, topK: 40, topP: 0.9 },
  },
];

type Golden = Record<string, Record<string, { seed: number; sha256: string }[]>>;
interface Fixture {
  /** sha256 of each quantized GPT graph the hashes were recorded with. */
  graphs: Record<string, string>;
  isa: Record<string, Golden>;
}
const ISA = cpuIsa();
const UPDATING = process.env.HITA_UPDATE_GOLDEN === '1';
const readFixture = () => JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;
const shippedGraphs = (): Record<string, string> => {
  const manifest = JSON.parse(
    readFileSync(new URL('../../models/hita-tiny-emoji/model.json', import.meta.url), 'utf8'),
  ) as { graphs: { gptVariants: Record<string, { sha256: string }> } };
  return Object.fromEntries(
    Object.entries(manifest.graphs.gptVariants).map(([precision, v]) => [precision, v.sha256]),
  );
};

const dirs: string[] = [];
let api: ApiHarness | undefined;
afterAll(async () => {
  await api?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>, dataDir: string): Promise<ApiHarness> {
  await api?.stop();
  api = await startApi({ HITA_MODEL: 'hita-tiny-emoji', ...env }, dataDir);
  return api;
}

async function enqueueAll(server: ApiHarness): Promise<string[]> {
  const ids: string[] = [];
  for (const job of JOBS) {
    const { data, errors } = await server.gql<{ generateImages: { id: string } }>(
      'mutation($i: GenerateInput!) { generateImages(input: $i) { id } }',
      { i: job.input },
    );
    expect(errors, job.name).toBeUndefined();
    ids.push(data!.generateImages.id);
  }
  return ids;
}

type Finished = {
  status: string;
  error: unknown;
  parameters: { precision: string };
  outputs: { seed: number; url: string }[];
};

async function results(server: ApiHarness, ids: string[], precision: string) {
  const actual: Golden[string] = {};
  for (const [i, id] of ids.entries()) {
    const query = `{ job(id: "${id}") { status error { code message } parameters { precision } outputs { seed url } } }`;
    let job: Finished | undefined;
    await vi.waitFor(
      async () => {
        job = (await server.gql<{ job: Finished }>(query)).data!.job;
        expect(['SUCCEEDED', 'FAILED', 'CANCELLED']).toContain(job.status);
      },
      { timeout: 120_000, interval: 100 },
    );
    expect(job, JOBS[i]!.name).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(job!.parameters.precision, JOBS[i]!.name).toBe(precision);
    actual[JOBS[i]!.name] = await Promise.all(
      job!.outputs.map(async (output) => {
        const bytes = Buffer.from(await (await fetch(output.url)).arrayBuffer());
        return { seed: output.seed, sha256: createHash('sha256').update(bytes).digest('hex') };
      }),
    );
  }
  return actual;
}

describe(`golden outputs per GPT precision (${ISA})`, () => {
  it('pins the quantized graphs the model ships', () => {
    if (!UPDATING) expect(readFixture().graphs).toEqual(shippedGraphs());
  });

  it('matches the committed sha256 of every image at int8 and int4, and records the precision', async () => {
    const actual: Golden = {};
    // int8: queued at fp32 with no worker, run after a restart at int8.
    const int8Dir = await mkdtemp(join(tmpdir(), 'hita-golden-int8-'));
    dirs.push(int8Dir);
    const queuedAtFp32 = await start({ HITA_WORKERS: '0', HITA_PRECISION: 'fp32' }, int8Dir);
    const { data } = await queuedAtFp32.gql<{ models: { id: string; precisions: string[] }[] }>(
      '{ models { id precisions } }',
    );
    expect(data!.models.find((m) => m.id === 'hita-tiny-emoji')?.precisions).toEqual([
      'fp32',
      'int8',
      'int4',
    ]);
    const int8Ids = await enqueueAll(queuedAtFp32);
    actual.int8 = await results(
      await start({ HITA_WORKERS: '1', HITA_PRECISION: 'int8' }, int8Dir),
      int8Ids,
      'int8',
    );
    const int4Dir = await mkdtemp(join(tmpdir(), 'hita-golden-int4-'));
    dirs.push(int4Dir);
    const int4 = await start({ HITA_WORKERS: '1', HITA_PRECISION: 'int4' }, int4Dir);
    actual.int4 = await results(int4, await enqueueAll(int4), 'int4');
    if (UPDATING) {
      const old = readFixture();
      const graphs = shippedGraphs();
      const kept = JSON.stringify(old.graphs) === JSON.stringify(graphs) ? old.isa : {};
      const fixture: Fixture = { graphs, isa: { ...kept, [ISA]: actual } };
      writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 2)}\n`);
    }
    const expected = readFixture().isa[ISA];
    if (expected) expect(actual).toEqual(expected);
    else console.warn(`golden-precision: no hashes pinned for ${ISA}; these ran:`, actual);
    // Quantization changes the images: a fixture equal to fp32's would pin nothing new.
    const fp32 = JSON.parse(
      readFileSync(new URL('./fixtures/golden-outputs.json', import.meta.url), 'utf8'),
    ) as Golden[string];
    expect(actual.int8!['generate with CFG']).not.toEqual(fp32['generate with CFG']);
  }, 300_000);
});
