#!/usr/bin/env bash
# The engine benchmark (bench/engine.bench.ts) on a GPU host, once per execution provider that
# loads: cpu, cuda and webgpu. See docs/gpu.md for what the figures should show.
#
#   bash bench/gpu.sh [--check] [--model DIR] [--providers LIST] [--torch] [--no-build]
#
#   --check        only check the prerequisites and print what would run; probes the providers
#                  too when dist/ is already built. Exits with the first failure's code.
#   --model DIR    model directory (default models/hita-tiny-random; an official-size model made
#                  with tools/export.py is what docs/gpu.md is about)
#   --providers L  comma list to try (default cpu,cuda,webgpu)
#   --torch        also run the PyTorch eager baseline (a CPU figure; needs /usr/bin/python3 + torch)
#   --no-build     use the dist/ already built
#
# Exit codes: 0 done, 1 a benchmark failed, 2 usage, 3 no GPU, 4 another prerequisite missing,
# 5 no GPU execution provider loads. HITA_GPU_SMI overrides the nvidia-smi command (tests).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CUDA_INSTALL='ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install'
ORT_BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
RESULTS=bench/results/engine.jsonl
SMI=${HITA_GPU_SMI:-nvidia-smi}

check=0
build=1
torch=0
model=models/hita-tiny-random
providers=cpu,cuda,webgpu

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1 ;;
    --no-build) build=0 ;;
    --torch) torch=1 ;;
    --model)
      [ $# -ge 2 ] || { echo "gpu.sh: --model needs a directory" >&2; exit 2; }
      model=$2
      shift
      ;;
    --providers)
      [ $# -ge 2 ] || { echo "gpu.sh: --providers needs a list" >&2; exit 2; }
      providers=$2
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gpu.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

first_failure=0
# fail CODE MESSAGE: stop at once, or under --check note it and go on.
fail() {
  echo "gpu.sh: FAIL: $2" >&2
  if [ "$check" -eq 0 ]; then exit "$1"; fi
  if [ "$first_failure" -eq 0 ]; then first_failure=$1; fi
}
ok() { echo "  ok    $*"; }
note() { echo "  note  $*"; }

echo "== prerequisites"

# 1. A GPU. Nothing else matters without one, so this comes first.
gpu=0
if ! command -v "$SMI" >/dev/null 2>&1; then
  fail 3 "no GPU: '$SMI' not found; this script is for an NVIDIA GPU host (driver installed)"
elif ! gpus=$("$SMI" --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>&1) ||
  [ -z "$gpus" ]; then
  fail 3 "no GPU: '$SMI' lists no GPU: ${gpus:-empty output}"
else
  gpu=1
  while IFS= read -r line; do ok "GPU $line"; done <<<"$gpus"
fi

# 2. Node 20 (the version the project is pinned to and tested on).
if ! command -v node >/dev/null 2>&1; then
  fail 4 "node not found: install Node 20"
else
  node_version=$(node -p 'process.versions.node')
  case "$node_version" in
    20.*) ok "node $node_version" ;;
    *) fail 4 "node $node_version: the project is pinned to Node 20" ;;
  esac
fi

# 3. This repository's dependencies, with onnxruntime-node 1.30.
ort_version=$(node -p "require('./node_modules/onnxruntime-node/package.json').version" 2>/dev/null || true)
if [ "$ort_version" = 1.30.0 ]; then
  ok "onnxruntime-node $ort_version"
else
  fail 4 "onnxruntime-node 1.30.0 not installed (found '${ort_version:-none}'): run npm ci"
fi

