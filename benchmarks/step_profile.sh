#!/usr/bin/env bash
# Where one training step's time goes: runs benchmarks/StepProfile (one step of a transfer
# classifier, random weights, batch as the loader makes it) under ONEDNN_VERBOSE=2 and sums
# the oneDNN primitives' own execution times per kind (convolution forward / backward-data /
# backward-weights, batch norm, eltwise, reorder, pooling, inner product, ...) over the
# measured steps, against the steps' wall time; the rest is Petal's own work (optimizer, loss,
# copies, primitive creation, waiting).
# Usage: benchmarks/step_profile.sh [backbone size batch phase] [--steps N] [--warmup N]
#   e.g. benchmarks/step_profile.sh mobilenetv2 160 32 2
# With no arguments: MobileNetV2 160 px and EfficientNet-Lite0 224 px, batch 32, phases 1 and 2.
# Threads: oneDNN's default (all cores); OMP_NUM_THREADS=1 gives stable figures on a busy
# machine (no thread waits for a time slice at each parallel region's barrier).
# Prints Markdown tables (BENCHMARKS.md, "Where a training step's time goes").
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
swift build -c release --product PetalStepProfile --scratch-path "$SCRATCH" >&2
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores; isa $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | tr '\n' ' '); oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo '?'); load $(cut -d' ' -f1-3 /proc/loadavg)"

profile() {  # backbone size batch phase [extra args]
    local log
    log=$(mktemp)
    ONEDNN_VERBOSE=2 "$SCRATCH/release/PetalStepProfile" --backbone "$1" --size "$2" --batch "$3" --phase "$4" \
        "${@:5}" >"$log"
    python3 - "$log" "$3" <<'PY'
import sys, collections
lines = open(sys.argv[1]).read().splitlines()
batch = sys.argv[2]
header = next(l for l in lines if l.startswith("petal-step-profile:"))
inside, steps, parts, peak = False, 0, collections.Counter(), "?"
times, counts = collections.Counter(), collections.Counter()
impl = collections.defaultdict(collections.Counter)
for line in lines:
    if line.startswith("petal-step-begin"):
        inside = True
    elif line.startswith("petal-step-memory"):
        peak = line.split("=")[1]
    elif line.startswith("petal-step-end"):
        inside = False
        steps += 1
        for field in line.split()[2:]:
            k, v = field.split("=")
            parts[k[:-3]] += float(v)
    elif inside and line.split(",")[0] in ("dnnl_verbose", "onednn_verbose") and line.split(",")[1].startswith("create"):
        times["primitive creation"] += float(line.split(",")[-1])
        counts["primitive creation"] += 1
    elif inside and line.split(",")[0] in ("dnnl_verbose", "onednn_verbose") and line.split(",")[1] == "exec":
        f = line.split(",")
        kind, name, prop = f[3], f[4], f[5]
        if kind == "convolution":
            kind = {"forward_training": "conv fwd", "forward_inference": "conv fwd (inference)",
                    "backward_data": "conv bwd-data", "backward_weights": "conv bwd-weights"}.get(prop, "conv " + prop)
        elif kind in ("batch_normalization", "eltwise", "pooling", "pooling_v2", "inner_product", "softmax"):
            kind = {"batch_normalization": "batch norm", "pooling_v2": "pooling", "inner_product": "inner product"}.get(kind, kind) \
                + (" fwd" if prop.startswith("forward") else " bwd")
        elif kind == "binary":
            kind = "binary (residual add, gradient sum)"
        elif kind == "reorder":
            # Activations have the batch first; anything else is weights (or their gradients).
            first = f[-2].split("x")[0]
            kind = "reorder (activations)" if first == batch else "reorder (weights)"
            name = " -> ".join(part.split(":")[3] for part in f[6].split())
        times[kind] += float(f[-1])
        counts[kind] += 1
        impl[kind][name] += 1
wall = parts["wall"] / steps
onednn = sum(times.values()) / steps
print(f"\n{header[len('petal-step-profile: '):]}; mean of {steps} steps: wall {wall:.1f} ms "
      f"(forward {parts['forward']/steps:.1f}, loss {parts['loss']/steps:.1f}, backward {parts['backward']/steps:.1f}, "
      f"optimizer {parts['optimizer']/steps:.1f}); peak RSS {peak} MB\n")
print("| primitive kind | calls/step | ms/step | share of step | implementations |")
print("| --- | ---: | ---: | ---: | --- |")
for kind, t in sorted(times.items(), key=lambda kv: -kv[1]):
    names = ", ".join(f"{n} x{c // steps}" for n, c in impl[kind].most_common(3))
    print(f"| {kind} | {counts[kind] // steps} | {t / steps:.1f} | {t / steps / wall * 100:.1f} % | {names} |")
print(f"| **all oneDNN** | | **{onednn:.1f}** | **{onednn / wall * 100:.1f} %** | |")
print(f"| optimizer (Petal) | | {parts['optimizer']/steps:.1f} | {parts['optimizer']/steps / wall * 100:.1f} % | |")
rest = wall - onednn - parts['optimizer']/steps
print(f"| rest (loss, copies, creation, waits) | | {rest:.1f} | {rest / wall * 100:.1f} % | |")
PY
    rm -f "$log"
}

if [ $# -ge 4 ]; then
    profile "$@"
else
    for phase in 1 2; do
        profile mobilenetv2 160 32 "$phase"
        profile efficientnet-lite0 224 32 "$phase"
    done
fi
