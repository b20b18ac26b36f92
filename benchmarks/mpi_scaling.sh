#!/usr/bin/env bash
# Data-parallel training on one machine: one process with 2 oneDNN threads and global batch 2B,
# against `mpirun -np 2` with 1 thread per rank and batch B per rank (the same global batch, so
# the same training). Prints images/s per phase (Petal's own figure: training steps only) and the
# time rank 0 spent in MPI allreduces per training step (2 allreduces: the step's metrics, and
# the gradients in one flat buffer; waiting for the slower rank included). Writes OUT/table.md.
#
#   benchmarks/mpi_scaling.sh                                   # efficientnet-lite0, 224 px, B = 16, 1 + 1 epochs
#   benchmarks/mpi_scaling.sh --backbone mobilenetv2 --image-size 160
#
# Options (defaults): --data ../shared/data/flowers, --backbone efficientnet-lite0, --image-size
# (the backbone's), --batch-size 16 (per rank; one process uses twice it), --epochs-fe 1, --epochs-ft 1,
# --out /tmp/petal-mpi-scaling-<time>, --petal BINARY (default: build ${PETAL_SCRATCH:-.build-bench-mpi}/release/petal).
# Runs as root too (OMPI_ALLOW_RUN_AS_ROOT). Record the machine and `uptime` with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

data=../shared/data/flowers backbone=efficientnet-lite0 size="" batch=16 efe=1 eft=1 out="" petal=""
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=$2; shift 2 ;;
        --backbone) backbone=$2; shift 2 ;;
        --image-size) size=$2; shift 2 ;;
        --batch-size) batch=$2; shift 2 ;;
        --epochs-fe) efe=$2; shift 2 ;;
        --epochs-ft) eft=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --petal) petal=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "mpi_scaling.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v mpirun >/dev/null || { echo "mpi_scaling.sh: mpirun not found (scripts/setup.sh installs openmpi-bin)" >&2; exit 1; }
[ -d "$data" ] || { echo "mpi_scaling.sh: no data folder $data (--data DIR)" >&2; exit 1; }
out=${out:-/tmp/petal-mpi-scaling-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
if [ -z "$petal" ]; then
    scratch=${PETAL_SCRATCH:-.build-bench-mpi}
    export PATH=/opt/swift/usr/bin:$PATH
    swift build -c release --product petal --scratch-path "$scratch" -j 2 >&2
    petal=$scratch/release/petal
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

common=(train "$data" --backbone "$backbone" --epochs-fe "$efe" --epochs-ft "$eft" --seed 42)
[ -n "$size" ] && common+=(--image-size "$size")

echo "== one process, 2 threads, batch $((2 * batch))" >&2
"$petal" "${common[@]}" --out "$out/single" --threads 2 --batch-size $((2 * batch)) | tee "$out/single.log" >&2
echo "== mpirun -np 2, 1 thread per rank, batch $batch per rank" >&2
mpirun -np 2 --oversubscribe --bind-to none "$petal" "${common[@]}" --out "$out/mpi" --threads 1 --batch-size "$batch" \
    2>&1 | tee "$out/mpi.log" >&2

# "feature-extraction: test accuracy 86.00% after 1 epochs, 40s (90 img/s)"
rate() { grep -E "^$2: test accuracy" "$1" | tail -1 | sed -E 's/.*\(([0-9.]+) img\/s\).*/\1/'; }
steps=$(python3 - "$out/mpi/split.json" "$batch" "$efe" "$eft" <<'PY'
import json, sys
split = json.load(open(sys.argv[1])); n = len(split.get("train", []))
g = 2 * int(sys.argv[2]); print(-(-n // g) * (int(sys.argv[3]) + int(sys.argv[4])))
PY
)
mpi_line=$(grep -E '^MPI: ' "$out/mpi.log" | tail -1)
seconds=$(sed -E 's/.* spent ([0-9.]+) s in.*/\1/' <<<"$mpi_line")
per_step=$(python3 -c "print(f'{1000 * $seconds / max($steps, 1):.1f}')")
{
    echo "| $backbone, global batch $((2 * batch)) | phase 1 img/s | phase 2 img/s | ms in allreduce per step |"
    echo "|---|---|---|---|"
    echo "| 1 process, 2 threads | $(rate "$out/single.log" feature-extraction) | $(rate "$out/single.log" fine-tuning) | - |"
    echo "| 2 ranks x 1 thread (mpirun) | $(rate "$out/mpi.log" feature-extraction) | $(rate "$out/mpi.log" fine-tuning) | $per_step ($steps steps) |"
    echo ""
    echo "ISA $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo), $(nproc) cores; $(uptime)"
} | tee "$out/table.md"
