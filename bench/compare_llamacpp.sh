#!/usr/bin/env bash
# Side by side: our engine vs llama.cpp on the same random-weight Gemma 3 checkpoint, same run.
#   bash bench/compare_llamacpp.sh [gemma3-1b|gemma3-4b ...]     (default: gemma3-1b)
# Environment: THREADS (2), PROMPTS (64,512), GEN (64), REPEAT (3), QTYPE (q4_0 | f16: the GGUF's
# matrices), EMBD_TYPE (q4_0 | f16: its token embedding = tied LM head; default QTYPE),
# KEEP=1 keeps the checkpoint and model files in bench/.work (default: deleted after each shape).
# It installs node-llama-cpp@3.22.1 (llama.cpp's prebuilt CPU libraries) into bench/node_modules,
# writes the checkpoint with `anemll synth`, converts it with `anemll convert` (default LUT specs)
# and with build/bench/write_gguf (GGUF for llama.cpp), then times `anemll bench` and
# bench/llamacpp_bench.mjs back to back and prints a table of tok/s and ratios.
# Nothing here is part of the product or of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2} PROMPTS=${PROMPTS:-64,512} GEN=${GEN:-64} REPEAT=${REPEAT:-3}
QTYPE=${QTYPE:-q4_0} EMBD_TYPE=${EMBD_TYPE:-$QTYPE}
W=bench/.work
mkdir -p "$W"
[ "$#" -gt 0 ] || set -- gemma3-1b

if [ ! -d bench/node_modules/node-llama-cpp ]; then
    echo "== installing node-llama-cpp@3.22.1 into bench/node_modules" >&2
    (cd bench && npm install --no-save --no-package-lock --no-audit --no-fund node-llama-cpp@3.22.1 >&2)
fi
make -s -j2 build/anemll build/bench/write_gguf >&2

json_get() { # json_get FILE python-expression-on-d
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

for shape in "$@"; do
    ck=$W/$shape ours=$W/$shape-anemll gguf=$W/$shape-$QTYPE-embd-$EMBD_TYPE.gguf
    [ -f "$ck/model.safetensors" ] || { echo "== synth $shape" >&2; build/anemll synth --shape "$shape" --out "$ck" >&2; }
    [ -f "$ours/meta.yaml" ] || { echo "== convert $shape (default LUT specs)" >&2; build/anemll convert "$ck" "$ours" --force >&2; }
    [ -f "$gguf" ] || { echo "== write GGUF $gguf" >&2; build/bench/write_gguf "$ck" "$gguf" --type "$QTYPE" --embd-type "$EMBD_TYPE" >&2; }
    echo "== $shape: load before: $(cat /proc/loadavg)"
    ANEMLL_THREADS=$THREADS build/anemll bench --model "$ours" --prompt-tokens "$PROMPTS" --gen-tokens "$GEN" \
        --threads "$THREADS" --repeat "$REPEAT" --json "$W/$shape-anemll.json"
    echo "== $shape: load between: $(cat /proc/loadavg)"
    node bench/llamacpp_bench.mjs --model "$gguf" --prompt-tokens "$PROMPTS" --gen-tokens "$GEN" \
        --threads "$THREADS" --repeat "$REPEAT" --json "$W/$shape-llamacpp.json"
    echo "== $shape: load after: $(cat /proc/loadavg)"
    python3 - "$W/$shape-anemll.json" "$W/$shape-llamacpp.json" "$shape" "$QTYPE" "$EMBD_TYPE" <<'PY'
import json, sys
a, l = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
shape, qt, et = sys.argv[3:6]
rows = [(f"prefill {n}", a["prefill_tok_s"][n], l["prefill_tok_s"][n]) for n in a["prefill_tok_s"]]
rows.append(("decode", a["decode_tok_s"], l["decode_tok_s"]))
print(f"\n| {shape} | anemll (LUT, default specs) tok/s | llama.cpp {qt} (embd {et}) tok/s | ratio |")
print("|---|---:|---:|---:|")
for name, x, y in rows:
    print(f"| {name} | {x:.1f} | {y:.1f} | {x / y:.2f}x |")
print(f"| peak RSS MiB | {a['peak_rss_mib']:.0f} | {l['peak_rss_mib']:.0f} | |")
print(f"| start-up s | {a['startup_s']:.2f} | {l['startup_s']:.2f} | |")
print(f"\ndecode bound (ours, measured read bandwidth {a['read_gbs']:.1f} GB/s): {a['decode_bound_tok_s']:.1f} tok/s;"
      f" ours at {100 * a['decode_tok_s'] / a['decode_bound_tok_s']:.0f}%")
PY
    [ "${KEEP:-0}" = 1 ] || rm -rf "$ck" "$ours" "$gguf"
done
