#!/usr/bin/env bash
# Requests per second of nginx enforcing a 10,000-TrafficTarget policy with ngx_http_smi_module,
# against the same nginx configuration without the module, measured with wrk over loopback.
#
#   examples/nginx/bench.sh [RUNS] [SECONDS] [CONNECTIONS]      (defaults 5, 10, 32)
#
# The policy is `smi generate --targets 10000` (docs/BENCHMARKS.md). The request is the first one
# of its requests.jsonl that the policy allows through an HTTPRouteGroup match with a path regex
# (class http-path, outcome allow, method GET, an /api/ path), sent with its source in
# X-SMI-Source and its headers. Two nginx instances run at once, one worker process each,
# serving a 3-byte static file (try_files, so the access phase runs): A without the module,
# B with it (smi_access on). Runs alternate A, B, A, B, ... after a warm-up of each, and the
# script prints every run (requests/s, and the worker's CPU time per request from /proc) with the
# load average before it, then the medians, then (with perf) where the module's worker spends
# its CPU time.
# Every response must be 200 (wrk's non-2xx count is checked), and the request is first checked
# with curl: 200 from B, and 403 from B for the same request from another source.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-5}
seconds=${2:-10}
connections=${3:-32}
base=${SMI_NGINX_PORT:-18580}
port_plain=$base
port_smi=$((base + 1))
nginx=/usr/sbin/nginx

