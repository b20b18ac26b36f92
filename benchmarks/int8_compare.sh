#!/usr/bin/env bash
# Float against int8 (`petal quantize`) for trained run folders, side by side in one run:
# test accuracy on each run's own test split (split.json), model file sizes, and `petal predict`
# images/s (decoding included, model load subtracted, best of 3) with batches of 1 and 32.
# Usage: benchmarks/int8_compare.sh RUN... [-- N]   (N test images for speed, default 256)
# e.g.   petal train ../shared/data/flowers --backbone efficientnet-lite0 --image-size 224 --out runs/lite0
#        benchmarks/int8_compare.sh runs/lite0 runs/mnv2
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=()
N=256
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then N="$2"; shift 2; else RUNS+=("$1"); shift; fi
done
[ ${#RUNS[@]} -gt 0 ] || { echo "usage: benchmarks/int8_compare.sh RUN... [-- N]" >&2; exit 64; }
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
PETAL="${PETAL:-}"
if [ -z "$PETAL" ]; then
  swift build -c release --product petal --scratch-path "$SCRATCH" >&2
  PETAL="$SCRATCH/release/petal"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

seconds() {  # wall time of a command, in seconds
  local start; start=$(date +%s.%N)
  "$@" >/dev/null
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}'
}
best_of_3() {
  local best="" t
  for _ in 1 2 3; do
    t=$(seconds "$@")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}
accuracy() { "$PETAL" evaluate "$1" "$2" --json | python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))'; }

printf '%-28s %-6s %10s %9s %14s %14s\n' "run" "model" "file (MB)" "test acc" "batch 1 img/s" "batch 32 img/s"
for RUN in "${RUNS[@]}"; do
  name=$(basename "$RUN")
  INT8="$WORK/$name-int8.safetensors"
  "$PETAL" quantize "$RUN" --out "$INT8" >&2
  # The run's test split as class folders of links, so both models see exactly those images.
  TEST="$WORK/$name-test"
  python3 - "$RUN/split.json" "$TEST" <<'EOF'
import json, os, sys
split = json.load(open(sys.argv[1]))
for k, item in enumerate(split["test"]):  # "class/file.jpg", relative to the split's root
    path = item if item.startswith("/") else os.path.join(split["root"], item)
    folder = os.path.join(sys.argv[2], item.split("/")[-2])
    os.makedirs(folder, exist_ok=True)
    os.symlink(os.path.abspath(path), os.path.join(folder, "%05d_%s" % (k, os.path.basename(path))))
EOF
  mapfile -t IMAGES < <(find "$TEST" -type l | sort | head -n "$N")
  for kind in float int8; do
    model="$RUN/model.safetensors"; [ "$kind" = int8 ] && model="$INT8"
    size=$(awk -v b="$(stat -c %s "$model")" 'BEGIN{printf "%.2f", b / 1e6}')
    acc=$(accuracy "$model" "$TEST")
    load=$(best_of_3 "$PETAL" predict "$model" "${IMAGES[0]}" --top 1)
    rates=()
    for batch in 1 32; do
      t=$(best_of_3 "$PETAL" predict "$model" "${IMAGES[@]}" --top 1 --batch-size "$batch")
      rates+=("$(awk -v t="$t" -v l="$load" -v n="${#IMAGES[@]}" 'BEGIN{printf "%.1f", (n - 1) / (t - l)}')")
    done
    printf '%-28s %-6s %10s %9s %14s %14s\n' "$name" "$kind" "$size" "$acc" "${rates[0]}" "${rates[1]}"
  done
done
echo "speed over ${N} test images (fewer if the split has fewer); $("$PETAL" --version)"
echo "machine: $(nproc) cores, ISA $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | tr '\n' ' ')$(grep -o -w -m1 avx512_vnni /proc/cpuinfo || true), load $(uptime | sed 's/.*load average: //')"
