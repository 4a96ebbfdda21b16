#!/usr/bin/env bash
# Hardening: a table of hand-made bad files, each of which must give its documented one-line
# error (the rules are in docs/VALIDATION.md), a non-zero exit, no crash and no
# sanitizer report, and leave no output behind; resource limits (a model larger than memory,
# a full disk, prompts and requests that do not fit the context); NaN/Inf weights; and a
# regression test for each bug the fuzzers found. Cases of one family (e.g. a header cut at
# every JSON token boundary) report as one PASS/FAIL line naming the cases that failed.
source "$(dirname "$0")/lib.sh"
G="$DATA/golden/tiny"
H="$TMP/h"
SMALL_TOK="fuzz/corpus/fuzz_tokenizer_load/small.json"
mkdir -p "$H"

# a converted model (LUT FFN and LM head) for the LUT cases
"$ANEMLL" convert "$G" "$H/conv" --fp16-scale 0.5 --context 64 >/dev/null || bad convert_for_lut_cases

# The table: one line per case, FAMILY <tab> KIND <tab> PATH <tab> PATTERN (grep -E).
python3 - "$G" "$H" >"$TMP/table" <<'EOF'
import json, os, re, shutil, struct, sys
G, H = sys.argv[1:3]
config = open(os.path.join(G, "config.json"), "rb").read()
rows = []

def case(family, name, kind, pattern, files=None, cfg=config, base=None):
    """A folder H/family/name holding config.json (cfg, unless None) and files {name: bytes}."""
    d = os.path.join(H, family, name)
    if base: shutil.copytree(base, d)
    else: os.makedirs(d)
    if cfg is not None and not base: open(os.path.join(d, "config.json"), "wb").write(cfg)
    for fn, data in (files or {}).items():
        p = os.path.join(d, fn)
        if data is None: os.remove(p)
        else: open(p, "wb").write(data)
    target = os.path.join(d, kind.split(":", 1)[1]) if ":" in kind else d
    rows.append((family, kind.split(":", 1)[0], target, pattern))

def st(hdr, body, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body

def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]

def token_ends(text):
    """Offsets just after each JSON token of compact text."""
    ends, i = [], 0
    while i < len(text):
        c = text[i:i + 1]
        if c == b'"':
            j = i + 1
            while text[j:j + 1] != b'"':
                j += 2 if text[j:j + 1] == b"\\" else 1
            i = j + 1
        elif c in b"{}[]:,":
            i += 1
        else:
            m = re.match(rb"-?[0-9.eE+-]+|true|false|null", text[i:])
            i += len(m.group(0))
        ends.append(i)
    return ends

ST = "model.safetensors"
# -- a small header with every kind of token: metadata, 2-D, 1-D and 0-D tensors
small_hdr = {"__metadata__": {"format": "pt"},
             "model.embed_tokens.weight": {"dtype": "BF16", "shape": [4, 2], "data_offsets": [0, 16]},
             "model.norm.weight": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
             "z": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]}}
small_json = json.dumps(small_hdr, separators=(",", ":")).encode()
small = st(small_hdr, bytes(range(32)))
hlen = struct.unpack("<Q", small[:8])[0]

# truncated at every byte of the 8-byte length, at every token boundary of the header (length
# field intact), the header itself cut at every token boundary (length field adjusted), and the
# data cut at every byte
for n in range(9):
    pat = "model.safetensors: truncated safetensors file \\(%d bytes, no header\\)" % n if n < 8 else \
          "model.safetensors: bad safetensors header length %d \\(file has 8 bytes\\)" % hlen
    case("cut_in_length_field", "at%d" % n, "model", pat, {ST: small[:n]})
for k in token_ends(small_json)[:-1]:
    case("cut_in_header_every_token", "at%d" % k, "model",
         "bad safetensors header length %d \\(file has %d bytes\\)" % (hlen, 8 + k), {ST: small[:8 + k]})
    h = small_json[:k]
    pat = "safetensors header is not a JSON object" if k < 2 else \
          "safetensors header is not valid JSON: a syntax error or nesting deeper than 1000 levels at byte [0-9]+"
    case("header_json_cut_every_token", "at%d" % k, "model", pat, {ST: struct.pack("<Q", k) + h})
