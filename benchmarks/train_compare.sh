#!/usr/bin/env bash
# Two-phase transfer learning, Petal vs Keras (mobilenetv2) or PyTorch (efficientnet-lite0), on the
# SAME split with the same recipe: Petal runs first and writes RUN/split.json; the Python script
# (benchmarks/keras_transfer.py or torch_transfer.py) reads it. Each run is measured with
# /usr/bin/time (wall seconds, peak RSS); a table of times, ratios (other / Petal) and test
# accuracies after each phase is printed and written to OUT/table.md.
#
#   benchmarks/train_compare.sh                                   # mobilenetv2, 160 px, batch 32, 2 + 2 epochs
#   benchmarks/train_compare.sh --backbone efficientnet-lite0
#   benchmarks/train_compare.sh --image-size 128 --epochs-fe 1 --epochs-ft 1      # a quick check
#   benchmarks/train_compare.sh --epochs-fe 8 --epochs-ft 8                       # the full recipe
#
# Options (defaults): --backbone mobilenetv2 | efficientnet-lite0, --data ../shared/data/flowers,
# --image-size 160, --batch-size 32, --epochs-fe 2, --epochs-ft 2, --fine-tune-at (Petal's default:
# 100 for MobileNetV2, _blocks.11. for Lite0), --augment standard|none, --bn-statistics frozen|trained
# (phase 2's trainable batch norms: frozen = Petal's default, moving statistics; trained = Petal's
# --train-bn-statistics, batch statistics, which is what Keras 3's fit does with the usual
# `base(inputs, training=False)`), --threads 2, --lr 1e-3,
# --seed 42, --out /tmp/petal-train-compare-<time>, --petal BINARY (default: build
# ${PETAL_SCRATCH:-.build-bench-train}/release/petal), --python PYTHON (default python3 for Keras, /usr/bin/python3
# for PyTorch).
set -euo pipefail
cd "$(dirname "$0")/.."

backbone=mobilenetv2 data=../shared/data/flowers size=160 batch=32 efe=2 eft=2 fine_tune_at=""
augment=standard bn_statistics=frozen threads=2 lr=1e-3 seed=42 out="" petal="" python=""
while [ $# -gt 0 ]; do
    case "$1" in
        --backbone) backbone=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --image-size) size=$2; shift 2 ;;
        --batch-size) batch=$2; shift 2 ;;
        --epochs-fe) efe=$2; shift 2 ;;
        --epochs-ft) eft=$2; shift 2 ;;
        --fine-tune-at) fine_tune_at=$2; shift 2 ;;
        --augment) augment=$2; shift 2 ;;
        --bn-statistics) bn_statistics=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --lr) lr=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --petal) petal=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
        *) echo "train_compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

case "$backbone" in
    mobilenetv2)
        script=benchmarks/keras_transfer.py other=Keras python=${python:-python3}
        weights=${PETAL_HOME:-${HOME:-~}/.cache/petal}/weights/dog_breed_mobilenetv2.h5 ;;
    efficientnet-lite0)
        script=benchmarks/torch_transfer.py other=PyTorch python=${python:-/usr/bin/python3}
        weights=${PETAL_HOME:-${HOME:-~}/.cache/petal}/weights/efficientnet-lite0-57934424.pth ;;
    *) echo "train_compare.sh: --backbone must be mobilenetv2 or efficientnet-lite0, not '$backbone'" >&2; exit 2 ;;
esac
case "$bn_statistics" in
    frozen|trained) ;;
    *) echo "train_compare.sh: --bn-statistics must be frozen or trained, not '$bn_statistics'" >&2; exit 2 ;;
