#!/usr/bin/env bash
# Installs the Debian packages anemll.c builds against (run as root on a fresh Debian 12).
# --fuzz: also clang and its libFuzzer runtime, for `make fuzz` / `make fuzz-smoke` (CI).
set -euo pipefail
pkgs=(build-essential libcjson-dev libyaml-dev libedit-dev)
[ "${1:-}" = "--fuzz" ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
