#!/usr/bin/env bash
# Side by side: our engine vs llama.cpp on the same random-weight Gemma 3 checkpoint, same run.
#   bash bench/compare_llamacpp.sh [gemma3-1b|gemma3-4b ...]     (default: gemma3-1b)
# Environment: THREADS (2), PROMPTS (64,512), GEN (64), REPEAT (3), QTYPE (q4_0 | f16: the GGUF's
# matrices), EMBD_TYPE (q4_0 | f16: its token embedding = tied LM head; default QTYPE),
# KEEP=1 keeps the checkpoint and model files in bench/.work (default: deleted after each shape),
# ANEMLL_KERNEL (scalar | avx2 | ...: forces our kernel family; default auto),
# LLAMA_CPU_VARIANT (e.g. haswell = AVX2/FMA/F16C only: the one ggml CPU variant llama-bench may load;
# default: every variant shipped, ggml picks the best this CPU runs), LLAMA_FA (on | off | auto:
# llama.cpp's flash attention, default on), JS=1 also runs the old node-llama-cpp JavaScript
# harness (bench/llamacpp_bench.mjs) as an extra column (not the quoted figure: see README, Speed).
# Needs node/npm, git, g++ (build-essential: bash tools/install-deps.sh), python3.
# It installs node-llama-cpp@3.22.1 (llama.cpp's prebuilt CPU libraries and, in
# node-llama-cpp/llama/gitRelease.bundle, the llama.cpp source they were built from) into
# bench/node_modules, clones that bundle into bench/.work/llama.cpp and compiles llama.cpp's own
# `llama-bench` (tools/llama-bench, nothing else) with g++ against the prebuilt libraries
# (cached in bench/.work/llama-bench until the bundle changes); writes the checkpoint with
# `anemll synth`, converts it with `anemll convert` (default LUT specs) and with
# build/bench/write_gguf (GGUF for llama.cpp), then times `anemll bench` and `llama-bench` back to
# back and prints the machine, the kernels each side ran, and a table of tok/s and ratios.
# Nothing here is part of the product or of `make test`; no third-party source enters the
# repository (bench/node_modules and bench/.work are ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2} PROMPTS=${PROMPTS:-64,512} GEN=${GEN:-64} REPEAT=${REPEAT:-3}
QTYPE=${QTYPE:-q4_0} EMBD_TYPE=${EMBD_TYPE:-$QTYPE}
LLAMA_CPU_VARIANT=${LLAMA_CPU_VARIANT:-} LLAMA_FA=${LLAMA_FA:-on} JS=${JS:-0}
W=bench/.work
NLC_VERSION=3.22.1
BUNDLE=bench/node_modules/node-llama-cpp/llama/gitRelease.bundle
BINS=bench/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 # prebuilt CPU libraries
LB=$W/llama-bench # build/llama-bench (the linked binary), then one runnable folder per CPU variant set
mkdir -p "$W"
[ "$#" -gt 0 ] || set -- gemma3-1b

die() {
    echo "compare_llamacpp: error: $*" >&2
    exit 1
}
for tool in node npm git g++ python3; do
    command -v "$tool" >/dev/null || die "$tool not found (g++: bash tools/install-deps.sh, or apt-get install -y g++)"
done

if [ ! -d bench/node_modules/node-llama-cpp ]; then
    echo "== installing node-llama-cpp@$NLC_VERSION into bench/node_modules" >&2
    (cd bench && npm install --no-save --no-package-lock --no-audit --no-fund "node-llama-cpp@$NLC_VERSION" >&2)