for k in range(32):
    case("data_cut_every_byte", "at%d" % k, "model",
         "model.safetensors: tensor '[^']+' bytes \\[[0-9]+, [0-9]+\\) lie outside the data \\(%d bytes\\): truncated file\\?" % k,
         {ST: small[:8 + hlen + k]})

# overlapping, gapped, duplicated ranges (sizes consistent with the shapes)
def with_offsets(offs, body_len=32):
    h = json.loads(json.dumps(small_hdr))
    for (name, o) in zip(("model.embed_tokens.weight", "model.norm.weight", "z"), offs):
        h[name]["data_offsets"] = o
    return st(h, bytes(body_len))
case("overlap", "same_range", "model", "overlaps another tensor", {ST: with_offsets([[0, 16], [0, 8], [8, 16]], 16)})
case("overlap", "inside", "model", "overlaps another tensor", {ST: with_offsets([[0, 16], [4, 12], [16, 24]], 24)})
case("overlap", "partial", "model", "overlaps another tensor", {ST: with_offsets([[0, 16], [12, 20], [24, 32]], 32)})
case("overlap", "gap", "model", "gap in tensor data before 'model.norm.weight'", {ST: with_offsets([[0, 16], [20, 28], [32, 40]], 40)})
case("overlap", "uncovered_tail", "model", "4 bytes of data not covered by any tensor", {ST: with_offsets([[0, 16], [16, 24], [24, 32]], 36)})
dup = small_json.replace(b'"z":{"dtype":"I64","shape":[],"data_offsets":[24,32]}',
                         b'"z":{"dtype":"I64","shape":[],"data_offsets":[24,32]},"z":{"dtype":"I64","shape":[],"data_offsets":[32,40]}')
case("overlap", "duplicate_name", "model", "tensor 'z' appears twice", {ST: st(None, bytes(40), dup)})

# no tensors at all (fuzz_safetensors: the empty table reached qsort/bsearch as a NULL array)
case("empty_table", "no_tensors", "model", "no Gemma 3 text weights", {ST: struct.pack("<Q", 8) + b"{}      "})
case("empty_table", "metadata_only", "model", "no Gemma 3 text weights", {ST: st({"__metadata__": {"format": "pt"}}, b"")})
case("empty_table", "empty_file", "model", "truncated safetensors file \\(0 bytes", {ST: b""})

# huge or impossible declared shapes and offsets
def shaped(shape, offs=(0, 16), dtype="BF16", body=32):
    h = json.loads(json.dumps(small_hdr)); h["model.embed_tokens.weight"].update(shape=shape, data_offsets=list(offs), dtype=dtype)
    return st(h, bytes(body))
E = "model.embed_tokens.weight"
for name, shape, pat in [
        ("2e40_x_2e40", [1 << 40, 1 << 40], "tensor '%s' shape overflows" % E),
        ("2e32_x_2e32", [1 << 32, 1 << 32], "tensor '%s' shape overflows" % E),
        ("8_dims_of_2e8", [256] * 8, "tensor '%s' shape overflows" % E),
        ("1e6_x_1e6", [10 ** 6, 10 ** 6], "tensor '%s' shape x dtype is 2000000000000 bytes but its data range has 16" % E),
        ("beyond_2e53", [(1 << 53) + 2, 1], "malformed entry '%s'" % E),
        ("negative", [-4, 2], "malformed entry '%s'" % E),
        ("fraction", [4.5, 2], "malformed entry '%s'" % E),
        ("string_dim", ["4", 2], "malformed entry '%s'" % E),
        ("nine_dims", [1] * 9, "tensor '%s' has 9 dimensions \\(max 8\\)" % E)]:
    case("huge_shape", name, "model", pat, {ST: shaped(shape)})