esac
[ -d "$data" ] || { echo "train_compare.sh: no dataset folder at $data (--data DIR)" >&2; exit 1; }
[ -f "$weights" ] || { echo "train_compare.sh: no weights at $weights (run scripts/setup.sh)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "train_compare.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
out=${out:-/tmp/petal-train-compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
[ ! -e "$out/petal/state.json" ] || { echo "train_compare.sh: $out already holds a comparison; choose another --out" >&2; exit 1; }

if [ -z "$petal" ]; then
    scratch=${PETAL_SCRATCH:-.build-bench-train}
    echo "Building petal (release, $scratch)..." >&2
    swift build -c release --product petal --scratch-path "$scratch" >"$out/build.log" 2>&1 \
        || { tail -30 "$out/build.log" >&2; exit 1; }
    petal=$scratch/release/petal
fi

uptime >"$out/uptime.txt"
petal_args=(train "$data" --backbone "$backbone" --image-size "$size" --batch-size "$batch"
            --epochs-fe "$efe" --epochs-ft "$eft" --lr "$lr" --seed "$seed" --out "$out/petal"
            --augment "$augment" --split 0.7,0.15,0.15 --dropout 0.2 --threads "$threads" --weights "$weights")
[ -z "$fine_tune_at" ] || petal_args+=(--fine-tune-at "$fine_tune_at")
[ "$bn_statistics" = frozen ] || petal_args+=(--train-bn-statistics)
echo "Petal: $petal ${petal_args[*]}" | tee "$out/commands.txt" >&2
/usr/bin/time -f "%e %M" -o "$out/petal.time" "$petal" "${petal_args[@]}" >"$out/petal.log" 2>&1 \
    || { tail -20 "$out/petal.log" >&2; exit 1; }
uptime >>"$out/uptime.txt"

# The other framework starts its fine-tuning at the layer Petal did: Keras by index; the PyTorch
# port by the name Petal printed ("fine-tuning from layer K (NAME)"), its module names being Petal's.
k=$(sed -n 's/.*fine-tuning from layer \([0-9]*\) (\([^)]*\)).*/\1 \2/p' "$out/petal.log" | head -1)
if [ "$backbone" = mobilenetv2 ]; then at=${k%% *}; at=${at:-${fine_tune_at:-100}}
else at=${k#* }; at=${at:-${fine_tune_at:-_blocks.11.}}; fi
other_args=("$script" --split "$out/petal/split.json" --backbone "$backbone" --weights "$weights"
            --image-size "$size" --batch-size "$batch" --epochs-fe "$efe" --epochs-ft "$eft" --lr "$lr"
            --fine-tune-at "$at" --augment "$augment" --bn-statistics "$bn_statistics" --threads "$threads" --seed "$seed")
echo "$other: $python ${other_args[*]}" | tee -a "$out/commands.txt" >&2
/usr/bin/time -f "%e %M" -o "$out/other.time" "$python" "${other_args[@]}" >"$out/other.json" 2>"$out/other.log" \
    || { tail -20 "$out/other.log" >&2; exit 1; }
uptime >>"$out/uptime.txt"

python3 - "$out" "$other" <<'EOF' | tee "$out/table.md"
import json, os, sys
out, other = sys.argv[1], sys.argv[2]
run = os.path.join(out, "petal")
load = lambda p: json.load(open(p))
state, timings, history = load(f"{run}/state.json"), load(f"{run}/timings.json"), load(f"{run}/history.json")
o = load(f"{out}/other.json")
pw, pm = map(float, open(f"{out}/petal.time").read().split()[-2:])
ow, om = map(float, open(f"{out}/other.time").read().split()[-2:])
pp = {p["name"]: p for p in state["phases"]}
ips = {p["name"]: p["imagesPerSecond"] for p in timings["phases"]}
op = {p["name"]: p for p in o["phases"]}
names = ["feature-extraction", "fine-tuning"]

def cell(v, f="{:.1f}"):
    return "-" if v is None else f.format(v)

def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}"

print(f"Data: {o['train']} train / {o['validation']} validation / {o['test']} test images; "
      f"{o['backbone']}, {o['image_size']}x{o['image_size']}, batch {o['batch_size']}, {o['threads']} threads; "
      f"{other}: {o['framework']}; phase-2 batch-norm statistics {o.get('bn_statistics', 'frozen')}")
print()
print(f"| | Petal | {other} | {other} / Petal |")
print("| --- | ---: | ---: | ---: |")
print(f"| wall time, whole process (s) | {pw:.1f} | {ow:.1f} | {ratio(ow, pw)} |")
print(f"| peak RSS (MB) | {pm / 1024:.0f} | {om / 1024:.0f} | {ratio(om, pm)} |")
for n in names:
    a, b = pp.get(n), op.get(n)
    if not a and not b:
        continue
    print(f"| {n}: epochs | {a['epochs'] if a else '-'} | {b['epochs'] if b else '-'} | |")
    print(f"| {n}: seconds (fit + test evaluation) | {cell(a and a['seconds'])} | {cell(b and b['seconds'])} | "
          f"{ratio(b and b['seconds'], a and a['seconds'])} |")
    print(f"| {n}: training images/s | {cell(ips.get(n))} | {cell(b and b['images_per_second'])} | "
          f"{ratio(b and b['images_per_second'], ips.get(n))} |")
    print(f"| {n}: test accuracy | {cell(a and a['testAccuracy'], '{:.4f}')} | "
          f"{cell(b and b['test_accuracy'], '{:.4f}')} | |")
print()
print("Per epoch (seconds include validation" + ("; Keras's first epoch of each phase includes tracing" if other == "Keras" else "") + "):")
print()
print(f"| epoch | phase | Petal s | {other} s | {other} train-only s | Petal val acc | {other} val acc | Petal loss | {other} loss |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
oh = {e["epoch"] + 1: e for e in o["history"]}
for e in history["epochs"]:
    x = oh.get(e["epoch"], {})
    print(f"| {e['epoch']} | {e['phase']} | {e['seconds']:.1f} | {cell(x.get('seconds'))} | "
          f"{cell(x.get('train_seconds'))} | {e['val_accuracy']:.4f} | {cell(x.get('val_accuracy'), '{:.4f}')} | "
          f"{e['loss']:.4f} | {cell(x.get('loss'), '{:.4f}')} |")
print()
print("Load (uptime) before Petal / before " + other + " / after:")
for line in open(f"{out}/uptime.txt"):
    print("    " + line.strip())
EOF
echo "Results: $out (petal/ run folder, petal.log, other.json, other.log, table.md)" >&2
