#!/usr/bin/env bash
# The quick CI version of scripts/bench.sh: N = 10 and 100, a few iterations of every benchmark,
# in a fresh data folder. Fails if a benchmark fails, or if a decision allocates: the unscaled
# `allocations N=…` benchmarks (2,000 decisions per sample) must count 0 mallocs.
set -euo pipefail
cd "$(dirname "$0")/.."

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
out="$data/benchmark-output.txt"

cd Benchmarks
SMI_BENCH_SIZES="${SMI_BENCH_SIZES:-10,100}" SMI_BENCH_SMOKE=1 SMI_BENCH_DATA="$data" \
    swift package benchmark --no-progress "$@" | tee "$out"

# The row after each `allocations N=` heading: `│ Malloc (total) * │ p0 │ … │ p100 │ samples │`.
python3 - "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"^(allocations N=\d+)\n(?:.*\n){3}│ Malloc \(total\)[^│]*│([^\n]*)", text, re.M)
if not blocks:
    sys.exit("bench-smoke: no allocation results found")
bad = []
for name, row in blocks:
    cells = [c.strip() for c in row.split("│") if c.strip()]
    p100 = int(cells[-2])
    print(f"bench-smoke: {name}: {p100} mallocs per 2,000 decisions (max over samples)")
    if p100 != 0:
        bad.append(name)
if bad:
    sys.exit("bench-smoke: decisions allocate: " + ", ".join(bad))
print("bench-smoke: ok")
PY
