#!/usr/bin/env bash
# End-to-end test of ngx_http_smi_module with the real nginx over loopback (CI runs it from
# scripts/test.sh). It builds libsmiengine and the module (examples/nginx/build.sh), starts nginx
# from a temporary prefix on 127.0.0.1 high ports (SMI_NGINX_PORT, default 18480, and the next
# five), with stub upstreams served by the same nginx, and checks:
#
#   allow          allowed requests reach the upstream (ServiceAccount and SPIFFE sources,
#                  header match, engine-side path normalization of the raw URI)
#   deny-*         403 + X-SMI-Deny-Reason for every deny reason reachable over HTTP:
#                  path-rejected, no-traffic-target, source-not-allowed, port-not-allowed,
#                  no-route-matched, regex-budget-exceeded (and the module's no-identity)
#   port           the destination port defaults to the server's port; smi_port overrides it
#   split          1,000 requests through proxy_pass http://$smi_backend: the observed share of
#                  website-v2 is within 5 binomial standard deviations of the weights (80/20)
#   sticky         smi_split with a key sends one key to one backend
#   access-log     $smi_decision, $smi_reason, $smi_traffic_target, $smi_match, $smi_path,
#                  $smi_backend, $smi_traffic_split in the access log
#   nginx-t        a policy that does not compile fails `nginx -t` with FILE:LINE:COLUMN
#   reload-broken  `nginx -s reload` with that policy fails in the error log, the workers stay,
#                  the old policy keeps answering
#   reload-ok      a reload with a valid new policy puts it in force
#   bundle         smi_policy loads a bundle from `smi compile`; a truncated bundle fails nginx -t
#                  ("bundle is truncated") and a reload to it leaves the bundle's policy answering
#
# usage: examples/nginx/test.sh        (KEEP=1 keeps the temporary folder; SMI_NGINX_BUILD=DIR
#        builds into DIR instead of .build-nginx; SMI_LINK=shared as for build.sh)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -f /usr/share/nginx/src/conf_flags ] || need+=(nginx-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "test-nginx: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "test-nginx: installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || exit 1
fi
nginx=/usr/sbin/nginx