# 4. The CUDA 12 provider libraries, which npm ci skips on purpose (README, GPU hosts).
cuda_libs=1
for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  if [ ! -f "$ORT_BIN/$lib" ]; then cuda_libs=0; fi
done
if [ "$cuda_libs" -eq 1 ]; then
  missing=$(ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
  if [ -n "$missing" ]; then
    note "cuda: provider present, but the loader cannot find: $missing(install CUDA 12 and cuDNN 9, add them to LD_LIBRARY_PATH)"
  else
    ok "cuda: provider libraries and their CUDA 12 / cuDNN 9 dependencies"
  fi
else
  note "cuda: provider libraries not in $ORT_BIN; fetch them with: $CUDA_INSTALL"
fi

# 5. WebGPU runs on Vulkan on Linux: a loader and the NVIDIA ICD (in containers,
#    NVIDIA_DRIVER_CAPABILITIES must include graphics).
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if grep -lqs nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; then
    ok "webgpu: Vulkan loader and an NVIDIA ICD"
  else
    note "webgpu: Vulkan loader found, no NVIDIA ICD in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d"
  fi
else
  note "webgpu: no Vulkan loader (libvulkan.so.1); apt-get install libvulkan1 for the WebGPU provider"
fi

# 6. The model and, with --torch, the PyTorch baseline.
if [ -f "$model/model.json" ] && [ -f "$model/gpt.onnx" ]; then
  ok "model $model"
else
  fail 4 "model directory '$model' has no model.json and gpt.onnx"
fi
if [ "$torch" -eq 1 ]; then
  if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    ok "PyTorch for the baseline"
  else
    fail 4 "--torch: /usr/bin/python3 cannot import torch (apt-get install python3-torch libopenblas0-openmp)"
  fi
fi

torch_env=0
if [ "$torch" -eq 1 ]; then torch_env=1; fi
bench_cmd() {
  echo "HITA_BENCH=1 HITA_EP=$1 HITA_BENCH_MODEL=$model HITA_BENCH_TORCH=$torch_env npx vitest run bench/engine.bench.ts"
}

# probe PROVIDER: opens the model's GPT graph there alone (no fallback), in its own process so a
# crashing driver stays contained; prints why when it does not load.
probe() {
  node --input-type=module -e '
    const [, module, graph, provider] = process.argv;
    const { createSession } = await import(module);
    try {
      const { session } = await createSession(graph, { providers: [provider] });
      await session.release();
    } catch (error) {
      console.error(String(error.message ?? error));
      process.exit(1);
    }' "$PWD/dist/inference/ort/execution-providers.js" "$model/gpt.onnx" "$1"
}

IFS=, read -r -a wanted <<<"$providers"

if [ "$check" -eq 1 ]; then
  echo "== would run"
  if [ "$build" -eq 1 ]; then echo "  npm run build"; fi
  for p in "${wanted[@]}"; do
    echo "  probe $p: open $model/gpt.onnx on $p alone; if it loads:"
    echo "    $(bench_cmd "$p")"
  done
  echo "  then print the new lines of $RESULTS"
  if [ "$gpu" -eq 1 ] && [ -f dist/inference/ort/execution-providers.js ]; then
    echo "== providers (dist/ as built)"
    for p in "${wanted[@]}"; do
      if why=$(probe "$p" 2>&1 | tr -s "\n" " "); then ok "$p loads"; else note "$p does not load: $why"; fi
    done
  fi
  exit "$first_failure"
fi

echo "== build"
if [ "$build" -eq 1 ]; then npm run build; fi
[ -f dist/inference/ort/execution-providers.js ] || fail 4 "dist/ is not built: run npm run build"

echo "== providers"
loads=()
gpu_loads=0
for p in "${wanted[@]}"; do
  if why=$(probe "$p" 2>&1 | tr -s "\n" " "); then
    ok "$p loads"
    loads+=("$p")
    if [ "$p" != cpu ]; then gpu_loads=1; fi
  else
    note "$p does not load: $why"
  fi
done
if [ "$gpu_loads" -eq 0 ]; then
  fail 5 "no GPU execution provider loads (see above): for cuda run $CUDA_INSTALL and install CUDA 12 + cuDNN 9"
fi

mkdir -p bench/results
touch "$RESULTS"
before=$(wc -l <"$RESULTS")
status=0
for p in "${loads[@]}"; do
  echo "== engine bench on $p"
  echo "  $(bench_cmd "$p")"
  HITA_BENCH=1 HITA_EP=$p HITA_BENCH_MODEL=$model HITA_BENCH_TORCH=$torch_env \
    npx vitest run bench/engine.bench.ts || { echo "gpu.sh: the bench failed on $p" >&2; status=1; }
done

echo "== figures (new lines of $RESULTS)"
# shellcheck disable=SC2016 # a JavaScript template literal, not a shell expansion
tail -n +"$((before + 1))" "$RESULTS" | node -e '
  const lines = require("node:fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean);
  const f = (x, d = 2) => (typeof x === "number" ? x.toFixed(d) : "-");
  for (const r of lines.map((l) => JSON.parse(l))) {
    const who = (r.provider ?? r.providers ?? "?").padEnd(7);
    if (r.figure === "images/s with CFG")
      console.log(`${who} batch ${String(r.batch).padStart(2)}: ${f(r.engineImagesPerSecond)} images/s` +
        (r.torchImagesPerSecond == null ? "" : ` (PyTorch ${f(r.torchImagesPerSecond)}, ${f(r.ratio)}x)`));
    else if (r.figure === "continuous batching, 16 jobs")
      console.log(`${who} 16 jobs: ${f(r.concurrentSeconds)} s together vs ${f(r.sequentialSeconds)} s in a row (${f(r.throughputRatio)}x)`);
    else if (r.figure === "worker RSS")
      console.log(`${who} worker RSS: ${f(r.rssAfter20MiB, 0)} MiB after 20 jobs, ${f(r.rssAfter200MiB, 0)} after 200`);
    else console.log(JSON.stringify(r));
  }'
exit "$status"
