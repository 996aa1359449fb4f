#!/usr/bin/env bash
# dit-ts on a GPU against PyTorch on the same GPU, in one call (docs/gpu/README.md):
#   (d) correctness: the dit-tiny fixture through the library on WebGPU against the official results
#   (a) `dit bench --device webgpu`, DiT-XL/2 at 256, batch 2 and 8, random weights of the real shapes,
#       each precision with the default attention form (plain on webgpu), then with --attention fused
#   (b) the official models.py on PyTorch CUDA: fp32, TF32, bf16 autocast, the same batches
#   (c) `dit sample --device webgpu` end to end (random DiT-XL/2 + SD-VAE-shaped weights written
#       here): 25 DPM-Solver++ steps, then 250 DDPM steps, one guided image each, wall time; in
#       fp32, then again with --dtype fp16, and with --dtype fp16 --attention fused
# Writes OUT/gpu-bench.json (everything), OUT/gpu-bench.md (the table) and OUT/gpu-bench.log.
#
#   scripts/gpu-run.sh bash bench/gpu.sh "$OUT"      on the GPU machine, through the kit
#   DIT_GPU_BENCH=small bench/gpu.sh /tmp/out        here: DiT-S/8 at 64 px, a 2-layer DiT and a
#                                                    small VAE for 2 sampling steps, lavapipe for
#                                                    WebGPU, PyTorch on the CPU when python3 has
#                                                    torch and timm (else skipped)
# Environment:
#   DIT_GPU_BENCH     full (default) | small
#   DIT_FIXTURES      folder holding dit-tiny/ (default: test/fixtures, which travels with the tree)
#   DIT_BENCH_DTYPES  precisions for dit bench and dit sample (default "fp32 fp16"); a non-fp32 one
#                     runs only when the command's --help lists it under --dtype, and is reported
#                     as skipped otherwise
#   DIT_GPU_BUDGET_S  seconds for all steps (default 450 full, 300 small): a step that would start
#                     later is skipped, and each step's timeout is cut to what is left
#   DIT_OFFICIAL_MODELS_PY  the official models.py (scripts/gpu-run.sh sets it from the kit)
#   DIT_PYTHON        the Python with PyTorch (default python3)
# Each step's failure is recorded (exit code, stderr tail) and the run goes on to the next.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: bench/gpu.sh OUT_DIR" >&2; exit 2; }
mkdir -p "$1" && out=$(cd "$1" && pwd)
app=${DIT_APP:-$root}
mode=${DIT_GPU_BENCH:-full}
python=${DIT_PYTHON:-python3}
models_py=${DIT_OFFICIAL_MODELS_PY:-$root/.gpu-kit/official/models.py}
fixtures=${DIT_FIXTURES:-$root/test/fixtures}

case $mode in
  # fused: the DTYPE:BATCH rows timed again with --attention fused (fp32 b2 left out: ~10 s of device
  # time for the row that matters least; fp16 b2 is what one guided image runs).
  full) model=DiT-XL/2 size=256 batches="2 8" fused="fp32:8 fp16:2 fp16:8" repeats=10 sample_model=DiT-XL/2 vae=sd dpm_steps=25 ddpm_steps=250 torch_device=cuda torch_repeats=20 budget=450 ;;
  # Lavapipe runs each WebGPU kernel slowly: the fewest layers and steps that still run every path.
  # Its fused attention is wrong from 32 tokens on (DiT-S/8 at 64 px has 64): timed here, never trusted.
  small) model=DiT-S/8 size=64 batches="2" fused="fp32:2 fp16:2" repeats=1 sample_model=tiny vae=small dpm_steps=2 ddpm_steps=2 torch_device=cpu torch_repeats=2 budget=300 ;;
  *) echo "bench/gpu.sh: DIT_GPU_BENCH=$mode: must be full or small" >&2; exit 2 ;;
esac
budget=${DIT_GPU_BUDGET_S:-$budget}
dtypes=${DIT_BENCH_DTYPES:-fp32 fp16}

