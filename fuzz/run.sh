#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs each for SECONDS (one at a time, at nice 10), then
# prints one line per harness: runs, executions per second, corpus size, result.
# Usage: fuzz/run.sh [SECONDS] [HARNESS...]   (default 600 s, every fuzz/fuzz_*.c)
# FUZZ_SMOKE=1: start from the seeds only and keep nothing (CI); otherwise the corpus grows in
# build/fuzz/corpus/NAME across runs. Crashes are written to build/fuzz/crashes/.
# Exits 0 when every harness finished clean, 1 on a crash/leak/sanitizer report, and 0 with a
# "SKIP" line when clang's libFuzzer is not installed.
set -u
cd "$(dirname "$0")/.."
secs=${1:-600}; shift || true
FZ=build/fuzz
CC=${FUZZ_CC:-clang}

if ! command -v "$CC" >/dev/null 2>&1 ||
    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' |
    "$CC" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
    echo "SKIP fuzz: $CC with libFuzzer (-fsanitize=fuzzer) is not installed (Debian: clang libclang-rt-14-dev)"
    exit 0
fi
mkdir -p build
nice -n 10 make --no-print-directory -j"${FUZZ_JOBS:-2}" fuzz-build >"$FZ.build.log" 2>&1 || {
    tail -30 "$FZ.build.log"; echo "FAIL fuzz: build failed"; exit 1; }
bash fuzz/make_corpus.sh "$FZ/seeds" >/dev/null || { echo "FAIL fuzz: seed corpus"; exit 1; }

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
# per harness: largest input and dictionary
opts() {
    case $1 in
        fuzz_safetensors) echo "-max_len=65536 -dict=fuzz/dict/safetensors.dict" ;;
        fuzz_model_load) echo "-max_len=65536 -dict=fuzz/dict/safetensors.dict" ;;
        fuzz_tokenizer_load) echo "-max_len=131072 -dict=fuzz/dict/json.dict" ;;
        fuzz_config) echo "-max_len=16384 -dict=fuzz/dict/json.dict" ;;
        fuzz_chat_template) echo "-max_len=16384 -dict=fuzz/dict/json.dict" ;;
        fuzz_meta_yaml) echo "-max_len=16384 -dict=fuzz/dict/yaml.dict" ;;
        fuzz_serve_request) echo "-max_len=16384 -dict=fuzz/dict/json.dict" ;;
        fuzz_tokenizer_encode) echo "-max_len=8192" ;;
        fuzz_tokenizer_decode) echo "-max_len=8192" ;;
        *) echo "" ;;
    esac
}
mkdir -p "$FZ/crashes" "$FZ/logs"
status=0
summary=()
for h in "${names[@]}"; do
    bin="$FZ/$h"
    [ -x "$bin" ] || { echo "FAIL $h: no binary $bin"; status=1; continue; }
    if [ -n "${FUZZ_SMOKE:-}" ]; then
        corpus=$(mktemp -d)
    else
        corpus="$FZ/corpus/$h"; mkdir -p "$corpus"
    fi
    seeds=()
    for d in "fuzz/corpus/$h" "$FZ/seeds/$h"; do [ -d "$d" ] && seeds+=("$d"); done
    log="$FZ/logs/$h.log"
    echo "== $h: ${secs}s"
    # shellcheck disable=SC2046
    nice -n 10 "$bin" $(opts "$h") -max_total_time="$secs" -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix="$FZ/crashes/$h-" "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(ls "$corpus" | wc -l)
    size=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1024}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc -eq 0 ] && ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)\|runtime error' "$log"; then
        line="PASS $h: ${runs:-?} runs, ${eps:-?} exec/s, corpus $units files ${size} KiB, $cov"
    else
        line="FAIL $h (exit $rc, see $log): $(grep -m1 'ERROR\|runtime error\|fuzz check failed' "$log")"
        status=1
    fi
    echo "$line"
    summary+=("$line")
    [ -n "${FUZZ_SMOKE:-}" ] && rm -rf "$corpus"
done
echo "-- fuzz summary (${secs}s each)"
printf '%s\n' "${summary[@]}"
exit $status
