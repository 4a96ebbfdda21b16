#!/usr/bin/env bash
# Runs every test binary ($BUILD/tests/test_*, and $BUILD/emu/tests/test_*: the kernel tests
# with the emulated kernel families, see the Makefile) and shell test (tests/*_test.sh), for each
# build folder named in BUILDS (default: $BUILD, default build).
# Each prints "PASS name" / "FAIL name" lines; a program that dies without
# reporting counts as one failure. The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILDS=${BUILDS:-${BUILD:-build}}
pass=0; fail=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
run_one() {
    local name=$1; shift
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local p f
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name (exit code $rc)"; fail=$((fail + 1))
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$rc" -eq 0 ]; then
        echo "FAIL $name (reported no cases)"; fail=$((fail + 1))
    fi
}
for BUILD in $BUILDS; do
    export BUILD
    for t in "$BUILD"/tests/test_* "$BUILD"/emu/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "${t%/tests/*}/$(basename "$t")" "$t"
    done
    for t in tests/*_test.sh; do
        [ -f "$t" ] || continue
        run_one "$BUILD: $(basename "$t")" bash "$t"
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
