/**
 * Our PyTorch eager loop (tools/bench_torch.py --serve) as a long-lived child process, so a bench
 * can interleave its figures with the engine's in one run: the weights load once, and each
 * request answers one JSON line.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts the loop on `modelDir` with `threads` threads (OpenMP and torch alike); resolves once
 * the weights are loaded and checked against the model's fixtures.
 * @returns {Promise<{ info: object, request: (command: object) => Promise<object>, close: () => Promise<void> }>}
 */
export async function startTorchEager(modelDir, threads) {
  const child = spawn(
    '/usr/bin/python3',
    ['tools/bench_torch.py', '--model', modelDir, '--serve'],
    {
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  let failure;
  const fail = (error) => {
    failure ??= error;
    for (const { reject } of waiting.splice(0)) reject(failure);
  };
  lines.on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
  child.on('error', fail);
  child.on('exit', (code, signal) => fail(new Error(`bench_torch.py exited (${code ?? signal})`)));
  const next = () =>
    failure
      ? Promise.reject(failure)
      : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const info = await next();
  return {
    info,
    async request(command) {
      const answer = next();
      child.stdin.write(`${JSON.stringify(command)}\n`);
      const result = await answer;
      if (result.error) throw new Error(`bench_torch.py: ${result.error}`);
      return result;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}
