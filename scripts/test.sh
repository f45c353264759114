#!/usr/bin/env bash
# The test command (README.md; .ci/run runs exactly this): debug build, every unit test, then the
# release `smi` against the shared SMI conformance cases and the real-world manifests.
#
# The shared checks live in `shared/`, beside the repository checkout. Set SMI_SHARED to use
# another copy (a clean clone elsewhere finds it through its `origin` when that is a local path).
set -euo pipefail
cd "$(dirname "$0")/.."

find_shared() {
    local top origin
    if [ -n "${SMI_SHARED:-}" ]; then
        echo "$SMI_SHARED"
        return
    fi
    top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
    if [ -d "$top/../shared/conformance" ]; then
        echo "$top/../shared"
        return
    fi
    origin=$(git remote get-url origin 2>/dev/null || true)
    if [ -n "$origin" ] && [ -d "$origin/../shared/conformance" ]; then
        echo "$origin/../shared"
        return
    fi
    echo "$top/../shared"
}

shared=$(find_shared)
for checker in conformance/run.py realworld/check.py; do
    if [ ! -f "$shared/$checker" ]; then
        echo "test: $shared/$checker is missing: put the shared checks beside the checkout or set SMI_SHARED" >&2
        exit 1
    fi
done

failed=()
step() {
    echo
    echo "==> $*"
    if "$@"; then
        return 0
    fi
    failed+=("$*")
    return 1
}

scripts/setup.sh
step swift build || exit 1
step swift test || true
# The same suite under ThreadSanitizer (hot reload with 4 deciding threads and 1,000 swaps among
# it), in its own build folder.
step swift test --sanitize=thread --scratch-path .build-tsan || true
step swift build -c release --product smi || exit 1
step python3 "$shared/conformance/run.py" .build/release/smi || true
step python3 "$shared/realworld/check.py" .build/release/smi || true
# Compiled bundles (docs/BUNDLE.md): deterministic, and `smi eval --bundle` answers every
# conformance request exactly as `smi eval --policy` does.
step scripts/bundle-check.sh .build/release/smi "$shared/conformance/cases" || true
# The C ABI: library build and install, examples, hostile-argument tests under valgrind,
# ASan and TSan, and the C example against `smi eval` on the shared cases.
step env SMI_SHARED="$shared" scripts/test-c.sh || true
# Benchmarks, as smoke runs only (N = 10 and 100, a few iterations): they must keep building,
# decide correctly and allocate nothing per decision. Timing never gates CI.
step scripts/bench-smoke.sh || true
# Fuzzing, 20 s per target (four targets) (docs/FUZZING.md); the first build of Fuzz/ takes a few minutes.
step scripts/fuzz.sh loader 20 || true
step scripts/fuzz.sh decide 20 || true
step scripts/fuzz.sh program 20 || true
step scripts/fuzz.sh bundle 20 || true
step scripts/bench-c.sh --smoke || true
# The nginx module (examples/nginx): builds it against Debian nginx-dev and runs it over loopback.
step examples/nginx/test.sh || true
# The Hummingbird example service (its own package and .build under examples/swift-service):
# access middleware and policy reload over real HTTP on loopback. The slowest step on a clean
# machine (Hummingbird, SwiftNIO, swift-crypto are built from source).
step examples/swift-service/test.sh || true

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "test: FAILED:"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "test: all passed"
