/**
 * The Dockerfile without a Docker engine: each stage's COPY set is assembled in a temp dir, the
 * build stage's `npm run build` runs there against the installed node_modules, and the api
 * stage's tree must hold what its CMD and the demo page need, and serve the page.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../src/config.js';
import { freePort } from '../support/free-port.js';
import { assembleStages, listTree, parseDockerfile, type Stage } from '../support/dockerfile.js';

const stages = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const root = mkdtempSync(join(tmpdir(), 'hita-docker-'));
let workdirs: Map<string, string>;

beforeAll(() => {
  workdirs = assembleStages(stages, {
    context: resolve('.'),
    root,
    nodeModules: resolve('node_modules'),
  });
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The files a stage's CMD names (`node dist/cli.js serve` → dist/cli.js). */
function cmdFiles(stage: Stage): string[] {
  const cmd = stage.instructions.filter((i) => i.keyword === 'CMD').at(-1);
  return (cmd?.args ?? []).filter((arg) => /\.(m?js|cjs)$/.test(arg));
}

describe('Dockerfile', () => {
  it('has the build, api and worker-cuda stages', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'api', 'worker-cuda']);
  });

  it.each(['api', 'worker-cuda'])('%s: its CMD, package.json and the models are there', (name) => {
    const dir = workdirs.get(name)!;
    const stage = stages.find((s) => s.name === name)!;
    const needed = [...cmdFiles(stage), 'package.json', `models/${DEFAULT_MODEL}/model.json`];
    expect(cmdFiles(stage)).toContain('dist/cli.js');
    const missing = needed.filter((file) => !existsSync(join(dir, file)));
    expect(missing, `the ${name} tree holds ${listTree(dir).join(', ')}`).toEqual([]);
  });

  it('api: the demo page is in the image and `hita serve` serves it at /', async () => {
    const dir = workdirs.get('api')!;
    expect(existsSync(join(dir, 'web/dist/index.html'))).toBe(true);
    const port = await freePort();
    const server = spawn(process.execPath, ['dist/cli.js', 'serve'], {
      cwd: dir,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HITA_HOST: '127.0.0.1',
        HITA_DATA_DIR: join(root, 'data'),
        HITA_WORKERS: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    try {
      let page = '';
      for (let i = 0; i < 200 && !page; i++) {
        page = await fetch(`http://127.0.0.1:${port}/`)
          .then((r) => (r.ok ? r.text() : ''))
          .catch(() => '');
        if (!page) await new Promise((done) => setTimeout(done, 100));
      }
      expect(page).toBe(readFileSync(join(dir, 'web/dist/index.html'), 'utf8'));
    } finally {
      server.kill();
    }
  });
});