build=${SMI_NGINX_BUILD:-$root/.build-nginx}
"$here/build.sh" "$build" || exit 1
module=$build/ngx_http_smi_module.so

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smi-nginx-test.XXXXXX")
chmod 755 "$tmp" # workers run as nobody when the master is root
stop_nginx() {
    if [ -f "$tmp/nginx.pid" ]; then
        local pid
        pid=$(cat "$tmp/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        rm -f "$tmp/nginx.pid"
    fi
}
cleanup() {
    stop_nginx
    if [ "${KEEP:-0}" = 1 ]; then echo "test-nginx: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

base=${SMI_NGINX_PORT:-18480}
port_main=$base      # enforces shop/orders, shop/payments, shop/ghost
port_pay=$((base + 1)) # shop/payments, standing for the pod port 8443 (smi_port)
port_split=$((base + 2))
port_v1=$((base + 3))
port_v2=$((base + 4))
port_app=$((base + 5))

mkdir -p "$tmp/policy" "$tmp/temp"
cp "$here/policies/mesh.yaml" "$tmp/policy/mesh.yaml"
cat >"$tmp/nginx.conf" <<EOF
load_module $module;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/error.log notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $tmp/temp/body;
    proxy_temp_path $tmp/temp/proxy;
    fastcgi_temp_path $tmp/temp/fastcgi;
    uwsgi_temp_path $tmp/temp/uwsgi;
    scgi_temp_path $tmp/temp/scgi;

    smi_policy $tmp/policy;
    log_format smi '\$request_uri \$status decision=\$smi_decision reason=\$smi_reason '
                   'target=\$smi_traffic_target match=\$smi_match path=\$smi_path '
                   'backend=\$smi_backend split=\$smi_traffic_split';

    upstream app { server 127.0.0.1:$port_app; keepalive 4; }
    # one upstream per TrafficSplit backend, named as \$smi_backend spells it (name.namespace)
    upstream website-v1.shop { server 127.0.0.1:$port_v1; keepalive 4; }
    upstream website-v2.shop { server 127.0.0.1:$port_v2; keepalive 4; }

    server { listen 127.0.0.1:$port_v1; location / { return 200 "backend-v1\n"; } }
    server { listen 127.0.0.1:$port_v2; location / { return 200 "backend-v2\n"; } }
    server { listen 127.0.0.1:$port_app; location / { return 200 "app \$request_uri\n"; } }

    # The protected workloads: the caller's identity comes from a header an mTLS terminator sets.
    server {
        listen 127.0.0.1:$port_main;
        access_log $tmp/access.log smi;
        smi_access on;
        smi_source \$http_x_smi_source;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { smi_destination shop/orders; proxy_pass http://app; }
        location /payments/ { smi_destination shop/payments; proxy_pass http://app; }
        location /ghost/ { smi_destination shop/ghost; proxy_pass http://app; }
    }
    server {
        listen 127.0.0.1:$port_pay;
        access_log $tmp/access.log smi;
        smi_access on;
        smi_source \$http_x_smi_source;
        smi_destination shop/payments;
        smi_port 8443;
        location / { proxy_pass http://app; }
    }

    # The client side: a canary split of shop/website.
    server {
        listen 127.0.0.1:$port_split;
        access_log $tmp/split.log smi;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { smi_split shop/website; proxy_pass http://\$smi_backend; }
        location /sticky/ { smi_split shop/website \$http_x_user; proxy_pass http://\$smi_backend; }
    }
}
EOF

passed=0
failed=0
failures=()
result() { # NAME STATUS DETAIL
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $1${3:+ ($3)}"
    else
        failed=$((failed + 1))
        failures+=("$1")
        echo "FAIL $1${3:+: $3}"
    fi
}

# request PORT PATH [curl args...]: prints "STATUS DENY_REASON BODY" of one request.
request() {
    local port=$1 path=$2
    shift 2
    curl -sS --path-as-is -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@" "http://127.0.0.1:$port$path" \
        >"$tmp/status" 2>"$tmp/curl.err" || { echo "curl-failed $(cat "$tmp/curl.err")"; return; }
    local reason
    reason=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Xx]-[Ss][Mm][Ii]-[Dd]eny-[Rr]eason: //p')
    echo "$(cat "$tmp/status") ${reason:--} $(tr -d '\n' <"$tmp/body" | head -c 60)"
}
# expect NAME WANT PORT PATH [curl args...]: WANT is "200" or "403 REASON".
expect() {
    local name=$1 want=$2
    shift 2
    local got
    got=$(request "$@")
    case $want in
    200) [ "${got%% *}" = 200 ] && [[ $got == *"app "* ]] ;;
    *) [[ $got == "$want "* ]] ;;
    esac
    result "$name" $? "$got"
}
frontend=(-H "X-SMI-Source: shop/frontend")

# ---- start ---------------------------------------------------------------------------------------
if ! "$nginx" -t -p "$tmp" -c "$tmp/nginx.conf" -e stderr >"$tmp/t.out" 2>&1; then
    cat "$tmp/t.out"
    result nginx-t-valid 1 "the valid configuration does not pass nginx -t"
    exit 1
fi
"$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" || { cat "$tmp/error.log"; exit 1; }
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port_app/" && break
    sleep 0.1
done
grep -q 'smi_policy: policy loaded' "$tmp/error.log"
result policy-loaded $? "$(grep -c 'smi_policy:.*warning' "$tmp/error.log") warning line(s) in the error log"

# ---- access ----------------------------------------------------------------------------------------
expect allow-read 200 "$port_main" /orders/12 "${frontend[@]}"
expect allow-spiffe 200 "$port_main" '/orders/12?x=1' -H "X-SMI-Source: spiffe://cluster.local/ns/shop/sa/frontend"
expect allow-create 200 "$port_main" /orders -X POST "${frontend[@]}"
expect allow-header-match 200 "$port_main" /admin/users "${frontend[@]}" -H "X-Role: admin"
# the engine normalizes the raw target: a dot segment and encoded unreserved characters
expect allow-normalized 200 "$port_main" '/x/../orders/%31%32' "${frontend[@]}"
expect deny-path-rejected "403 path-rejected" "$port_main" '/orders/12/..%2F..%2Fadmin' "${frontend[@]}"
expect deny-no-traffic-target "403 no-traffic-target" "$port_main" /ghost/1 "${frontend[@]}"
expect deny-source-not-allowed "403 source-not-allowed" "$port_main" /orders/12 -H "X-SMI-Source: shop/stranger"
expect deny-no-route-matched "403 no-route-matched" "$port_main" /admin/users "${frontend[@]}"
expect deny-no-route-method "403 no-route-matched" "$port_main" /orders/12 -X DELETE "${frontend[@]}"
expect deny-regex-budget-exceeded "403 regex-budget-exceeded" "$port_main" "/slow/$(printf 'a%.0s' $(seq 40))b" \
    "${frontend[@]}"
expect deny-no-identity "403 no-identity" "$port_main" /orders/12
# port: the server's own port by default, smi_port where the listener stands for another port
expect deny-port-not-allowed "403 port-not-allowed" "$port_main" /payments/1 "${frontend[@]}"
expect allow-port-smi_port 200 "$port_pay" /payments/1 "${frontend[@]}"

# ---- split -----------------------------------------------------------------------------------------
split_check() {
    local n=1000 v1 v2
    curl -sS "http://127.0.0.1:$port_split/checkout?n=[1-$n]" >"$tmp/split.out" 2>"$tmp/curl.err" || return 1
    v1=$(grep -c '^backend-v1$' "$tmp/split.out")
    v2=$(grep -c '^backend-v2$' "$tmp/split.out")
    # weight 20 of 100: mean n*p, tolerance 5 standard deviations sqrt(n*p*(1-p))
    python3 - "$n" "$v1" "$v2" <<'PY'
import math, sys
n, v1, v2 = map(int, sys.argv[1:])
p = 0.2
sd = math.sqrt(n * p * (1 - p))
ok = v1 + v2 == n and abs(v2 - n * p) <= 5 * sd
print(f"website-v1 {v1}, website-v2 {v2} of {n}; want v2 = {n*p:.0f} +- {5*sd:.0f}")
sys.exit(0 if ok else 1)
PY
}
out=$(split_check 2>&1)
result split $? "$out"

# 40 users, 10 requests each: every user always lands on one backend, and (the keys being hashed)
# both backends get users.
sticky_check() {
    local user answers
    for user in $(seq 1 40); do
        answers=$(curl -sS "http://127.0.0.1:$port_split/sticky/?n=[1-10]" -H "X-User: user-$user" | sort -u)
        [ "$(echo "$answers" | wc -l)" = 1 ] || { echo "user-$user got: $answers"; return 1; }
        echo "$answers"
    done >"$tmp/sticky.out"
    sort "$tmp/sticky.out" | uniq -c | tr -s ' \n' ' '
    [ "$(sort -u "$tmp/sticky.out" | wc -l)" = 2 ]
}
out=$(sticky_check 2>&1)
result sticky $? "users per backend:$out"

# ---- access log ------------------------------------------------------------------------------------
sleep 0.2
log_has() { grep -qF -- "$1" "$2" || { echo "missing: $1"; return 1; }; }
access_log_check() {
    log_has "/orders/12 200 decision=allow reason=none target=shop/frontend-to-orders match=read path=/orders/12" \
        "$tmp/access.log" &&
        log_has "/x/../orders/%31%32 200 decision=allow reason=none target=shop/frontend-to-orders match=read path=/orders/12" \
            "$tmp/access.log" &&
        log_has "/admin/users 200 decision=allow reason=none target=shop/frontend-to-orders match=admin" "$tmp/access.log" &&
        log_has "/ghost/1 403 decision=deny reason=no-traffic-target target=- match=-" "$tmp/access.log" &&
        log_has "/orders/12/..%2F..%2Fadmin 403 decision=deny reason=path-rejected target=- match=- path=-" \
            "$tmp/access.log" &&
        log_has "200 decision=- reason=- target=- match=- path=- backend=website-v2.shop split=shop/website-canary" \
            "$tmp/split.log" &&
        log_has "backend=website-v1.shop split=shop/website-canary" "$tmp/split.log"
}
out=$(access_log_check 2>&1)
result access-log $? "$out"

# ---- reloads ---------------------------------------------------------------------------------------
workers() { pgrep -P "$(cat "$tmp/nginx.pid")" | sort | tr '\n' ' '; }
before=$(workers)

cp "$here/policies/reload/broken.yaml" "$tmp/policy/broken.yaml"
"$nginx" -t -p "$tmp" -c "$tmp/nginx.conf" -e stderr >"$tmp/t-broken.out" 2>&1
status=$?
grep -E "broken\.yaml:12:16: error: HTTPRouteGroup shop/audit-routes: spec\.matches\[0\]\.pathRegex: invalid regex" \
    "$tmp/t-broken.out" >"$tmp/t-line"
found=$?
[ "$status" != 0 ] && [ "$found" = 0 ] && grep -q "test failed" "$tmp/t-broken.out"
result nginx-t-broken $? "exit $status; $(sed 's/.*\(broken.yaml:[0-9]*:[0-9]*\).*/\1/' "$tmp/t-line")"

# `nginx -s` parses the configuration too (to find the pid file), so it prints the diagnostics as well
"$nginx" -s reload -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" >"$tmp/reload1.out" 2>&1
reload_broken_check() {
    local _
    for _ in $(seq 50); do grep -q "broken.yaml:12:16: error" "$tmp/error.log" && break; sleep 0.1; done
    grep -o "broken.yaml:12:16: error: [^:]*" "$tmp/error.log" | head -1 || { echo "no diagnostic in error.log"; return 1; }
    sleep 0.3
    [ "$(workers)" = "$before" ] || { echo "workers changed: $before -> $(workers)"; return 1; }
    [ "$(request "$port_main" /orders/12 "${frontend[@]}" | cut -d' ' -f1)" = 200 ] &&
        [ "$(request "$port_main" /orders/12 -H "X-SMI-Source: shop/auditor" | cut -d' ' -f1-2)" = "403 source-not-allowed" ]
}
out=$(reload_broken_check 2>&1)
result reload-broken $? "error.log: $(echo "$out" | tr '\n' ' ')workers kept, old policy answers"

rm "$tmp/policy/broken.yaml"
cp "$here/policies/reload/auditor.yaml" "$tmp/policy/auditor.yaml"
"$nginx" -s reload -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" >"$tmp/reload2.out" 2>&1
reload_ok_check() {
    local _ got
    for _ in $(seq 50); do
        got=$(request "$port_main" /orders/12 -H "X-SMI-Source: shop/auditor")
        [ "${got%% *}" = 200 ] && break
        sleep 0.1
    done
    echo "auditor: $got; workers $before -> $(workers)"
    [ "${got%% *}" = 200 ] && [ "$(request "$port_main" /admin/users -H "X-SMI-Source: shop/auditor" -H "X-Role: admin" |
        cut -d' ' -f1-2)" = "403 no-route-matched" ]
}
out=$(reload_ok_check 2>&1)
result reload-ok $? "$out"

# ---- a precompiled bundle ----------------------------------------------------------------------------
# `smi compile` writes the manifests as a bundle; smi_policy loads it; a truncated one fails
# `nginx -t` with the engine's bundle error and a reload to it leaves the bundle's policy answering.
smi=${SMI_BIN:-$(cd "$root" && swift build -c release --product smi --show-bin-path 2>/dev/null)/smi}
bundle_check() {
    [ -x "$smi" ] || (cd "$root" && swift build -c release --product smi >"$tmp/build-smi.log" 2>&1) ||
        { echo "cannot build smi"; return 1; }
    "$smi" compile "$here/policies/mesh.yaml" -o "$tmp/mesh.smib" 2>"$tmp/compile.out" || { cat "$tmp/compile.out"; return 1; }
    sed -i "s|smi_policy $tmp/policy;|smi_policy $tmp/mesh.smib;|" "$tmp/nginx.conf"
    "$nginx" -t -p "$tmp" -c "$tmp/nginx.conf" -e stderr >"$tmp/t-bundle.out" 2>&1 || { cat "$tmp/t-bundle.out"; return 1; }
    "$nginx" -s reload -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" >"$tmp/reload3.out" 2>&1
    local _ got
    for _ in $(seq 50); do # the auditor (granted by the folder's auditor.yaml only) loses access
        got=$(request "$port_main" /orders/12 -H "X-SMI-Source: shop/auditor")
        [ "${got%% *}" = 403 ] && break
        sleep 0.1
    done
    echo "bundle: auditor $(echo "$got" | cut -d' ' -f1-2)"
    [ "$(echo "$got" | cut -d' ' -f1-2)" = "403 source-not-allowed" ] &&
        [ "$(request "$port_main" /orders/12 "${frontend[@]}" | cut -d' ' -f1)" = 200 ] || return 1
    head -c 100 "$tmp/mesh.smib" >"$tmp/short.smib"
    mv "$tmp/short.smib" "$tmp/mesh.smib"
    if "$nginx" -t -p "$tmp" -c "$tmp/nginx.conf" -e stderr >"$tmp/t-short.out" 2>&1; then
        echo "nginx -t accepted a truncated bundle"
        return 1
    fi
    grep -q "error: bundle is truncated" "$tmp/t-short.out" || { cat "$tmp/t-short.out"; return 1; }
    grep -o "error: bundle is truncated[^(]*" "$tmp/t-short.out" | head -1
    "$nginx" -s reload -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" >"$tmp/reload4.out" 2>&1
    sleep 0.5
    [ "$(request "$port_main" /orders/12 "${frontend[@]}" | cut -d' ' -f1)" = 200 ] &&
        [ "$(request "$port_main" /orders/12 -H "X-SMI-Source: shop/auditor" | cut -d' ' -f1-2)" = "403 source-not-allowed" ]
}
out=$(bundle_check 2>&1)
result bundle $? "$(echo "$out" | tr '\n' ' ')"

if grep -E '\[(alert|crit)\]|exited on signal|core dumped' "$tmp/error.log" >"$tmp/bad.log"; then
    result error-log-clean 1 "$(head -3 "$tmp/bad.log")"
else
    result error-log-clean 0
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "test-nginx: failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
