import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// bench/gpu.sh runs only on GPU hosts; these checks keep it from rotting on CPU machines.
const SCRIPT = 'bench/gpu.sh';
const dir = mkdtempSync(join(tmpdir(), 'gpu-sh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for nvidia-smi that prints `output` and exits with `code`. */
function fakeSmi(name: string, output: string, code = 0): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${output}'\nexit ${code}\n`);
  chmodSync(path, 0o755);
  return path;
}

function gpuSh(args: string[], smi: string) {
  const result = spawnSync('bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HITA_GPU_SMI: smi },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bench/gpu.sh', () => {
  it('is valid bash, and shellcheck-clean where shellcheck is installed', () => {
    expect(spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' }).status).toBe(0);
    const shellcheck = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    if (shellcheck.error) return; // not installed here
    expect(shellcheck.stdout).toBe('');
    expect(shellcheck.status).toBe(0);
  });

  it('--check on a host without nvidia-smi: exit 3, "no GPU", and the plan it would run', () => {
    const { code, stdout, stderr } = gpuSh(['--check'], join(dir, 'absent-nvidia-smi'));
    expect(code).toBe(3);
    expect(stderr).toMatch(/FAIL: no GPU: .*absent-nvidia-smi' not found/);
    expect(stdout).toContain('== would run');
    expect(stdout).toContain(
      'HITA_BENCH=1 HITA_EP=cuda HITA_BENCH_MODEL=models/hita-tiny-random HITA_BENCH_TORCH=0 npx vitest run bench/engine.bench.ts',
    );
  });

  it('fails early without --check too, before building anything', () => {
    const { code, stdout, stderr } = gpuSh([], join(dir, 'absent-nvidia-smi'));
    expect(code).toBe(3);
    expect(stderr).toContain('no GPU');
    expect(stdout).not.toContain('== build');
  });

  it('an nvidia-smi that lists no GPU is "no GPU" as well', () => {
    const smi = fakeSmi('smi-none', 'No devices were found', 6);
    const { code, stderr } = gpuSh(['--check'], smi);
    expect(code).toBe(3);
    expect(stderr).toContain('lists no GPU: No devices were found');
  });

  it('--check with a GPU listed: the prerequisites pass, and the CUDA provider install is named', () => {
    const smi = fakeSmi('smi-h200', '0, NVIDIA H200, 143771 MiB, 570.00');
    const { code, stdout } = gpuSh(['--check', '--providers', 'cpu,cuda'], smi);
    expect(stdout).toContain('ok    GPU 0, NVIDIA H200');
    expect(stdout).toContain('ok    onnxruntime-node 1.30.0');
    // This machine has no CUDA provider libraries: reported with the command that fetches them.
    expect(stdout).toContain(
      'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install',
    );
    expect(code).toBe(0);
  });

  it('rejects an unknown argument with exit 2', () => {
    expect(gpuSh(['--bogus'], join(dir, 'absent-nvidia-smi')).code).toBe(2);
  });
});
