#!/usr/bin/env bash
# chat and generate --prompt on a random-weight model with the full Gemma 3 vocabulary.
source "$(dirname "$0")/lib.sh"
TOKJ="$DATA/tokenizers/gemma3/tokenizer.json"
"$ANEMLL" synth --shape tiny --vocab 262144 --out "$TMP/m" >/dev/null && cp "$TOKJ" "$TMP/m/"

# through a pseudo-terminal: two turns, Ctrl-C during a reply, Ctrl-D exit
python3 tests/chat_pty.py "$ANEMLL" "$TMP/m"

# one reply and exit; the reply is what greedy generate produces for the same templated prompt
r=$("$ANEMLL" chat --model "$TMP/m" --prompt "What is a hacker?" --max-tokens 12 --quiet)
g=$("$ANEMLL" generate --model "$TMP/m" --prompt "What is a hacker?" -n 12)
[ -n "$r" ] && [ "$r" = "$g" ] && ok chat_prompt_matches_generate || bad chat_prompt_matches_generate "'$r' vs '$g'"
ids=$("$ANEMLL" generate --model "$TMP/m" --prompt "What is a hacker?" -n 12 --ids)
[ "$(wc -w <<<"$ids")" -ge 1 ] && ok generate_prompt_ids || bad generate_prompt_ids "$ids"
# --no-template: raw completion, <bos> + text
raw=$("$ANEMLL" generate --model "$TMP/m" --prompt "Once upon a time" --no-template -n 5 --ids)
tok=$(python3 -c "import subprocess,sys" ; echo '{"text":"Once upon a time","add_bos":true}' | "$ANEMLL" tokenize --tokenizer "$TOKJ" --jsonl)
want=$("$ANEMLL" generate --model "$TMP/m" --tokens "$(tr -d '[]' <<<"$tok")" -n 5 --ids)
[ "$raw" = "$want" ] && ok generate_no_template || bad generate_no_template "$raw vs $want"

# --history with a small context: the oldest turns are dropped, every reply completes
out=$(printf 'first question here\nsecond question here\nthird question here\nfourth one\nfifth one\n' |
    "$ANEMLL" chat --model "$TMP/m" --history --context 64 --max-tokens 20 2>"$TMP/err")
[ "$(grep -c 'decode 20 tokens' "$TMP/err")" = 5 ] && ! grep -q error "$TMP/err" && ok chat_history_trims ||
    bad chat_history_trims "$(cat "$TMP/err")"
# a reply longer than the context left: goes on after dropping turns, or ends with a note, never an error
out=$(printf 'tell me everything\nand more\n' | "$ANEMLL" chat --model "$TMP/m" --history --context 48 --max-tokens 200 2>"$TMP/err")
! grep -q error "$TMP/err" && [ "$(grep -c 'decode' "$TMP/err")" = 2 ] && ok chat_context_full_mid_reply ||
    bad chat_context_full_mid_reply "$(cat "$TMP/err")"

# bad input
mkdir -p "$TMP/notok" && cp "$TMP/m/config.json" "$TMP/m/model.safetensors" "$TMP/notok/"
expect_fail chat_no_tokenizer 'no tokenizer.json in the model folder' "$ANEMLL" chat --model "$TMP/notok" --prompt hi
long=$(python3 -c "print('word ' * 5000)")
expect_fail chat_prompt_too_long 'does not fit the context' "$ANEMLL" chat --model "$TMP/m" --prompt "$long" --quiet
expect_fail generate_prompt_too_long 'do not fit the context' "$ANEMLL" generate --model "$TMP/m" --prompt "$long"

# a converted model with a tokenizer: calibration on the built-in text (+ --calib FILE); chat via --meta
echo "Some extra calibration text about lighthouses and storms." > "$TMP/calib.txt"
"$ANEMLL" convert "$TMP/m" "$TMP/cm" --calib "$TMP/calib.txt" >/dev/null &&
    grep -q 'calibration: "built-in calibration text ([0-9]* tokens) + .*calib.txt"' "$TMP/cm/meta.yaml" &&
    [ -f "$TMP/cm/tokenizer.json" ] && ok convert_calibration_text || bad convert_calibration_text
r=$("$ANEMLL" chat --meta "$TMP/cm/meta.yaml" --prompt "What is a hacker?" --max-tokens 6 --quiet)
[ -n "$r" ] && ok chat_meta_yaml || bad chat_meta_yaml
