/**
 * The official-size model of bench/official-size.mjs: hita-v tokenizer sizes + gpt-b at 336 px,
 * random init, fp32 + int8 + int4 GPT graphs, generate-only. Made once by the repository's own
 * tools/export.py into a cache directory outside git, keyed by a hash of the recipe and of the
 * Python sources that write it, so a change to the exporter or the quantizer makes a new one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** What tools/export.py is asked for: every flag that changes the files it writes. */
export const RECIPE = Object.freeze({
  id: 'hita-v-gpt-b-random',
  preset: 'hita-v',
  gpt: 'gpt-b',
  seed: 0,
  precisions: ['int8', 'int4'],
  blockSize: 32,
  accuracyLevel: 4,
  encoder: false,
  fixtureBatch: 2,
});

/** The export command line for a recipe (without --out). */
export function exportArgs(recipe) {
  return [
    'tools/export.py',
    '--id',
    recipe.id,
    '--preset',
    recipe.preset,
    '--gpt',
    recipe.gpt,
    '--random-init',
    '--seed',
    String(recipe.seed),
    '--gpt-precision',
    recipe.precisions.join(','),
    '--gpt-block-size',
    String(recipe.blockSize),
    '--gpt-accuracy-level',
    String(recipe.accuracyLevel),
    '--fixture-batch',
    String(recipe.fixtureBatch),
    ...(recipe.encoder ? [] : ['--no-encoder']),
  ];
}

/** The Python files whose code decides the model's bytes: the exporter and its package. */
export function sourceFiles(root = '.') {
  const pkg = join(root, 'tools/hita');
  const modules = readdirSync(pkg)
    .filter((f) => f.endsWith('.py'))
    .sort()
    .map((f) => join(pkg, f));
  return [join(root, 'tools/export.py'), ...modules];
}

/**
 * 16 hex digits of sha256 over the recipe and the sources (path and bytes, in a fixed order):
 * the same recipe from the same code finds the same directory, anything else a fresh one.
 */
export function cacheKey(recipe, sources) {
  const hash = createHash('sha256').update(JSON.stringify(recipe));
  for (const { path, bytes } of sources) hash.update(`\0${path}\0`).update(bytes);
  return hash.digest('hex').slice(0, 16);
}

export function defaultCacheRoot(env = process.env) {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'hita-serve', 'official-size');
}

/**
 * The model directory for `recipe`, exported on first use (minutes: a 545 MB GPT, its two
 * quantized variants and the fixtures). The export writes into a temporary sibling renamed into
 * place at the end, so an interrupted run leaves nothing that looks finished.
 * @returns {{ dir: string, key: string, built: boolean, seconds: number }}
 */
export function ensureOfficialModel({ cacheRoot = defaultCacheRoot(), recipe = RECIPE, log } = {}) {
  const sources = sourceFiles().map((path) => ({ path, bytes: readFileSync(path) }));
  const key = cacheKey(recipe, sources);
  const dir = resolve(cacheRoot, `${recipe.preset}-${recipe.gpt}-${key}`);
  if (existsSync(join(dir, 'model.json'))) return { dir, key, built: false, seconds: 0 };
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(cacheRoot, { recursive: true });
  log?.(`official-size: exporting ${recipe.preset} + ${recipe.gpt} into ${dir} (minutes, once)`);
  const started = Date.now();
  const result = spawnSync('/usr/bin/python3', [...exportArgs(recipe), '--out', partial], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`tools/export.py failed (exit ${result.status ?? result.signal})`);
  }
  renameSync(partial, dir);
  return { dir, key, built: true, seconds: (Date.now() - started) / 1000 };
}
