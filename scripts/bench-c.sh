#!/usr/bin/env bash
# Decision latency through the C ABI, from 10 to 100,000 TrafficTargets, against two baselines
# (Benchmarks/c/bench.c: the engine, a hash-lookup-plus-one-regex floor, and a first-match linear
# scan of every rule as Envoy's RBAC filter does). One command:
#
#   scripts/bench-c.sh [SIZES...]     default sizes: 10 100 1000 10000 100000
#   scripts/bench-c.sh --smoke        N=10 and 100, few iterations, checks only (CI; well under a
#                                     minute once built). SMI_BENCH_SMOKE=1 does the same.
#
# It builds `smi` (release) and libsmiengine (scripts/install.sh into a temporary prefix), builds
# the benchmark with pkg-config, and for each N runs `smi generate --targets N --seed 1` then the
# benchmark. A full run appends one JSON line per (N, contender, class) to
# Benchmarks/results/c-results.jsonl (plus a "meta" line describing the run), draws
# docs/benchmarks-latency.png and prints the tables and the ratios (scripts/plot-bench.py).
# A smoke run keeps its results in the temporary folder and leaves the repository untouched.
#
# Environment: SMI_BENCH_TIME (seconds per repetition, default 0.3), SMI_BENCH_REPS (default 21),
# SMI_BENCH_SEED (default 1), KEEP=1 keeps the work folder (generated meshes, logs).
# Exit status: 1 when the engine disagrees with a generated expected.jsonl, or a baseline with
# the engine, or a build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

smoke=${SMI_BENCH_SMOKE:-0}
sizes=()
for arg in "$@"; do
    case $arg in
    --smoke) smoke=1 ;;
    -h | --help)
        sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *[!0-9]* | '')
        echo "bench-c: not a size: $arg (usage: scripts/bench-c.sh [--smoke] [SIZES...])" >&2
        exit 64
        ;;
    *) sizes+=("$arg") ;;
    esac
done
seed=${SMI_BENCH_SEED:-1}
if [ "$smoke" = 1 ]; then
    [ ${#sizes[@]} -gt 0 ] || sizes=(10 100)
    bench_args=(--time "${SMI_BENCH_TIME:-0.01}" --reps "${SMI_BENCH_REPS:-3}" --warmup 0.005 --hot 64)
else
    [ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000 10000 100000)
    bench_args=(--time "${SMI_BENCH_TIME:-0.3}" --reps "${SMI_BENCH_REPS:-21}" --warmup 0.2 --hot 64)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/smi-bench-c.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "bench-c: work folder $work"; else trap 'rm -rf "$work"' EXIT; fi

# ---- build ------------------------------------------------------------------------------------
for tool in cc make pkg-config python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench-c: $tool is missing" >&2; exit 1; }
done
pkg-config --exists libpcre2-8 || { echo "bench-c: libpcre2-8 is missing (apt-get install libpcre2-dev)" >&2; exit 1; }
echo "bench-c: swift build -c release --product smi"
swift build -c release --product smi >"$work/build-smi.log" 2>&1 || { tail -30 "$work/build-smi.log" >&2; exit 1; }
smi=$(swift build -c release --product smi --show-bin-path)/smi
echo "bench-c: scripts/install.sh $work/prefix"
scripts/install.sh "$work/prefix" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
make -s -C Benchmarks/c OUT="$work/bench" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; exit 1; }
bench=$work/bench

# ---- run --------------------------------------------------------------------------------------
# Other work on the machine shows up in the timings: say so (bench.c records the load average in
# every result line too).
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if [ "$smoke" != 1 ] && python3 -c "import sys; sys.exit(0 if float('$load') > 0.5 else 1)"; then
    echo "bench-c: warning: load average $load: other processes are running, timings will be noisy" >&2
fi
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=false
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=true
run="$(date -u +%Y-%m-%dT%H:%M:%SZ) $commit"
[ "$dirty" = false ] || run="$run+dirty"
if [ "$smoke" = 1 ]; then
    results=$work/c-results.jsonl
else
    mkdir -p Benchmarks/results
    results=$root/Benchmarks/results/c-results.jsonl
fi
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
cores=$(nproc)
python3 - "$results" "$run" "$commit" "$dirty" "${cpu:-unknown}" "$cores" "$smoke" "${bench_args[*]}" <<'EOF'
import json, platform, sys
path, run, commit, dirty, cpu, cores, smoke, args = sys.argv[1:]
meta = {"run": run, "kind": "meta", "commit": commit, "dirty": dirty == "true", "cpu": cpu,
        "cores": int(cores), "kernel": platform.release(), "smoke": smoke == "1", "bench_args": args}
with open(path, "a") as f:
    f.write(json.dumps(meta) + "\n")
EOF

status=0
for n in "${sizes[@]}"; do
    out=$work/mesh-$n
    echo
    echo "bench-c: smi generate --targets $n --seed $seed"
    start=$(date +%s.%N)
    "$smi" generate --targets "$n" --seed "$seed" --out "$out" >"$work/generate-$n.log" 2>&1 \
        || { tail -30 "$work/generate-$n.log" >&2; exit 1; }
    echo "bench-c: generated in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s:" \
        "$(find "$out/policy" -type f | wc -l) policy files, $(wc -l <"$out/rules.jsonl") rules," \
        "$(wc -l <"$out/requests.jsonl") requests"
    "$bench" --targets "$n" --run "$run" --json "$results" "${bench_args[@]}" "$out" 2>"$work/bench-$n.log" \
        || { status=1; echo "bench-c: N=$n: the engine disagrees with expected.jsonl" >&2; tail -20 "$work/bench-$n.log" >&2; }
    [ "${KEEP:-0}" = 1 ] || rm -rf "$out"
done

# ---- report -----------------------------------------------------------------------------------
echo
plot_args=(--results "$results" --run "$run")
if [ "$smoke" = 1 ]; then
    # CI need not have matplotlib: draw only when it is there.
    if python3 -c 'import matplotlib' 2>/dev/null; then
        plot_args+=(--out "$work/benchmarks-latency.png")
    else
        plot_args+=(--no-plot)
    fi
    plot_args+=(--check-correctness)
else
    if ! python3 -c 'import matplotlib' 2>/dev/null; then
        echo "bench-c: installing matplotlib (pip)"
        python3 -m pip install --quiet matplotlib 2>/dev/null \
            || python3 -m pip install --quiet --user matplotlib 2>/dev/null \
            || python3 -m pip install --quiet --break-system-packages matplotlib
    fi
    plot_args+=(--out "$root/docs/benchmarks-latency.png" --check-correctness)
fi
python3 scripts/plot-bench.py "${plot_args[@]}" || status=1
[ "$smoke" = 1 ] || echo "bench-c: results appended to Benchmarks/results/c-results.jsonl (run \"$run\")"
exit $status
