/**
 * The demo page cannot drift from the contract: web/src/graphql-env.d.ts, which types every
 * operation of web/src/operations.ts (gql.tada), is what the generator makes of schema.graphql
 * today, and the page type-checks against it. (The operations themselves are validated against the
 * schema by demo-costs.test.ts.)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const TADA_CLI = join(dirname(require.resolve('gql.tada/package.json')), 'bin/cli.js');
const TSC = require.resolve('typescript/bin/tsc');
const COMMITTED = resolve('web/src/graphql-env.d.ts');
const REGENERATE = 'npm run codegen:web';

describe('the demo’s generated GraphQL types', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hita-web-codegen-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are what gql.tada generates from schema.graphql', async () => {
    const output = join(dir, 'graphql-env.d.ts');
    // The schema and the output's shape come from web/tsconfig.json's gql.tada plugin entry.
    await run(process.execPath, [
      TADA_CLI,
      'generate-output',
      '--tsconfig',
      'web/tsconfig.json',
      '--output',
      output,
    ]);
    // The committed copy is formatted like the rest of web/ (`npm run codegen:web` does both).
    const options = await resolveConfig(COMMITTED);
    const generated = await format(await readFile(output, 'utf8'), {
      ...options,
      filepath: COMMITTED,
    });
    const committed = await readFile(COMMITTED, 'utf8');
    expect(committed, `web/src/graphql-env.d.ts is stale: run \`${REGENERATE}\``).toBe(generated);
  });

  it('type the page without errors', { timeout: 180_000 }, async () => {
    const result = await run(process.execPath, [TSC, '-p', 'web/tsconfig.json', '--noEmit']).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    expect(result, 'npm run typecheck:web').toBe('');
  });
});
