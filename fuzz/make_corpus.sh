#!/usr/bin/env bash
# Generates the fuzz seed corpora into OUT/<harness>/ (default build/fuzz/seeds) from tests/data
# (the golden checkpoints, the Gemma 3 tokenizer and its goldens) and from micro models made
# here: a 2-layer, hidden-8 Gemma 3 checkpoint (stdlib Python) and its conversions by
# $BUILD/anemll (default build/anemll; skipped when that is not built). Small hand-made seeds
# and the regression inputs live in fuzz/corpus/<harness>/ (committed); these are derived.
# Usage: fuzz/make_corpus.sh [OUT]     Env: BUILD.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build/fuzz/seeds}
DATA=tests/data
ANEMLL=${BUILD:-build}/anemll
stamp="$OUT/.complete"
if [ -f "$stamp" ] && [ "$stamp" -nt "$0" ] && { [ ! -x "$ANEMLL" ] || [ "$stamp" -nt "$ANEMLL" ]; }; then
    echo "seeds up to date in $OUT"; exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# the micro checkpoint: config.json + BF16 model.safetensors, every tensor a Gemma 3 text model has
python3 tests/make_micro_checkpoint.py "$work/micro"

# conversions of it: LUT specs, chunk counts and scales that name different files
if [ -x "$ANEMLL" ]; then
    "$ANEMLL" convert "$work/micro" "$work/conv_default" --context 16 >/dev/null 2>&1 || true
    "$ANEMLL" convert "$work/micro" "$work/conv_lut8" --lut1 8,0 --lut2 2,0 --lut3 3,1 --chunk 1 \
        --fp16-scale 0.5 --context 16 >/dev/null 2>&1 || true
    "$ANEMLL" convert "$work/micro" "$work/conv_plain" --lut2 none --lut3 none --fp16-scale none \
        --context 16 >/dev/null 2>&1 || true
fi

python3 - "$work" "$OUT" "$DATA" <<'EOF'
import glob, json, os, struct, sys
work, out, data_dir = sys.argv[1:4]
def put(h, name, data):
    d = os.path.join(out, h); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())
def read(p): return open(p, "rb").read()
SEP = b"\n--8<--\n"

# safetensors: the micro checkpoint, the converted files, the golden headers (data cut off)
micro = os.path.join(work, "micro")
put("fuzz_safetensors", "micro.safetensors", read(os.path.join(micro, "model.safetensors")))
convs = sorted(d for d in glob.glob(os.path.join(work, "conv_*")) if os.path.isdir(d))
for d in convs:
    for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        put("fuzz_safetensors", os.path.basename(d) + "_" + os.path.basename(f), read(f))
for f in sorted(glob.glob(os.path.join(data_dir, "golden", "*", "model.safetensors"))):
    raw = open(f, "rb").read(1 << 20)
    hlen = struct.unpack("<Q", raw[:8])[0]
    put("fuzz_safetensors", "golden_header_" + os.path.basename(os.path.dirname(f)), raw[:8 + hlen])

# config.json
put("fuzz_config", "micro.json", read(os.path.join(micro, "config.json")))
for f in sorted(glob.glob(os.path.join(data_dir, "golden", "*", "config.json"))):
    put("fuzz_config", os.path.basename(os.path.dirname(f)) + ".json", read(f))

# meta.yaml and whole folders
for d in convs:
    if os.path.exists(os.path.join(d, "meta.yaml")):
        put("fuzz_meta_yaml", os.path.basename(d) + ".yaml", read(os.path.join(d, "meta.yaml")))
def names_of(meta):
    text = meta.decode()
    get = lambda k: [l.split(":", 1)[1].strip() for l in text.splitlines() if l.strip().startswith(k + ":")][0]
    emb, lm, ffn, n = get("embeddings"), get("lm_head"), get("ffn"), int(get("num_chunks"))
    return [emb] + [ffn.replace("01of", "%02dof" % (c + 1)) for c in range(n)] + [lm]
cfg = read(os.path.join(micro, "config.json"))
put("fuzz_model_load", "micro_hf", SEP.join([cfg, b"", read(os.path.join(micro, "model.safetensors"))]))
for d in convs:
    if not os.path.exists(os.path.join(d, "meta.yaml")): continue
    meta = read(os.path.join(d, "meta.yaml"))
    parts = [read(os.path.join(d, "config.json")), meta] + [read(os.path.join(d, n)) for n in names_of(meta)]
    put("fuzz_model_load", os.path.basename(d), SEP.join(parts))