case("huge_shape", "offset_2e50", "model", "bytes \\[0, 1125899906842624\\) lie outside the data", {ST: shaped([4, 2], (0, 1 << 50))})
case("huge_shape", "offset_2e60", "model", "malformed entry '%s'" % E, {ST: shaped([4, 2], (0, 1 << 60))})  # beyond 2^53
case("huge_shape", "offsets_reversed", "model", "bytes \\[16, 0\\) lie outside the data", {ST: shaped([4, 2], (16, 0))})
case("huge_shape", "header_length_2e63", "model", "bad safetensors header length 9223372036854775808", {ST: struct.pack("<Q", 1 << 63) + small[8:]})
case("huge_shape", "header_length_over_100MB", "model", "bad safetensors header length 100000008", {ST: struct.pack("<Q", 100000008) + small[8:]})
c = json.loads(config); c["vocab_size"] = 1 << 30
case("huge_shape", "config_vocab_2e30", "model", "config.json: 'vocab_size' must be an integer in \\[1, 16777216\\]", cfg=json.dumps(c).encode(), files={ST: small})
c = json.loads(config); c["hidden_size"] = 1e300
case("huge_shape", "config_hidden_1e300", "model", "config.json: 'hidden_size' must be an integer in \\[1, 65536\\]", cfg=json.dumps(c).encode(), files={ST: small})
c = json.loads(config); c["num_hidden_layers"] = 100000
case("huge_shape", "config_layers_1e5", "model", "config.json: 'num_hidden_layers' must be an integer in \\[1, 1024\\]", cfg=json.dumps(c).encode(), files={ST: small})

# dtype names
for name, dt, pat in [("lowercase", "bf16", "unsupported dtype 'bf16'"), ("f64", "F64", "unsupported dtype 'F64'"),
                      ("empty", "", "unsupported dtype ''"), ("bool", "BOOL", "unsupported dtype 'BOOL'"),
                      ("number", 7, "malformed entry '%s'" % E)]:
    case("dtype_name", name, "model", pat, {ST: shaped([4, 2], dtype=dt)})
gh, gdata = read_st(os.path.join(G, ST))
h2 = json.loads(json.dumps(gh)); t = h2["model.norm.weight"]; t["dtype"] = "U8"; t["shape"] = [t["shape"][0] * 2]
case("dtype_name", "u8_weight", "model", "tensor 'model.norm.weight' has dtype U8, which is not supported here", {ST: st(h2, gdata)})

# not UTF-8, a NUL byte, text after the value (config.json, generation_config.json, tokenizer.json,
# a safetensors header, a shard index)
U = "not valid UTF-8 at byte [0-9]+"
for name, bad in [("xff", b"\xff"), ("latin1", b"caf\xe9"), ("overlong", b"\xc0\xaf"), ("surrogate", b"\xed\xa0\x80"),
                  ("beyond_10ffff", b"\xf4\x90\x80\x80"), ("cut_char", b"\xe2\x82")]:
    cfg = config.replace(b'"Gemma3ForCausalLM"', b'"Gemma3' + bad + b'ForCausalLM"')
    case("non_utf8_json", "config_" + name, "model", "config.json: not a valid JSON object: " + U, cfg=cfg, files={ST: small})
case("non_utf8_json", "config_utf16", "model", "config.json: not a valid JSON object: not valid UTF-8 at byte 0",
     cfg=b"\xff\xfe" + config.decode().encode("utf-16-le"), files={ST: small})
case("non_utf8_json", "config_nul", "model", "config.json: not a valid JSON object: a NUL byte at byte [0-9]+",
     cfg=config.replace(b'"Gemma3ForCausalLM"', b'"Gemma3\0"'), files={ST: small})
case("non_utf8_json", "config_trailing", "model", "config.json: not a valid JSON object: text after the value at byte [0-9]+",
     cfg=config + b'\n{"model_type": "llama"}', files={ST: small})
case("non_utf8_json", "generation_config", "model", "generation_config.json: not valid JSON: " + U,
     files={ST: small, "generation_config.json": b'{"eos_token_id": [1], "x": "\xff"}'})
case("non_utf8_json", "header_name", "model", "safetensors header is not valid JSON: " + U,
     {ST: st(None, bytes(32), small_json.replace(b'"z"', b'"z\xff"'))})
