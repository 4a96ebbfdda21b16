#!/usr/bin/env bash
# Error messages that name the right thing: the file, position, token id or word at fault.
source "$(dirname "$0")/lib.sh"
G="$DATA/golden"

# drop_tensor FILE NAME: rewrite a safetensors file without one tensor (its bytes removed, the
# later offsets moved down, __metadata__ kept)
drop_tensor() {
    python3 - "$1" "$2" <<'EOF'
import json, struct, sys
path, name = sys.argv[1:3]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr, data = json.loads(raw[8:8 + n]), raw[8 + n:]
b0, b1 = hdr.pop(name)["data_offsets"]
for v in hdr.values():
    if "data_offsets" in v and v["data_offsets"][0] >= b1:
        v["data_offsets"] = [x - (b1 - b0) for x in v["data_offsets"]]
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + data[:b0] + data[b1:])
EOF
}
L() { "$ANEMLL" logits --model "$1" --tokens "${2:-2 5 6}" --out "$TMP/out.f32"; }

# a missing tensor is blamed on the file that should hold it: in a converted model the chunk of
# its layer (or the LM head file), in a sharded checkpoint the index and all its shards
"$ANEMLL" convert "$G/tiny" "$TMP/conv" --quiet >/dev/null
CH2=gemma3_FFN_PF_lut4_chunk_02of02.safetensors
cp -r "$TMP/conv" "$TMP/conv_l5"
drop_tensor "$TMP/conv_l5/$CH2" layers.5.mlp.up_proj.weight.indices
expect_fail missing_tensor_names_chunk "/$CH2: missing tensor 'layers.5.mlp.up_proj.weight.indices'$" L "$TMP/conv_l5"
cp -r "$TMP/conv" "$TMP/conv_norm"
drop_tensor "$TMP/conv_norm/$CH2" norm.weight
expect_fail missing_norm_names_last_chunk "/$CH2: missing tensor 'norm.weight'$" L "$TMP/conv_norm"
cp -r "$TMP/conv" "$TMP/conv_head"
drop_tensor "$TMP/conv_head/gemma3_lm_head_lut6.safetensors" lm_head.weight.lut
expect_fail missing_tensor_names_lm_head "/gemma3_lm_head_lut6.safetensors: missing tensor 'lm_head.weight.lut'$" \
    L "$TMP/conv_head"
python3 tests/make_bad_checkpoints.py "$G/tiny" "$TMP/bad"
T=model.layers.6.mlp.up_proj.weight
shard=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['weight_map']['$T'])" "$TMP/bad/sharded/model.safetensors.index.json")
drop_tensor "$TMP/bad/sharded/$shard" "$T"
python3 - "$TMP/bad/sharded/model.safetensors.index.json" "$T" <<'EOF'
import json, sys
i = json.load(open(sys.argv[1])); del i["weight_map"][sys.argv[2]]; json.dump(i, open(sys.argv[1], "w"))
EOF
expect_fail missing_tensor_sharded "model.safetensors.index.json: missing tensor '$T' \(in none of its 2 shards\)$" \
    L "$TMP/bad/sharded"

