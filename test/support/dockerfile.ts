/**
 * A Dockerfile read closely enough to replay its file layout without a Docker engine: each stage's
 * COPY set assembled in a directory, from the build context (minus .dockerignore) or from an
 * earlier stage. Only what this repository's Dockerfile uses is understood; anything else throws,
 * so a new instruction cannot be silently mis-replayed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';

/** One instruction: its keyword, its flags (`--from=build`) and its arguments. */
export interface Instruction {
  keyword: string;
  flags: Record<string, string>;
  args: string[];
  /** The text after the keyword, for RUN. */
  text: string;
}

/** One `FROM … AS name` stage with its instructions. */
export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages; comments and line continuations are handled. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [keyword = '', ...rest] = line.split(/\s+/);
    const body = line.slice(keyword.length).trim();
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [base = '', as, name] = rest;
      if (as?.toUpperCase() !== 'AS' || !name) throw new Error(`unnamed stage: ${line}`);
      stages.push({ name, base, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`instruction before FROM: ${line}`);
    const flags: Record<string, string> = {};
    const args = body.startsWith('[') ? (JSON.parse(body) as string[]) : body.split(/\s+/);
    while (args[0]?.startsWith('--')) {
      const [key = '', value = ''] = args.shift()!.slice(2).split('=');
      flags[key] = value;
    }
    stage.instructions.push({ keyword: upper, flags, args, text: body });
  }
  return stages;
}

/** Patterns of .dockerignore: `path` (and everything under it) or `**\/name` (at any depth). */
export function readDockerignore(context: string): (path: string) => boolean {
  const file = join(context, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'))
    : [];
  for (const pattern of patterns) {
    if (pattern.replace(/^\*\*\//, '').match(/[*?[!]/)) {
      throw new Error(`.dockerignore pattern not understood by this test: ${pattern}`);
    }
  }
  return (path) =>
    patterns.some((pattern) =>
      pattern.startsWith('**/')
        ? path.split('/').includes(pattern.slice(3))
        : path === pattern || path.startsWith(`${pattern}/`),
    );
}

/** Where each assembled stage's filesystem lives: `<root>/<stage name>`. */
export interface AssembleOptions {
  context: string;
  root: string;
  /** The installed node_modules, symlinked where a RUN would `npm ci`. */
  nodeModules: string;
}

/**
 * Replays every stage: COPY from the context or an earlier stage, `npm ci` as a symlink to the
 * installed node_modules, and `npm run build` for real in the stage's WORKDIR. Other RUN commands
 * (npm prune, downloads) are not replayed. Returns each stage's WORKDIR on this machine.
 * @throws Error when a COPY source is missing or the build fails.
 */
export function assembleStages(stages: Stage[], options: AssembleOptions): Map<string, string> {
  const { context, root, nodeModules } = options;
  const isIgnored = readDockerignore(context);
  const workdirs = new Map<string, string>();
  for (const stage of stages) {
    if (workdirs.has(stage.base))
      throw new Error(`FROM an earlier stage is not replayed: ${stage.base}`);
    const fs = join(root, stage.name);
    let workdir = '/';
    const host = (path: string) => join(fs, posix.resolve(workdir, path));
    for (const { keyword, flags, args, text } of stage.instructions) {
      if (keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, args[0]!);
        mkdirSync(host('.'), { recursive: true });
      } else if (keyword === 'COPY') {
        const dest = args.at(-1)!;
        const from = flags.from;
        if (from && !workdirs.has(from)) continue; // an outside image (node, cuda): not replayed
        for (const source of args.slice(0, -1)) {
          const src = from ? join(root, from, source) : join(context, source);
          if (!existsSync(src)) throw new Error(`${stage.name}: COPY ${source}: not in the source`);
          const target = dest.endsWith('/') ? join(host(dest), posix.basename(source)) : host(dest);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(src, target, {
            recursive: true,
            verbatimSymlinks: true,
            filter: (path) => from !== undefined || !isIgnored(relative(context, path)),
          });
        }
      } else if (keyword === 'RUN') {
        if (/\bnpm ci\b/.test(text)) symlinkSync(nodeModules, host('node_modules'));
        if (/\bnpm run build\b/.test(text)) {
          execFileSync('npm', ['run', 'build'], { cwd: host('.'), stdio: 'pipe' });
        }
      }
    }
    workdirs.set(stage.name, host('.'));
  }
  return workdirs;
}

/** Relative paths of the files under `dir`, for failure messages. */
export function listTree(dir: string, depth = 2): string[] {
  if (depth < 0 || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? [
          `${entry.name}/`,
          ...listTree(join(dir, entry.name), depth - 1).map((p) => `${entry.name}/${p}`),
        ]
      : [entry.name],
  );
}
