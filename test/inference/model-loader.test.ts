import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { loadModel } from '../../src/inference/model/model-loader.js';
import { ModelRegistry } from '../../src/inference/model/model-registry.js';
import { loadError } from '../support/model-fixtures.js';

const MODELS_DIR = resolve('models');
const TINY = join(MODELS_DIR, 'hita-tiny-random');

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A private copy of the tiny model (graphs, manifest; fixtures are not needed). */
function copyTiny(): string {
  const root = mkdtempSync(join(tmpdir(), 'hita-model-'));
  temps.push(root);
  const dir = join(root, 'hita-tiny-random');
  cpSync(TINY, dir, { recursive: true, filter: (src) => !src.includes('fixtures') });
  return dir;
}

describe('loadModel', () => {
  it('loads the tiny random model with its classes, sizes and capabilities', async () => {
    const model = await loadModel(TINY);
    expect(model.id).toBe('hita-tiny-random');
    expect(model.dir).toBe(TINY);
    expect(model.imageSize).toBe(32);
    expect(model.classes).toHaveLength(10);
    expect(model.classes[3]).toEqual({ id: 3, name: 'class 3' });
    expect(model.capabilities).toEqual({ generate: true, inpaint: true, style: true });
    expect(model.manifest.tokenizer).toMatchObject({ grid: 8, numHolistic: 16, numPatch: 64 });
    expect(model.manifest.gpt).toMatchObject({ numLayers: 6, vocabSize: 1024, nullClassId: 10 });
    expect(model.graphPath('gpt')).toBe(join(TINY, 'gpt.onnx'));
  });

  it('names a graph whose bytes changed and gives both digests', async () => {
    const dir = copyTiny();
    const path = join(dir, 'gpt.onnx');
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(path, bytes);
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.message).toContain('gpt.onnx');
    const declared = (
      JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
        graphs: { gpt: { sha256: string } };
      }
    ).graphs.gpt.sha256;
    expect(error.message).toMatch(
      new RegExp(`sha256 mismatch: expected ${declared}, actual [0-9a-f]{64}`),
    );
  });

  it('names a missing graph', async () => {
    const dir = copyTiny();
    unlinkSync(join(dir, 'decode.onnx'));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.message).toContain(join(dir, 'decode.onnx'));
    expect(error.message).toContain('missing');
  });

  it('names model.json when it is not JSON', async () => {
    const dir = copyTiny();
    writeFileSync(join(dir, 'model.json'), '{"format": "hita-serve/model@1",');
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.message).toContain(join(dir, 'model.json'));
    expect(error.message).toContain('not valid JSON');
  });

  it('names model.json and the first bad field', async () => {
    const dir = copyTiny();
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    manifest.graphs.gpt.sha256 = 'not-a-digest';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const error = await loadError(dir);
    expect(error.message).toContain('model.json');
    expect(error.message).toContain('graphs.gpt.sha256');
  });

  it('names the graph and the input when model.json declares another input name', async () => {
    const dir = copyTiny();
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    manifest.graphs.decode.inputs[1].name = 'patch_tokens';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.message).toContain('graph decode');
    expect(error.message).toContain('"patch_tokens"');
    // The graph's real input is reported as undeclared, so the fix is obvious.
    expect(error.message).toContain('"patch_ids"');
  });

  it('rejects sizes that disagree across the manifest', async () => {
    const dir = copyTiny();
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    manifest.classes.pop();
    delete manifest.graphs.encode;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const error = await loadError(dir);
    expect(error.message).toContain('require an encode graph');
    expect(error.message).toContain('classes lists 9 classes, gpt.numClasses is 10');
  });

  it('loads a generate-only model (no backbone, no encode graph) as unable to encode', async () => {
    const dir = copyTiny();
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    delete manifest.tokenizer.semanticBackbone;
    delete manifest.graphs.encode;
    manifest.capabilities = { generate: true, inpaint: false, style: false };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const model = await loadModel(dir);
    expect(model.capabilities).toEqual({ generate: true, inpaint: false, style: false });
    expect(() => model.graphPath('encode')).toThrow('has no encode graph');
  });

  it('rejects an encode graph without the semantic backbone it runs', async () => {
    const dir = copyTiny();
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    delete manifest.tokenizer.semanticBackbone;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const error = await loadError(dir);
    expect(error.message).toContain('tokenizer.semanticBackbone and graphs.encode');
  });
});

describe('ModelRegistry', () => {
  it('resolves ids, paths and the default, and caches', async () => {
    const registry = new ModelRegistry({ modelsDir: MODELS_DIR, defaultModel: 'hita-tiny-random' });
    const byId = await registry.resolve('hita-tiny-random');
    expect(await registry.resolve('./models/hita-tiny-random')).toBe(byId);
    expect(await registry.default()).toBe(byId);
    expect(await registry.resolve()).toBe(byId);
  });

  it('answers NOT_FOUND for an unknown id, listing the known ids', async () => {
    const registry = new ModelRegistry({ modelsDir: MODELS_DIR, defaultModel: 'hita-tiny-random' });
    const error = await registry.resolve('hita-xl').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('NOT_FOUND');
    expect((error as AppError).message).toContain('"hita-xl"');
    expect((error as AppError).message).toContain('hita-tiny-random');
  });

  it('lists loadable models and reports broken ones', async () => {
    const good = copyTiny();
    const root = resolve(good, '..');
    cpSync(good, join(root, 'broken'), { recursive: true });
    unlinkSync(join(root, 'broken', 'gpt.onnx'));
    const broken: [string, AppError][] = [];
    const registry = new ModelRegistry({
      modelsDir: root,
      defaultModel: 'hita-tiny-random',
      onBroken: (dir, error) => broken.push([dir, error]),
    });
    const models = await registry.list();
    expect(models.map((m) => m.id)).toEqual(['hita-tiny-random']);
    expect(broken).toHaveLength(1);
    expect(broken[0]![0]).toBe(join(root, 'broken'));
    expect(broken[0]![1].message).toContain('gpt.onnx');
  });
});