case("non_utf8_json", "header_trailing", "model", "safetensors header is not valid JSON: text after the value at byte [0-9]+",
     {ST: st(None, bytes(32), small_json + b"  x")})
case("non_utf8_json", "index", "model", "model.safetensors.index.json: not valid JSON: " + U,
     {"model.safetensors.index.json": b'{"weight_map": {"a\xff": "model.safetensors"}}', ST: small})
tok = open("fuzz/corpus/fuzz_tokenizer_load/small.json", "rb").read()
os.makedirs(os.path.join(H, "tok"), exist_ok=True)
def tokcase(family, name, data, pattern):
    p = os.path.join(H, "tok", name + ".json"); open(p, "wb").write(data)
    rows.append((family, "tok", p, pattern))
tokcase("non_utf8_json", "tok_vocab_xff", tok.replace(b'"xy":21', b'"x\xffy":21'), "tok_vocab_xff.json: invalid JSON: " + U)
tokcase("non_utf8_json", "tok_latin1", tok.replace(b'"c":10', b'"\xe9":10'), "tok_latin1.json: invalid JSON: " + U)
tokcase("non_utf8_json", "tok_nul", tok.replace(b'"c":10', b'"\0":10'), "tok_nul.json: invalid JSON: a NUL byte at byte [0-9]+")
tokcase("non_utf8_json", "tok_trailing", tok + b",", "tok_trailing.json: invalid JSON: text after the value at byte %d" % len(tok))
tokcase("non_utf8_json", "tok_empty", b"", "tok_empty.json: invalid JSON: an empty file")

# deeply nested JSON (cJSON stops at 1000 levels; the JSON-lines reader at 256; meta.yaml at 32)
D = "a syntax error or nesting deeper than 1000 levels at byte"
case("deep_json", "config_100k_arrays", "model", "config.json: not a valid JSON object: " + D, cfg=b"[" * 100000, files={ST: small})
case("deep_json", "config_100k_objects", "model", "config.json: not a valid JSON object: " + D, cfg=b'{"a":' * 100000, files={ST: small})
case("deep_json", "config_999_arrays", "model", "config.json: not a valid JSON object$", cfg=b"[" * 999 + b"]" * 999, files={ST: small})
case("deep_json", "header_100k_arrays", "model", "safetensors header is not valid JSON: " + D, {ST: st(None, b"", b'{"a":' + b"[" * 100000)})
case("deep_json", "generation_config", "model", "generation_config.json: not valid JSON: " + D,
     files={ST: small, "generation_config.json": b"[" * 100000})
tokcase("deep_json", "tok_100k_arrays", b"[" * 100000, "tok_100k_arrays.json: invalid JSON: " + D)
tokcase("deep_json", "tok_deep_vocab", tok.replace(b'"merges":', b'"deep":' + b"[" * 5000 + b"]" * 5000 + b',"merges":'),
        "tok_deep_vocab.json: invalid JSON: " + D)
for kind, name, line in [("tokjsonl", "tokenize", b'{"text": ' + b"[" * 100000), ("detok", "detokenize", b"[" * 100000),
                         ("template", "template", b'{"messages": ' + b"[" * 100000)]:
    p = os.path.join(H, "tok", "deep_" + name + ".jsonl"); open(p, "wb").write(line + b"\n")
    rows.append(("deep_json", kind, p, "stdin line 1: invalid JSON: nested too deeply at byte [0-9]+"))

# converted models: meta.yaml and the LUT-packed tensors
conv = os.path.join(H, "conv")
meta = open(os.path.join(conv, "meta.yaml"), "rb").read()
chunk = "gemma3_FFN_PF_lut4_chunk_01of02.safetensors"
ch, cdata = read_st(os.path.join(conv, chunk))
def meta_case(name, old, new, pat):
    assert old in meta, old
    case("lut_model", name, "model", pat, {"meta.yaml": meta.replace(old, new)}, base=conv)
