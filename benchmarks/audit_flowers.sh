#!/usr/bin/env bash
# The label audit of the flowers (BENCHMARKS.md, "Label audit of the flowers"): one pass of
# inference over the 3,455 photos, 5 folds of a softmax head, confident learning.
#
#   benchmarks/audit_flowers.sh [DATA] [OUT]     # defaults: /work/shared/data/flowers, /tmp/petal-audit-flowers
#
# Prints the machine (cores, ISA, load), the wall and CPU time, the findings' summary and the
# first issues; the full findings are OUT/audit.json, the page OUT/audit.html.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/work/shared/data/flowers}
out=${2:-/tmp/petal-audit-flowers}
export PATH=/opt/swift/usr/bin:$PATH
(cd "$root" && swift build -c release -j 2 --product petal >/dev/null)
petal=$root/.build/release/petal
echo "machine: $(nproc) cores, ISA $(grep -o -w -m1 -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: petal data audit $data --out $out --json"
/usr/bin/time -f "wall %e s, user %U s, system %S s, max RSS %M KB" \
    "$petal" data audit "$data" --out "$out" --json > "$out.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['imageCount']} images, out-of-fold accuracy {r['outOfFoldAccuracy']:.4f}, {len(r['issues'])} flagged, "
      f"{len(r['nearDuplicates'])} near-duplicate pairs, {len(r['identicalFiles'])} identical groups; "
      f"features {r['seconds']['features']:.1f} s, cross-validation {r['seconds']['crossValidation']:.1f} s, total {r['seconds']['total']:.1f} s")
for i in r["issues"][:15]:
    print(f"  {i['path']}: given {i['givenLabel']} ({i['givenLabelProbability']:.3f}), suggested {i['suggestedLabel']} ({i['suggestedProbability']:.3f})")
for p in r["nearDuplicates"][:10]:
    print(f"  near-duplicate {p['similarity']:.4f}: {p['paths'][0]} ({p['labels'][0]}) ~ {p['paths'][1]} ({p['labels'][1]})")
for g in r["identicalFiles"][:10]:
    print(f"  identical: {', '.join(g)}")
PY
