#!/usr/bin/env bash
# Installs the Debian packages anemll.c builds against (run as root on a fresh Debian 12).
set -euo pipefail
pkgs=(build-essential libcjson-dev libyaml-dev libedit-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
