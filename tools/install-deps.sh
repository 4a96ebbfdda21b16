#!/usr/bin/env bash
# Installs the Debian packages anemll.c builds against (run as root on a fresh Debian 12).
# libsimde-dev is for the tests only: SIMDe's headers emulate the kernel families whose
# instructions a machine lacks (the Makefile's emu build); the program and library never use it.
# --fuzz: also clang and its libFuzzer runtime, for `make fuzz` / `make fuzz-smoke`.
# --ci: --fuzz, plus the aarch64 cross compiler and qemu for `make check-aarch64`.
set -euo pipefail
pkgs=(build-essential libcjson-dev libyaml-dev libedit-dev libsimde-dev)
case "${1:-}" in
--fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
--ci) pkgs+=(clang libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user) ;;
esac
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
