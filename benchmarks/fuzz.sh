#!/usr/bin/env bash
# libFuzzer harnesses for Petal's readers of untrusted files (not part of CI; see BENCHMARKS.md, "Fuzzing").
#
#   benchmarks/fuzz.sh SECONDS [HARNESS...]     # harnesses: pickle safetensors keras_hdf5 jpeg png (default: all, in turn)
#   benchmarks/fuzz.sh build [HARNESS...]       # only compile them
#
# Each harness (benchmarks/fuzz/<name>.swift, `LLVMFuzzerTestOneInput`) is compiled with
# `swiftc -sanitize=fuzzer,address -parse-as-library` into one module together with the Petal
# sources it exercises (so it can reach their internal entry points), against a PetalCore (and
# ZIPFoundation) built the same way. It starts from the committed seeds in
# benchmarks/fuzz/corpus/<name>/, keeps what it finds in .build-fuzz/corpus/<name>/ and writes
# crashing inputs to .build-fuzz/crashes/<name>/. Extra libFuzzer options: FUZZ_OPTIONS="-max_len=65536".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
mode=${1:?usage: benchmarks/fuzz.sh SECONDS|build [HARNESS...]}
shift
all=(pickle safetensors keras_hdf5 jpeg png)
harnesses=("${@:-${all[@]}}")
out=$root/.build-fuzz
mkdir -p "$out/lib"
flags=(-O -g -sanitize=fuzzer,address -parse-as-library -module-cache-path "$out/module-cache")

# Sources of each harness's module, beside the harness itself.
weights=Sources/PetalWeights
data=Sources/PetalData
sources_pickle=("$weights/Pickle.swift" "$weights/PyTorchCheckpointReader.swift" "$weights/ZipDirectoryCheck.swift" "$weights/ElementType.swift" "$weights/FileAccess.swift" "$weights/WeightError.swift")
sources_safetensors=("$weights/SafetensorsFile.swift" "$weights/ElementType.swift" "$weights/FileAccess.swift" "$weights/WeightError.swift")
sources_keras_hdf5=("$weights/HDF5File.swift" "$weights/KerasHDF5Reader.swift" "$weights/ElementType.swift" "$weights/FileAccess.swift" "$weights/WeightError.swift")
images=("$data/ImageDecoder.swift" "$data/JPEGCodec.swift" "$data/PNGCodec.swift" "$data/RGBImage.swift" "$data/ImageResizer.swift" "$data/DataError.swift")
sources_jpeg=("${images[@]}")
sources_png=("${images[@]}")

# A static library and module of `name` (Swift language mode `version`) from `sources`,
# rebuilt when a source is newer.
library() {
    local name=$1 version=$2; shift 2
    local lib=$out/lib/lib$name.a
    if [ -f "$lib" ] && [ -z "$(find "$@" -newer "$lib" 2>/dev/null | head -1)" ]; then return; fi
    echo "building $name"
    (cd "$out/lib" && swiftc "${flags[@]}" -swift-version "$version" -module-name "$name" -emit-library -static -emit-module \
        -Xcc -D_GNU_SOURCE=1 -I "$root/Sources/CModules/CDNNL" -I "$zlib" -I "$out/lib" "${@/#/$root/}" -o "$lib")
}

[ -d .build/checkouts/ZIPFoundation ] || swift package resolve >/dev/null
zlib=$root/.build/checkouts/ZIPFoundation/Sources/CZLib
library PetalCore 6 Sources/PetalCore/*.swift
zip_sources=(.build/checkouts/ZIPFoundation/Sources/ZIPFoundation/*.swift)
library ZIPFoundation 5 "${zip_sources[@]}"

build() {
    local name=$1
    local var="sources_$name[@]"
    local binary=$out/$name
    echo "building harness $name"
    swiftc "${flags[@]}" -swift-version 6 -module-name "Fuzz_$name" -I "$out/lib" -I Sources/CModules/CDNNL -I Sources/CModules/CHDF5 \
        -I Sources/CModules/CTurboJPEG -I Sources/CModules/CPNG -I "$zlib" \
        "benchmarks/fuzz/$name.swift" "${!var}" -L "$out/lib" -lPetalCore -lZIPFoundation -o "$binary" \
        2> >(grep -v "Cannot export local symbol '__asan" >&2)
}

for name in "${harnesses[@]}"; do build "$name"; done
[ "$mode" = build ] && exit 0

for name in "${harnesses[@]}"; do
    mkdir -p "$out/corpus/$name" "$out/crashes/$name"
    echo "fuzzing $name for $mode s (log: $out/$name.log)"
    status=0
    # No leak checks: ZIPFoundation and Foundation leak a few bytes per opened file (not Petal's).
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
    # shellcheck disable=SC2086
    "$out/$name" -max_total_time="$mode" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -detect_leaks=0 \
        -artifact_prefix="$out/crashes/$name/" ${FUZZ_OPTIONS:-} \
        "$out/corpus/$name" "benchmarks/fuzz/corpus/$name" >"$out/$name.log" 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs|ERROR|SUMMARY" "$out/$name.log" || true
    echo "$name: exit $status, crashes: $(ls "$out/crashes/$name" | wc -l)"
done
