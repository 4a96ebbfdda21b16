#!/usr/bin/env bash
# Installs the Debian packages anemll.c builds against (run as root on a fresh Debian 12).
# libsimde-dev is for the tests only: SIMDe's headers emulate the kernel families whose
# instructions a machine lacks (the Makefile's emu build); the program and library never use it.
# --fuzz: also clang and its libFuzzer runtime, for `make fuzz` / `make fuzz-smoke`.
# --ci: --fuzz, plus the aarch64 cross compiler and qemu for `make check-aarch64`.
# Also puts the openai npm package tests/serve_test.sh uses into npm's cache (needs node and npm;
# Debian's nodejs and npm are installed when there is no npm).
set -euo pipefail
pkgs=(build-essential libcjson-dev libyaml-dev libedit-dev libmicrohttpd-dev libsimde-dev curl)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
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

# the test installs it from the cache into tests/node_modules (git-ignored), offline from then on
openai=$(sed -n 's/^OPENAI_VERSION=//p' "$(dirname "$0")/../tests/serve_test.sh")
npm cache ls "openai@$openai" 2>/dev/null | grep -q . || npm cache add "openai@$openai" >/dev/null
