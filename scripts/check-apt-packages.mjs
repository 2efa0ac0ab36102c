// The first step of `npm test`: are the Debian packages of scripts/apt-packages.txt installed?
// Without them the suites fail late and one by one (a missing torch stops everything after the
// Python tests); this names them all at once, with the one command that installs them.
//   node scripts/check-apt-packages.mjs [--list FILE] [--admindir DIR]
// --admindir is dpkg's database directory (default /var/lib/dpkg; tests pass a fake one).
// Exits 0 when all are installed (or when this is no dpkg system: there is nothing to ask),
// 1 when some are missing, printing the apt-get line, 2 when dpkg cannot be asked.
// Only Node built-ins: it runs before `npm ci` has installed anything.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    list: { type: 'string', default: fileURLToPath(new URL('apt-packages.txt', import.meta.url)) },
    admindir: { type: 'string' },
  },
});

/** Package names of a list file: one per line, `#` starts a comment. */
function readList(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** The packages dpkg reports as fully installed ("ii"), among `names`. */
function installed(names, admindir) {
  const args = [...(admindir ? [`--admindir=${admindir}`] : []), '-W'];
  args.push('-f=${Package}\\t${db:Status-Abbrev}\\n', ...names);
  let out;
  try {
    out = execFileSync('dpkg-query', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    // Exit status 1 means some names are unknown to dpkg; the known ones are still on stdout.
    if (error.status !== 1) {
      console.error(`apt packages: dpkg-query failed (${error.status}): ${error.stderr}`);
      process.exit(2);
    }
    out = error.stdout;
  }
  const lines = out.split('\n').map((line) => line.split('\t'));
  return new Set(lines.filter(([, status]) => status?.startsWith('ii')).map(([name]) => name));
}

const names = readList(values.list);
const present = installed(names, values.admindir);
if (!present) {
  console.log(`apt packages: not checked (no dpkg-query here); npm test needs ${names.join(' ')}`);
  process.exit(0);
}
const missing = names.filter((name) => !present.has(name));
if (!missing.length) {
  console.log(`apt packages: all ${names.length} of ${values.list} are installed`);
  process.exit(0);
}
console.error(`npm test needs Debian packages that are not installed: ${missing.join(' ')}`);
console.error('Install them as root (on a fresh machine, run `apt-get update` first):\n');
console.log(`apt-get install -y --no-install-recommends ${missing.join(' ')}`);
process.exit(1);
