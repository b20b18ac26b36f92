#!/usr/bin/env bash
# Measures the data loader alone: decoding the dataset into the in-memory cache at 224x224,
# memory per 1,000 cached images, and augmented batches of 32 per second (2 workers).
# Usage: benchmarks/loader_benchmark.sh [DATASET] [extra `petal data benchmark` options]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/flowers}"
shift || true
SCRATCH="${PETAL_SCRATCH:-.build-data-rel}"
swift build -c release --scratch-path "$SCRATCH" --product petal >&2
"$SCRATCH/release/petal" data benchmark "$DATA" --size 224 --batch-size 32 --batches 100 --workers 2 "$@"
