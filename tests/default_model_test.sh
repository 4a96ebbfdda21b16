#!/usr/bin/env bash
# The shipped default model, models/anemll-tiny (trained by tools/train_tiny.py): converted with the
# default LUT specs and alpha auto it answers training questions with their trained answers
# (greedy), also deep in a conversation; without LUT, FP32 logits of a sequence longer than the
# sliding window match the unconverted checkpoint within 1e-3 (prefill and token-by-token decode).
source "$(dirname "$0")/lib.sh"
M=models/anemll-tiny
if [ ! -f "$M/model.safetensors" ] || [ ! -f "$M/tokenizer.json" ]; then
    bad default_model_present "$M/model.safetensors or tokenizer.json missing"; exit 0
fi
ok default_model_present
SW=$(python3 -c "import json;print(json.load(open('$M/config.json'))['sliding_window'])")
V=$(python3 -c "import json;print(json.load(open('$M/config.json'))['vocab_size'])")

# --- default conversion (FFN LUT4,4, LM head LUT6,4, 2 chunks, alpha auto) ---
if "$ANEMLL" convert "$M" "$TMP/lut" >"$TMP/convert.log" 2>&1 && [ -f "$TMP/lut/meta.yaml" ] &&
    [ -f "$TMP/lut/tokenizer.json" ] && grep -q '^    lut_ffn: 4$' "$TMP/lut/meta.yaml" &&
    grep -q '^    lut_lmhead: 6$' "$TMP/lut/meta.yaml"; then
    ok convert_default
else
    bad convert_default "$(cat "$TMP/convert.log"; grep lut "$TMP/lut/meta.yaml" 2>/dev/null)"
fi

# --- chat (greedy) on the LUT model: each answer holds its trained key words ---
# question | key words (all must appear, case-insensitive)
CASES=(
    "What is a hacker?|hacker|programmable systems"
    "What is a kluge?|kluge|Rube Goldberg"
    "What does foo mean?|foo|disgust"
    "What is a nybble?|nybble|four bits"
)
has_words() {  # has_words TEXT WORD... : every word occurs in TEXT
    local text=$1 w; shift
    for w in "$@"; do grep -qiF -- "$w" <<<"$text" || return 1; done
}
i=0
for c in "${CASES[@]}"; do
    IFS='|' read -r q w1 w2 <<<"$c"
    i=$((i + 1))
    r=$("$ANEMLL" chat --model "$TMP/lut" --prompt "$q" --max-tokens 64 --quiet 2>"$TMP/err")
    if has_words "$r" "$w1" "$w2" && [ ! -s "$TMP/err" ]; then ok "chat_answer_$i"; else
        bad "chat_answer_$i" "'$q' -> '$r' (wanted '$w1', '$w2') $(cat "$TMP/err")"; fi
done

# --- the same questions in one conversation (--history): the prompts grow past the sliding
# window and every reply (one line each) is still its trained answer ---
qs=""; for c in "${CASES[@]}"; do qs+="${c%%|*}"$'\n'; done
out=$(printf '%s' "$qs" | "$ANEMLL" chat --model "$TMP/lut" --history --max-tokens 64 2>"$TMP/err")
good=1; i=0
for c in "${CASES[@]}"; do
    IFS='|' read -r q w1 w2 <<<"$c"
    i=$((i + 1))
    has_words "$(sed -n "${i}p" <<<"$out")" "$w1" "$w2" || good=0
done
# the last reply's prompt holds every earlier turn: "[prefill N tokens (C cached) ..." with N + C > window
last=$(grep -o 'prefill [0-9]* tokens ([0-9]* cached)' "$TMP/err" | tail -1 | tr -dc '0-9 ' | awk '{print $1 + $2}')
[ $good = 1 ] && [ "${last:-0}" -gt "$SW" ] && ! grep -q error "$TMP/err" && ok chat_history_past_window ||
    bad chat_history_past_window "last prompt ${last:-?} tokens (window $SW): $out $(cat "$TMP/err")"

# --- 8-bit activations (--precision q8, the default) against FP32 activations on the same LUT
# model: the quality report against the unconverted checkpoint barely moves (measured: KL 0.0712 vs
# 0.0701, correlation 0.9876 vs 0.9877, match 88.5% both) ---
for p in fp32 q8; do
    "$ANEMLL" eval --model "$TMP/lut" --reference "$M" --precision $p --max-prompts 4 --steps 50 \
        --json "$TMP/eval_$p.json" --quiet >/dev/null 2>"$TMP/err_$p"
