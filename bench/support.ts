import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

export const RESULTS_DIR = resolve('bench/results');

/** Prints a figure and appends it to bench/results/<suite>.jsonl with the machine it ran on. */
export function record(suite: string, figure: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const line = { suite, at: new Date().toISOString(), cpus: cpus().length, ...figure };
  console.info(JSON.stringify(line));
  appendFileSync(join(RESULTS_DIR, `${suite}.jsonl`), `${JSON.stringify(line)}\n`);
}

/** Runs the PyTorch baseline (tools/bench_torch.py) and returns its JSON lines. */
export function runTorchBaseline(args: string[], threads: number): Record<string, number>[] {
  const result = spawnSync('/usr/bin/python3', ['tools/bench_torch.py', ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`bench_torch.py failed: ${result.stderr}`);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
}

export async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}