meta_case("lut_bits_9", b"lut_ffn: 4\n", b"lut_ffn: 9\n", "meta.yaml: lut_ffn must be none or 2..8")
meta_case("lut_bits_text", b"lut_ffn: 4\n", b"lut_ffn: four\n", "meta.yaml: lut_ffn must be none or 2..8")
meta_case("chunks_65", b"num_chunks: 2\n", b"num_chunks: 65\n", "meta.yaml: num_chunks must be an integer in \\[1, 64\\]")
meta_case("chunks_huge", b"num_chunks: 2\n", b"num_chunks: 99999999999999999999\n", "meta.yaml: num_chunks must be an integer in \\[1, 64\\]")
meta_case("names_mismatch", b"num_chunks: 2\n", b"num_chunks: 1\n", "meta.yaml: embeddings/lm_head/ffn file names do not match")
meta_case("context_too_long", b"context_length: 64\n", b"context_length: 100000\n", "meta.yaml context_length 100000 exceeds max_position_embeddings 512")
meta_case("alpha_zero", b"    alpha: 0.5\n", b"    alpha: 0\n", "meta.yaml: fp16_scale.alpha must be in \\(0, 1\\]")
meta_case("alpha_nan", b"    alpha: 0.5\n", b"    alpha: .nan\n", "meta.yaml: 'anemll_c.fp16_scale.alpha' is '.nan', expected a number")
meta_case("yaml_alias", b"model_info:\n", b"x: &a [1]\ny: *a\nmodel_info:\n", "meta.yaml: YAML aliases are not supported")
meta_case("yaml_deep", b"model_info:\n", b"x: " + b"[" * 100000 + b"\nmodel_info:\n", "meta.yaml: (YAML nested deeper than 32 levels|invalid YAML)")
meta_case("yaml_not_utf8", b"model_info:\n", b"x: \"\xff\"\nmodel_info:\n", "meta.yaml: invalid YAML at line 1")
Q = "layers.0.self_attn.q_proj.weight"
def chunk_case(name, hdr, data, pat):
    case("lut_model", name, "model", pat, {chunk: st(hdr, data)}, base=conv)
h = json.loads(json.dumps(ch)); h[Q + ".indices"]["shape"] = [64, 64]
chunk_case("indices_shape", h, cdata, "tensor '%s.indices' has shape \\[64,64\\], expected \\[128,32\\]" % Q)
h = json.loads(json.dumps(ch)); h[Q + ".lut"]["dtype"] = "BF16"
chunk_case("lut_dtype", h, cdata, "tensor '%s.lut' has dtype BF16, which is not supported here" % Q)
h = json.loads(json.dumps(ch)); t = h[Q + ".lut"]; t["shape"] = [t["shape"][0] * 2, 8]
chunk_case("lut_table_size", h, cdata, "tensor '%s.lut' has shape \\[64,8\\], expected \\[32,16\\]" % Q)
h = json.loads(json.dumps(ch)); h[Q + ".indices"]["dtype"] = "I8"
chunk_case("indices_dtype", h, cdata, "tensor '%s.indices' has dtype I8, which is not supported here" % Q)
h = json.loads(json.dumps(ch)); gone = h.pop(Q + ".lut")["data_offsets"]  # removed, the data compacted
for v in h.values():
    if "data_offsets" in v and v["data_offsets"][0] >= gone[1]:
        v["data_offsets"] = [x - (gone[1] - gone[0]) for x in v["data_offsets"]]
chunk_case("lut_missing", h, cdata[:gone[0]] + cdata[gone[1]:], "missing tensor '%s.lut'" % Q)
case("lut_model", "chunk_missing", "model", "chunk_02of02.safetensors: cannot open",
     {"gemma3_FFN_PF_lut4_chunk_02of02.safetensors": None}, base=conv)
case("lut_model", "chunk_truncated", "model", "chunk_01of02.safetensors: tensor '[^']+' bytes .* lie outside the data",
     {chunk: open(os.path.join(conv, chunk), "rb").read()[:-100]}, base=conv)

for r in rows: print("\t".join(r))
EOF