done
python3 - "$TMP/eval_fp32.json" "$TMP/eval_q8.json" <<'PY' && ok q8_quality_close_to_fp32 || bad q8_quality_close_to_fp32 "$(cat "$TMP/err_q8")"
import json, sys
f, q = (json.load(open(p))["summary"] for p in sys.argv[1:3])
print(f"fp32 KL {f['kl_mean']:.4f} corr {f['corr_mean']:.4f} match {f['match_rate']:.3f}; "
      f"q8 KL {q['kl_mean']:.4f} corr {q['corr_mean']:.4f} match {q['match_rate']:.3f}", file=sys.stderr)
sys.exit(not (q["scored_steps"] == f["scored_steps"] == 200 and q["kl_mean"] <= f["kl_mean"] + 0.02
              and q["kl_mean"] < 0.3 and q["corr_mean"] > 0.95 and q["match_rate"] >= f["match_rate"] - 0.05))
PY

# --- bench: the JSON contract (keys later checks read, bench/compare_llamacpp.sh among them; the
# numbers themselves are not judged); "kernel" is the family the run used: --version's pick, or
# the one $ANEMLL_KERNEL forces ---
auto_kernel=$("$ANEMLL" --version | sed -n 's/^kernel used: \([a-z0-9]*\) .*/\1/p')
for p in q8 fp16 q8-scalar; do
    prec=${p%-scalar} kern=$auto_kernel envk=()
    [ "$p" = q8-scalar ] && kern=scalar envk=(ANEMLL_KERNEL=scalar)
    env "${envk[@]}" "$ANEMLL" bench --model "$TMP/lut" --prompt-tokens 16,40 --gen-tokens 8 --repeat 1 \
        --precision "$prec" --json "$TMP/bench_$p.json" >"$TMP/bench.out" 2>&1 &&
        python3 - "$TMP/bench_$p.json" "$prec" "$kern" <<'PY' && ok "bench_json_$p" || bad "bench_json_$p" "$(cat "$TMP/bench.out")"
import json, sys
d = json.load(open(sys.argv[1]))
pos = lambda v: isinstance(v, (int, float)) and v > 0
sys.exit(not (set(d["prefill_tok_s"]) == {"16", "40"} and all(map(pos, d["prefill_tok_s"].values()))
              and all(pos(d[k]) for k in ("decode_tok_s", "peak_rss_mib", "read_gbs", "decode_bound_tok_s"))
              and d["precision"] == sys.argv[2] and d["kernel"] == sys.argv[3]))
PY
done
expect_fail bench_bad_precision "--precision 'fp8': expected q8, fp32 or fp16" "$ANEMLL" bench --model "$TMP/lut" --precision fp8

# --- FP32 without LUT: logits past the sliding window match the unconverted checkpoint ---
conv=$(python3 -c "
import json
turns=[('What is a hacker?','hacker (noun): A person who enjoys exploring the details of programmable systems.'),
       ('What is a kluge?','kluge (noun): A Rube Goldberg (or Heath Robinson) device, whether in hardware or software.'),
       ('What does foo mean?','foo (interjection): Term of disgust.'),
       ('What is a nybble?','nybble (noun): Four bits; one hex digit; a half-byte.')]
m=[]
for q,a in turns: m+=[{'role':'user','content':q},{'role':'assistant','content':a}]
m.append({'role':'user','content':'What is cruft?'})
print(json.dumps({'messages':m,'add_generation_prompt':True}))")
T=$("$ANEMLL" template --model "$M" <<<"$conv" | python3 -c "import json,sys;print(' '.join(map(str,json.load(sys.stdin)['ids'])))")
N=$(wc -w <<<"$T")
if [ "$N" -gt $((2 * SW)) ]; then ok long_sequence_past_window; else bad long_sequence_past_window "$N tokens, window $SW"; fi
"$ANEMLL" convert "$M" "$TMP/f32" --lut2 none --lut3 none >/dev/null 2>&1 || bad convert_no_lut
"$ANEMLL" logits --model "$M" --tokens "$T" --out "$TMP/ref.f32" --batch 64 || bad logits_reference
python3 tests/compare_f32.py --spread "$TMP/ref.f32" "$V" 0.5 && ok reference_logits_not_flat || bad reference_logits_not_flat
for b in 64 7 1; do
    if "$ANEMLL" logits --model "$TMP/f32" --tokens "$T" --out "$TMP/c$b.f32" --batch $b &&
        python3 tests/compare_f32.py "$TMP/c$b.f32" "$TMP/ref.f32" "$V" 1e-3; then
        ok "no_lut_logits_match_past_window_batch$b"
    else bad "no_lut_logits_match_past_window_batch$b"; fi
done
