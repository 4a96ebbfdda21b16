#!/usr/bin/env bash
# The public API: examples/simple.c (built from include/anemll.h and the C library alone) prints
# what `anemll generate` prints; the shared library exports the API's names and nothing else.
source "$(dirname "$0")/lib.sh"
M="$BUILD/anemll-tiny"
for p in "What is a kluge?" "What is a hack?" "Define cruft." "Tell me about the Jargon File" "héllo wörld ✓"; do
    for n in 1 40; do
        want=$("$ANEMLL" generate --model "$M" --prompt "$p" -n $n 2>&1)
        got=$("$BUILD/simple" --model "$M" --prompt "$p" -n $n 2>&1)
        name="simple_equals_generate_${p// /_}_n$n"
        [ -n "$want" ] && [ "$got" = "$want" ] && ok "$name" || bad "$name" "got '$got' want '$want'"
    done
done
others=$(grep '^#include' examples/simple.c | grep -v '^#include <[a-z]*\.h>$' | grep -v '^#include "anemll.h"$')
[ -z "$others" ] && ok simple_includes_only_the_api || bad simple_includes_only_the_api "$others"
grep -q -- '-Iinclude -o $@ $< $(BUILD)/libanemll.a' Makefile && ! grep -A1 '^$(BUILD)/simple:' Makefile | grep -q -- '-Isrc' &&
    ok simple_built_without_src_headers || bad simple_built_without_src_headers
exported=$(nm -D --defined-only "$BUILD/libanemll.so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}')
declared=$(grep -o 'anemll_[a-z0-9_]*(' include/anemll.h | tr -d '(' | sort -u)
[ -n "$exported" ] && [ "$(sort <<<"$exported")" = "$declared" ] && ok so_exports_exactly_the_api ||
    bad so_exports_exactly_the_api "$(diff <(sort <<<"$exported") <(echo "$declared") | head -5)"
expect_fail simple_reports_errors "simple: error: .*model folder not found" "$BUILD/simple" --model "$TMP/none" --prompt hi
