#!/usr/bin/env bash
# Inference throughput through ImageClassifier: `petal predict --backbone efficientnet-lite0`
# (ImageNet head, 224 px) on N photos of the flowers, images per second including decoding,
# with one image per forward pass and with batches of 32; best of 3 runs each. The model load
# (read, build, bind) is measured apart with one image and subtracted.
# Usage: benchmarks/inference.sh [N]   (default 256; needs the installed Lite0 weights and the flowers)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-256}"
FLOWERS="${PETAL_FLOWERS:-../shared/data/flowers}"
[ -d "$FLOWERS" ] || { echo "inference.sh: no flowers at $FLOWERS (set PETAL_FLOWERS)" >&2; exit 1; }
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
swift build -c release --product petal --scratch-path "$SCRATCH" >&2
PETAL="$SCRATCH/release/petal"
mapfile -t IMAGES < <(find "$FLOWERS" -type f -name '*.jpg' | sort | head -n "$N")
best_of_3() {
  local best=""
  for _ in 1 2 3; do
    local start t
    start=$(date +%s.%N)
    "$PETAL" predict --backbone efficientnet-lite0 --top 1 "$@" >/dev/null
    t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}
load=$(best_of_3 "${IMAGES[0]}")
echo "load + 1 image: ${load} s"
for batch in 1 32; do
  t=$(best_of_3 --batch-size "$batch" "${IMAGES[@]}")
  awk -v t="$t" -v l="$load" -v n="${#IMAGES[@]}" -v b="$batch" \
    'BEGIN{printf "batch %2d: %d images in %.3f s (%.3f s after the load): %.1f images/s\n", b, n, t, t - l, (n - 1) / (t - l)}'
done
echo "machine: $(nproc) cores, ISA $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | tr '\n' ' '), load $(uptime | sed 's/.*load average: //')"
