/**
 * What the plain-node probes (bench/quant-probe.mjs, bench/gpt-probe.mjs, bench/head-probe.mjs,
 * bench/decode-batch.mjs, bench/official-size.mjs, scripts/compare-gpt-graphs.mjs) share; they run
 * without a build, so bench/support.ts is out of their reach.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';

/** A CPU session with `threads` intra-op threads and one inter-op thread: how every probe times. */
export async function openSession(file, threads) {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/** xorshift32 draws in [0, 1): the same inputs on every run and machine. */
export function xorshift32(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * bench/support.ts's `record` for the plain-Node benches: prints a figure and appends it to
 * bench/results/<suite>.jsonl with when it ran and the machine's core count.
 */
export function recordFigure(suite, figure) {
  const line = { suite, at: new Date().toISOString(), cpus: cpus().length, ...figure };
  console.info(JSON.stringify(line));
  const file = resolve('bench/results', `${suite}.jsonl`);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * `--name value` pairs over `defaults`, each read as its default's kind: a number, a comma list of
 * numbers, or a string. An unknown name or a value that is not a number where one is due throws.
 */
export function parseFlags(defaults, argv = process.argv.slice(2)) {
  const args = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const key = flag.startsWith('--') ? flag.slice(2) : undefined;
    if (key === undefined || !(key in defaults) || value === undefined) {
      throw new Error(`unknown argument or missing value: ${flag}`);
    }
    const parsed = Array.isArray(defaults[key])
      ? value.split(',').map(Number)
      : typeof defaults[key] === 'number'
        ? Number(value)
        : value;
    if ([parsed].flat().some((x) => Number.isNaN(x)))
      throw new Error(`${flag} takes numbers, got ${value}`);
    args[key] = parsed;
  }
  return args;
}
