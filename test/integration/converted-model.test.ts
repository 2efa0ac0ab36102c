/**
 * A model converted from official-format checkpoints without `--dinov2` (generate-only) is served:
 * tools/convert.py writes it, `hita serve` loads it, generates with it, and the `models` query
 * says it cannot in-paint or transfer style.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';

const run = promisify(execFile);
const MODEL_ID = 'converted-tiny';

// The tiny official-format checkpoints of tools/tests/test_convert.py (its own writer), converted
// by the CLI without --dinov2; the sizes the weights do not hold are passed as flags.
const CONVERT = `
import sys
from tests.helpers import tiny_models
from tests.test_convert import write_official
import convert
checkpoints, out = sys.argv[1:3]
paths = write_official(checkpoints, *tiny_models(seed=3))
sys.exit(convert.main(["--tokenizer", paths["tok.pt"], "--gpt", paths["gpt.pt"], "--out", out,
    "--shift-k", "2", "--tokenizer-heads", "4", "--gpt-heads", "6", "--pos-m-embedding", "slot"]))
`;

interface JobView {
  id: string;
  status: string;
  outputs: { width: number; height: number; seed: number }[];
  error: { code: string; message: string } | null;
}

describe('a generate-only model converted from official checkpoints', () => {
  let root: string;
  let api: ApiHarness;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hita-converted-'));
    const [checkpoints, modelsDir] = [join(root, 'checkpoints'), join(root, 'models')];
    await mkdir(checkpoints);
    await run('/usr/bin/python3', ['-c', CONVERT, checkpoints, join(modelsDir, MODEL_ID)], {
      cwd: resolve('tools'),
      timeout: 240_000,
    });
    api = await startApi({ HITA_MODELS_DIR: modelsDir, HITA_MODEL: MODEL_ID });
  }, 300_000);

  afterAll(async () => {
    await api?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('is listed as able to generate but not to in-paint or transfer style', async () => {
    const { data, errors } = await api.gql<{
      models: { id: string; capabilities: Record<string, boolean> }[];
    }>('{ models { id capabilities { generate inpaint styleTransfer } } }');
    expect(errors).toBeUndefined();
    expect(data!.models).toEqual([
      {
        id: MODEL_ID,
        capabilities: { generate: true, inpaint: false, styleTransfer: false },
      },
    ]);
  });

  it('generates an image', async () => {
    const submitted = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 1, count: 1, seed: 5 }) { id } }',
    );
    expect(submitted.errors).toBeUndefined();
    const id = submitted.data!.generateImages.id;
    let job: JobView | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const polled = await api.gql<{ job: JobView }>(
        'query($id: ID!) { job(id: $id) { id status outputs { width height seed } error { code message } } }',
        { id },
      );
      job = polled.data!.job;
      if (!['QUEUED', 'RUNNING'].includes(job.status)) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(job).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(job!.outputs).toEqual([{ width: 32, height: 32, seed: 5 }]);
  });

  it('refuses in-painting with a reason instead of failing a job later', async () => {
    const { errors } = await api.gql(
      'mutation { inpaintImage(input: { imageKey: "a", maskKey: "b" }) { id } }',
    );
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toContain('cannot in-paint');
  });
});