# the micro checkpoint as two shards and an index
raw = read(os.path.join(micro, "model.safetensors"))
hlen = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + hlen]); data = raw[8 + hlen:]
items = sorted((k, v) for k, v in hdr.items() if k != "__metadata__")
shards, wm = [], {}
for i, part in enumerate((items[:len(items) // 2], items[len(items) // 2:])):
    h, body = {}, b""
    for k, v in part:
        b0, b1 = v["data_offsets"]
        h[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [len(body), len(body) + b1 - b0]}
        body += data[b0:b1]
        wm[k] = "model-%05d-of-00002.safetensors" % (i + 1)
    hj = json.dumps(h, separators=(",", ":")).encode(); hj += b" " * ((8 - len(hj) % 8) % 8)
    shards.append(struct.pack("<Q", len(hj)) + hj + body)
index = json.dumps({"metadata": {}, "weight_map": wm}).encode()
put("fuzz_model_load", "micro_sharded", SEP.join([cfg, b"", index] + shards))

# tokenizer: the goldens' texts, ids and chat messages; a small tokenizer cut from Gemma's
tokdir = os.path.join(data_dir, "tokenizers", "gemma3")
if os.path.isdir(tokdir):
    golden = [json.loads(l) for l in open(os.path.join(tokdir, "golden.jsonl"))]
    for i, c in enumerate(golden[:80]):
        put("fuzz_tokenizer_encode", "golden%03d" % i, bytes([1 if c.get("add_bos") else 0]) + c["text"].encode())
        ids = c["ids"][:2000]
        put("fuzz_tokenizer_decode", "golden%03d" % i, b"\0" + b"".join(struct.pack("<I", x)[:3] for x in ids))
    bench = open(os.path.join(tokdir, "bench_english_1mb.txt"), "rb").read()
    for i in range(4):
        put("fuzz_tokenizer_encode", "bench%d" % i, b"\0" + bench[i * 100000:i * 100000 + 3000])
    for i, l in enumerate(open(os.path.join(tokdir, "chat_golden.jsonl"))):
        c = json.loads(l)
        put("fuzz_chat_template", "chat%03d" % i,
            json.dumps({"messages": c["messages"], "add_generation_prompt": c["add_generation_prompt"]}))
    t = json.load(open(os.path.join(tokdir, "tokenizer.json")))
    keep_added = [a for a in t["added_tokens"] if a["id"] < 8 or a["id"] in (105, 106)]
    byte_ids = {t["model"]["vocab"]["<0x%02X>" % b] for b in range(256)}
    vocab = {k: v for k, v in t["model"]["vocab"].items() if v < 700 and (v not in byte_ids or v % 8 == 0)}
    for a in keep_added:
        if a["content"] in t["model"]["vocab"]: vocab[a["content"]] = a["id"]
    merges = []
    for m in t["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        if a in vocab and b in vocab and a + b in vocab: merges.append(m)
    merges = merges[:300]
    small = dict(t); small["added_tokens"] = keep_added
    small["model"] = dict(t["model"]); small["model"]["vocab"] = vocab; small["model"]["merges"] = merges
    compact = dict(separators=(",", ":"), ensure_ascii=False)
    put("fuzz_tokenizer_load", "gemma_cut.json", json.dumps(small, **compact))
    v200 = dict(list(vocab.items())[:200])
    pairs = [p for p in (m if isinstance(m, list) else m.split(" ") for m in merges) if p[0] in v200 and p[1] in v200 and p[0] + p[1] in v200]
    put("fuzz_tokenizer_load", "gemma_cut_pairs.json",
        json.dumps(dict(small, model=dict(small["model"], vocab=v200, merges=[]),
                        added_tokens=keep_added[:3]), **compact).replace('"merges":[]', '"merges":' + json.dumps(pairs)))
EOF
touch "$stamp"
echo "seeds in $OUT: $(find "$OUT" -type f ! -name .complete | wc -l) files, $(du -sh "$OUT" | cut -f1)"
