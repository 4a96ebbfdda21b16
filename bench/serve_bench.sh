#!/usr/bin/env bash
# Aggregate decode speed of `anemll serve` with 1, 2, 4 and 8 concurrent streams: what continuous
# batching buys (one pass over the weights per step serves every stream).
# Usage: bash bench/serve_bench.sh [SHAPE]   (default gemma3-1b; tiny = the shipped model)
# Env: THREADS (2), GEN (tokens per stream, 64), STREAMS ("1 2 4 8"), TEMP (sampling temperature,
# 0 = greedy; OpenAI's default, and the server's, is 1), KEEP=1 keeps the synthetic
# checkpoint and its conversion in bench/.work (the same folders compare_llamacpp.sh uses).
# The model is a random-weight checkpoint of the shape (`anemll synth`) converted with the default
# LUT specs; the tokenizer is Gemma 3's (tests/data). Streams ignore EOS, so each makes GEN tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-gemma3-1b}
THREADS=${THREADS:-2} GEN=${GEN:-64} STREAMS=${STREAMS:-"1 2 4 8"} TEMP=${TEMP:-0}
W=bench/.work
mkdir -p "$W"
make -s -j2 build/anemll >&2
if [ "$shape" = tiny ]; then
    make -s build/anemll-tiny/meta.yaml >&2
    model=build/anemll-tiny tok=()
else
    ck=$W/$shape model=$W/$shape-anemll
    [ -f "$ck/model.safetensors" ] || { echo "== synth $shape" >&2; build/anemll synth --shape "$shape" --out "$ck" >&2; }
    [ -f "$model/meta.yaml" ] || { echo "== convert $shape (default LUT specs)" >&2; build/anemll convert "$ck" "$model" --force >&2; }
    tok=(--tokenizer tests/data/tokenizers/gemma3/tokenizer.json)
fi
max=0; for n in $STREAMS; do [ "$n" -gt "$max" ] && max=$n; done
log=$(mktemp); trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
build/anemll serve --model "$model" "${tok[@]}" --port 0 --parallel "$max" --context $((GEN + 64)) \
    --threads "$THREADS" >"$log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q '^listening' "$log" && break; sleep 0.1; done
port=$(sed -n 's|^listening on http://.*:\([0-9]*\)$|\1|p' "$log")
[ -n "$port" ] || { cat "$log"; echo "serve_bench: the server did not start" >&2; exit 1; }
echo "== $shape: $THREADS threads, $GEN tokens per stream, temperature $TEMP, load $(cat /proc/loadavg)"
python3 - "$port" "$GEN" "$TEMP" $STREAMS <<'PY'
import http.client, json, sys, threading, time
port, gen, temp, counts = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), [int(x) for x in sys.argv[4:]]

def stream(i, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = {"prompt": f"Stream {i} says", "max_tokens": gen, "ignore_eos": True, "stream": True,
            "temperature": temp, "stream_options": {"include_usage": True}}
    c.request("POST", "/v1/completions", body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    first = last = None
    tokens = 0
    for line in r:
        line = line.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        ev = json.loads(line[6:])
        if ev.get("usage"):
            tokens = ev["usage"]["completion_tokens"]
        if ev["choices"] and ev["choices"][0]["text"]:
            last = time.time()
            first = first or last
    out[i] = (first, last, tokens)

stream(0, [None])  # warm-up
print("| streams | aggregate decode tok/s | per stream tok/s |")
print("|---:|---:|---:|")
for n in counts:
    out = [None] * n
    ts = [threading.Thread(target=stream, args=(i, out)) for i in range(n)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    t0, t1 = min(o[0] for o in out), max(o[1] for o in out)
    toks = sum(o[2] - 1 for o in out)  # the first token of each stream comes with its prefill
    agg = toks / (t1 - t0)
    print(f"| {n} | {agg:.1f} | {agg / n:.1f} |", flush=True)
PY
kill -TERM $pid; wait $pid || true
[ "${KEEP:-0}" = 1 ] || [ "$shape" = tiny ] || rm -rf "$ck" "$model"