fi
[ -f "$BUNDLE" ] || die "$BUNDLE missing (node-llama-cpp@$NLC_VERSION ships the llama.cpp source there)"
[ -d "$BINS" ] || die "$BINS missing (node-llama-cpp's prebuilt linux-x64 CPU libraries)"
available=$(cd "$BINS" && ls libggml-cpu-*.so | sed 's/^libggml-cpu-//; s/\.so$//' | paste -sd ' ')
if [ -n "$LLAMA_CPU_VARIANT" ]; then
    case $LLAMA_CPU_VARIANT in */* | .*) die "LLAMA_CPU_VARIANT=$LLAMA_CPU_VARIANT: expected a name like haswell" ;; esac
    [ -f "$BINS/libggml-cpu-$LLAMA_CPU_VARIANT.so" ] ||
        die "LLAMA_CPU_VARIANT=$LLAMA_CPU_VARIANT: no such ggml CPU variant (available: $available)"
    run_dir=$LB/$LLAMA_CPU_VARIANT variants=("$BINS/libggml-cpu-$LLAMA_CPU_VARIANT.so")
else
    run_dir=$LB/all variants=("$BINS"/libggml-cpu-*.so)
fi

# llama-bench from the source the prebuilt libraries were built from; every step is checked
# explicitly (errexit does not apply inside a function called as a condition).
build_llama_bench() {
    local bin=$LB/build/llama-bench src libs=() f
    rm -rf "$W/llama.cpp" "$LB" || return 1
    git -c advice.detachedHead=false clone -q "$BUNDLE" "$W/llama.cpp" || return 1
    src=$W/llama.cpp/tools/llama-bench
    [ -d "$src" ] || src=$W/llama.cpp/examples/llama-bench # older trees
    [ -f "$src/llama-bench.cpp" ] || { echo "no llama-bench.cpp in $W/llama.cpp"; return 1; }
    for f in "$BINS"/libllama*.so "$BINS"/libggml*.so; do
        case $f in */libggml-cpu-*) ;; *) libs+=("$f") ;; esac # CPU backends are loaded at run time
    done
    mkdir -p "$LB/build" || return 1
    # common/ headers for arg.h, common.h, build-info.h...: their code is in the prebuilt libllama-common.so
    g++ -std=c++17 -O2 -DNDEBUG -I"$W/llama.cpp/include" -I"$W/llama.cpp/ggml/include" \
        -I"$W/llama.cpp/common" -I"$W/llama.cpp/vendor" -I"$src" "$src"/*.cpp -o "$bin.tmp" \
        "${libs[@]}" -pthread -Wl,-rpath,'$ORIGIN' || return 1
    mv "$bin.tmp" "$bin"
}
if [ ! -x "$LB/build/llama-bench" ] || [ ! "$LB/build/llama-bench" -nt "$BUNDLE" ]; then
    echo "== building llama-bench from $BUNDLE (log: $W/llama-bench-build.log)" >&2
    build_llama_bench >"$W/llama-bench-build.log" 2>&1 ||
        die "building llama-bench failed ($(tail -n 1 "$W/llama-bench-build.log")): see $W/llama-bench-build.log"
fi

# A runnable folder: the binary, the shared libraries ($ORIGIN rpath) and the CPU backend
# variants ggml may load (it loads the best-scoring libggml-cpu-*.so beside the executable, and
# in the current folder: this script runs from the repository root, which has none).
if [ ! -x "$run_dir/llama-bench" ] || [ "$LB/build/llama-bench" -nt "$run_dir/llama-bench" ]; then
    rm -rf "$run_dir" "$run_dir.tmp"
    mkdir -p "$run_dir.tmp"
    for f in "$BINS"/libllama*.so "$BINS"/libggml*.so; do
        case $f in */libggml-cpu-*) ;; *) cp "$f" "$run_dir.tmp/" ;; esac
    done
    cp "${variants[@]}" "$run_dir.tmp/"
    cp "$LB/build/llama-bench" "$run_dir.tmp/"
    mv "$run_dir.tmp" "$run_dir"
fi
LLAMA_BENCH=$run_dir/llama-bench

make -s -j2 build/anemll build/bench/write_gguf >&2

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has= lacks=
for f in avx2 avx512f avx512_vnni avx512vbmi avx_vnni; do
    case " ${flags#*:} " in *" $f "*) has+=" $f" ;; *) lacks+=" $f" ;; esac
done
echo "== machine: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
    "SIMD:${has:- none of the below}${lacks:+; lacks:$lacks}"
echo "== commit $(git describe --always --dirty 2>/dev/null || echo unknown); threads $THREADS, prompts $PROMPTS," \
    "gen $GEN, repeat $REPEAT; ANEMLL_KERNEL=${ANEMLL_KERNEL:-(unset: auto)};" \
    "LLAMA_CPU_VARIANT=${LLAMA_CPU_VARIANT:-(unset: ggml picks among $available)}"

