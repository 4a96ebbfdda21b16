#!/usr/bin/env bash
# eval: the quality report. Self-check exactness, FP16-scaled conversions, KL growing as LUT bits
# shrink, the sweep, the text protocol, the built-in prompt set with a tokenizer, and bad input.
source "$(dirname "$0")/lib.sh"
G="$DATA/golden"
ids() { python3 -c "import json,sys;print(' '.join(map(str,json.load(open(sys.argv[1]))['token_ids'])))" "$1"; }
# jget FILE EXPR: evaluate a Python expression on the JSON document d
jget() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(($2))" "$1"; }

# --- self-check: the reference against itself agrees exactly (pseudo-random prompts: no tokenizer) ---
out=$("$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --steps 20 --json "$TMP/self.json" 2>"$TMP/err")
if [ "$(jget "$TMP/self.json" "(d['summary']['kl_mean'], d['summary']['corr_mean'], d['summary']['match_rate'], d['summary']['prompts'], d['summary']['steps'], d['summary']['kl_max'], d['summary']['corr_min'])")" = "(0, 1, 1, 5, 20, 0, 1)" ] &&
    [ "$(jget "$TMP/self.json" "all(k in d['summary'] for k in ('kl_mean','corr_mean','match_rate','entropy_mean','prompts','steps'))")" = True ] &&
    [ "$(jget "$TMP/self.json" "d['settings']['prompts_kind'], max(p['prompt_tokens'] for p in d['prompts']) > 16")" = "('random', True)" ]; then
    ok self_check_exact
else bad self_check_exact "$(cat "$TMP/self.json" | head -c 600)"; fi
grep -qE '^\| Configuration +\| KL Divergence \| Correlation \| Match Rate \| Notes +\|$' <<<"$out" &&
    grep -qE '^\| unconverted .*\| +0\.0000 \| +1\.0000 \| +100\.0% \| healthy +\|$' <<<"$out" &&
    grep -q 'pseudo-random ids' <<<"$out" && grep -q 'prompt 5/5 done' "$TMP/err" && ok table_and_progress ||
    bad table_and_progress "$out $(cat "$TMP/err")"
"$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --steps 2 --quiet 2>"$TMP/err" >/dev/null &&
    [ ! -s "$TMP/err" ] && ok quiet || bad quiet "$(cat "$TMP/err")"

# --- FP16-scaled conversions without LUT, run in FP32: KL < 1e-6, match 100% ---
for ck in tiny gqa1; do
    "$ANEMLL" convert "$G/$ck" "$TMP/fp16_$ck" --fp16-scale 0.1875 --lut2 none --lut3 none >/dev/null
    "$ANEMLL" eval --model "$TMP/fp16_$ck" --reference "$G/$ck" --steps 20 --json "$TMP/fp16_$ck.json" --quiet >/dev/null
    r=$(jget "$TMP/fp16_$ck.json" "d['summary']['kl_mean'] < 1e-6 and d['summary']['match_rate'] == 1 and d['candidate']['alpha'] == 0.1875 and d['summary']['corr_mean'] > 0.999999")
    [ "$r" = True ] && ok "fp16_scaled_no_lut_$ck" || bad "fp16_scaled_no_lut_$ck" "$(jget "$TMP/fp16_$ck.json" "d['summary']")"
done
# the overflow checkpoint auto-scaled, run in strict FP16: finite, close
"$ANEMLL" convert "$G/overflow" "$TMP/ovf" --lut2 none --lut3 none >/dev/null
"$ANEMLL" eval --model "$TMP/ovf" --reference "$G/overflow" --precision fp16 --steps 10 --json "$TMP/ovf.json" --quiet >"$TMP/out" &&
    [ "$(jget "$TMP/ovf.json" "d['summary']['kl_mean'] < 0.01 and d['summary']['match_rate'] > 0.9 and d['settings']['candidate_precision']")" = fp16 ] &&
    grep -q 'FP16 activations' "$TMP/out" && ok fp16_precision_overflow_ckpt || bad fp16_precision_overflow_ckpt "$(cat "$TMP/out")"

# --- KL grows as LUT bits shrink: LUT8 < LUT6 < LUT4 < LUT2 on the same tensors ---
for ck in tiny gqa1; do
    kls=""
    for B in 8 6 4 2; do
        "$ANEMLL" convert "$G/$ck" "$TMP/l${B}_$ck" --lut2 $B,4 --lut3 $B,4 >/dev/null
        "$ANEMLL" eval --model "$TMP/l${B}_$ck" --reference "$G/$ck" --steps 20 --json "$TMP/l$B.json" --quiet >/dev/null
        kls="$kls $(jget "$TMP/l$B.json" "d['summary']['kl_mean']")"
    done
    python3 -c "import sys,math;k=list(map(float,sys.argv[1:]));assert all(map(math.isfinite,k)) and k[0]<k[1]<k[2]<k[3],k" $kls &&
        ok "kl_monotonic_in_bits_$ck" || bad "kl_monotonic_in_bits_$ck" "$kls"
done

# --- driver reference: the tokens are the golden greedy continuation, even for a LUT candidate ---
T=$(ids "$G/tiny/cases/case2_len100.json")
echo "{\"ids\": [${T// /,}]}" >"$TMP/case2.jsonl"
"$ANEMLL" eval --model "$TMP/l4_tiny" --reference "$G/tiny" --prompts "$TMP/case2.jsonl" --steps 20 --driver reference \
    --json "$TMP/drv.json" --quiet >/dev/null
want=$(python3 -c "import json;print(json.load(open('$G/tiny/cases/case2_len100.json'))['greedy_new_tokens'])")
[ "$(jget "$TMP/drv.json" "d['prompts'][0]['tokens']")" = "$want" ] && ok driver_reference_golden_tokens ||
    bad driver_reference_golden_tokens "$(jget "$TMP/drv.json" "d['prompts'][0]['tokens']") vs $want"
# steps capped by the context (512): 500 ids + 100 steps -> 13 steps
python3 -c "print('{\"ids\": [2' + ', 7' * 499 + ']}')" >"$TMP/long.jsonl"
"$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/long.jsonl" --json "$TMP/cap.json" --quiet >"$TMP/out" &&
    [ "$(jget "$TMP/cap.json" "d['prompts'][0]['steps'], d['prompts'][0]['steps_capped'], d['summary']['capped_prompts']")" = "(13, True, 1)" ] &&
    grep -q 'Steps capped by the context of 512' "$TMP/out" && ok steps_capped || bad steps_capped "$(cat "$TMP/out")"

# --- sweep: the seed's four rows plus --config; temporary conversions removed ---
mkdir -p "$TMP/tmpdir"
out=$(TMPDIR="$TMP/tmpdir" "$ANEMLL" eval --sweep --reference "$G/gqa1" --steps 8 --config "lut2=2,4,lut3=2,4" \
    --json "$TMP/sweep.json" 2>"$TMP/err")
rows=$(grep -cE '^\| (FP16 baseline \(no LUT\)|FFN LUT4,4 \+ LM LUT6,4|FFN LUT4,8 only|FFN LUT4,8 \+ LM LUT6,4|FFN LUT2,4 \+ LM LUT2,4) +\|' <<<"$out")
[ "$rows" = 5 ] && [ -z "$(ls -A "$TMP/tmpdir")" ] &&
    [ "$(jget "$TMP/sweep.json" "[c['label'] for c in d['configurations']][:4] == ['FP16 baseline (no LUT)', 'FFN LUT4,4 + LM LUT6,4', 'FFN LUT4,8 only', 'FFN LUT4,8 + LM LUT6,4'] and d['configurations'][0]['summary']['kl_mean'] < 1e-6 and d['configurations'][4]['lut_ffn']")" = "2,4" ] &&
    ok sweep_rows || bad sweep_rows "$out / $(ls -A "$TMP/tmpdir") / $(tail -3 "$TMP/err")"

# --- text protocol: every position; self-check exact, LUT finite ---
echo "$T" >"$TMP/text.ids"
"$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --text-ids "$TMP/text.ids" --chunk 40 --json "$TMP/txt.json" --quiet >"$TMP/out" &&
    [ "$(jget "$TMP/txt.json" "(d['summary']['kl_mean'], d['summary']['top5_agreement'], d['summary']['ppl_reference'] == d['summary']['ppl_candidate'], d['summary']['steps'], len(d['chunks']))")" = "(0, 1, True, 99, 3)" ] &&
    grep -q 'Perplexity: reference' "$TMP/out" && ok text_protocol_self || bad text_protocol_self "$(cat "$TMP/out")"
"$ANEMLL" eval --model "$TMP/l4_tiny" --reference "$G/tiny" --text-ids "$TMP/text.ids" --json "$TMP/txt4.json" --quiet >/dev/null &&
    [ "$(jget "$TMP/txt4.json" "0 < d['summary']['kl_mean'] < 10 and 0 <= d['summary']['top5_agreement'] <= 1 and d['summary']['ppl_candidate'] > 1")" = True ] &&
    ok text_protocol_lut || bad text_protocol_lut

# --- with a tokenizer: the built-in prompt set (chat-templated, some longer than the window) ---
"$ANEMLL" synth --shape tiny --vocab 262144 --out "$TMP/tok" >/dev/null && cp "$DATA/tokenizers/gemma3/tokenizer.json" "$TMP/tok/"
"$ANEMLL" eval --model "$TMP/tok" --reference "$TMP/tok" --steps 1 --json "$TMP/builtin.json" --quiet >"$TMP/out" &&
    [ "$(jget "$TMP/builtin.json" "(d['settings']['prompts_kind'], d['settings']['chat_template'], d['summary']['prompts'], d['summary']['kl_mean'], sum(p['prompt_tokens'] > 1024 for p in d['prompts']) >= 2, all(p['prompt_ids'][:3] == [2, 105, 2364] for p in d['prompts']))")" = "('builtin', True, 12, 0, True, True)" ] &&
    ok builtin_prompt_set || bad builtin_prompt_set "$(cat "$TMP/out")"
printf 'The quick brown fox jumps over the lazy dog. ' >"$TMP/text.txt"
"$ANEMLL" eval --model "$TMP/tok" --reference "$TMP/tok" --text "$TMP/text.txt" --json "$TMP/t.json" --quiet >/dev/null &&
    [ "$(jget "$TMP/t.json" "d['summary']['steps'] == 11 and d['summary']['kl_mean'] == 0")" = True ] && ok text_tokenized ||
    bad text_tokenized

# --- bad input: one error line ---
printf '{"ids": [2, 3]}\n{"ids": [2, 3\n' >"$TMP/bad1.jsonl"
expect_fail bad_json_line "bad1.jsonl line 2: " "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/bad1.jsonl"
printf '{"ids": [2, 5000]}\n' >"$TMP/bad2.jsonl"
expect_fail ids_out_of_vocab "line 1: token id 5000 at position 1 is outside the vocabulary \(0..1023\)" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/bad2.jsonl"
: >"$TMP/empty.jsonl"
expect_fail empty_prompts "empty.jsonl: no prompts" "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/empty.jsonl"
echo '{"text": "hello"}' >"$TMP/text.jsonl"
expect_fail text_without_tokenizer "line 1: a text prompt needs a tokenizer" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/text.jsonl"
python3 -c "print('{\"ids\": [2' + ', 7' * 599 + ']}')" >"$TMP/toolong.jsonl"
expect_fail prompt_longer_than_context "line 1: 600 tokens do not fit the context of 512" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --prompts "$TMP/toolong.jsonl"
expect_fail missing_reference "--reference HF_DIR is required" "$ANEMLL" eval --model "$G/tiny"
expect_fail converted_reference "must be the unquantized Hugging Face checkpoint" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$TMP/l4_tiny"
expect_fail different_models "are not the same model" "$ANEMLL" eval --model "$G/gqa1" --reference "$G/tiny"
expect_fail bad_driver "--driver: expected candidate or reference" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --driver coreml
expect_fail bad_config "--config 'lut9=4': unknown key" "$ANEMLL" eval --sweep --reference "$G/tiny" --config lut9=4
expect_fail bad_config_spec "--config 'lut2=9,4': LUT spec" "$ANEMLL" eval --sweep --reference "$G/tiny" --config lut2=9,4
expect_fail config_without_sweep "--config goes with --sweep" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --config lut2=4
expect_fail text_one_token "at least 2 are needed" \
    "$ANEMLL" eval --model "$G/tiny" --reference "$G/tiny" --text-ids <(echo 2)
