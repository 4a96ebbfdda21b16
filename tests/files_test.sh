#!/usr/bin/env bash
# What the tool does to the files it writes and to inputs that are not what they seem
# (docs/VALIDATION.md, "Outputs" and "Inputs that are not regular files"). Races are made
# deterministic with fault points (ANEMLL_FAULT_<NAME>: a shell command run at that point).
# Every case checks that the data is still there afterwards.
source "$(dirname "$0")/lib.sh"
T="$DATA/golden/tiny"
A="$ANEMLL"
S="$TMP/S"; S2="$TMP/S2"
"$A" synth --shape tiny --vocab 3000 --out "$S" --quiet >/dev/null
"$A" synth --shape tiny --vocab 3000 --seed 2 --out "$S2" --quiet >/dev/null
id_of() { sed -n 's/^  model_id: "\(.*\)"$/\1/p' "$1/meta.yaml"; }
no_temporaries() { ! ls -d "$1".tmp.* >/dev/null 2>&1; }
sum() { sha256sum "$@" | awk '{print $1}' | tr '\n' ' '; }
NOFAULT="env -u ANEMLL_FAULT_CONVERT_BEFORE_RENAME"

# ---- 1. the final rename is atomic: refuse (or with --force replace) what is there at that moment
P="$TMP/P"
expect_fail convert_refuses_folder_appearing_meanwhile "appeared while converting" \
    env ANEMLL_FAULT_CONVERT_BEFORE_RENAME="mkdir '$P' && echo x > '$P/notes.txt'" "$A" convert "$S" "$P"
[ "$(cat "$P/notes.txt")" = x ] && [ "$(ls "$P")" = notes.txt ] && no_temporaries "$P" &&
    ok convert_race_keeps_the_new_folder || bad convert_race_keeps_the_new_folder "$(ls "$P")"

R="$TMP/R"  # a second convert finishes into R while the first one runs: the first must not win
expect_fail convert_race_keeps_the_other_result "appeared while converting" \
    env ANEMLL_FAULT_CONVERT_BEFORE_RENAME="$NOFAULT '$A' convert '$S' '$R' --quiet >/dev/null" "$A" convert "$S2" "$R"
id_first=$(id_of "$R")
[ -n "$id_first" ] && "$A" generate --model "$R" --tokens "2 3" -n 2 >/dev/null 2>&1 && no_temporaries "$R" &&
    ok convert_race_other_result_loads || bad convert_race_other_result_loads "id '$id_first'"
if env ANEMLL_FAULT_CONVERT_BEFORE_RENAME="$NOFAULT '$A' convert '$S' '$R' --force --quiet >/dev/null" \
    "$A" convert "$S2" "$R" --force --quiet >/dev/null 2>&1 &&
    [ "$(id_of "$R")" != "$id_first" ] && no_temporaries "$R" && "$A" generate --model "$R" --tokens "2 3" -n 2 >/dev/null; then
    ok convert_force_exchanges_atomically
else
    bad convert_force_exchanges_atomically
fi
expect_fail convert_force_refuses_plain_folder_appearing "not a converted model" \
    env ANEMLL_FAULT_CONVERT_BEFORE_RENAME="mkdir '$TMP/P2' && echo y > '$TMP/P2/notes.txt'" "$A" convert "$S" "$TMP/P2" --force
[ "$(cat "$TMP/P2/notes.txt")" = y ] && no_temporaries "$TMP/P2" && ok convert_force_race_keeps_plain_folder ||
    bad convert_force_race_keeps_plain_folder

# ---- 2. an output that exists and is not a regular file is written in place, never replaced
mkfifo "$TMP/fifo"
(wc -c <"$TMP/fifo" >"$TMP/fifo.count") &
reader=$!
"$A" logits --model "$T" --tokens "2 3 4" --out "$TMP/fifo" 2>"$TMP/fifo.err"; rc=$?
wait $reader
[ $rc -eq 0 ] && [ -p "$TMP/fifo" ] && [ "$(tr -d ' ' <"$TMP/fifo.count")" = $((3 * 1024 * 4)) ] &&
    ok logits_out_fifo_written_in_place || bad logits_out_fifo_written_in_place "rc $rc $(cat "$TMP/fifo.err")"
if mknod "$TMP/null" c 1 3 2>/dev/null; then
    "$A" logits --model "$T" --tokens "2 3 4" --out "$TMP/null" && [ -c "$TMP/null" ] &&
        ok logits_out_char_device_not_replaced || bad logits_out_char_device_not_replaced "$(ls -l "$TMP/null")"
