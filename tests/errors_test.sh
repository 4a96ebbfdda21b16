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
L() { "$ANEMLL" logits --model "$1" --tokens "2 5 6" --out "$TMP/out.f32"; }

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
