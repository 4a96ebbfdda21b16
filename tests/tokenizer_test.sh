#!/usr/bin/env bash
# The CLI contract of tokenize/detokenize/template on the Gemma 3 goldens, line-by-line
# streaming, and one-line errors naming the bad input line.
source "$(dirname "$0")/lib.sh"
G="$DATA/tokenizers/gemma3"
TOK=(--tokenizer "$G/tokenizer.json")

# Writes the golden's inputs as the commands read them, and checks outputs against it.
python3 - "$G" "$TMP" <<'EOF'
import json, sys
g, tmp = sys.argv[1], sys.argv[2]
cases = [json.loads(l) for l in open(f"{g}/golden.jsonl")]
with open(f"{tmp}/tok.in", "w") as f:
    for c in cases: f.write(json.dumps({"text": c["text"], "add_bos": c["add_bos"]}) + "\n")
with open(f"{tmp}/detok.in", "w") as f:
    for c in cases: f.write(json.dumps(c["ids"]) + "\n")
with open(f"{tmp}/chat.in", "w") as f:
    for l in open(f"{g}/chat_golden.jsonl"):
        c = json.loads(l)
        f.write(json.dumps({"messages": c["messages"], "add_generation_prompt": c["add_generation_prompt"]}) + "\n")
EOF
same() {  # same NAME GOLDEN FIELD OUTPUT: each output line (JSON) equals FIELD of the golden line
    python3 - "$@" <<'EOF'
import json, sys
name, golden, field, out = sys.argv[1:5]
want = [json.loads(l) for l in open(golden)]
got = [json.loads(l) for l in open(out)]
bad = [w["name"] for w, o in zip(want, got) if (w[field] if field != "chat" else {"prompt": w["prompt"], "ids": w["ids"]}) != o]
if len(got) != len(want) or bad:
    print(f"FAIL {name}: {len(got)} lines for {len(want)}, differing: {bad[:5]}")
else:
    print(f"PASS {name}")
EOF
}

"$ANEMLL" tokenize "${TOK[@]}" --jsonl <"$TMP/tok.in" >"$TMP/tok.out"
same tokenize_golden "$G/golden.jsonl" ids "$TMP/tok.out"
"$ANEMLL" detokenize "${TOK[@]}" <"$TMP/detok.in" >"$TMP/detok.out"
same detokenize_golden "$G/golden.jsonl" decoded "$TMP/detok.out"
"$ANEMLL" detokenize "${TOK[@]}" --skip-special <"$TMP/detok.in" >"$TMP/detok_skip.out"
same detokenize_skip_special_golden "$G/golden.jsonl" decoded_skip_special "$TMP/detok_skip.out"
"$ANEMLL" template "${TOK[@]}" --jsonl <"$TMP/chat.in" >"$TMP/chat.out"
same template_golden "$G/chat_golden.jsonl" chat "$TMP/chat.out"

# plain text on stdin, and --model DIR meaning DIR/tokenizer.json
mkdir -p "$TMP/model" && ln -s "$(cd "$G" && pwd)/tokenizer.json" "$TMP/model/tokenizer.json"
got=$(printf 'Hello world' | "$ANEMLL" tokenize --model "$TMP/model")
[ "$got" = "[2,9259,1902]" ] && ok tokenize_plain_text_model_dir || bad tokenize_plain_text_model_dir "$got"
got=$(printf 'Hello world' | "$ANEMLL" tokenize "${TOK[@]}" --no-bos)
[ "$got" = "[9259,1902]" ] && ok tokenize_no_bos || bad tokenize_no_bos "$got"

# each line's answer comes out before the next line is sent
mkfifo "$TMP/fifo"
"$ANEMLL" tokenize "${TOK[@]}" --jsonl <"$TMP/fifo" >"$TMP/stream.out" &
pid=$!
exec 3>"$TMP/fifo"
echo '{"text": "Hello world", "add_bos": false}' >&3
for _ in $(seq 300); do [ -s "$TMP/stream.out" ] && break; sleep 0.1; done
got=$(cat "$TMP/stream.out")
exec 3>&-
wait $pid
[ "$got" = "[9259,1902]" ] && ok streams_line_by_line || bad streams_line_by_line "got '$got' before the input ended"

# bad input lines: one error line naming the line, exit 1, earlier lines already answered
printf '{"text": "a"}\n{"text": "b",}\n' >"$TMP/bad_json.in"
expect_fail tokenize_bad_json 'stdin line 2: invalid JSON' \
    "$ANEMLL" tokenize "${TOK[@]}" --jsonl <"$TMP/bad_json.in"
got=$("$ANEMLL" tokenize "${TOK[@]}" --jsonl <"$TMP/bad_json.in" 2>/dev/null)
[ "$got" = "[2,236746]" ] && ok tokenize_output_before_error || bad tokenize_output_before_error "$got"
expect_fail tokenize_no_text 'stdin line 1: expected \{"text"' \
    "$ANEMLL" tokenize "${TOK[@]}" --jsonl <<<'{"txt": "a"}'
expect_fail detokenize_bad_id 'stdin line 2: token id 262145 is out of range' \
    "$ANEMLL" detokenize "${TOK[@]}" <<<$'[1]\n[2, 262145]'
expect_fail detokenize_not_integer 'stdin line 1: item 1 is not an integer' \
    "$ANEMLL" detokenize "${TOK[@]}" <<<'[2, 1.5]'
expect_fail template_roles 'stdin line 1: .*roles must alternate' \
    "$ANEMLL" template "${TOK[@]}" --jsonl <<<'{"messages": [{"role": "assistant", "content": "x"}]}'
expect_fail no_tokenizer_flag '--tokenizer FILE \(or --model DIR\) is required' "$ANEMLL" tokenize --jsonl
echo '{"model": {"type": "Unigram"}}' >"$TMP/unigram.json"
expect_fail bad_tokenizer_file 'unigram.json: unsupported model type' \
    "$ANEMLL" detokenize --tokenizer "$TMP/unigram.json"