else
    # without CAP_MKNOD: the real /dev/null, which the bug would have replaced
    "$A" logits --model "$T" --tokens "2 3 4" --out /dev/null && [ -c /dev/null ] &&
        ok logits_out_char_device_not_replaced || bad logits_out_char_device_not_replaced "$(ls -l /dev/null)"
fi
mkdir "$TMP/adir"
expect_fail logits_out_folder_refused "exists and is a folder" "$A" logits --model "$T" --tokens "2 3" --out "$TMP/adir"

# ---- 3. outputs never destroy inputs; --force replaces only a converted model
cp -r "$T" "$TMP/d"
before=$(sum "$TMP/d"/*.json "$TMP/d"/*.safetensors)
expect_fail logits_out_inside_model_refused "would overwrite an input" \
    "$A" logits --model "$TMP/d" --tokens "2 3" --out "$TMP/d/model.safetensors"
expect_fail convert_onto_its_source_refused "overlap the input" "$A" convert "$TMP/d" "$TMP/d" --force
expect_fail convert_inside_its_source_refused "overlap the input" "$A" convert "$TMP/d" "$TMP/d/sub"
expect_fail convert_around_its_source_refused "overlap the input" "$A" convert "$TMP/d/" "$TMP" --force
[ "$(sum "$TMP/d"/*.json "$TMP/d"/*.safetensors)" = "$before" ] && [ ! -e "$TMP/d/sub" ] && ok inputs_unchanged_after_refusals ||
    bad inputs_unchanged_after_refusals
mkdir "$TMP/plain"; echo keep >"$TMP/plain/f.txt"
expect_fail force_replaces_only_converted_models "not a converted model" "$A" convert "$S" "$TMP/plain" --force
[ "$(cat "$TMP/plain/f.txt")" = keep ] && ok force_left_plain_folder || bad force_left_plain_folder
expect_fail eval_json_inside_model_refused "would overwrite an input" \
    "$A" eval --model "$R" --reference "$S" --json "$S/config.json"
expect_fail bench_json_inside_model_refused "would overwrite an input" "$A" bench --model "$R" --json "$R/meta.yaml"
"$A" generate --model "$R" --tokens "2 3" -n 2 >/dev/null && python3 -c "import json;json.load(open('$S/config.json'))" &&
    ok json_refusals_kept_inputs || bad json_refusals_kept_inputs

# ---- 4. a converted folder is one conversion: mixed files or an edited config are errors
"$A" convert "$S" "$TMP/c1" --quiet >/dev/null && "$A" convert "$S" "$TMP/c2" --quiet >/dev/null
cp "$TMP/c2/gemma3_FFN_PF_lut4_chunk_02of02.safetensors" "$TMP/c1/"
expect_fail mixed_chunk_refused "chunk_02of02.safetensors: belongs to another conversion" \
    "$A" generate --model "$TMP/c1" --tokens "2 3" -n 2
sed -i 's/"sliding_window": \([0-9]*\)/"sliding_window": 7/' "$TMP/c2/config.json"
expect_fail config_disagreeing_with_meta_refused "config.json says sliding_window 7 but meta.yaml recorded" \
    "$A" generate --model "$TMP/c2" --tokens "2 3" -n 2

# ---- 5. a failed write on stdout is an error
for cmd in "generate --model $T --tokens 2,3 -n 3" "inspect --model $T" "chat --prompt hi --max-tokens 3"; do
    name=stdout_full_$(echo "$cmd" | cut -d' ' -f1)
    # shellcheck disable=SC2086
    err=$("$A" $cmd 2>&1 >/dev/full); rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "write failed on standard output" <<<"$err" && ok "$name" || bad "$name" "rc $rc: $err"
done
err=$(printf '{"text": "hi", "add_bos": true}\n' | "$A" tokenize --tokenizer "$DATA/tokenizers/gemma3/tokenizer.json" --jsonl 2>&1 >/dev/full); rc=$?
[ $rc -ne 0 ] && grep -q "write failed" <<<"$err" && ok stdout_full_tokenize || bad stdout_full_tokenize "rc $rc: $err"

# ---- 6. inputs that are not regular files are refused, never waited on
mkdir "$TMP/f1" "$TMP/f2"
cp "$T/config.json" "$TMP/f1/"; mkfifo "$TMP/f1/model.safetensors"
mkfifo "$TMP/f2/config.json"; cp "$T/model.safetensors" "$TMP/f2/"
mkfifo "$TMP/tok.json"
expect_fail fifo_weights_refused "model.safetensors: not a regular file" \
    timeout 20 "$A" logits --model "$TMP/f1" --tokens "2 3" --out "$TMP/o.f32"
expect_fail fifo_config_refused "config.json: not a regular file" \
    timeout 20 "$A" logits --model "$TMP/f2" --tokens "2 3" --out "$TMP/o.f32"
expect_fail fifo_tokenizer_refused "tok.json: not a regular file" \
    timeout 20 "$A" generate --model "$T" --prompt hi --tokenizer "$TMP/tok.json"
[ ! -e "$TMP/o.f32" ] && ok fifo_refusals_wrote_nothing || bad fifo_refusals_wrote_nothing

# ---- 7. every file convert writes loads, whatever the shapes
python3 tests/make_micro_checkpoint.py "$TMP/odd" --hidden 18 --intermediate 33 --vocab 37 --head-dim 6
for spec in "" "--lut2 3,1 --lut3 5,0" "--lut1 4,4 --lut2 none --lut3 none" "--lut2 7,3 --chunk 1"; do
    name=odd_shapes_convert_load_${spec:-default}; name=${name// /_}
    # shellcheck disable=SC2086
    rm -rf "$TMP/oddc" && "$A" convert "$TMP/odd" "$TMP/oddc" --context 16 --quiet $spec >"$TMP/odd.log" 2>&1 &&
        "$A" logits --model "$TMP/oddc" --tokens "2 3 4 5" --out "$TMP/odd.f32" 2>>"$TMP/odd.log" &&
        [ "$(stat -c %s "$TMP/odd.f32")" = $((4 * 37 * 4)) ] && ok "$name" || bad "$name" "$(tail -2 "$TMP/odd.log")"
done

# ---- 8. legal to parse but senseless
expect_fail fp16_scale_tiny_refused "between 1/1024 and 1|\[1/1024, 1\]" "$A" convert "$S" "$TMP/a1" --fp16-scale 1e-30
expect_fail fp16_scale_small_refused "between 1/1024 and 1|\[1/1024, 1\]" "$A" convert "$S" "$TMP/a2" --fp16-scale 1e-5
[ ! -e "$TMP/a1" ] && [ ! -e "$TMP/a2" ] && ok fp16_scale_refusals_wrote_nothing || bad fp16_scale_refusals_wrote_nothing
cp -r "$R" "$TMP/nan"
python3 - "$TMP/nan/gemma3_lm_head_lut6.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; raw = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])
off = 8 + n + h["lm_head.weight.lut"]["data_offsets"][0]
raw[off + 10:off + 12] = struct.pack("<H", 0x7e00)  # one table entry NaN
open(p, "wb").write(raw)
PY
expect_fail nan_lut_table_refused "lm_head.weight.lut' has a non-finite table entry \(NaN" \
    "$A" generate --model "$TMP/nan" --tokens "2 3" -n 2
mkdir "$TMP/eos"; cp "$T/model.safetensors" "$TMP/eos/"
python3 -c "import json,sys;c=json.load(open('$T/config.json'));c['eos_token_id']=1.5;json.dump(c,open('$TMP/eos/config.json','w'))"
expect_fail fractional_eos_refused "eos_token_id' must be a token id" "$A" generate --model "$TMP/eos" --tokens "2 3" -n 2
# tensor names: strict layer numbers; a plain matrix beside its LUT pair
python3 - "$T" "$TMP/names" "$R" <<'PY'
import json, os, shutil, struct, sys
src, out, conv = sys.argv[1:4]
def read(p):
    raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]
def write(p, hdr, body):
    h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    open(p, "wb").write(struct.pack("<Q", len(h)) + h + body)
hdr, body = read(os.path.join(src, "model.safetensors"))
for tag, bad in [("leading_zero", "model.layers.01.mlp.up_proj.weight"), ("plus", "model.layers.+1.mlp.up_proj.weight"),
                 ("huge", "model.layers.4294967296.mlp.up_proj.weight")]:
    d = os.path.join(out, tag); os.makedirs(d)
    shutil.copy(os.path.join(src, "config.json"), d)
    h = dict(hdr); h[bad] = h.pop("model.layers.1.mlp.up_proj.weight")
    write(os.path.join(d, "model.safetensors"), h, body)
d = os.path.join(out, "plain_beside_lut"); shutil.copytree(conv, d)
p = os.path.join(d, "gemma3_lm_head_lut6.safetensors")
h, b = read(p); e = h["lm_head.weight.lut"]
h["lm_head.weight"] = {"dtype": "U8", "shape": [8], "data_offsets": [len(b), len(b) + 8]}
write(p, h, b + bytes(8))
PY
for tag in leading_zero plus huge plain_beside_lut; do
    expect_fail "tensor_name_$tag" "unexpected tensor" "$A" generate --model "$TMP/names/$tag" --tokens "2 3" -n 2
done
for v in -3 0 abc 2x; do
    expect_fail "threads_env_$v" "ANEMLL_THREADS '$v'" env ANEMLL_THREADS=$v "$A" generate --model "$T" --tokens "2 3" -n 2
done
err=$(ANEMLL_THREADS=1000 "$A" generate --model "$T" --tokens "2 3" -n 2 2>&1 >/dev/null); rc=$?
[ $rc -eq 0 ] && grep -q "ANEMLL_THREADS=1000 is capped to" <<<"$err" && ok threads_env_capped_says_so || bad threads_env_capped_says_so "$err"
python3 - "$TMP/expand.json" <<'PY'
import json, sys
t = {"model": {"type": "BPE", "vocab": {"a": 0, "<bos>": 1, "<eos>": 2}, "merges": [], "byte_fallback": False},
     "normalizer": {"type": "Replace", "pattern": {"String": "a"}, "content": "b" * 20000}, "added_tokens": []}
json.dump(t, open(sys.argv[1], "w"))
PY
expect_fail normalizer_expansion_bounded "normalizer Replace expands 1 bytes to 20000" \
    sh -c "echo '[1]' | '$A' detokenize --tokenizer '$TMP/expand.json'"

# ---- 9. interrupted runs leave nothing behind; a leftover temporary folder is never a model
# (in a subshell whose stderr is discarded: bash reports a child killed by a signal)
rc=$(exec 2>/dev/null; ANEMLL_FAULT_LOGITS_WRITE='kill -INT $PPID' "$A" logits --model "$T" --tokens "2 3 4" --out "$TMP/int.f32"; echo $?)
[ $rc -eq 130 ] && [ -z "$(ls "$TMP" | grep '^int\.f32')" ] && ok logits_sigint_leaves_nothing || bad logits_sigint_leaves_nothing "rc $rc: $(ls "$TMP" | grep int)"
rc=$(exec 2>/dev/null; ANEMLL_FAULT_LOGITS_WRITE='kill -TERM $PPID' "$A" logits --model "$T" --tokens "2 3 4" --out "$TMP/term.f32"; echo $?)
[ $rc -eq 143 ] && [ -z "$(ls "$TMP" | grep '^term\.f32')" ] && ok logits_sigterm_leaves_nothing || bad logits_sigterm_leaves_nothing "rc $rc"
rc=$(exec 2>/dev/null; ANEMLL_FAULT_CONVERT_BEFORE_RENAME='kill -KILL $PPID' "$A" convert "$S" "$TMP/K" --quiet >/dev/null; echo $?)
left=$(ls -d "$TMP"/K.tmp.* 2>/dev/null | head -1)
[ $rc -eq 137 ] && [ -n "$left" ] && [ -f "$left/meta.yaml" ] && [ ! -e "$TMP/K" ] && ok convert_sigkill_leaves_temporary ||
    bad convert_sigkill_leaves_temporary "rc $rc '$left'"
expect_fail temporary_folder_never_loaded "temporary folder of an unfinished conversion" \
    "$A" generate --model "$left" --tokens "2 3" -n 2
"$A" convert "$S" "$TMP/K" --quiet >/dev/null && no_temporaries "$TMP/K" && [ -f "$TMP/K/meta.yaml" ] &&
    ok next_convert_removes_stale_temporary || bad next_convert_removes_stale_temporary "$(ls -d "$TMP"/K*)"

# ---- 10. bench --json escapes the model path
Q="$TMP/a\"q\\b"
cp -r "$R" "$Q"
if "$A" bench --model "$Q" --prompt-tokens 8 --gen-tokens 4 --repeat 1 --json "$TMP/b.json" >/dev/null 2>&1 &&
    python3 -c "import json,sys;d=json.load(open('$TMP/b.json'));sys.exit(d['model']!=sys.argv[1])" "$Q"; then
    ok bench_json_escapes_model_path
else
    bad bench_json_escapes_model_path "$(head -c 300 "$TMP/b.json")"
fi