command -v wrk >/dev/null 2>&1 || {
    [ "$(id -u)" = 0 ] || { echo "bench: install wrk" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
"$here/build.sh" "$root/.build-nginx" >/dev/null
module=$root/.build-nginx/ngx_http_smi_module.so

smi=$root/.build/release/smi
[ -x "$smi" ] || (cd "$root" && swift build -c release --product smi >/dev/null)
mesh=$root/.build-nginx/mesh-10000
[ -f "$mesh/expected.jsonl" ] || "$smi" generate --targets 10000 --out "$mesh" 2>/dev/null

# source destination port path header-lines, of the chosen request
read -r source destination port path headers < <(python3 - "$mesh" <<'PY'
import json, sys
d = sys.argv[1]
for req, exp in zip(open(d + "/requests.jsonl"), open(d + "/expected.jsonl")):
    req, exp = json.loads(req), json.loads(exp)
    if (exp["class"] == "http-path" and exp["outcome"] == "allow" and req["method"] == "GET"
            and req["path"].startswith("/api/")):
        hs = "|".join(f"{k}: {v}" for k, v in req.get("headers", {}).items())
        print(req["source"], req["destination"], req["port"], req["path"], hs.replace(" ", "~"))
        break
PY
)
header_args=()
IFS='|' read -r -a hs <<<"${headers//\~/ }"
for h in "${hs[@]}"; do [ -n "$h" ] && header_args+=(-H "$h"); done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smi-nginx-bench.XXXXXX")
chmod 755 "$tmp"
cleanup() {
    local name pid
    for name in plain smi; do
        if [ -f "$tmp/$name/nginx.pid" ]; then
            pid=$(cat "$tmp/$name/nginx.pid")
            kill -QUIT "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/www"
printf 'ok\n' >"$tmp/www/ok.txt"
chmod -R a+rX "$tmp/www"
write_conf() { # NAME PORT LOAD_LINE HTTP_LINES SERVER_LINES
    mkdir -p "$tmp/$1/temp"
    cat >"$tmp/$1/nginx.conf" <<EOF
$3
worker_processes 1;
pid $tmp/$1/nginx.pid;
error_log $tmp/$1/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/$1/temp/body;
    proxy_temp_path $tmp/$1/temp/proxy;
    fastcgi_temp_path $tmp/$1/temp/fastcgi;
    uwsgi_temp_path $tmp/$1/temp/uwsgi;
    scgi_temp_path $tmp/$1/temp/scgi;
    keepalive_requests 1000000;
    $4
    server {
        listen 127.0.0.1:$2;
        $5
        location / { root $tmp/www; try_files /ok.txt =404; }
    }
}
EOF
}
write_conf plain "$port_plain" "" "" ""
write_conf smi "$port_smi" "load_module $module;" "smi_policy $mesh/policy;" \
    "smi_access on; smi_source \$http_x_smi_source; smi_destination $destination; smi_port $port;"

start=$(date +%s.%N)
"$nginx" -p "$tmp/plain" -c "$tmp/plain/nginx.conf" -e "$tmp/plain/error.log"
"$nginx" -p "$tmp/smi" -c "$tmp/smi/nginx.conf" -e "$tmp/smi/error.log"
echo "bench: both nginx started in $(echo "$(date +%s.%N) - $start" | bc) s (policy compile included)"

url_plain="http://127.0.0.1:$port_plain$path"
url_smi="http://127.0.0.1:$port_smi$path"
for _ in $(seq 50); do curl -s -o /dev/null "$url_plain" && curl -s -o /dev/null "$url_smi" && break; sleep 0.1; done
allowed=$(curl -s -o /dev/null -w '%{http_code}' -H "X-SMI-Source: $source" "${header_args[@]}" "$url_smi")
denied=$(curl -s -o /dev/null -w '%{http_code} %header{x-smi-deny-reason}' -H "X-SMI-Source: nobody/stranger" \
    "${header_args[@]}" "$url_smi")
echo "bench: request GET $path from $source to $destination port $port (headers: $(printf '%s; ' "${hs[@]}"))"
echo "bench: curl through the module: $allowed for $source, $denied for nobody/stranger"
[ "$allowed" = 200 ] && [ "${denied%% *}" = 403 ] || { echo "bench: the module does not decide as expected" >&2; exit 1; }

# The worker's CPU time (user + system, clock ticks) from /proc: CPU time per request is less
# disturbed by other processes on the machine than requests per second.
worker_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
worker_of() { pgrep -P "$(cat "$tmp/$1/nginx.pid")" | head -1; }
tick=$(getconf CLK_TCK)
wrk_run() { # URL CONFIG -> prints "requests/s worker-CPU-us-per-request"; fails on any non-2xx response
    local out worker t0 t1 n
    worker=$(worker_of "$2")
    t0=$(worker_ticks "$worker")
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" -H "X-SMI-Source: $source" "${header_args[@]}" "$1")
    t1=$(worker_ticks "$worker")
    if grep -q "Non-2xx" <<<"$out"; then echo "bench: non-2xx responses: $out" >&2; return 1; fi
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(echo "scale=2; ($t1 - $t0) * 1000000 / $tick / $n" | bc)"
}
echo "bench: warm-up"
seconds_saved=$seconds
seconds=3
wrk_run "$url_plain" plain >/dev/null
wrk_run "$url_smi" smi >/dev/null
seconds=$seconds_saved

echo "bench: $runs runs of wrk -t1 -c$connections -d${seconds}s each, alternating"
printf '%-4s %-16s %12s %14s  %s\n' run config "requests/s" "worker us/req" "load average (1/5/15 min) before"
plain=()
with=()
plain_cpu=()
with_cpu=()
for i in $(seq "$runs"); do
    for config in plain smi; do
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        if [ $config = plain ]; then
            read -r r c < <(wrk_run "$url_plain" plain)
            plain+=("$r")
            plain_cpu+=("$c")
            label="without module"
        else
            read -r r c < <(wrk_run "$url_smi" smi)
            with+=("$r")
            with_cpu+=("$c")
            label="smi_access on"
        fi
        printf '%-4s %-16s %12s %14s  %s\n' "$i" "$label" "$r" "$c" "$load"
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mp=$(median "${plain[@]}")
mw=$(median "${with[@]}")
cp_=$(median "${plain_cpu[@]}")
cw=$(median "${with_cpu[@]}")
echo "median without module: $mp requests/s, worker $cp_ us CPU per request"
echo "median smi_access on:  $mw requests/s, worker $cw us CPU per request"
python3 -c "import sys; p, w, cp, cw = map(float, sys.argv[1:]); print(f'requests/s ratio {w / p:.3f}; worker CPU per request {cw - cp:+.2f} us ({cw / cp:.3f}x)')" \
    "$mp" "$mw" "$cp_" "$cw"

# A measure the other agents' load disturbs less: where the module's worker spends its CPU time,
# sampled with perf during one more run (when perf is installed and allowed).
if command -v perf >/dev/null 2>&1; then
    worker=$(worker_of smi)
    wrk -t1 -c"$connections" -d8s -H "X-SMI-Source: $source" "${header_args[@]}" "$url_smi" >/dev/null &
    wrk_pid=$!
    sleep 1
    if perf record -q -p "$worker" -o "$tmp/perf.data" -- sleep 5 >/dev/null 2>&1; then
        echo "bench: the module's worker under wrk, share of its CPU samples per object (perf, 5 s):"
        perf report -i "$tmp/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8
    fi
    wait "$wrk_pid"
fi
