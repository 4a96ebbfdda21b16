#!/usr/bin/env bash
# The CLI contract of logits/generate/synth, and one-line errors for bad inputs.
source "$(dirname "$0")/lib.sh"
G="$DATA/golden"

# logits: the file is [n, vocab] float32 and matches the golden logits within 1e-3
toks=$(python3 -c "import json;print(' '.join(map(str,json.load(open('$G/tiny/cases/case1_len40.json'))['token_ids'])))")
for b in 64 7 1; do
    if "$ANEMLL" logits --model "$G/tiny" --tokens "$toks" --out "$TMP/l.f32" --batch $b &&
        python3 tests/compare_f32.py "$TMP/l.f32" "$G/tiny/cases/case1_len40.logits.f32" 1024 1e-3; then
        ok "logits_file_batch_$b"
    else bad "logits_file_batch_$b"; fi
done

# generate --ids: greedy continuation equals the reference (EOS ignored, as the reference does)
want=$(python3 -c "import json;print(' '.join(map(str,json.load(open('$G/gqa1/cases/case2_len100.json'))['greedy_new_tokens'])))")
toks=$(python3 -c "import json;print(' '.join(map(str,json.load(open('$G/gqa1/cases/case2_len100.json'))['token_ids'])))")
got=$("$ANEMLL" generate --model "$G/gqa1" --tokens "$toks" -n 20 --ignore-eos --ids --batch 7)
[ "$got" = "$want" ] && ok generate_greedy_ids || bad generate_greedy_ids "got '$got' want '$want'"

# seeded sampling is reproducible, and differs from greedy for some seed
a=$("$ANEMLL" generate --model "$G/tiny" --tokens "2 5 6" -n 12 --temp 1.5 --seed 7 --ignore-eos --ids)
b=$("$ANEMLL" generate --model "$G/tiny" --tokens "2 5 6" -n 12 --temp 1.5 --seed 7 --ignore-eos --ids)
c=$("$ANEMLL" generate --model "$G/tiny" --tokens "2 5 6" -n 12 --ignore-eos --ids)
[ "$a" = "$b" ] && [ "$a" != "$c" ] && ok generate_seeded_sampling || bad generate_seeded_sampling "$a / $b / $c"

# stops at an eos id unless --ignore-eos: a one-token budget never exceeds its count
n=$("$ANEMLL" generate --model "$G/tiny" --tokens "2 5 6" -n 3 --ids | wc -w)
[ "$n" -ge 1 ] && [ "$n" -le 3 ] && ok generate_count || bad generate_count "$n words"

# synth writes a loadable checkpoint whose logits are not flat
if "$ANEMLL" synth --shape tiny --out "$TMP/syn" --seed 3 &&
    "$ANEMLL" logits --model "$TMP/syn" --tokens "2 10 20 30" --out "$TMP/syn.f32" &&
    python3 tests/compare_f32.py --spread "$TMP/syn.f32" 1024 1.0; then
    ok synth_tiny
else bad synth_tiny; fi
"$ANEMLL" synth --shape tiny --out "$TMP/syn2" --seed 3 --vocab 300 >/dev/null &&
    grep -q '"vocab_size": 300' "$TMP/syn2/config.json" &&
    ok synth_vocab_override || bad synth_vocab_override

# a sharded checkpoint gives the same logits as the single file
python3 tests/make_bad_checkpoints.py "$G/tiny" "$TMP/bad"
"$ANEMLL" logits --model "$G/tiny" --tokens "2 7 9" --out "$TMP/a.f32"
"$ANEMLL" logits --model "$TMP/bad/sharded" --tokens "2 7 9" --out "$TMP/b.f32"
cmp -s "$TMP/a.f32" "$TMP/b.f32" && ok sharded_same_logits || bad sharded_same_logits

# bad inputs: one line naming the problem, non-zero exit, no crash, no output file left
L() { "$ANEMLL" logits --model "$1" --tokens "${2:-2 5 6}" --out "$TMP/out.f32"; }
expect_fail truncated_data 'model.safetensors.*(outside the data|truncated)' L "$TMP/bad/truncated_data"
expect_fail truncated_header 'model.safetensors.*header length' L "$TMP/bad/truncated_header"
expect_fail tiny_file 'model.safetensors.*truncated' L "$TMP/bad/tiny_file"
expect_fail huge_header_len 'model.safetensors.*header length' L "$TMP/bad/huge_header_len"
expect_fail header_not_json 'model.safetensors.*not valid JSON' L "$TMP/bad/header_not_json"
expect_fail data_gap 'model.safetensors.*gap in tensor data' L "$TMP/bad/missing_tensor_gap"
expect_fail missing_tensor "model.safetensors: missing tensor 'model.layers.4.mlp.down_proj.weight'" L "$TMP/bad/missing_tensor"
expect_fail wrong_shape "model.safetensors.*q_proj.weight' has shape \[64,128\], expected \[128,64\]" L "$TMP/bad/wrong_shape"
expect_fail unknown_dtype "model.safetensors.*unsupported dtype 'I16'" L "$TMP/bad/unknown_dtype"
expect_fail wrong_dtype "model.safetensors.*k_norm.weight' has dtype I32" L "$TMP/bad/wrong_dtype"
expect_fail overlapping_tensors 'model.safetensors.*(overlaps|shape x dtype)' L "$TMP/bad/overlap"
expect_fail huge_shape 'model.safetensors.*(overflow|shape x dtype)' L "$TMP/bad/huge_shape"
expect_fail unknown_tensor "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'" L "$TMP/bad/unknown_tensor"
expect_fail no_config 'config.json: cannot open' L "$TMP/bad/no_config"
expect_fail bad_config_json 'config.json: not a valid JSON' L "$TMP/bad/bad_config_json"
expect_fail unsupported_rope "config.json: rope_scaling type 'yarn'" L "$TMP/bad/unsupported_rope"
expect_fail wrong_model_type "config.json: model_type 'llama'" L "$TMP/bad/wrong_model_type"
expect_fail short_layer_types 'config.json: layer_types must list 8' L "$TMP/bad/short_layer_types"
expect_fail unsupported_activation "config.json: hidden_activation 'relu'" L "$TMP/bad/unsupported_activation"
expect_fail bad_shard_index "index.json: tensor 'model.extra.weight'" L "$TMP/bad/bad_index"
expect_fail missing_model_dir 'model folder not found' L "$TMP/nowhere"
expect_fail token_out_of_vocab 'token id 1024 .*outside the vocabulary' L "$G/tiny" "2 1024"
expect_fail token_not_a_number "'x3' is not a token id" L "$G/tiny" "2 x3"
expect_fail empty_tokens 'empty token list' L "$G/tiny" " "
long=$(seq 1 600 | tr '\n' ' ')
expect_fail tokens_exceed_context '600 tokens do not fit the context of 512' L "$G/tiny" "$long"
expect_fail generate_exceeds_context 'do not fit the context of 16' \
    "$ANEMLL" generate --model "$G/tiny" --tokens "2 3 4 5" -n 20 --context 16 --ids
expect_fail unknown_flag "unknown argument '--bogus'" "$ANEMLL" logits --bogus
expect_fail synth_unknown_shape "unknown shape 'huge'" "$ANEMLL" synth --shape huge --out "$TMP/x"
[ ! -e "$TMP/out.f32" ] && [ -z "$(ls "$TMP" | grep '\.tmp\.')" ] && ok no_partial_outputs || bad no_partial_outputs