for shape in "$@"; do
    ck=$W/$shape ours=$W/$shape-anemll gguf=$W/$shape-$QTYPE-embd-$EMBD_TYPE.gguf
    [ -f "$ck/model.safetensors" ] || { echo "== synth $shape" >&2; build/anemll synth --shape "$shape" --out "$ck" >&2; }
    [ -f "$ours/meta.yaml" ] || { echo "== convert $shape (default LUT specs)" >&2; build/anemll convert "$ck" "$ours" --force >&2; }
    [ -f "$gguf" ] || { echo "== write GGUF $gguf" >&2; build/bench/write_gguf "$ck" "$gguf" --type "$QTYPE" --embd-type "$EMBD_TYPE" >&2; }
    echo "== $shape: load before: $(cat /proc/loadavg)"
    ANEMLL_THREADS=$THREADS build/anemll bench --model "$ours" --prompt-tokens "$PROMPTS" --gen-tokens "$GEN" \
        --threads "$THREADS" --repeat "$REPEAT" --json "$W/$shape-anemll.json"
    echo "== $shape: load between: $(cat /proc/loadavg)"
    # llama-bench: every -p size and -n as separate tests from an empty cache, each after one warm-up,
    # mean ± sd of -r runs; its own stdout is the JSON, its stderr names the CPU backend loaded.
    lb_out=$W/$shape-llamabench.json lb_err=$W/$shape-llamabench.log
    echo "== $shape: $LLAMA_BENCH -m $gguf -t $THREADS -p $PROMPTS -n $GEN -r $REPEAT -fa $LLAMA_FA -o json"
    lb_rss=$(python3 - "$lb_out" "$lb_err" "$LLAMA_BENCH" -m "$gguf" -t "$THREADS" -p "$PROMPTS" -n "$GEN" \
        -r "$REPEAT" -fa "$LLAMA_FA" -o json <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as out, open(sys.argv[2], "w") as err:
    rc = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode
print(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}")
sys.exit(rc)
PY
    ) || die "llama-bench failed on $gguf: $(tail -n 3 "$lb_err" | tr '\n' ' ')"
    loaded=$(sed -n 's/.*loaded CPU backend from \(.*\)$/\1/p' "$lb_err" | tail -n 1)
    variant=$(basename "${loaded:-unknown}" .so)
    variant=${variant#libggml-cpu-}
    [ -z "$LLAMA_CPU_VARIANT" ] || [ "$variant" = "$LLAMA_CPU_VARIANT" ] ||
        die "LLAMA_CPU_VARIANT=$LLAMA_CPU_VARIANT but ggml loaded ${loaded:-no CPU backend} (see $lb_err)"
    how="ggml's pick among: $available"
    [ -z "$LLAMA_CPU_VARIANT" ] || how="the only one given: LLAMA_CPU_VARIANT=$LLAMA_CPU_VARIANT"
    echo "== $shape: llama.cpp CPU variant: $variant ($how; loaded ${loaded:-?})"
    js_json=
    if [ "$JS" = 1 ]; then
        echo "== $shape: load between: $(cat /proc/loadavg)"
        js_json=$W/$shape-llamacpp-js.json
        node bench/llamacpp_bench.mjs --model "$gguf" --prompt-tokens "$PROMPTS" --gen-tokens "$GEN" \
            --threads "$THREADS" --repeat "$REPEAT" --json "$js_json"
    fi
    echo "== $shape: load after: $(cat /proc/loadavg)"
    python3 - "$W/$shape-anemll.json" "$lb_out" "$lb_rss" "$variant" "$shape" "$QTYPE" "$EMBD_TYPE" "$js_json" <<'PY'
import json, sys
a, lb = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
lb_rss, variant, shape, qt, et, js_path = sys.argv[3:9]
js = json.load(open(js_path)) if js_path else None
pp = {str(t["n_prompt"]): t for t in lb if t["n_prompt"] > 0 and t["n_gen"] == 0}
tg = [t for t in lb if t["n_gen"] > 0 and t["n_prompt"] == 0]
if not tg or set(pp) != set(a["prefill_tok_s"]):
    sys.exit(f"compare_llamacpp: error: llama-bench tests {sorted(pp)} + {len(tg)} gen do not match ours")
rows = [(f"prefill {n}", a["prefill_tok_s"][n], pp[n], js["prefill_tok_s"][n] if js else None) for n in a["prefill_tok_s"]]
rows.append(("decode", a["decode_tok_s"], tg[0], js["decode_tok_s"] if js else None))
b = lb[0]
print(f"\nllama.cpp: llama-bench, build {b['build_commit']}, {b['model_type']}, CPU variant {variant}, "
      f"flash attention {({0: 'off', 1: 'on'}).get(b['flash_attn'], 'auto')}, batch {b['n_batch']}/{b['n_ubatch']}; mean ± sd of {len(tg[0]['samples_ts'])} runs")
print(f"anemll: kernel {a['kernel']}, precision {a['precision']}, median of the runs")
if js:
    print("JS harness: node-llama-cpp's own libraries (ggml's own CPU pick; LLAMA_CPU_VARIANT does not apply), median;"
          " it under-reports llama.cpp (per-token JS work), so its column is not the one quoted")
head = f"| {shape} | anemll (LUT, default specs, {a['kernel']}) tok/s | llama.cpp {qt} (embd {et}, {variant}) llama-bench tok/s | ratio |"
print("\n" + head + (" JS harness tok/s (not quoted) |" if js else ""))
print("|---|---:|---:|---:|" + ("---:|" if js else ""))
for name, x, t, j in rows:
    y = t["avg_ts"]
    print(f"| {name} | {x:.1f} | {y:.1f} ± {t['stddev_ts']:.1f} | {x / y:.2f}x |" + (f" {j:.1f} |" if js else ""))
print(f"| peak RSS MiB | {a['peak_rss_mib']:.0f} | {float(lb_rss):.0f} | |" + (f" {js['peak_rss_mib']:.0f} |" if js else ""))
print(f"| start-up s | {a['startup_s']:.2f} | (not timed by llama-bench) | |" + (f" {js['startup_s']:.2f} |" if js else ""))
print(f"\ndecode bound (ours, measured read bandwidth {a['read_gbs']:.1f} GB/s): {a['decode_bound_tok_s']:.1f} tok/s;"
      f" ours at {100 * a['decode_tok_s'] / a['decode_bound_tok_s']:.0f}%")
PY
    [ "${KEEP:-0}" = 1 ] || rm -rf "$ck" "$ours" "$gguf"
done
