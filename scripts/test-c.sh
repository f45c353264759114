#!/usr/bin/env bash
# The C ABI from the outside: installs libsmiengine into a temporary prefix (scripts/install.sh),
# builds the C and C++ examples and tests/c with pkg-config, and runs:
#
#   exports       the .so exports exactly the functions smi_engine.h declares
#   header-*      the header alone under strict C11 and C++17 (gcc, and clang when present)
#   arg_checks    every entry point with bad arguments: plainly, under valgrind (no definite leak,
#                 no invalid access), and built with -fsanitize=address,undefined
#   bypass       public path/header authorization bypasses (CVE-2019-9901, CVE-2021-29492,
#                CVE-2021-31920, NUL, overlong UTF-8, ...) table-driven, raw bytes, under ASan
#   smi-reload    4 deciding threads while the holder is swapped 1000 times; also under TSan
#   smi-example   the C++ wrapper example (also under valgrind)
#   conformance   smi-decide against `smi eval` on every shared conformance case plus
#                 tests/c/extra-requests.jsonl, answer by answer (tests/c/compare_eval.py)
#   no-toolchain  ldd shows no Swift toolchain path and no libswift*; runs with a bare environment
#   static        programs linked with libsmiengine.a
#
# usage: scripts/test-c.sh        (KEEP=1 keeps the work folder; SMI_SHARED as for scripts/test.sh)
# Prints ok/FAIL per check and `N passed, N failed`; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# ---- tools (a clean CI machine may lack some) ------------------------------------------------
missing=()
for tool in gcc:gcc g++:g++ make:make pkg-config:pkg-config valgrind:valgrind python3:python3 nm:binutils \
    readelf:binutils; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-c: installing ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "test-c: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

find_shared() {
    local top origin
    if [ -n "${SMI_SHARED:-}" ]; then echo "$SMI_SHARED"; return; fi
    top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
    if [ -d "$top/../shared/conformance" ]; then echo "$top/../shared"; return; fi
    origin=$(git remote get-url origin 2>/dev/null || true)
    if [ -n "$origin" ] && [ -d "$origin/../shared/conformance" ]; then echo "$origin/../shared"; return; fi
    echo "$top/../shared"
}
shared=$(find_shared)

