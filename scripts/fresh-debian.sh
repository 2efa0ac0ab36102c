#!/usr/bin/env bash
# Replays the README's Quick start on a fresh Debian 12 (bookworm) in a chroot, to prove that its
# commands set up a new machine: the `npm test` package check fails with the right apt-get line,
# that line installs everything, `npm ci` builds, `npm start` answers GraphQL and generates an
# image, and then the suites that need the system packages pass under CI=true (where a missing
# redis-server, Swift or Chromium is fatal instead of a skip).
#
# usage (as root): scripts/fresh-debian.sh [ROOT]      ROOT defaults to /var/tmp/hita-fresh-debian
#   FRESH_TESTS  the test command run last, in the repository copy
#                (default: the Python tests and the suites that need the apt packages; "npm test" for all)
#   FRESH_KEEP=1 keep ROOT afterwards. ROOT.base (the debootstrap result) is kept as a cache.
# Node is copied in from this machine (Debian 12's own nodejs is 18, and NodeSource may not be
# reachable); everything else comes from the Debian mirror that apt here is configured with.
# Not run by CI: it needs root, mounts, a Debian mirror and several minutes of downloads.
set -euo pipefail

ROOT=$(realpath -m "${1:-/var/tmp/hita-fresh-debian}")
BASE=$ROOT.base
REPO=$(cd "$(dirname "$0")/.." && pwd)
STAGE=/root/hita-serve
DEFAULT_TESTS='npm run test:py && npx vitest run test/check-apt-packages.test.ts test/integration/queue.test.ts test/integration/storage.test.ts test/integration/distributed.test.ts test/integration/converted-model.test.ts test/browser/demo.test.ts'
TESTS=${FRESH_TESTS:-$DEFAULT_TESTS}

say() { printf '\n==== %s ====\n' "$*"; }
[[ $(id -u) == 0 ]] || { echo "fresh-debian: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }

# The first Debian (not security) mirror apt here uses, one-line or deb822 sources alike.
mirror() {
  local url
  url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(URIs:|^deb)[^#]*https?://[^ ]+/debian/?( |$)' | grep -oE 'https?://[^ ]+' | head -n1 || true)
  echo "${url:-http://deb.debian.org/debian}"
}

cleanup() {
  # Whatever still runs inside the chroot (a server, a test's redis) is ours: stop it by pid.
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$ROOT" ]] && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
  for m in dev proc sys; do
    mountpoint -q "$ROOT/$m" && umount -R "$ROOT/$m"
  done
  [[ ${FRESH_KEEP:-0} == 1 ]] || rm -rf "$ROOT"
}

say "Debian 12 base ($BASE)"
command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap
MIRROR=$(mirror)
if [[ ! -f $BASE/etc/debian_version ]]; then
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase bookworm "$BASE.tmp" "$MIRROR"
  mv "$BASE.tmp" "$BASE"
fi
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
trap cleanup EXIT
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian*}/debian-security bookworm-security main
EOF
# As in container images: packages must not start daemons in a chroot (a redis-server service
# would take the host's port 6379). The tests start their own servers.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# A host whose Node trusts extra CAs (a TLS-inspecting egress proxy in front of the npm registry)
# hands the same file to the chroot's Node; a machine with plain internet needs none.
EXTRA_CA=
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -f $NODE_EXTRA_CA_CERTS ]]; then
  EXTRA_CA=/etc/ssl/host-extra-ca.pem
  mkdir -p "$ROOT/etc/ssl"
  cp "$NODE_EXTRA_CA_CERTS" "$ROOT$EXTRA_CA"
fi

say "Node from this machine"
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
mkdir -p "$ROOT/usr/lib/node_modules" "$ROOT/usr/include"
cp -a "$NODE_PREFIX/bin/node" "$ROOT/usr/bin/node"
cp -a "$NODE_PREFIX/lib/node_modules/npm" "$ROOT/usr/lib/node_modules/npm"
# Node's headers where .npmrc's nodedir=/usr points better-sqlite3's build, as NodeSource puts them.
cp -a "$NODE_PREFIX/include/node" "$ROOT/usr/include/node"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/bin/npx"

say "The repository (tracked and untracked, not ignored) into $STAGE"
mkdir -p "$ROOT$STAGE"
git -C "$REPO" ls-files -co --exclude-standard -z --deduplicate |
  (cd "$REPO" && xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' | tar --null -T - -cf -) |
  tar -C "$ROOT$STAGE" -xf -

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
mount --make-rslave "$ROOT/dev"

cat >"$ROOT/root/steps.sh" <<'STEPS'
set -uo pipefail
cd /root/hita-serve
proof=()
ok() { proof+=("PASS $*"); echo "PASS $*"; }
bad() { proof+=("FAIL $*"); echo "FAIL $*"; }
say() { printf '\n==== %s ====\n' "$*"; }
summary() { say "Summary"; printf '%s\n' "${proof[@]}"; [[ ${proof[*]} != *FAIL* ]]; }

say "node $(node --version), npm $(npm --version); Debian $(cat /etc/debian_version)"

say "npm test before any package is installed"
npm test >/tmp/precheck.log 2>&1
code=$?
cat /tmp/precheck.log
line=$(grep '^apt-get install -y --no-install-recommends ' /tmp/precheck.log)
if [[ $code != 0 && -n $line && ! -e dist ]]; then
  ok "npm test exited $code before building, printing: $line"
else
  bad "npm test before install: exit $code, line '${line}', dist exists: $([[ -e dist ]] && echo yes || echo no)"
  summary; exit 1
fi

say "apt-get update and the printed line"
if apt-get update && $line; then ok "the printed apt-get line installed the packages"; else bad "apt-get install"; summary; exit 1; fi
if node scripts/check-apt-packages.mjs; then ok "the package check passes after it"; else bad "check after install"; fi

say "npm ci"
time npm ci 2>&1 | tee /tmp/npm-ci.log
if [[ ${PIPESTATUS[0]} == 0 ]]; then ok "npm ci (better-sqlite3 compiled, dist/ and web/dist built)"; else bad "npm ci"; summary; exit 1; fi
if grep -q EBADENGINE /tmp/npm-ci.log; then bad "npm ci printed EBADENGINE"; else ok "npm ci printed no EBADENGINE"; fi

say "npm start, then GraphQL"
port=$(node -e 's=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
# Its own session, so the whole group (npm, its shell, the server) stops together.
PORT=$port HITA_DATA_DIR=/tmp/hita-data setsid npm start >/tmp/serve.log 2>&1 &
server=$!
if node scripts/fresh-debian-probe.mjs "http://127.0.0.1:$port"; then ok "npm start answered GraphQL and generated an image"; else bad "npm start (log below)"; tail -n 30 /tmp/serve.log; fi
kill -- "-$server"; wait "$server" 2>/dev/null

say "Tests: $TESTS"
if CI=true bash -c "$TESTS"; then ok "CI=true $TESTS"; else bad "CI=true $TESTS"; fi
summary
STEPS

say "Inside the chroot"
chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TESTS="$TESTS" \
  ${EXTRA_CA:+NODE_EXTRA_CA_CERTS=$EXTRA_CA} bash /root/steps.sh
