#!/usr/bin/env bash
# Installs the C library of SMIEngine under PREFIX (default /usr/local):
#   PREFIX/lib/libsmiengine.so.0 (SONAME), PREFIX/lib/libsmiengine.so -> libsmiengine.so.0,
#   PREFIX/lib/libsmiengine.a, PREFIX/include/smi_engine.h, PREFIX/lib/pkgconfig/smiengine.pc.
# Builds with scripts/build-lib.sh first when the built library is missing or older than a source.
#
#   scripts/install.sh /opt/smi
#   export PKG_CONFIG_PATH=/opt/smi/lib/pkgconfig
#   cc app.c $(pkg-config --cflags --libs smiengine)                 # shared
#   cc app.c $(pkg-config --cflags smiengine) -Wl,-Bstatic -lsmiengine -Wl,-Bdynamic \
#       $(pkg-config --static --libs smiengine | sed 's/-lsmiengine//')  # libsmiengine.a
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
dist=.build-lib/dist

stale=0
if [ ! -f "$dist/libsmiengine.so.0" ] || [ ! -f "$dist/libsmiengine.a" ]; then
    stale=1
elif [ -n "$(find Sources include Package.swift -newer "$dist/libsmiengine.a" -type f 2>/dev/null | head -1)" ]; then
    stale=1
fi
[ "$stale" = 0 ] || scripts/build-lib.sh "$dist"

major=$(sed -n 's/^#define SMI_VERSION_MAJOR \([0-9]*\).*/\1/p' include/smi_engine.h)
minor=$(sed -n 's/^#define SMI_VERSION_MINOR \([0-9]*\).*/\1/p' include/smi_engine.h)
patch=$(sed -n 's/^#define SMI_VERSION_PATCH \([0-9]*\).*/\1/p' include/smi_engine.h)

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$dist/libsmiengine.so.0" "$prefix/lib/libsmiengine.so.0"
ln -sf libsmiengine.so.0 "$prefix/lib/libsmiengine.so"
install -m 0644 "$dist/libsmiengine.a" "$prefix/lib/libsmiengine.a"
install -m 0644 include/smi_engine.h "$prefix/include/smi_engine.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$major.$minor.$patch|" include/smiengine.pc.in \
    >"$prefix/lib/pkgconfig/smiengine.pc"
chmod 0644 "$prefix/lib/pkgconfig/smiengine.pc"
echo "install: libsmiengine $major.$minor.$patch installed under $prefix"
