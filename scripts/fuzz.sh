#!/usr/bin/env bash
# Builds and runs one libFuzzer target for SECONDS seconds (docs/FUZZING.md).
#
# usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET  loader   YAML/JSON bytes -> load + compile (FuzzEntries.loader)
#           decide   requests against fixed and generated policies (FuzzEntries.decisions)
#           program  edited bytecode programs -> Verifier + ExecutablePolicy (FuzzEntries.program)
#           bundle   bundle bytes -> BundleReader + Verifier + ExecutablePolicy, Swift and C loaders
#                    (FuzzEntries.bundle)
#
# The checked-in seeds (Fuzz/Corpus/TARGET) are read, never written: inputs libFuzzer finds go to
# Fuzz/.build/fuzz-TARGET/corpus, crashes to Fuzz/.build/fuzz-TARGET/artifacts. A crash stops the
# run with exit status 1; add the input to Fuzz/Corpus/TARGET so `swift test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    sed -n '2,14p' "$0" >&2
    exit 64
fi
target=$1
seconds=$2
shift 2
case "$target" in
loader) product=FuzzLoader max_len=16384 ;;
decide) product=FuzzDecide max_len=4096 ;;
program) product=FuzzProgram max_len=4096 ;;
bundle) product=FuzzBundle max_len=8192 ;;
*)
    echo "fuzz: unknown target '$target' (loader, decide, program, bundle)" >&2
    exit 64
    ;;
esac

# Release with coverage instrumentation (-sanitize=fuzzer) and ASan on every module, in the
# separate Fuzz package so that the main build never sees these flags.
(cd Fuzz && swift build -c release --sanitize=fuzzer --sanitize=address --product "$product")

work="Fuzz/.build/fuzz-$target"
mkdir -p "$work/corpus" "$work/artifacts"
# Leak checking is off: the Swift runtime's metadata caches and the fuzz targets' cached
# policies live until exit and would be reported after every run.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
exec "Fuzz/.build/release/$product" "$work/corpus" "Fuzz/Corpus/$target" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=20 -rss_limit_mb=3072 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$@"
