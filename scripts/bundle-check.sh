#!/usr/bin/env bash
# Bundles answer as their manifests do: for every shared conformance case that compiles,
# `smi compile` writes a bundle (twice: the bytes must be identical), `smi info` accepts it, and
# `smi eval --bundle` prints exactly what `smi eval --policy` prints for the case's requests
# (split requests with "samples" get a fixed entropy instead).
#
# usage: scripts/bundle-check.sh SMI_BINARY CONFORMANCE_CASES_DIR
set -euo pipefail
smi=$1
cases=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/smi-bundle-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
checked=0
failed=0
for dir in "$cases"/*/; do
    policy=""
    for name in policy.yaml policy.json policy; do
        if [ -e "$dir$name" ]; then policy=$dir$name; break; fi
    done
    [ -n "$policy" ] || continue
    # Compile-error cases have nothing to load.
    "$smi" compile "$policy" -o "$work/a.smib" 2>/dev/null || continue
    "$smi" compile "$policy" -o "$work/b.smib" 2>/dev/null
    python3 - "$dir/cases.jsonl" >"$work/requests.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line).get("request")
    if r is None:
        continue
    if r.pop("samples", None) is not None:
        r["entropy"] = 0x9E3779B97F4A7C15
    print(json.dumps(r))
PY
    name=$(basename "$dir")
    if ! cmp -s "$work/a.smib" "$work/b.smib"; then
        echo "FAIL $name: two compilations gave different bundles"; failed=$((failed + 1)); continue
    fi
    if ! "$smi" info "$work/a.smib" >/dev/null; then
        echo "FAIL $name: smi info refused the bundle"; failed=$((failed + 1)); continue
    fi
    "$smi" eval --policy "$policy" --requests "$work/requests.jsonl" >"$work/policy.out" 2>/dev/null
    "$smi" eval --bundle "$work/a.smib" --requests "$work/requests.jsonl" >"$work/bundle.out"
    if ! cmp -s "$work/policy.out" "$work/bundle.out"; then
        echo "FAIL $name: answers differ"; diff "$work/policy.out" "$work/bundle.out" | head -5
        failed=$((failed + 1)); continue
    fi
    checked=$((checked + 1))
done
echo "bundle-check: $checked cases identical, $failed failed"
[ "$checked" -gt 0 ] && [ "$failed" -eq 0 ]
