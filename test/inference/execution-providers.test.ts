import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  CUDA_INSTALL_COMMAND,
  createSession,
  diagnoseCudaLoadFailure,
  parseExecutionProviders,
} from '../../src/inference/ort/execution-providers.js';

const GRAPH = resolve('models/hita-tiny-random/decode.onnx');

/** A logger that keeps what it is given (pino's `warn(obj, msg)` shape). */
function recordingLogger() {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, warn: (obj: object, msg: string) => void warnings.push({ obj, msg }) };
}

describe('parseExecutionProviders', () => {
  it('defaults to the CPU and keeps the order of preference without duplicates', () => {
    expect(parseExecutionProviders(undefined)).toEqual(['cpu']);
    expect(parseExecutionProviders(' ')).toEqual(['cpu']);
    expect(parseExecutionProviders('cuda, webgpu,CPU,cuda')).toEqual(['cuda', 'webgpu', 'cpu']);
  });

  it('rejects an unknown provider as HITA_EP input', () => {
    let error: unknown;
    try {
      parseExecutionProviders('tpu');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('BAD_USER_INPUT');
    expect((error as AppError).message).toMatch(/^HITA_EP: unknown execution provider "tpu"/);
    expect((error as AppError).details).toMatchObject({ field: 'HITA_EP', received: 'tpu' });
  });
});

// This machine has no GPU and onnxruntime-node's CUDA provider libraries are not installed.
describe('createSession', () => {
  it('opens the graph on the CPU', async () => {
    const { session, provider } = await createSession(GRAPH, { providers: ['cpu'] });
    expect(provider).toBe('cpu');
    expect(session.inputNames).toEqual(['holistic_ids', 'patch_ids']);
    await session.release();
  });

  it('reports CUDA alone as unavailable, naming the library and the install command', async () => {
    const error = await createSession(GRAPH, { providers: ['cuda'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('EXECUTION_PROVIDER_UNAVAILABLE');
    expect((error as AppError).details).toEqual({ provider: 'cuda' });
    expect((error as AppError).message).toContain('libonnxruntime_providers_shared.so');
    expect((error as AppError).message).toContain(CUDA_INSTALL_COMMAND);
    expect(CUDA_INSTALL_COMMAND).toBe(
      'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install',
    );
  });

  it('falls back from CUDA to the CPU with one warning', async () => {
    const logger = recordingLogger();
    const { session, provider } = await createSession(GRAPH, {
      providers: ['cuda', 'cpu'],
      logger,
      intraOpNumThreads: 1,
    });
    await session.release();
    expect(provider).toBe('cpu');
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toBe('cuda unavailable, falling back to cpu');
    expect(logger.warnings[0]!.obj).toMatchObject({ provider: 'cuda', next: 'cpu' });
  });

  it('reports WebGPU without an adapter, and throws the first error when all fail', async () => {
    const error = await createSession(GRAPH, { providers: ['webgpu', 'cuda'] }).catch(
      (e: unknown) => e,
    );
    expect((error as AppError).code).toBe('EXECUTION_PROVIDER_UNAVAILABLE');
    expect((error as AppError).details).toEqual({ provider: 'webgpu' });
    expect((error as AppError).message).toContain('no WebGPU adapter is available');
  });
});

describe('diagnoseCudaLoadFailure', () => {
  const hasGcc = (() => {
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const dir = mkdtempSync(join(tmpdir(), 'hita-ep-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A stand-in provider library linked against a CUDA library that is then removed: the
  // dynamic loader's own message must come through as the library to install.
  it.skipIf(!hasGcc)('names a CUDA library the provider library needs', () => {
    const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: dir, stdio: 'pipe' });
    execFileSync(
      'sh',
      [
        '-c',
        'echo "int d(void){return 1;}" > d.c; echo "int d(void); int f(void){return d();}" > p.c',
      ],
      { cwd: dir },
    );
    gcc('-shared', '-fPIC', '-o', 'libcudnn.so.9', 'd.c');
    gcc('-shared', '-fPIC', '-o', 'libonnxruntime_providers_shared.so', 'd.c');
    gcc(
      '-shared',
      '-fPIC',
      '-o',
      'libonnxruntime_providers_cuda.so',
      'p.c',
      '-L.',
      '-l:libcudnn.so.9',
    );
    rmSync(join(dir, 'libcudnn.so.9'));
    const { library, fix } = diagnoseCudaLoadFailure(dir);
    expect(library).toBe('libcudnn.so.9');
    expect(fix).toContain('cuDNN 9');
    expect(fix).toContain('LD_LIBRARY_PATH');
  });
});
