/** The quantized GPT graphs (graphs.gptVariants) are verified like every other graph. */
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/inference/model/model-loader.js';
import { loadError } from '../support/model-fixtures.js';

const EMOJI = resolve('models/hita-tiny-emoji');

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Manifest {
  graphs: {
    gpt: { sha256: string };
    gptVariants: Record<string, { file: string; sha256: string; quantizedFrom: string }>;
  };
}

/** The emoji model's graphs linked into a temp directory, with a manifest to edit. */
function linkedEmoji(edit: (manifest: Manifest) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'hita-variants-'));
  temps.push(dir);
  for (const file of readdirSync(EMOJI).filter((f) => f.endsWith('.onnx'))) {
    symlinkSync(join(EMOJI, file), join(dir, file));
  }
  const manifest = JSON.parse(readFileSync(join(EMOJI, 'model.json'), 'utf8')) as Manifest;
  edit(manifest);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
  return dir;
}

describe('loadModel on quantized GPT graphs', () => {
  it('loads the variants and gives each precision its file', async () => {
    const model = await loadModel(linkedEmoji());
    expect(model.gptPrecisions).toEqual(['fp32', 'int8', 'int4']);
    expect(model.gptPath('fp32')).toBe(join(model.dir, 'gpt.onnx'));
    expect(model.gptPath('int4')).toBe(join(model.dir, 'gpt.int4.onnx'));
  });

  it('names a variant whose bytes differ from its sha256', async () => {
    const dir = linkedEmoji();
    rmSync(join(dir, 'gpt.int4.onnx'));
    const bytes = readFileSync(join(EMOJI, 'gpt.int4.onnx'));
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(join(dir, 'gpt.int4.onnx'), bytes);
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.message).toMatch(/gpt\.int4\.onnx.*sha256 mismatch/);
  });

  it('names a missing variant file', async () => {
    const dir = linkedEmoji();
    rmSync(join(dir, 'gpt.int8.onnx'));
    expect((await loadError(dir)).message).toMatch(/gpt\.int8\.onnx.*missing/);
  });

  it('refuses a variant quantized from another gpt.onnx', async () => {
    const other = 'ab'.repeat(32);
    const dir = linkedEmoji((m) => (m.graphs.gptVariants.int8!.quantizedFrom = other));
    const error = await loadError(dir);
    expect(error.message).toContain(`graphs.gptVariants.int8.quantizedFrom ${other} differs`);
  });

  it('refuses a variant whose graph has other inputs than the manifest says', async () => {
    // The int8 entry pointed at the decode graph, checksums updated: only the io check can tell.
    const decode = JSON.parse(readFileSync(join(EMOJI, 'model.json'), 'utf8')) as {
      graphs: { decode: { file: string; sha256: string; bytes: number } };
    };
    const dir = linkedEmoji((m) => {
      Object.assign(m.graphs.gptVariants.int8!, {
        file: decode.graphs.decode.file,
        sha256: decode.graphs.decode.sha256,
        bytes: decode.graphs.decode.bytes,
      });
    });
    const error = await loadError(dir);
    expect(error.message).toContain('graph gptVariants.int8 differs from model.json');
  });
});
