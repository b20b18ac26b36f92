#!/usr/bin/env bash
# How long loading the pretrained backbones takes: reading each weights file (Keras HDF5,
# legacy PyTorch pickle) into tensors, and a whole `petal predict --backbone` (read, build the
# network binding the weights, one image through it), best of 5 runs each.
# Usage: benchmarks/weights_load.sh   (after scripts/setup.sh installed the weights)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
swift build -c release --product petal --scratch-path "$SCRATCH" >&2
PETAL="$SCRATCH/release/petal"
WEIGHTS="${PETAL_HOME:+$PETAL_HOME/weights}"
WEIGHTS="${WEIGHTS:-${HOME:-~}/.cache/petal/weights}"
for file in efficientnet-lite0-57934424.pth dog_breed_mobilenetv2.h5; do
  best=""
  for _ in 1 2 3 4 5; do
    t=$("$PETAL" weights inspect "$WEIGHTS/$file" | sed -n 's/.* read in \([0-9.]*\) s.*/\1/p' | head -1)
    [ -n "$t" ] || { echo "weights_load.sh: no 'read in N s' line from petal weights inspect $WEIGHTS/$file" >&2; exit 1; }
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "read $file: ${best} s"
done
best=""
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N)
  "$PETAL" predict --backbone efficientnet-lite0 Tests/Fixtures/backbones/images/coffee.jpg --top 1 >/dev/null
  t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
  if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
done
echo "petal predict --backbone efficientnet-lite0 (read + build + bind + 1 image): ${best} s"