if command -v dit >/dev/null 2>&1; then dit=(dit); else dit=(node "$app/bin/dit.js"); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/dit-gpu-bench.XXXXXX")
[ "${DIT_GPU_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/steps"
started=$(date +%s)

# step NAME LIMIT_S CMD...: stdout, stderr, exit code, wall time and command line into work/steps.
step() {
  local name=$1 limit=$2
  shift 2
  local s="$work/steps/$name" left=$((budget - ($(date +%s) - started)))
  echo "$name" >>"$work/steps/order"
  printf '%q ' "$@" >"$s.cmd"
  if [ "$left" -lt 10 ]; then
    echo "the ${budget} s budget is spent" >"$s.skipped"
    echo "== $name: skipped (budget spent)"
    return
  fi
  [ "$left" -ge "$limit" ] || limit=$left
  echo "== $name (limit ${limit} s): $*"
  local t0 t1
  t0=$(date +%s.%N)
  timeout -k 10 "$limit" "$@" >"$s.out" 2>"$s.err"
  echo $? >"$s.rc"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >"$s.wall"
  echo "   exit $(cat "$s.rc") after $(cat "$s.wall") s"
  tail -n 3 "$s.err" | sed 's/^/   | /'
}
skip() { # skip NAME REASON
  echo "$1" >>"$work/steps/order"
  echo "$2" >"$work/steps/$1.skipped"
  echo "== $1: skipped ($2)"
}

run_all() {
echo "bench/gpu.sh: mode $mode, $model at ${size}px, batches $batches, sampling with $sample_model, fixtures $fixtures, work $work"
if command -v nvidia-smi >/dev/null 2>&1; then
  step nvidia-smi 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
step node 10 node -p 'JSON.stringify({ node: process.version, path: process.execPath, platform: process.platform, arch: process.arch })'

# (d) first: it is quick, and it says whether the numbers after it mean anything.
if [ -f "$fixtures/dit-tiny/manifest.json" ]; then
  step check-webgpu 120 node "$app/bench/gpu-check.mjs" --fixtures "$fixtures" --device webgpu --out "$work/check.json"
else
  skip check-webgpu "no dit-tiny fixture under $fixtures (set DIT_FIXTURES)"
fi

# (a)
# The precisions a command offers, from its help: "--dtype <fp32|q8>" → " fp32 q8 ".
offered() { echo " $("${dit[@]}" "$1" --help 2>/dev/null | grep -o -- '--dtype <[^>]*>' | sed 's/.*<\(.*\)>/\1/' | tr '|' ' ') "; }
bench_offers=$(offered bench)
# bench_row DTYPE BATCH [ATTENTION]: one `dit bench` row, named bench-webgpu-DTYPE[-ATTENTION]-bBATCH;
# without ATTENTION, dit bench's default for webgpu (runtime/devices.ts DEFAULT_ATTENTION).
bench_row() {
  local dtype=$1 b=$2 attention=${3:-} name args=()
  name=bench-webgpu-$dtype${attention:+-$attention}-b$b
  [ -z "$attention" ] || args+=(--attention "$attention")
  if [ "$dtype" != fp32 ]; then
    [[ "$bench_offers" == *" $dtype "* ]] || { skip "$name" "dit bench does not offer --dtype $dtype yet"; return; }
    args+=(--dtype "$dtype")
  fi
  step "$name" 180 "${dit[@]}" bench --device webgpu --model "$model" --image-size "$size" --batch "$b" --repeats "$repeats" --json ${args[@]+"${args[@]}"}
}
for dtype in $dtypes; do
  for b in $batches; do bench_row "$dtype" "$b"; done
  for r in $fused; do [ "${r%%:*}" != "$dtype" ] || bench_row "$dtype" "${r#*:}" fused; done
done

# (a2) The WebGPU provider's options (validation, buffer caches) and the attention form, each variant
# in its own process against the same graph (bench/webgpu-options.mjs): which defaults to change.
# Batch 2 only: the per-forward dispatch cost these options could cut weighs most there (the H200's
# 20 ms of fixed cost per forward against 96 ms), and the dit bench rows time batch 8. Small mode
# (lavapipe) runs one variant of each form, once.
options_args=() options_limit=240
[ "$mode" = full ] || { options_args=(--repeats 1 --dtypes fp32 --variants validation-disabled --fused-variants baseline); options_limit=120; }
step webgpu-options "$options_limit" node "$app/bench/webgpu-options.mjs" --model "$model" --image-size "$size" --batches 2 \
  ${options_args[@]+"${options_args[@]}"} --out "$work/webgpu-options.json"

# (b)
if [ ! -f "$models_py" ]; then
  skip torch "no official models.py (the kit packs it: DIT_OFFICIAL_MODELS_PY)"
elif ! "$python" -c 'import torch, timm' >/dev/null 2>&1; then
  skip torch "$python has no torch and timm"
elif [ "$torch_device" = cuda ] && ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  skip torch "PyTorch sees no CUDA device"
else
  step torch 240 env PYTHONUNBUFFERED=1 "$python" "$app/bench/torch_dit.py" --models-py "$models_py" --model "$model" --image-size "$size" \
    --batches "$(echo "$batches" | tr ' ' ,)" --device "$torch_device" --repeats "$torch_repeats" --out "$work/torch.json"
fi

# (c) one guided image (batch 2), the notebook's class 207, in each precision: the DDPM run finds
# the compiled model that the DPM-Solver++ run of its precision and attention form left in the cache
# folder (each form is its own entry), so its wall time is sampling, not the build.
step weights 180 node "$app/bench/gpu-weights.mjs" --model "$sample_model" --image-size "$size" --vae "$vae" --out "$work/weights"
sample=("${dit[@]}" sample --ckpt "$work/weights/dit.safetensors" --vae "$work/weights/vae" --device webgpu
  --class-labels 207 --cfg-scale 4 --seed 0 --cache-dir "$work/cache")
sample_offers=$(offered sample)
# sample_rows DTYPE [ATTENTION]: sample-dpm-solver[-DTYPE][-ATTENTION] and sample-ddpm[-DTYPE][-ATTENTION];
# fp32 rows keep their first names (sample-dpm-solver, sample-ddpm), and without ATTENTION dit
# sample's default form for webgpu (runtime/devices.ts DEFAULT_ATTENTION) runs.
sample_rows() {
  local dtype=$1 attention=${2:-} sfx= args=() run name sampler n
  [ "$dtype" = fp32 ] || { sfx=-$dtype; args+=(--dtype "$dtype"); }
  [ -z "$attention" ] || { sfx=$sfx-$attention; args+=(--attention "$attention"); }
  for run in "dpm-solver dpm-solver++ $dpm_steps" "ddpm ddpm $ddpm_steps"; do
    read -r name sampler n <<<"$run"
    name=sample-$name$sfx
    if [ "$(cat "$work/steps/weights.rc" 2>/dev/null)" != 0 ]; then
      skip "$name" "the random weights were not written"
    elif [ "$dtype" != fp32 ] && [[ "$sample_offers" != *" $dtype "* ]]; then
      skip "$name" "dit sample does not offer --dtype $dtype"
    else
      step "$name" 240 "${sample[@]}" --sampler "$sampler" --num-sampling-steps "$n" ${args[@]+"${args[@]}"} --out "$work/$name.png"
    fi
  done
}
for dtype in $dtypes; do sample_rows "$dtype"; done
# The image with --attention fused, in fp16 (the fastest precision so far): its DPM-Solver++ run
# also warms the cache for its DDPM run. gpu-report.mjs leaves it out of the goals when the check
# found the fused form wrong (lavapipe: always).
[[ " $dtypes " != *" fp16 "* ]] || sample_rows fp16 fused

echo "== report"
node "$app/bench/gpu-report.mjs" --work "$work" --mode "$mode" --model "$model" --sample-model "$sample_model" --image-size "$size" --out "$out"
}
run_all 2>&1 | tee "$out/gpu-bench.log"
exit "${PIPESTATUS[0]}"
