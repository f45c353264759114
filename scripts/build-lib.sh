#!/usr/bin/env bash
# Builds the deployable C library of SMIEngine into OUTDIR (default .build-lib/dist):
#
#   libsmiengine.so.0 (+ libsmiengine.so symlink)  SONAME libsmiengine.so.0; the Swift runtime and
#       libstdc++ are linked in (private, hidden), so at run time it needs only glibc (libc, libm,
#       ld-linux), libpcre2-8 and libyaml. Exports exactly the functions of include/smi_engine.h
#       (include/smi_engine.map).
#   libsmiengine.a  one relocatable object holding the package, the static Swift runtime,
#       libstdc++ and libgcc_eh, with every symbol but the header's functions made local. Link it
#       with: -lsmiengine -lpcre2-8 -lyaml -lm -lpthread -ldl (pkg-config --static smiengine).
#   smi_engine.h
#
# It builds in its own scratch folder (.build-lib) so that the static-runtime flags never reach
# the normal `swift build` / `swift test` (TOOLCHAIN.md pitfalls 3-6).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-.build-lib/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=.build-lib

swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
toolchain_lib=$(cd "$swift_bin/../lib" && pwd)
static_lib=$toolchain_lib/swift_static/linux
[ -d "$static_lib" ] || { echo "build-lib: no static Swift runtime at $static_lib" >&2; exit 1; }

# A folder that holds only libstdc++.a, searched before gcc's own folder, so that the plain
# -lstdc++ of Swift's static-stdlib-args.lnk picks the archive (TOOLCHAIN.md).
cxxdir=$root/$scratch/cxx
mkdir -p "$cxxdir"
ln -sf "$(g++ -print-file-name=libstdc++.a)" "$cxxdir/libstdc++.a"

# SwiftPM does not relink when only the version script changes (TOOLCHAIN.md pitfall 9).
built=$scratch/release/libsmiengine.so
if [ -f "$built" ] && [ include/smi_engine.map -nt "$built" ]; then rm -f "$built"; fi

echo "build-lib: swift build -c release --product smiengine (static Swift runtime)"
swift build -c release --product smiengine --scratch-path "$scratch" \
    -Xswiftc -static-stdlib -Xswiftc -L"$cxxdir" -Xlinker -lgcc_eh \
    -Xlinker --version-script="$root/include/smi_engine.map" \
    -Xlinker --no-undefined -Xlinker -soname=libsmiengine.so.0

cp "$built" "$out/libsmiengine.so.0"
ln -sf libsmiengine.so.0 "$out/libsmiengine.so"
cp include/smi_engine.h "$out/smi_engine.h"

# The static archive. The objects of every module the library is made of (CSMIEngine is the
# header's anchor), then the archives they need, resolved by `ld -r` into one object.
objects=()
for module in SMIEngineC SMIEngine SMIModel SMILoader SMICompiler SMIBytecode SMIRuntime SMIRegex CSMIEngine; do
    dir=$scratch/release/$module.build
    found=$(find "$dir" -maxdepth 1 -name '*.o' | sort)
    [ -n "$found" ] || { echo "build-lib: no objects in $dir" >&2; exit 1; }
    while IFS= read -r o; do objects+=("$o"); done <<<"$found"
done
# swiftrt.o registers the image's Swift metadata sections with the runtime at load time.
swiftrt=$static_lib/x86_64/swiftrt.o
[ -f "$swiftrt" ] || swiftrt=$(find "$static_lib" -name swiftrt.o | head -1)
work=$scratch/static
rm -rf "$work"
mkdir -p "$work"
combined=$work/smiengine.o
ld -r -o "$combined" "$swiftrt" "${objects[@]}" \
    --start-group \
    "$static_lib/libswiftCore.a" "$static_lib/libswiftSynchronization.a" "$static_lib/libswiftGlibc.a" \
    "$static_lib/libswift_Concurrency.a" "$static_lib/libdispatch.a" "$static_lib/libBlocksRuntime.a" \
    "$(g++ -print-file-name=libstdc++.a)" "$(gcc -print-file-name=libgcc_eh.a)" "$(gcc -print-file-name=libgcc.a)" \
    --end-group
grep -v '^[[:space:]]*\(/\*\|\*\|{\|}\|global:\|local:\|\*;\)' include/smi_engine.map \
    | tr -d ' ;' | grep '^smi_' >"$work/exports.txt"
objcopy --keep-global-symbols="$work/exports.txt" --remove-section=.swift1_autolink_entries \
    "$combined" "$work/smiengine-local.o"
rm -f "$out/libsmiengine.a"
ar rcs "$out/libsmiengine.a" "$work/smiengine-local.o"

echo "build-lib: $(cd "$out" && ls -l libsmiengine.so.0 libsmiengine.a | awk '{print $5, $9}' | tr '\n' ' ')in $out"
