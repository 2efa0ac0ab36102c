/** The `hita` command line, run as a user runs it: the built dist/cli.js in a child process. */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientPng, maskPng } from './support/images.js';

const CLI = resolve('dist/cli.js');

function hita(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, HITA_EP: 'cpu', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

describe('hita CLI', () => {
  let dir: string;
  let image: string;
  let mask: string;
  let badMask: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hita-cli-'));
    image = join(dir, 'image.png');
    mask = join(dir, 'mask.png');
    badMask = join(dir, 'bad-mask.png');
    await writeFile(image, await gradientPng(48, 40));
    await writeFile(mask, await maskPng(48, 40, (_, y) => y >= 20));
    await writeFile(badMask, await maskPng(20, 20, () => true));
  });

  it('generates --count images into a directory as <seed>.png and reports each seed', async () => {
    const out = join(dir, 'many');
    const result = await hita([
      'generate',
      '--class',
      '3',
      '--count',
      '2',
      '--seed',
      '40',
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['40.png', '41.png']);
    expect(result.stdout).toContain('seed 40');
    expect(result.stdout).toContain('seed 41');
    const meta = await sharp(join(out, '41.png')).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([32, 32, 'png']);
  });

  it('in-paints and transfers style into a named file', async () => {
    const inpainted = join(dir, 'inpainted.png');
    const styled = join(dir, 'styled.png');
    const a = await hita([
      'inpaint',
      '--image',
      image,
      '--mask',
      mask,
      '--seed',
      '1',
      '--out',
      inpainted,
    ]);
    expect(a.code, a.stderr).toBe(0);
    const b = await hita([
      'style',
      '--content',
      image,
      '--style',
      mask,
      '--mode',
      'regenerate',
      '--strength',
      '0.5',
      '--out',
      styled,
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect((await sharp(styled).metadata()).width).toBe(32);
  });

  const failures: [string, string[], RegExp][] = [
    [
      'an unknown class',
      ['generate', '--class', 'unicorns'],
      /className: "unicorns" is not a class of/,
    ],
    [
      'an out-of-range number',
      ['generate', '--class', '1', '--top-p', '2'],
      /topP: must be in \(0, 1\]/,
    ],
    ['a non-number', ['generate', '--class', '1', '--temperature', 'warm'], /not a finite number/],
    [
      'a one-file --out with --count 2',
      ['generate', '--class', '1', '--count', '2', '--out', 'x.png'],
      /names one file/,
    ],
    [
      'an unreadable image',
      ['inpaint', '--image', '/nonexistent.png', '--mask', '/nonexistent.png'],
      /image: cannot read/,
    ],
    [
      'a mask of the wrong size',
      ['inpaint', '--image', '<image>', '--mask', '<bad-mask>'],
      /mask: is 20×20, the image is 48×40/,
    ],
    [
      'an unknown model',
      ['generate', '--class', '1', '--model', 'nope'],
      /model "nope" does not exist/,
    ],
    [
      'an unknown precision',
      ['generate', '--class', '1', '--precision', 'fp16'],
      /--precision.*fp16.*fp32, int8, int4/,
    ],
    [
      'an unknown decoding',
      ['generate', '--class', '1', '--decoding', 'jacobi'],
      /--decoding.*jacobi.*ar, speculative/,
    ],
    [
      'a missing CUDA provider',
      ['generate', '--class', '1', '--ep', 'cuda'],
      /libonnxruntime_providers_shared\.so.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    ],
  ];
  it.each(failures)('exits non-zero with one line for %s', async (_, args, pattern) => {
    const resolved = args.map((a) => (a === '<image>' ? image : a === '<bad-mask>' ? badMask : a));
    const result = await hita(resolved);
    expect(result.code).not.toBe(0);
    const lines = result.stderr
      .split('\n')
      .filter((line) => line.trim() && !line.includes('onnxruntime:'));
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });

  it('lists the models with their GPT precisions', async () => {
    const result = await hita(['models', '--json']);
    expect(result.code).toBe(0);
    const models = JSON.parse(result.stdout) as { id: string; precisions: string[] }[];
    expect(models.map((m) => m.id)).toContain('hita-tiny-random');
    const byId = new Map(models.map((m) => [m.id, m.precisions]));
    expect(byId.get('hita-tiny-emoji')).toEqual(['fp32', 'int8', 'int4']);
    expect(byId.get('hita-tiny-random')).toEqual(['fp32']);
  });

  it('--precision runs the quantized graph, over HITA_PRECISION, and says which ran', async () => {
    const out = join(dir, 'int8.png');
    const args = ['generate', '--class', '1', '--seed', '7', '--out', out];
    const result = await hita([...args, '--precision', 'int8'], { HITA_PRECISION: 'int4' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/seed 7\t\d+x\d+\tint8$/m);
    const fromEnv = await hita(args, { HITA_PRECISION: 'int4' });
    expect(fromEnv.stdout).toMatch(/\tint4$/m);
  });

  it('--decoding speculative decodes speculatively; ar is the default', async () => {
    const run = async (name: string, flags: string[]) => {
      const out = join(dir, `${name}.png`);
      const args = ['generate', '--class', '2', '--seed', '9', '--model', 'hita-tiny-emoji'];
      const result = await hita([...args, '--out', out, ...flags]);
      expect(result.code, result.stderr).toBe(0);
      return readFile(out);
    };
    const byDefault = await run('default', []);
    const ar = await run('ar', ['--decoding', 'ar']);
    const speculative = await run('speculative', ['--decoding', 'speculative']);
    expect(Buffer.compare(ar, byDefault)).toBe(0);
    // Speculative decoding samples other tokens for the same seed (same distribution).
    expect(Buffer.compare(speculative, ar)).not.toBe(0);
  });

  it('a model without the precision asked for runs fp32, and the command says so', async () => {
    const out = join(dir, 'random.png');
    const result = await hita([
      'generate',
      '--class',
      '1',
      '--model',
      'hita-tiny-random',
      '--precision',
      'int4',
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\tfp32$/m);
    expect(result.stderr).toContain('hita-tiny-random has no int4 GPT graph');
  });
});
