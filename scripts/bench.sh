#!/usr/bin/env bash
# Generates the benchmark meshes and runs every Swift benchmark, printing the tables
# (docs/BENCHMARKS.md). Takes 10–15 minutes, plus about 3 minutes for the first build of the
# benchmark package.
#
#   scripts/bench.sh                                   # N = 10 … 100,000
#   SMI_BENCH_SIZES=10,1000 scripts/bench.sh           # chosen sizes
#   scripts/bench.sh --filter "decide.*"               # extra arguments go to `swift package benchmark`
#
# SMI_BENCH_SEED (default 1) picks the mesh; SMI_BENCH_DATA (default /tmp/smi-bench) is where
# the generated meshes are kept (`n<N>-s<seed>/`, the `smi generate` layout) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

export SMI_BENCH_SIZES="${SMI_BENCH_SIZES:-10,100,1000,10000,100000}"
export SMI_BENCH_SEED="${SMI_BENCH_SEED:-1}"
export SMI_BENCH_DATA="${SMI_BENCH_DATA:-/tmp/smi-bench}"

scripts/setup.sh
swift build -c release --product smi
for n in ${SMI_BENCH_SIZES//,/ }; do
    dir="$SMI_BENCH_DATA/n$n-s$SMI_BENCH_SEED"
    if [ ! -e "$dir/.complete" ]; then
        .build/release/smi generate --targets "$n" --seed "$SMI_BENCH_SEED" --out "$dir"
        touch "$dir/.complete"
    fi
done

out="$SMI_BENCH_DATA/swift-benchmarks-s$SMI_BENCH_SEED.txt"
(cd Benchmarks && swift package benchmark --no-progress "$@") | tee "$out"

echo
echo "==> compiled size per TrafficTarget"
for n in ${SMI_BENCH_SIZES//,/ }; do
    cat "$SMI_BENCH_DATA/n$n-s$SMI_BENCH_SEED/compiled-size.txt" 2>/dev/null || true
done

echo
echo "==> summary (per decision; the full tables are above and in $out)"
python3 - "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rows = {}
for m in re.finditer(r"^([a-z][^\n]*?N=(\d+))\n╒[^\n]*\n│ Metric[^\n]*\n╞[^\n]*\n((?:[│├][^\n]*\n)+)╘", text, re.M):
    name, n, body = m.group(1), int(m.group(2)), m.group(3)
    metrics = {}
    for l in body.split("\n"):
        if l.startswith("│"):
            cells = [c.strip() for c in l.strip("│").split("│")]
            metrics[cells[0]] = cells[1:]
    rows[name] = metrics
def cell(name, key, idx):
    m = rows.get(name, {})
    for k, v in m.items():
        if k.startswith(key): return v[idx]
    return "-"
sizes = sorted({int(re.search(r"N=(\d+)$", k).group(1)) for k in rows})
print("| benchmark | " + " | ".join(f"N={n:,}" for n in sizes) + " |")
print("|---|" + "---|" * len(sizes))
for b in ["decide http-path", "decide http-path hot", "decide http-headers", "decide http-headers hot", "decide tcp", "decide tcp hot", "select-backend split", "select-backend split hot"]:
    print(f"| {b} (ns, p50 / p99) | " + " | ".join(f"{cell(f'{b} N={n}', 'Time', 2)} / {cell(f'{b} N={n}', 'Time', 5)}" for n in sizes) + " |")
print("| mallocs per 2,000 decisions (max) | " + " | ".join(cell(f"allocations N={n}", "Malloc", 6) for n in sizes) + " |")
print("| compile (ms, p50 / max) | " + " | ".join(f"{cell(f'compile N={n}', 'Time', 2)} / {cell(f'compile N={n}', 'Time', 6)}" for n in sizes) + " |")
print("| compile peak RSS (MB, p50) | " + " | ".join(cell(f"compile N={n}", "Memory", 2) for n in sizes) + " |")
print("| compiled bytes per TrafficTarget | " + " | ".join(cell(f"compiled-size N={n}", "compiled bytes", 2) for n in sizes) + " |")
PY
