/**
 * bench/support.ts's `record` for the plain-Node benches (.mjs): prints a figure and appends it
 * to bench/results/<suite>.jsonl with the time and the machine's core count.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

export function appendResult(suite, figure) {
  const dir = resolve('bench/results');
  const line = { suite, at: new Date().toISOString(), cpus: cpus().length, ...figure };
  console.info(JSON.stringify(line));
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `${suite}.jsonl`), `${JSON.stringify(line)}\n`);
}
