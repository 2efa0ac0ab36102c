#!/usr/bin/env bash
# A real S3-compatible server for tests and CI: OpenStack Swift (Debian bookworm 2.30.1) with its s3api
# middleware, one replica, loopback only, all state under DIR.
#
# usage: scripts/swift-s3.sh start DIR [PORT]   S3 at http://127.0.0.1:PORT (default 18380),
#                                                access key "test:tester", secret "testing"
#        scripts/swift-s3.sh stop DIR
# The object, container and account servers listen on PORT+1..PORT+3 unless SWIFT_OBJECT_PORT,
# SWIFT_CONTAINER_PORT or SWIFT_ACCOUNT_PORT say otherwise (tests pick free ports for all four).
# SWIFT_START_TIMEOUT_S bounds the wait for every server's /healthcheck (default 60; startup takes
# seconds on a quiet machine, much longer on a busy one).
# needs: apt-get install -y --no-install-recommends swift swift-proxy swift-account swift-container swift-object
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1 S=$2 port=${3:-18380}
servers=(object container account proxy)

stop() {
  local s pids=()
  for s in "${servers[@]}"; do
    [[ -f $S/run/$s.pid ]] && pids+=("$(cat "$S/run/$s.pid")")
    rm -f "$S/run/$s.pid"
  done
  ((${#pids[@]})) || return 0
  kill "${pids[@]}" 2>/dev/null || true
  # Swift takes about 2 s to shut down gracefully; wait (all at once) so that a restart can bind
  # the same ports, and kill what is still there after 5 s.
  local pid alive
  for _ in $(seq 1 50); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || return 0
    pids=("${alive[@]}")
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
}

# Plain HTTP without curl, which a fresh CI image may lack: true when GET /healthcheck answers 200.
healthy() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /healthcheck HTTP/1.0\r\n\r\n" >&3 \
    && IFS= read -r line <&3 && [[ $line == *" 200 "* ]]' _ "$1" 2>/dev/null
}

fail() {
  echo "swift-s3: $1" >&2
  local s
  for s in "${servers[@]}"; do
    [[ -s $S/log/$s.log ]] && { echo "--- $S/log/$s.log (last lines)" >&2; tail -n 15 "$S/log/$s.log" >&2; }
  done
  stop
  exit 1
}

case $cmd in
  stop) stop; exit 0 ;;
  start) ;;
  *) usage ;;
esac

for bin in swift-proxy-server swift-object-server swift-container-server swift-account-server; do
  command -v "$bin" >/dev/null || { echo "swift-s3: $bin not found; install it with: apt-get install -y \
--no-install-recommends swift swift-proxy swift-account swift-container swift-object" >&2; exit 1; }
done
[[ $port =~ ^[0-9]+$ ]] || usage
declare -A ports=(
  [object]=${SWIFT_OBJECT_PORT:-$((port + 1))}
  [container]=${SWIFT_CONTAINER_PORT:-$((port + 2))}
  [account]=${SWIFT_ACCOUNT_PORT:-$((port + 3))}
  [proxy]=$port
)
stop # a previous run in the same DIR would hold the ports
# Swift retries a busy port for 30 s before giving up, and a stranger answering /healthcheck would
# pass for Swift: refuse taken ports up front.
for s in "${servers[@]}"; do
  if timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "${ports[$s]}" 2>/dev/null; then
    echo "swift-s3: port ${ports[$s]} (for the $s server) is already in use on 127.0.0.1" >&2
    exit 1
  fi
done
mkdir -p "$S"/{etc,srv/d1,run,log}
# Only /etc/swift/swift.conf sets [swift-constraints] (a metadata value is at most 256 bytes by
# default); this swift.conf only names the hash and the storage policy.
printf '[swift-hash]\nswift_hash_path_suffix = local\nswift_hash_path_prefix = local\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' >"$S/etc/swift.conf"
# workers = 0 keeps each server in one process, so its pid file is all that stop() needs.
common() {
  printf '[DEFAULT]\nuser = %s\nbind_ip = 127.0.0.1\nbind_port = %s\ndevices = %s/srv\nmount_check = false\nswift_dir = %s/etc\nworkers = 0\n' \
    "$(id -un)" "$1" "$S" "$S"
}

for n in object container account; do
  { common "${ports[$n]}"; printf '[pipeline:main]\npipeline = healthcheck %s-server\n[app:%s-server]\nuse = egg:swift#%s\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' "$n" "$n" "$n"; } >"$S/etc/$n-server.conf"
done
# Rings name the backend ports: rebuild them when those change. One Python process builds all three
# (swift-ring-builder would take 9 runs of ~1.5 s each).
ring_stamp="${ports[object]} ${ports[container]} ${ports[account]}"
if [[ $(cat "$S/etc/ring-ports" 2>/dev/null) != "$ring_stamp" ]]; then
  /usr/bin/python3 - "$S/etc" "${ports[object]}" "${ports[container]}" "${ports[account]}" <<'EOPY' || fail "building the rings failed"
import os, sys
from swift.common.ring import RingBuilder
etc, ports = sys.argv[1], dict(zip(('object', 'container', 'account'), map(int, sys.argv[2:5])))
for name, port in ports.items():
    builder = RingBuilder(8, 1, 1)  # 2^8 partitions, 1 replica, min_part_hours 1
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 100})
    builder.rebalance()
    builder.get_ring().save(os.path.join(etc, name + '.ring.gz'))
EOPY
fi
echo "$ring_stamp" >"$S/etc/ring-ports"

{ common "$port"; cat <<'EOP'
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:cache]
use = egg:swift#memcache
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
EOP
} >"$S/etc/proxy-server.conf"

for s in "${servers[@]}"; do
  nohup "/usr/bin/swift-$s-server" "$S/etc/$s-server.conf" -v >"$S/log/$s.log" 2>&1 &
  echo $! >"$S/run/$s.pid"
done

deadline=$((SECONDS + ${SWIFT_START_TIMEOUT_S:-60}))
pending=("${servers[@]}")
while ((${#pending[@]})); do
  still=()
  for s in "${pending[@]}"; do
    kill -0 "$(cat "$S/run/$s.pid")" 2>/dev/null || fail "swift-$s-server exited during startup (port ${ports[$s]} in use?)"
    healthy "${ports[$s]}" || still+=("$s")
  done
  pending=("${still[@]+"${still[@]}"}")
  ((${#pending[@]})) || break
  ((SECONDS < deadline)) || fail "not healthy after ${SWIFT_START_TIMEOUT_S:-60} s: ${pending[*]}"
  sleep 0.2
done
echo "swift s3api up on http://127.0.0.1:$port (access key test:tester, secret testing)"