# reason_not_clean PATTERN CMD...: empty when CMD fails as expect_fail (lib.sh) demands, else why not
reason_not_clean() {
    local pat=$1; shift
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" -eq 0 ]; then echo "exit 0"; return; fi
    if [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128))"; return; fi
    if grep -q 'Sanitizer\|runtime error' <<<"$err"; then echo "sanitizer: $(head -3 <<<"$err")"; return; fi
    if [ "$(grep -c . <<<"$err")" -ne 1 ]; then echo "not one error line: $(head -3 <<<"$err")"; return; fi
    grep -qE -- "$pat" <<<"$err" || echo "'$err' does not match '$pat'"
}
run_case() {  # KIND PATH
    case $1 in
        model) "$ANEMLL" logits --model "$2" --tokens "2 3" --out "$TMP/out.f32" ;;
        tok) "$ANEMLL" tokenize --tokenizer "$2" <<<"ab" ;;
        tokjsonl) "$ANEMLL" tokenize --tokenizer "$SMALL_TOK" --jsonl <"$2" ;;
        detok) "$ANEMLL" detokenize --tokenizer "$SMALL_TOK" <"$2" ;;
        template) "$ANEMLL" template --tokenizer "$SMALL_TOK" --jsonl <"$2" ;;
    esac
}
declare -A n_cases fails
order=()
while IFS=$'\t' read -r fam kind path pat; do
    [ -n "${n_cases[$fam]+x}" ] || { order+=("$fam"); n_cases[$fam]=0; fails[$fam]=""; }
    n_cases[$fam]=$((n_cases[$fam] + 1))
    why=$(reason_not_clean "$pat" run_case "$kind" "$path")
    [ -e "$TMP/out.f32" ] && { why="output file left behind${why:+; $why}"; rm -f "$TMP/out.f32"; }
    [ -n "$why" ] && fails[$fam]+="  $(basename "$path"): $why"$'\n'
done <"$TMP/table"
for fam in "${order[@]}"; do
    if [ -z "${fails[$fam]}" ]; then ok "bad_file_$fam (${n_cases[$fam]} cases)"
    else bad "bad_file_$fam" "$(grep -c . <<<"${fails[$fam]}") of ${n_cases[$fam]} cases"$'\n'"${fails[$fam]}"; fi
done

