# Helpers for shell tests: source it, then use ok/bad/expect_fail; finish with `done_tests`.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
ANEMLL="$BUILD/anemll"
DATA=$PWD/tests/data   # reference data carried by the project (tests/data/README.md)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1${2:+: $2}"; }
# expect_fail NAME PATTERN CMD...: CMD must exit non-zero (not by a signal), print one
# error line matching PATTERN on stderr and nothing that looks like a sanitizer report.
expect_fail() {
    local name=$1 pat=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" -eq 0 ]; then bad "$name" "exit 0"; return; fi
    if [ "$rc" -gt 128 ]; then bad "$name" "killed by signal $((rc-128))"; return; fi
    if grep -q 'Sanitizer\|runtime error' <<<"$err"; then bad "$name" "sanitizer: $err"; return; fi
    if [ "$(grep -c . <<<"$err")" -ne 1 ]; then bad "$name" "expected one error line, got: $err"; return; fi
    if ! grep -qE -- "$pat" <<<"$err"; then bad "$name" "error '$err' does not match '$pat'"; return; fi
    ok "$name"
}
