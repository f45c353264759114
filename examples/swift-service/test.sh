#!/usr/bin/env bash
# Builds examples/swift-service (its own package and .build, so the engine's build never pulls in
# Hummingbird/SwiftNIO) and runs its tests: a live Hummingbird server on loopback per test, real
# sockets, temporary policy folders. Prints how long the build and the tests took.
# Extra arguments go to `swift test` (e.g. --filter ReloadTests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../../scripts/setup.sh"   # libpcre2-dev, libyaml-dev, pkg-config for the engine
cd "$here"

start=$(date +%s)
swift build --build-tests
built=$(date +%s)
echo "swift-service: build took $((built - start)) s"
swift test --skip-build "$@"
echo "swift-service: tests took $(($(date +%s) - built)) s"