# --- NaN/Inf weights: loading does not scan weights (they are mapped, never read whole), so an
# FP32 run computes NaN logits; strict FP16 stops at the first non-finite activation naming the
# layer and op; conversion refuses to palettize a non-finite weight.
python3 - "$G" "$H" <<'EOF'
import json, os, shutil, struct, sys
G, H = sys.argv[1:3]
raw = open(os.path.join(G, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
o = hdr["model.layers.1.mlp.up_proj.weight"]["data_offsets"][0] + 8 + n
for name, bits in (("nan", b"\xc0\x7f"), ("inf", b"\x80\x7f"), ("big", b"\x80\x49")):  # BF16 NaN, +inf, 1048576
    d = os.path.join(H, "w_" + name); os.makedirs(d)
    shutil.copy(os.path.join(G, "config.json"), d)
    open(os.path.join(d, "model.safetensors"), "wb").write(raw[:o + 10] + bits + raw[o + 12:])
EOF
for w in nan inf; do
    if "$ANEMLL" logits --model "$H/w_$w" --tokens "2 3 4" --out "$TMP/nf.f32" 2>/dev/null &&
        python3 -c "import math,struct,sys;d=open(sys.argv[1],'rb').read();v=struct.unpack('<%df'%(len(d)//4),d);sys.exit(0 if any(not math.isfinite(x) for x in v) else 1)" "$TMP/nf.f32"
    then ok "nonfinite_${w}_fp32_runs"; else bad "nonfinite_${w}_fp32_runs" "expected a run with non-finite logits"; fi
    rm -f "$TMP/nf.f32"
    expect_fail "nonfinite_${w}_fp16_stops" 'FP16 overflow: non-finite value at layer 1, up_proj' \
        "$ANEMLL" logits --model "$H/w_$w" --tokens "2 3 4" --out "$TMP/nf.f32" --precision fp16
    expect_fail "nonfinite_${w}_convert_refuses" 'weight outside the FP16 range \(or NaN\)' \
        "$ANEMLL" convert "$H/w_$w" "$H/cw_$w"
done
expect_fail "beyond_fp16_convert_refuses" 'weight outside the FP16 range \(or NaN\)' "$ANEMLL" convert "$H/w_big" "$H/cw_big"
[ -z "$(ls "$H" | grep '^cw_')" ] && [ ! -e "$TMP/nf.f32" ] && ok nonfinite_no_output || bad nonfinite_no_output "$(ls "$H")"

# --- resource limits: one line, non-zero exit, nothing left behind
mkdir -p "$H/huge"
cp "$G/config.json" "$H/huge/"
truncate -s 2G "$H/huge/model.safetensors"  # sparse: a model larger than the address space allowed below
if [ -n "$(nm "$ANEMLL" 2>/dev/null | grep -m1 __asan_init)" ]; then
    echo "  (mmap failure under ulimit -v: not run in the AddressSanitizer build, which needs unlimited address space)"
else
    expect_fail mmap_failure_logits 'model.safetensors: cannot map 2147483648 bytes: Cannot allocate memory' \
        bash -c 'ulimit -v 1000000; exec "$0" "$@"' "$ANEMLL" logits --model "$H/huge" --tokens "2 3" --out "$TMP/out.f32"
    expect_fail mmap_failure_generate 'model.safetensors: cannot map 2147483648 bytes' \
        bash -c 'ulimit -v 1000000; exec "$0" "$@"' "$ANEMLL" generate --model "$H/huge" --tokens "2 3" -n 4
fi
toks=$(seq -s ' ' 2 400)
expect_fail disk_full_logits 'out.f32: write failed: File too large' \
    bash -c 'trap "" XFSZ; ulimit -f 8; exec "$0" "$@"' "$ANEMLL" logits --model "$G" --tokens "$toks" --out "$TMP/out.f32"
mkdir -p "$H/chatm"
cp "$G/config.json" "$G/model.safetensors" "$H/chatm/"
cp "$SMALL_TOK" "$H/chatm/tokenizer.json"
long=$(python3 -c "print('ab ' * 200)")
expect_fail chat_prompt_exceeds_context 'the prompt \(408 tokens\) does not fit the context of 64 tokens' \
    "$ANEMLL" chat --model "$H/chatm" --prompt "$long" --context 64
expect_fail generate_prompt_exceeds_context '408 tokens do not fit the context of 64' \
    "$ANEMLL" generate --model "$H/chatm" --prompt "$long" --context 64 -n 3
expect_fail generate_request_exceeds_context '10 prompt tokens \+ 100 new tokens do not fit the context of 64' \
    "$ANEMLL" generate --model "$H/chatm" --prompt "ab" --context 64 -n 100
[ ! -e "$TMP/out.f32" ] && [ -z "$(find "$TMP" -name '*.tmp.*')" ] && ok resource_limits_no_output ||
    bad resource_limits_no_output "$(find "$TMP" -name '*.tmp.*' -o -name out.f32)"

# --- regressions of bugs the fuzzers found (fuzz/README.md, "Bugs found")
# 1. fuzz_chat_template: an empty JSON string ("" as a role or a key) was not NUL-terminated
expect_fail regress_empty_role 'stdin line 1: .*roles must alternate' \
    "$ANEMLL" template --tokenizer "$SMALL_TOK" --jsonl <<<'{"messages": [{"role": "", "content": "x"}]}'
expect_fail regress_empty_key 'stdin line 1: message 0: "content" must be a string or a list' \
    "$ANEMLL" template --tokenizer "$SMALL_TOK" --jsonl <<<'{"messages": [{"role": "user", "": "x"}]}'
# 2. fuzz_meta_yaml: meta.yaml quoting let DEL, C1 controls, U+2028 and non-UTF-8 bytes through, so a
# conversion from (or into) such a folder name wrote a meta.yaml that could not be read back
odd="$H/src"$'\x7f'$'\xe9'$'\xe2\x80\xa8'"x"
mkdir -p "$odd" && cp "$G/config.json" "$G/model.safetensors" "$odd/"
if "$ANEMLL" convert "$odd" "$H/odd_out"$'\x7f' --lut2 none --lut3 none --fp16-scale 0.5 >/dev/null &&
    "$ANEMLL" logits --model "$H/odd_out"$'\x7f' --tokens "2 3" --out "$TMP/odd.f32" &&
    grep -q 'source_checkpoint: ".*src\\x7f\\xe9\\u2028x"' "$H/odd_out"$'\x7f'/meta.yaml; then
    ok regress_meta_yaml_quoting
else bad regress_meta_yaml_quoting "$(grep -a source_checkpoint "$H/odd_out"$'\x7f'/meta.yaml 2>&1)"; fi
rm -f "$TMP/odd.f32"
# 3. safetensors: an empty tensor at the offset where another starts was called an overlap
# depending on header order (ranges now sort by start, then end, as the reference does)
python3 - "$G" "$H/empty_tensor" <<'EOF'
import json, os, shutil, struct, sys
G, d = sys.argv[1:3]
os.makedirs(d); shutil.copy(os.path.join(G, "config.json"), d)
raw = open(os.path.join(G, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
hdr["zz_empty"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}  # last in the header
h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])
EOF
"$ANEMLL" logits --model "$G" --tokens "2 3" --out "$TMP/e1.f32"
if "$ANEMLL" logits --model "$H/empty_tensor" --tokens "2 3" --out "$TMP/e2.f32" && cmp -s "$TMP/e1.f32" "$TMP/e2.f32"
then ok regress_empty_tensor_at_shared_offset; else bad regress_empty_tensor_at_shared_offset; fi

# --- conversions stopped by SIGTERM, SIGINT or SIGKILL at moments spread over a whole run (a
# fraction of a measured run, plus a random jitter): the output folder is either absent or
# complete (it loads and gives the logits of an uninterrupted conversion); after SIGTERM/SIGINT
# no temporary folder is left; after SIGKILL a new conversion into the same folder still works.
t0=$(date +%s%N)
"$ANEMLL" convert "$G" "$H/kref" >/dev/null
dur_ms=$((($(date +%s%N) - t0) / 1000000))
"$ANEMLL" logits --model "$H/kref" --tokens "2 3 4" --out "$TMP/kref.f32"
for sig in TERM INT KILL; do
    problems=""
    for frac in 5 30 55 80; do
        delay=$(awk -v d="$dur_ms" -v f="$((frac + RANDOM % 15))" 'BEGIN { printf "%.3f", d * f / 100000 }')
        "$ANEMLL" convert "$G" "$H/k" >/dev/null 2>"$TMP/k.err" &
        pid=$!
        sleep "$delay"
        kill -"$sig" "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        if [ -e "$H/k" ]; then
            "$ANEMLL" logits --model "$H/k" --tokens "2 3 4" --out "$TMP/k.f32" 2>/dev/null && cmp -s "$TMP/k.f32" "$TMP/kref.f32" ||
                problems+=" ${delay}s: a folder that is not the complete model;"
        elif [ "$sig" != KILL ] && ls "$H" | grep -q '^k\.tmp\.'; then
            problems+=" ${delay}s: temporary folder left;"
        elif grep -q 'Sanitizer\|runtime error' "$TMP/k.err"; then
            problems+=" ${delay}s: $(head -1 "$TMP/k.err");"
        fi
        rm -rf "$H/k" "$TMP/k.f32"
    done
    if [ "$sig" = KILL ]; then
        "$ANEMLL" convert "$G" "$H/k" >/dev/null 2>&1 && "$ANEMLL" logits --model "$H/k" --tokens "2 3 4" --out "$TMP/k.f32" &&
            cmp -s "$TMP/k.f32" "$TMP/kref.f32" || problems+=" no clean conversion after SIGKILL;"
        rm -rf "$H/k" "$H"/k.tmp.*
    fi
    [ -z "$problems" ] && ok "convert_stopped_by_SIG${sig}_at_4_moments" || bad "convert_stopped_by_SIG${sig}_at_4_moments" "$problems"
done
