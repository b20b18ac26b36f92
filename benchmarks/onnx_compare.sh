#!/usr/bin/env bash
# Petal's float inference against ONNX Runtime on the same network, side by side in one run:
# for EfficientNet-Lite0 and MobileNetV2 (alpha 1.0) at 224 px, a model trained on the flowers
# (phase 1 only, 2 epochs; or given), exported with `petal export --format onnx`, then
#   - images/s with batches of 1 and 32 over N flowers photos saved as 224 px PNGs (so neither side
#     resizes): `petal predict` (decode, normalise, infer; best of 3, the model load measured with one
#     image and subtracted, as benchmarks/inference.sh does) and ONNX Runtime 1.32 (CPU provider,
#     all cores; the same work: decode the PNG, normalise, session.run; and session.run alone),
#   - the ratio Petal / ORT, file sizes (model.safetensors, model.onnx),
#   - top-1 accuracy on the run's test split: `petal evaluate` and ORT on the exported file,
#   - int8 columns when this petal has `petal quantize` (see int8_columns below).
# Usage: benchmarks/onnx_compare.sh [N]     (default 256 photos)
#   LITE0_RUN=runs/x MOBILENETV2_RUN=runs/y benchmarks/onnx_compare.sh   use these trained runs
#   EPOCHS_FE=1 benchmarks/onnx_compare.sh 64                              a quick preview
# Needs the flowers, the installed weights, and python3 with onnx/onnxruntime (.ci/install-onnxruntime.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-256}"
FLOWERS="${PETAL_FLOWERS:-../shared/data/flowers}"
[ -d "$FLOWERS" ] || { echo "onnx_compare.sh: no flowers at $FLOWERS (set PETAL_FLOWERS)" >&2; exit 1; }
python3 -c 'import onnx, onnxruntime, PIL' 2>/dev/null \
    || { echo "onnx_compare.sh: python3 lacks onnx/onnxruntime/Pillow (run .ci/install-onnxruntime.sh)" >&2; exit 1; }
SCRATCH="${PETAL_SCRATCH:-.build-bench}"
if [ -z "${PETAL:-}" ]; then   # PETAL=path: an already built release petal instead
  swift build -c release --product petal --scratch-path "$SCRATCH" >&2
  PETAL="$SCRATCH/release/petal"
fi
WORK="$SCRATCH/onnx-compare"
mkdir -p "$WORK"
HELPER=benchmarks/onnx_timing.py

IMAGES_DIR="$WORK/png-224-$N"
if [ ! -d "$IMAGES_DIR" ]; then python3 "$HELPER" prepare "$FLOWERS" "$IMAGES_DIR" --size 224 --count "$N" >/dev/null; fi
mapfile -t IMAGES < <(find "$IMAGES_DIR" -name '*.png' | sort)

# A trained run of a backbone: the given one, or one trained here once (phase 1, EPOCHS_FE epochs) and reused.
run_for() {
  local backbone=$1 given=$2 run="$WORK/run-$1"
  if [ -n "$given" ]; then echo "$given"; return; fi
  if [ ! -f "$run/model.safetensors" ]; then
    rm -rf "$run"
    "$PETAL" train "$FLOWERS" --backbone "$backbone" --image-size 224 --epochs-fe "${EPOCHS_FE:-2}" --epochs-ft 0 --out "$run" --quiet >&2
  fi
  echo "$run"
}

