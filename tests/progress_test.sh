#!/usr/bin/env bash
# Progress of long work (convert, its calibration, eval, eval --sweep, synth) goes to stderr, never
# stdout: on a terminal one line per stage redrawn in place (driven through a pseudo-terminal), in
# a log a few plain lines at most (none for a run this quick), with --quiet nothing at all.
source "$(dirname "$0")/lib.sh"
"$ANEMLL" synth --shape tiny --out "$TMP/m" --quiet || bad synth_for_tests

# stdout_clean NAME FILE: no progress in the results
stdout_clean() { ! grep -q $'\r\|\e\|elapsed\|scoring\|weights' "$2" && ok "$1" || bad "$1" "$(head -c 300 "$2")"; }
# log_ok NAME ERRFILE SECONDS [LINES]: a log holds no '\r' nor escape codes, and besides LINES
# lines of the command's own, at most two progress lines per 10 s (a stage's periodic line and its last)
log_ok() {
    local own=${4:-0} n
    n=$(grep -c . "$2")
    if grep -q $'\r\|\e' "$2"; then bad "$1" "terminal codes in a log"
    elif [ "$n" -gt $((own + $3 / 5)) ]; then bad "$1" "$n lines in $3 s: $(head -5 "$2")"
    else ok "$1"; fi
}
# timed ERRFILE CMD...: run CMD with stderr into ERRFILE, stdout into $TMP/out; sets secs (rounded up)
timed() {
    local err=$1 t0; shift
    t0=$(date +%s%N)
    "$@" >"$TMP/out" 2>"$err"
    secs=$((($(date +%s%N) - t0) / 1000000000 + 1))
}

# --- (a) a terminal: each stage from 0% through an estimate to 100%; stdout gets the results only ---
python3 tests/progress_pty.py convert_terminal "$TMP/out" convert calibration,writing,checking \
    "$ANEMLL" convert "$TMP/m" "$TMP/c"
if [ "$(cut -d' ' -f1-2 "$TMP/out" | tr '\n' '|')" = "converted $TMP/m|fp16 scale:|" ]; then
    stdout_clean convert_terminal_stdout "$TMP/out"
else bad convert_terminal_stdout "$(cat "$TMP/out")"; fi
python3 tests/progress_pty.py eval_terminal "$TMP/out" "eval self" scoring \
    "$ANEMLL" eval --model "$TMP/c" --reference "$TMP/m" --steps 4 --label self
if grep -q '^| self ' "$TMP/out"; then stdout_clean eval_terminal_stdout "$TMP/out"
else bad eval_terminal_stdout "$(cat "$TMP/out")"; fi
python3 tests/progress_pty.py synth_terminal "$TMP/out" synth writing "$ANEMLL" synth --shape tiny --out "$TMP/m2"
[ ! -s "$TMP/out" ] && cmp -s "$TMP/m/model.safetensors" "$TMP/m2/model.safetensors" && ok synth_terminal_same_weights ||
    bad synth_terminal_same_weights

# --- (b) a log: no '\r', a bounded number of lines; eval adds one line per evaluation ---
timed "$TMP/err" "$ANEMLL" convert "$TMP/m" "$TMP/c" --force
log_ok convert_log "$TMP/err" "$secs"
stdout_clean convert_log_stdout "$TMP/out"
timed "$TMP/err" "$ANEMLL" eval --model "$TMP/c" --reference "$TMP/m" --steps 4 --label self
log_ok eval_log "$TMP/err" "$secs" 1
grep -q '^eval: self: prompt 5/5 done (20 steps, ' "$TMP/err" && ok eval_log_line || bad eval_log_line "$(cat "$TMP/err")"
stdout_clean eval_log_stdout "$TMP/out"
# the sweep: per configuration, a line as it is converted and one as it is evaluated
timed "$TMP/err" "$ANEMLL" eval --sweep --reference "$TMP/m" --steps 2 --max-prompts 1
log_ok eval_sweep_log "$TMP/err" "$secs" 8
[ "$(grep -c '^eval: converting .* ([1-4]/4)$' "$TMP/err")" = 4 ] && [ "$(grep -c ': prompt 1/1 done' "$TMP/err")" = 4 ] &&
    ok eval_sweep_log_lines || bad eval_sweep_log_lines "$(cat "$TMP/err")"
stdout_clean eval_sweep_log_stdout "$TMP/out"
timed "$TMP/err" "$ANEMLL" synth --shape tiny --out "$TMP/m2"
log_ok synth_log "$TMP/err" "$secs"

# --- (c) --quiet: nothing on a terminal, nor in a log; the results unchanged ---
python3 tests/progress_pty.py convert_quiet_terminal "$TMP/out" convert "" \
    "$ANEMLL" convert "$TMP/m" "$TMP/c" --force --quiet
grep -q '^fp16 scale: alpha' "$TMP/out" && ok convert_quiet_keeps_results || bad convert_quiet_keeps_results "$(cat "$TMP/out")"
python3 tests/progress_pty.py eval_quiet_terminal "$TMP/out" eval "" \
    "$ANEMLL" eval --model "$TMP/c" --reference "$TMP/m" --steps 4 --quiet
python3 tests/progress_pty.py synth_quiet_terminal "$TMP/out" synth "" "$ANEMLL" synth --shape tiny --out "$TMP/m2" --quiet
for cmd in "convert $TMP/m $TMP/c --force" "eval --sweep --reference $TMP/m --steps 2 --max-prompts 1" \
    "synth --shape tiny --out $TMP/m2"; do
    # shellcheck disable=SC2086 # the words of cmd
    "$ANEMLL" $cmd --quiet >/dev/null 2>"$TMP/err" && [ ! -s "$TMP/err" ] && ok "quiet_log_${cmd%% *}" ||
        bad "quiet_log_${cmd%% *}" "$(cat "$TMP/err")"
done