# strict FP16: an overflow in the LM head reports the token positions of the rows it computed.
# The checkpoint unties its LM head as the embeddings x 2^14: logits near 1e5, all else as tiny.
python3 - "$G/tiny" "$TMP/big_head" <<'EOF2'
import json, os, struct, sys
src, out = sys.argv[1:3]
os.makedirs(out)
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr, data = json.loads(raw[8:8 + n]), raw[8 + n:]
e = hdr["model.embed_tokens.weight"]
b0, b1 = e["data_offsets"]
w = struct.unpack("<%dH" % ((b1 - b0) // 2), data[b0:b1])
big = struct.pack("<%dH" % len(w), *(x + (14 << 7) if x & 0x7f80 else x for x in w))  # BF16 x 2^14
hdr["lm_head.weight"] = {"dtype": "BF16", "shape": e["shape"], "data_offsets": [len(data), len(data) + len(big)]}
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(os.path.join(out, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + data + big)
c = json.load(open(os.path.join(src, "config.json"))); c["tie_word_embeddings"] = False
json.dump(c, open(os.path.join(out, "config.json"), "w"))
EOF2
"$ANEMLL" logits --model "$TMP/big_head" --tokens "2 5 6" --out "$TMP/bh.f32" &&
    python3 -c "import struct,sys;d=open(sys.argv[1],'rb').read();sys.exit(max(map(abs,struct.unpack('<%df'%(len(d)//4),d)))<65504)" "$TMP/bh.f32" &&
    ok big_head_logits_beyond_fp16 || bad big_head_logits_beyond_fp16
FP16_HEAD='FP16 overflow: non-finite value at lm_head logits'
expect_fail fp16_head_overflow_positions "$FP16_HEAD \(positions 0\.\.2\)$" \
    "$ANEMLL" logits --model "$TMP/big_head" --tokens "2 5 6" --out "$TMP/out.f32" --precision fp16
expect_fail fp16_head_overflow_positions_batches "$FP16_HEAD \(positions 0\.\.1\)$" \
    "$ANEMLL" logits --model "$TMP/big_head" --tokens "2 5 6" --out "$TMP/out.f32" --precision fp16 --batch 2
expect_fail fp16_head_overflow_last_position "$FP16_HEAD \(position 2\)$" \
    "$ANEMLL" generate --model "$TMP/big_head" --tokens "2 5 6" -n 1 --ids --precision fp16
expect_fail fp16_layer_overflow_positions 'FP16 overflow: non-finite value at layer 1, post-feedforward norm \(positions 0\.\.2\)$' \
    "$ANEMLL" logits --model "$G/overflow" --tokens "2 5 6" --out "$TMP/out.f32" --precision fp16

# tokenizer ids: a gap in the id table (an id below the size that no token has) is not called out
# of range
printf '%s' '{"added_tokens": [{"id": 50, "content": "<s>", "special": true}], "model": {"type": "BPE",
 "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]}}' >"$TMP/gap_tok.json"
expect_fail detok_unassigned_id 'stdin line 1: token id 41 is not assigned to any token$' \
    "$ANEMLL" detokenize --tokenizer "$TMP/gap_tok.json" <<<'[1, 41]'
expect_fail detok_id_out_of_range 'stdin line 1: token id 51 is out of range \(vocab size 51\)$' \
    "$ANEMLL" detokenize --tokenizer "$TMP/gap_tok.json" <<<'[1, 51]'
got=$("$ANEMLL" detokenize --tokenizer "$TMP/gap_tok.json" <<<'[3, 50, 1]')
[ "$got" = '"ab<s>a"' ] && ok detok_around_gap || bad detok_around_gap "got $got"

# token id lists quote the offending word itself, not the rest of the list from where a number
# prefix stopped ("0x10 3" once gave 'x10 3'); signs and fractions are no token ids
for t in "0x10 3:0x10" "2 +3:+3" "2 -1:-1" "2 3.5:3.5" "2 99999999999:99999999999"; do
    word=${t#*:}
    expect_fail "tokens_word_quoted_$word" "^anemll: error: --tokens: '${word//[.+]/[&]}' is not a token id$" \
        L "$G/tiny" "${t%:*}"
done
printf '[2, 7,\n0x10, 3]\n' >"$TMP/calib_ids"
expect_fail calib_ids_word_quoted "calib_ids: '0x10' is not a token id$" \
    "$ANEMLL" convert "$G/tiny" "$TMP/conv_ids" --calib-ids "$TMP/calib_ids"

# a generate request too long for the context names the -n asked for (once: 1 less), and the
# positions it needs; one token fewer fits exactly
toks="2 3 4 5 6 7 8 9 10 11"
expect_fail generate_names_n_asked '10 prompt tokens \+ 512 new tokens do not fit the context of 512 \(they need 521 positions: the last new token takes none\)$' \
    "$ANEMLL" generate --model "$G/tiny" --tokens "$toks" -n 512 --ids
expect_fail generate_names_n_asked_edge '10 prompt tokens \+ 504 new tokens do not fit the context of 512 \(they need 513 positions' \
    "$ANEMLL" generate --model "$G/tiny" --tokens "$toks" -n 504 --ids
n=$("$ANEMLL" generate --model "$G/tiny" --tokens "$toks" -n 503 --ids --ignore-eos | wc -w)
[ "$n" -eq 503 ] && ok generate_fills_context || bad generate_fills_context "$n tokens"

# inspect --activations on a model whose activations are NaN: an error naming the first layer
# that is not finite, never a recommended --fp16-scale (max() used to skip the NaNs)
python3 - "$G/tiny" "$TMP" <<'EOF2'
import json, os, shutil, struct, sys
src, tmp = sys.argv[1:3]
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
def variant(name, which):  # the BF16 tensors `which` picks, all NaN
    d = os.path.join(tmp, name); os.makedirs(d)
    shutil.copy(os.path.join(src, "config.json"), d)
    out = bytearray(raw)
    for k, v in hdr.items():
        if k != "__metadata__" and which(k):
            b0, b1 = v["data_offsets"]
            out[8 + n + b0:8 + n + b1] = b"\xc0\x7f" * ((b1 - b0) // 2)
    open(os.path.join(d, "model.safetensors"), "wb").write(out)
variant("nan_norms", lambda k: k.endswith("norm.weight"))
variant("nan_layer3", lambda k: k == "model.layers.3.mlp.up_proj.weight")
EOF2
for c in "nan_norms 0" "nan_layer3 3"; do
    set -- $c
    expect_fail "inspect_${1}_not_finite" "the activations are not finite \(nan after layer $2, in FP32\): the weights are broken, no --fp16-scale can help$" \
        "$ANEMLL" inspect --model "$TMP/$1" --activations
    "$ANEMLL" inspect --model "$TMP/$1" --activations 2>/dev/null | grep -q 'recommended' &&
        bad "inspect_${1}_no_alpha" || ok "inspect_${1}_no_alpha"
done

# eval's protocol line gives the prompt lengths and chunk size actually used: the built-in
# pseudo-random prompts (lengths 4, 12, 40, SW+7, 2SW+3) are clipped to a context of 32 here
"$ANEMLL" convert "$G/tiny" "$TMP/c32" --context 32 --quiet >/dev/null
"$ANEMLL" eval --model "$TMP/c32" --reference "$G/tiny" --steps 4 --quiet >"$TMP/eval.out"
grep -q '^Protocol: 5 prompts (built-in pseudo-random ids (no tokenizer): 5 prompts, BOS first, lengths 4, 12, 31 (clipped from 40), 23, 31 (clipped from 35)),' "$TMP/eval.out" &&
    ok eval_protocol_clipped_lengths || bad eval_protocol_clipped_lengths "$(grep Protocol "$TMP/eval.out")"
seq 2 200 >"$TMP/eval.ids"
"$ANEMLL" eval --model "$TMP/c32" --reference "$G/tiny" --text-ids "$TMP/eval.ids" --chunk 100 --quiet \
    --json "$TMP/eval.json" >"$TMP/eval.out"
grep -q '^Protocol: text, 7 chunks of up to 32 tokens (--chunk clipped to the context) from' "$TMP/eval.out" &&
    python3 -c "import json,sys;s=json.load(open(sys.argv[1]))['settings'];sys.exit(s['chunk']!=32 or s['chunk_requested']!=100)" "$TMP/eval.json" &&
    ok eval_protocol_clipped_chunk || bad eval_protocol_clipped_chunk "$(grep Protocol "$TMP/eval.out")"