best_of_3() {
  local best=""
  for _ in 1 2 3; do
    local start t
    start=$(date +%s.%N)
    "$PETAL" predict --top 1 "$@" >/dev/null
    t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

# Petal's images/s through `petal predict` with batches of $2, the load subtracted.
petal_rate() {
  local model=$1 batch=$2 load t
  load=$(best_of_3 "$model" "${IMAGES[0]}")
  t=$(best_of_3 --batch-size "$batch" "$model" "${IMAGES[@]}")
  awk -v t="$t" -v l="$load" -v n="${#IMAGES[@]}" 'BEGIN{printf "%.1f", (n - 1) / (t - l)}'
}

json_field() { python3 -c "import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])" "$1"; }

# One table row per batch size (1, 32): Petal on MODEL against ONNX Runtime on ONNX_FILE.
speed_rows() {
  local label=$1 model=$2 onnx_file=$3 batch petal ort_json ort ort_run
  for batch in 1 32; do
    petal=$(petal_rate "$model" "$batch")
    ort_json=$(python3 "$HELPER" time "$onnx_file" "$IMAGES_DIR" --batch "$batch")
    ort=$(json_field images_per_s <<<"$ort_json")
    ort_run=$(json_field run_only_images_per_s <<<"$ort_json")
    awk -v m="$label" -v b="$batch" -v p="$petal" -v o="$ort" -v r="$ort_run" \
      'BEGIN{printf "%-18s %5d  %12.1f  %12.1f  %14.1f  %8.2fx\n", m, b, p, o, r, p / o}'
  done
}

# int8: the run quantized by `petal quantize` (its validation split, defaults) and exported as QDQ
# ONNX; Petal's int8 model and ONNX Runtime on the QDQ file, at batch 1 and 32, with test accuracy.
int8_columns() {
  local run=$1 backbone=$2
  "$PETAL" quantize --help >/dev/null 2>&1 || return 0
  local int8="$WORK/$backbone-int8.safetensors" qdq="$WORK/$backbone-int8.onnx"
  [ -f "$int8" ] || "$PETAL" quantize "$run" --out "$int8" >&2
  "$PETAL" export "$int8" --format onnx --out "$qdq" >/dev/null
  speed_rows "$backbone int8" "$int8" "$qdq"
  local petal_accuracy ort_accuracy
  petal_accuracy=$("$PETAL" evaluate "$int8" "$(int8_test_folder "$run")" --json 2>/dev/null | json_field accuracy)
  ort_accuracy=$(python3 "$HELPER" accuracy "$qdq" "$run" | json_field accuracy)
  echo "  int8 sizes: $(du -k "$int8" | cut -f1) KiB $backbone-int8.safetensors, $(du -k "$qdq" | cut -f1) KiB $backbone-int8.onnx;" \
       "test accuracy: petal int8 $petal_accuracy, ORT QDQ $ort_accuracy"
}

# The run's test split as class folders of links (for `petal evaluate MODEL FOLDER`).
int8_test_folder() {
  local run=$1 folder="$WORK/test-$(basename "$1")"
  [ -d "$folder" ] || python3 - "$run/split.json" "$folder" <<'PY'
import json, os, sys
split = json.load(open(sys.argv[1]))
root = split.get("root") or split.get("data") or ""
for k, item in enumerate(split["test"]):
    path = item if isinstance(item, str) else (item.get("path") or item.get("file"))
    label = path.split("/")[0] if isinstance(item, str) else (item.get("label") or item.get("className") or path.split("/")[0])
    os.makedirs(os.path.join(sys.argv[2], label), exist_ok=True)
    src = path if os.path.isabs(path) else os.path.join(root, path)
    os.symlink(os.path.abspath(src), os.path.join(sys.argv[2], label, f"{k:05d}-" + os.path.basename(path)))
PY
  echo "$folder"
}

printf '%-18s %5s  %12s  %12s  %14s  %9s\n' "model" "batch" "petal img/s" "ORT img/s" "ORT run-only" "petal/ORT"
for backbone in efficientnet-lite0 mobilenetv2; do
  given=""
  [ "$backbone" = efficientnet-lite0 ] && given="${LITE0_RUN:-}"
  [ "$backbone" = mobilenetv2 ] && given="${MOBILENETV2_RUN:-}"
  run=$(run_for "$backbone" "$given")
  onnx_file="$WORK/$backbone.onnx"
  "$PETAL" export "$run" --format onnx --out "$onnx_file" >/dev/null
  speed_rows "$backbone" "$run" "$onnx_file"
  model_file="$run/model.safetensors"
  petal_accuracy=$("$PETAL" evaluate "$run" --json 2>/dev/null | json_field accuracy)
  ort_accuracy=$(python3 "$HELPER" accuracy "$onnx_file" "$run" | json_field accuracy)
  echo "  sizes: $(du -k "$model_file" | cut -f1) KiB model.safetensors, $(du -k "$onnx_file" | cut -f1) KiB $backbone.onnx;" \
       "test accuracy: petal $petal_accuracy, ORT $ort_accuracy ($run)"
  int8_columns "$run" "$backbone"
done
echo "$N photos as 224 px PNG; onnxruntime $(python3 -c 'import onnxruntime; print(onnxruntime.__version__)'), $(nproc) threads"
echo "machine: $(nproc) cores, ISA $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | tr '\n' ' '), load $(uptime | sed 's/.*load average: //')"