work=$(mktemp -d "${TMPDIR:-/tmp}/smi-test-c.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "test-c: work folder $work"; else trap 'rm -rf "$work"' EXIT; fi
prefix=$work/prefix
bin=$work/bin
logs=$work/logs
mkdir -p "$bin" "$logs"

passed=0
failed=0
failures=()
# check NAME COMMAND...: runs COMMAND, its output in $logs/NAME.log; prints ok or FAIL (+ the log's end).
check() {
    local name=$1
    shift
    if "$@" >"$logs/$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name"
        tail -n 40 "$logs/$name.log" | sed 's/^/     /'
    fi
}
finish() {
    echo
    [ ${#failures[@]} -eq 0 ] || echo "test-c: failed: ${failures[*]}"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

# ---- the library ---------------------------------------------------------------------------------
echo "test-c: installing libsmiengine into $prefix"
check install scripts/install.sh "$prefix"
if [ ! -f "$prefix/lib/pkgconfig/smiengine.pc" ]; then finish; fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
unset LD_LIBRARY_PATH
rpath="-Wl,-rpath,$prefix/lib"
cflags="$(pkg-config --cflags smiengine)"
libs="$(pkg-config --libs smiengine) $rpath"
strict_c="-std=c11 -Wall -Wextra -Werror -pedantic"
strict_cxx="-std=c++17 -Wall -Wextra -Werror -pedantic"

version_matches() {
    local want
    want=$(sed -n 's/^#define SMI_VERSION_STRING "\(.*\)"/\1/p' include/smi_engine.h)
    echo "pkg-config: $(pkg-config --modversion smiengine), header: $want"
    [ "$(pkg-config --modversion smiengine)" = "$want" ]
}
check pkg-config version_matches

# The .so exports exactly the header's functions (STYLE.md habit 7).
exports_match() {
    grep -E '^[A-Za-z_][A-Za-z0-9_ ]*[ *]smi_[a-z0-9_]+\(' include/smi_engine.h | sed -E 's/^.*[ *](smi_[a-z0-9_]+)\(.*$/\1/' \
        | sort -u >"$work/declared.txt"
    nm -D --defined-only --extern-only "$prefix/lib/libsmiengine.so" | awk 'NF == 3 {print $3}' | sed 's/@.*//' \
        | sort -u >"$work/exported.txt"
    echo "declared $(wc -l <"$work/declared.txt"), exported $(wc -l <"$work/exported.txt")"
    diff "$work/declared.txt" "$work/exported.txt"
}
check exports exports_match

# Memcheck: no invalid access, no definite leak (the Swift runtime keeps some memory reachable).
valgrind_memcheck() {
    valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
        --suppressions="$root/tests/c/valgrind.supp" "$@"
}

# ---- building --------------------------------------------------------------------------------
check header-c-gcc sh -c "gcc $strict_c $cflags -o '$bin/header_c' tests/c/header_c.c $libs && '$bin/header_c'"
check header-cpp-gcc sh -c "g++ $strict_cxx $cflags -o '$bin/header_cpp' tests/c/header_cpp.cpp $libs && '$bin/header_cpp'"
if command -v clang >/dev/null 2>&1; then
    check header-c-clang clang $strict_c $cflags -c -o "$work/header_c.o" tests/c/header_c.c
fi
if command -v clang++ >/dev/null 2>&1; then
    check header-cpp-clang clang++ $strict_cxx $cflags -c -o "$work/header_cpp.o" tests/c/header_cpp.cpp
fi

# The complete example of docs/C-API.md compiles, runs clean and prints what the page says.
docs_example() {
    awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' docs/C-API.md >"$work/doc-example.c"
    gcc $strict_c $cflags -o "$bin/doc-example" "$work/doc-example.c" $libs &&
        valgrind_memcheck "$bin/doc-example" | tee "$work/doc-example.out" &&
        grep -qx "allowed by shop/frontend-to-orders, match read" "$work/doc-example.out"
}

# The examples build with their own Makefiles, as a user would build them (in a copy).
cp -R examples/c "$work/examples-c"
cp -R examples/cpp "$work/examples-cpp"
rm -f "$work"/examples-c/smi-decide "$work"/examples-c/smi-reload "$work"/examples-cpp/smi-example
check make-examples-c make -C "$work/examples-c" LDFLAGS="$rpath"
check make-examples-cpp make -C "$work/examples-cpp" LDFLAGS="$rpath"
decide=$work/examples-c/smi-decide
reload=$work/examples-c/smi-reload
example=$work/examples-cpp/smi-example

build_c() { # OUTPUT EXTRA_FLAGS SOURCES...
    local out=$1 extra=$2
    shift 2
    gcc -std=c11 -Wall -Wextra -Werror -O1 -g $extra $cflags -o "$out" "$@" $libs
}
check build-arg_checks build_c "$bin/arg_checks" "" tests/c/arg_checks.c
check build-arg_checks-asan build_c "$bin/arg_checks-asan" "-fsanitize=address,undefined -fno-omit-frame-pointer" \
    tests/c/arg_checks.c
check build-smi-decide-asan build_c "$bin/smi-decide-asan" "-fsanitize=address,undefined -fno-omit-frame-pointer" \
    examples/c/smi-decide.c examples/c/json.c
check build-smi-reload-tsan build_c "$bin/smi-reload-tsan" "-fsanitize=thread -pthread" examples/c/smi-reload.c

# ---- running ---------------------------------------------------------------------------------
check docs-example docs_example
check arg_checks "$bin/arg_checks"
check build-bypass build_c "$bin/bypass" "-fsanitize=address,undefined -fno-omit-frame-pointer" tests/c/bypass.c
check bypass env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$bin/bypass"
check arg_checks-valgrind valgrind_memcheck "$bin/arg_checks"
check arg_checks-asan env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin/arg_checks-asan"

check smi-example "$example"
check smi-example-valgrind valgrind_memcheck "$example"
check smi-reload "$reload" 1000
check smi-reload-tsan env TSAN_OPTIONS="suppressions=$root/tests/c/tsan.supp halt_on_error=1 exitcode=66" \
    "$bin/smi-reload-tsan" 1000

# smi-decide on one case and the hostile lines: under valgrind and ASan, the same answers.
case01=$shared/conformance/cases/01-seed-v1alpha1
requests=$work/requests.jsonl
if [ -f "$case01/cases.jsonl" ]; then
    python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.strip() and "request" in json.loads(l):
        r = json.loads(l)["request"]
        if r.pop("samples", None): r["entropy"] = 7
        print(json.dumps(r))
' "$case01/cases.jsonl" >"$requests"
    grep -av '^#' tests/c/extra-requests.jsonl >>"$requests"
    "$decide" "$case01/policy.yaml" <"$requests" >"$work/answers.jsonl" 2>"$logs/answers.err"
    check smi-decide-valgrind sh -c "valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
        --suppressions='$root/tests/c/valgrind.supp' '$decide' '$case01/policy.yaml' <'$requests' >'$work/vg.jsonl' \
        && cmp '$work/answers.jsonl' '$work/vg.jsonl'"
    check smi-decide-asan sh -c "'$bin/smi-decide-asan' '$case01/policy.yaml' <'$requests' >'$work/asan.jsonl' \
        && cmp '$work/answers.jsonl' '$work/asan.jsonl'"
else
    echo "FAIL smi-decide-valgrind: no conformance cases at $shared/conformance"
    failed=$((failed + 1))
    failures+=(conformance-cases-missing)
fi

# smi-decide against `smi eval`, answer by answer, on every shared case.
smi=${SMI:-.build/release/smi}
if [ -z "${SMI:-}" ]; then
    check build-smi swift build -c release --product smi
fi
cases=()
for dir in "$shared"/conformance/cases/*/; do [ -f "$dir/cases.jsonl" ] && cases+=("$dir"); done
if [ ${#cases[@]} -gt 0 ] && [ -x "$smi" ]; then
    check conformance python3 tests/c/compare_eval.py "$smi" "$decide" tests/c/extra-requests.jsonl "${cases[@]}"
    grep -E 'answers compared|^FAIL|^ok' "$logs/conformance.log" | sed 's/^/     /'
else
    echo "FAIL conformance: no cases under $shared/conformance/cases or no $smi"
    failed=$((failed + 1))
    failures+=(conformance)
fi

# ---- no toolchain at run time ----------------------------------------------------------------
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift 2>/dev/null || echo /nonexistent/usr/bin/swift)")")")")
no_toolchain() {
    local file
    echo "toolchain: $toolchain"
    for file in "$decide" "$prefix/lib/libsmiengine.so.0"; do
        echo "== ldd $file"
        ldd "$file" | tee "$work/ldd.txt"
        if grep -q "not found" "$work/ldd.txt"; then echo "unresolved library"; return 1; fi
        if grep -q "libswift" "$work/ldd.txt"; then echo "needs a Swift runtime library"; return 1; fi
        if [ "$toolchain" != / ] && grep -qF "$toolchain" "$work/ldd.txt"; then echo "loads from the toolchain"; return 1; fi
    done
    echo "== readelf -d libsmiengine.so.0"
    readelf -d "$prefix/lib/libsmiengine.so.0" | grep -E 'NEEDED|RPATH|RUNPATH|SONAME' | tee "$work/dyn.txt"
    if [ "$toolchain" != / ] && grep -qF "$toolchain" "$work/dyn.txt"; then echo "RUNPATH names the toolchain"; return 1; fi
    if grep -q "libswift" "$work/dyn.txt"; then echo "NEEDED names a Swift library"; return 1; fi
    # A bare environment: no LD_LIBRARY_PATH, a PATH without the toolchain.
    env -i PATH=/usr/bin:/bin "$decide" "$case01/policy.yaml" <"$requests" >"$work/bare.jsonl" &&
        cmp "$work/answers.jsonl" "$work/bare.jsonl" &&
        env -i PATH=/usr/bin:/bin "$bin/arg_checks" || return 1
    # The toolchain moved away for real: an empty tmpfs over it, in a private mount namespace.
    if [ "$toolchain" != / ] && unshare --mount true 2>/dev/null; then
        echo "== with $toolchain hidden"
        unshare --mount sh -c "mount -t tmpfs none '$toolchain' && test ! -e '$toolchain/usr/bin/swift' &&
            env -i PATH=/usr/bin:/bin '$decide' '$case01/policy.yaml' <'$requests' >'$work/hidden.jsonl'" &&
            cmp "$work/answers.jsonl" "$work/hidden.jsonl" && echo "same answers with the toolchain hidden"
    else
        echo "cannot make a private mount namespace here; checked ldd and a bare environment only"
    fi
}
check no-toolchain no_toolchain

# ---- the static library ----------------------------------------------------------------------
if [ -f "$prefix/lib/libsmiengine.a" ]; then
    static_libs="$(pkg-config --static --libs-only-l smiengine | sed 's/-lsmiengine//')"
    check build-static sh -c "gcc -std=c11 -Wall -Wextra -Werror -O1 $cflags -o '$bin/arg_checks-static' \
            tests/c/arg_checks.c '$prefix/lib/libsmiengine.a' $static_libs &&
        gcc -std=c11 -Wall -Wextra -Werror -O1 $cflags -o '$bin/smi-decide-static' examples/c/smi-decide.c \
            examples/c/json.c '$prefix/lib/libsmiengine.a' $static_libs"
    static_runs() {
        ldd "$bin/smi-decide-static"
        if ldd "$bin/smi-decide-static" | grep -E 'libsmiengine|libswift'; then return 1; fi
        env -i PATH=/usr/bin:/bin "$bin/arg_checks-static" &&
            env -i PATH=/usr/bin:/bin "$bin/smi-decide-static" "$case01/policy.yaml" <"$requests" >"$work/static.jsonl" &&
            cmp "$work/answers.jsonl" "$work/static.jsonl"
    }
    check static static_runs
else
    echo "skip static: no libsmiengine.a installed"
fi

finish
