#!/usr/bin/env bash
# Petal's Conv2D (public API, training mode, weights adopted) against oneDNN's bare
# convolution primitives (C API, format_tag_any, only execute timed) on MobileNetV2's layer
# shapes at 224x224, batch 32: forward and backward (data + weights) GFLOP/s and the ratio.
# Prints a Markdown table (the one in BENCHMARKS.md, "Layers vs bare oneDNN").
# Usage: benchmarks/layers.sh [--batch 32] [--runs 21] [--only <layer name part>]
# Run on a quiet machine: other builds or tests running at the same time lower both sides
# unevenly.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
swift build -c release --product PetalBenchmarks --scratch-path "$SCRATCH" >&2
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores; oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo '?')"
"$SCRATCH/release/PetalBenchmarks" "$@"
