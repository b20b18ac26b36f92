#!/usr/bin/env bash
# petal serve under load vs the same network in PyTorch behind FastAPI + uvicorn (benchmarks/serve_torch.py),
# side by side in one run: wrk on loopback, one 224 px JPEG per request (POST), requests/s and p50/p99
# latency at each concurrency. One server runs at a time, each with --threads compute threads, and both
# with OMP_WAIT_POLICY=passive (petal serve sets it itself; spinning OpenMP threads starve a server's I/O).
# The table is printed and written to OUT/table.md.
#
#   benchmarks/serve_load.sh                               # trains a quick Lite0 model (1 epoch, 224 px) first
#   benchmarks/serve_load.sh --model runs/<run>            # an EfficientNet-Lite0 run of your own
#   benchmarks/serve_load.sh --duration 5 --concurrency "1 8"
#
# Options (defaults): --model RUN_OR_FILE, --data ${PETAL_FLOWERS:-../shared/data/flowers} (for the quick model and the
# photo), --duration 15 (seconds per measurement), --concurrency "1 8 32", --threads 2, --out
# /tmp/petal-serve-load-<time>, --petal BINARY (default: build ${PETAL_SCRATCH:-.build-bench-serve}/release/petal),
# --python /usr/bin/python3 (Debian's, with python3-torch). FastAPI and uvicorn come from PyPI into a
# virtual environment beside the build (with the system's site packages, for torch).
# Needs: wrk, python3-torch, python3-venv (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

model="" data=${PETAL_FLOWERS:-../shared/data/flowers} duration=15 concurrency="1 8 32" threads=2 out="" petal="" python=/usr/bin/python3
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --petal) petal=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
        *) echo "serve_load.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for tool in wrk "$python" curl; do
    command -v "$tool" >/dev/null || { echo "serve_load.sh: $tool is missing (apt-get install wrk python3-torch python3-venv curl)" >&2; exit 1; }
done
scratch=${PETAL_SCRATCH:-.build-bench-serve}
out=${out:-/tmp/petal-serve-load-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

if [ -z "$petal" ]; then
    echo "== building petal (release) in $scratch"
    swift build -c release -j 2 --product petal --scratch-path "$scratch" >&2
    petal=$scratch/release/petal
fi

venv=$scratch/serve-venv
if [ ! -x "$venv/bin/uvicorn" ]; then
    echo "== FastAPI and uvicorn from PyPI into $venv"
    "$python" -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install --quiet fastapi uvicorn
fi

if [ -z "$model" ]; then
    echo "== a quick EfficientNet-Lite0 model at 224 px (1 epoch of feature extraction) in $out/run"
    "$petal" train "$data" --backbone efficientnet-lite0 --image-size 224 --epochs-fe 1 --epochs-ft 0 \
        --augment none --out "$out/run" --quiet >&2
    model=$out/run
fi

# One flower photo, stretched to 224 x 224, as every request's body.
photo=$(find "$data" -name '*.jpg' | sort | sed -n 1p)
"$python" -c "from PIL import Image; import sys; Image.open(sys.argv[1]).convert('RGB').resize((224, 224), Image.BILINEAR).save(sys.argv[2], quality=90)" \
    "$photo" "$out/request.jpg"
cat > "$out/post.lua" <<LUA
local f = assert(io.open("$out/request.jpg", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"
LUA

server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
}
trap stop_server EXIT

wait_for() {  # URL: until it answers, at most 120 s
    for _ in $(seq 1 1200); do
        if curl -sf -o /dev/null "$1"; then return 0; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then echo "serve_load.sh: the server ended early" >&2; exit 1; fi
        sleep 0.1
    done
    echo "serve_load.sh: $1 did not answer" >&2; exit 1
}

rows=()
measure() {  # NAME URL
    local name=$1 url=$2 c t result rps p50 p99 errors
    # The answer to the request every measurement sends (both servers should agree: same network).
    curl -sf -H 'Content-Type: image/jpeg' --data-binary "@$out/request.jpg" "$url" > "$out/answer-$name.json"
    echo "  $name answers: $(head -c 200 "$out/answer-$name.json")"
    # Warm-up (first batches, allocator, connections), not measured.
    wrk -t 1 -c 4 -d 3 -s "$out/post.lua" "$url" >/dev/null
    for c in $concurrency; do
        t=$(( c < 2 ? c : 2 ))
        result=$(wrk -t "$t" -c "$c" -d "${duration}s" --timeout 10s --latency -s "$out/post.lua" "$url")
        echo "$result" > "$out/wrk-$name-c$c.txt"
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$result")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
        errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$result")
        rows+=("$name|$c|$rps|$p50|$p99|${errors:-0}")
        echo "  $name  concurrency $c: $rps requests/s, p50 $p50, p99 $p99, non-2xx ${errors:-0}"
    done
}

echo "== petal serve ($petal, $threads threads)"
OMP_NUM_THREADS=$threads "$petal" serve "$model" --name bench --port 18080 --quiet > "$out/petal-serve.log" 2>&1 &
server_pid=$!
wait_for http://127.0.0.1:18080/v2/health/ready
measure petal http://127.0.0.1:18080/v1/models/bench/predict
stop_server

echo "== PyTorch + FastAPI/uvicorn ($threads threads)"
OMP_WAIT_POLICY=passive "$venv/bin/python" benchmarks/serve_torch.py --model "$model" --port 18081 --threads "$threads" > "$out/python-serve.log" 2>&1 &
server_pid=$!
wait_for http://127.0.0.1:18081/health
measure python http://127.0.0.1:18081/predict
stop_server

isa=$(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | tr '\n' ' ' || echo unknown)
{
    echo "petal serve vs PyTorch + FastAPI/uvicorn, EfficientNet-Lite0 at 224 px, one JPEG per request, wrk ${duration} s per row"
    echo "machine: $(nproc) cores, ISA $isa, $(uname -srm); model: $model"
    echo ""
    echo "| server | concurrency | requests/s | p50 | p99 | non-2xx |"
    echo "|---|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do IFS='|' read -r n c r p5 p9 e <<<"$row"; echo "| $n | $c | $r | $p5 | $p9 | $e |"; done
    echo ""
    for c in $concurrency; do
        pr=$(printf '%s\n' "${rows[@]}" | awk -F'|' -v c="$c" '$1 == "petal" && $2 == c {print $3}')
        yr=$(printf '%s\n' "${rows[@]}" | awk -F'|' -v c="$c" '$1 == "python" && $2 == c {print $3}')
        awk -v c="$c" -v p="$pr" -v y="$yr" 'BEGIN { if (y > 0) printf "concurrency %s: petal serve %.1fx the Python server'"'"'s requests/s\n", c, p / y }'
    done
} | tee "$out/table.md"
echo "(written to $out/table.md)"
