#!/usr/bin/env bash
# Sets up, builds the release `smi` and runs it on the sample policy in examples/policies/:
# the request file through `smi eval`, then one denied request through `smi explain`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product smi
smi=.build/release/smi
policy=examples/policies/seed.yaml

run() {
    echo
    echo "\$ $*"
    "$@"
}

run "$smi" eval --policy "$policy" --requests examples/policies/seed-requests.jsonl
run "$smi" explain --policy "$policy" --source default/website-service \
    --destination default/api-service --port 8081 --protocol http --method GET --path /api
run "$smi" explain --policy "$policy" --source default/prometheus \
    --destination default/api-service --port 9090 --protocol http --method GET --path '/metrics?x=1'
