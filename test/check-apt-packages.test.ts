/**
 * scripts/check-apt-packages.mjs, the first step of `npm test`, against a fake package list and a
 * fake dpkg database; and the list itself against the README line and .ci/run that use it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve('scripts/check-apt-packages.mjs');
const LIST = resolve('scripts/apt-packages.txt');
const hasDpkg = spawnSync('dpkg-query', ['--version']).status === 0;

/** A dpkg `status` file: each name with the status dpkg would record for it. */
function statusFile(packages: Record<string, string>): string {
  return Object.entries(packages)
    .map(([name, status]) =>
      [
        `Package: ${name}`,
        `Status: ${status}`,
        'Maintainer: nobody',
        'Architecture: amd64',
        'Version: 1',
        'Description: a fake entry',
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'hita-apt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(list: string, installed: Record<string, string>) {
  writeFileSync(join(dir, 'list.txt'), list);
  writeFileSync(join(dir, 'status'), statusFile(installed));
  const args = [SCRIPT, '--list', join(dir, 'list.txt'), '--admindir', dir];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.skipIf(!hasDpkg)('check-apt-packages', () => {
  const list = '# build\nmake\ng++   # compiler\n\nredis-server\nchromium\n';

  it('prints the one apt-get line that installs what is missing, and fails', () => {
    const result = check(list, {
      make: 'install ok installed',
      'g++': 'deinstall ok config-files', // removed, only its config left: not installed
      chromium: 'install ok installed',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('apt-get install -y --no-install-recommends g++ redis-server\n');
    expect(result.stderr).toContain('not installed: g++ redis-server');
  });

  it('passes when everything is installed', () => {
    const all = Object.fromEntries(
      ['make', 'g++', 'redis-server', 'chromium'].map((name) => [name, 'install ok installed']),
    );
    const result = check(list, all);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('all 4');
  });
});

describe('scripts/apt-packages.txt', () => {
  const names = readFileSync(LIST, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);

  it('lists what the build and the suites need', () => {
    for (const name of ['make', 'g++', 'python3', 'python3-torch', 'redis-server', 'chromium']) {
      expect(names).toContain(name);
    }
  });

  it('is the apt line of the README, shown before the Quick start commands', () => {
    const readme = readFileSync('README.md', 'utf8');
    const line = `apt-get install -y --no-install-recommends ${names.join(' ')}`;
    expect(readme).toContain(line);
    expect(readme.indexOf(line)).toBeLessThan(readme.indexOf('npm ci && npm start'));
  });

  it('is what .ci/run installs: it runs the line the check prints', () => {
    expect(readFileSync('.ci/run', 'utf8')).toContain('node scripts/check-apt-packages.mjs');
  });
});
