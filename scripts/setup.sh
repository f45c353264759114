#!/usr/bin/env bash
# Installs the system packages SMIEngine builds against (PCRE2, libyaml, pkg-config) when they
# are missing; quick when they are already there. Swift 6.3 itself comes from swift.org.
set -euo pipefail

packages=(libpcre2-dev libyaml-dev pkg-config)
command -v python3 >/dev/null 2>&1 || packages+=(python3)   # runs the conformance checks

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: install these packages with your package manager: ${missing[*]}" >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "setup: not root and no sudo; as root run: apt-get install -y ${missing[*]}" >&2
            exit 1
        fi
    fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: no \`swift\` on PATH; install Swift 6.3 from https://www.swift.org/install/linux/" >&2
    exit 1
fi
echo "setup: system packages present ($(swift --version 2>/dev/null | head -n 1))"
