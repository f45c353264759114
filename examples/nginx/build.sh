#!/usr/bin/env bash
# Builds ngx_http_smi_module.so for Debian's nginx (package nginx-light/nginx-core 1.22) from
# Debian's nginx-dev tree, linking libsmiengine through its C ABI.
#
#   examples/nginx/build.sh [OUTDIR]        (default: .build-nginx in the repository)
#
# OUTDIR/ngx_http_smi_module.so is the module: `load_module OUTDIR/ngx_http_smi_module.so;`.
#
# Environment:
#   SMI_PREFIX  an installed libsmiengine (scripts/install.sh PREFIX); default: installs into
#               OUTDIR/prefix, building the library with scripts/build-lib.sh when it is stale.
#   SMI_LINK    static (default): libsmiengine.a is linked into the module, which then needs only
#               glibc, libpcre2-8 and libyaml at run time; shared: -lsmiengine with an rpath to
#               SMI_PREFIX/lib.
#
# How: nginx-dev ships /usr/share/nginx/src (auto/, configure, src/) and conf_flags, the
# configure flags Debian's nginx was built with. A copy of that tree is configured with those
# flags (--with-compat makes the module's signature match /usr/sbin/nginx) plus
# --add-dynamic-module=examples/nginx, then `make -f objs/Makefile modules` builds the module only.
# Configuring runs once per OUTDIR; later builds only recompile the module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/.build-nginx}
mkdir -p "$out"
out=$(cd "$out" && pwd)
link=${SMI_LINK:-static}
src=/usr/share/nginx/src

need=()
[ -f "$src/conf_flags" ] || need+=(nginx-dev)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
for tool in gcc:gcc make:make pkg-config:pkg-config; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "build: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "build: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- libsmiengine --------------------------------------------------------------------------------
prefix=${SMI_PREFIX:-$out/prefix}
if [ -z "${SMI_PREFIX:-}" ]; then
    "$root/scripts/install.sh" "$prefix" >/dev/null
fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
incs=$(pkg-config --variable=includedir smiengine)
libdir=$(pkg-config --variable=libdir smiengine)
case $link in
static)
    # The archive is one relocatable, position-independent object with the Swift runtime and
    # libstdc++ inside and only smi_* global, so it links into a shared module.
    libs="$libdir/libsmiengine.a $(pkg-config --static --libs-only-l smiengine | sed 's/-lsmiengine//')"
    ;;
shared)
    libs="-L$libdir -lsmiengine -Wl,-rpath,$libdir"
    ;;
*)
    echo "build: SMI_LINK must be static or shared, not $link" >&2
    exit 64
    ;;
esac
# The Swift runtime inside must never be unloaded: nginx dlclose()s a module when a reload
# drops its load_module line, and a runtime cannot be unloaded safely.
libs="$libs -Wl,-z,nodelete"

# ---- nginx's build tree --------------------------------------------------------------------------
tree=$out/nginx-src
stamp="$(cat "$src/conf_flags") | $libs | $incs | $(sha1sum "$here/config" | cut -c1-40)"
if [ ! -f "$tree/objs/Makefile" ] || [ "$(cat "$tree/.smi-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "build: configuring a copy of $src"
    rm -rf "$tree"
    cp -R "$src" "$tree"
    # shellcheck disable=SC1091
    . "$src/conf_flags" # NGX_CONF_FLAGS=( ... )
    (
        cd "$tree"
        SMI_MODULE_INCS=$incs SMI_MODULE_LIBS=$libs ./configure "${NGX_CONF_FLAGS[@]}" \
            --with-cc-opt="-g -O2 -fPIC -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2" \
            --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
            --add-dynamic-module="$here" >"$out/configure.log" 2>&1
    ) || { tail -n 30 "$out/configure.log" >&2; exit 1; }
    echo "$stamp" >"$tree/.smi-stamp"
fi

echo "build: make -f objs/Makefile modules ($link libsmiengine)"
make -C "$tree" -f objs/Makefile modules >"$out/make.log" 2>&1 || { tail -n 40 "$out/make.log" >&2; exit 1; }
install -m 0644 "$tree/objs/ngx_http_smi_module.so" "$out/ngx_http_smi_module.so"
echo "build: $out/ngx_http_smi_module.so ($(stat -c %s "$out/ngx_http_smi_module.so") bytes)"
