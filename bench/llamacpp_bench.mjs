// Time llama.cpp (through node-llama-cpp's prebuilt CPU libraries) the way `anemll bench` times
// our engine: prefill of N random tokens from an empty cache (median of --repeat runs) and
// decode of G tokens one at a time from an empty cache, each with logits and a greedy pick.
//   node bench/llamacpp_bench.mjs --model FILE.gguf [--prompt-tokens 64,512] [--gen-tokens 64]
//        [--threads 2] [--repeat 3] [--batch 512] [--context 4096] [--json OUT]
// Needs `npm install node-llama-cpp@3.22.1` in bench/ (bench/compare_llamacpp.sh does it).
// Not the quoted llama.cpp figure: the per-token JS work here (logits copied out, sampling) under-reports
// llama.cpp's decode by 35-45%; bench/compare_llamacpp.sh times llama-bench and runs this only with JS=1.
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const args = Object.fromEntries(
    process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
const modelPath = args.model;
if (!modelPath) {
    console.error("usage: node llamacpp_bench.mjs --model FILE.gguf [--prompt-tokens 64,512] [--gen-tokens 64] [--threads 2]");
    process.exit(2);
}
const promptSizes = (args["prompt-tokens"] ?? "64,512").split(",").map(Number);
const gen = Number(args["gen-tokens"] ?? 64);
const threads = Number(args.threads ?? 2);
const repeat = Number(args.repeat ?? 3);
const batchSize = Number(args.batch ?? 512);
const contextSize = Number(args.context ?? 4096);

const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const peakRssMiB = () => {
    const m = fs.readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
};

const t0 = performance.now();
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize, batchSize, threads, flashAttention: true, sequences: 1});
const seq = context.getSequence();
const startup = (performance.now() - t0) / 1000;
const vocab = model.tokens.vocabularySize ?? 262144;

let seed = 7n;
const randomTokens = (n) => {
    const ids = [];
    for (let i = 0; i < n; i++) {
        seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
        ids.push(260 + Number((seed >> 33n) % BigInt(vocab - 260)));
    }
    ids[0] = 2;
    return ids;
};

// warm-up: fault the weights in
await seq.evaluateWithoutGeneratingNewTokens(randomTokens(8));
await seq.clearHistory();

const prefill = {};
for (const n of promptSizes) {
    const runs = [];
    for (let r = 0; r < repeat; r++) {
        const ids = randomTokens(n);
        await seq.clearHistory();
        const t = performance.now();
        await seq.evaluateWithoutGeneratingNewTokens(ids);
        runs.push(n / ((performance.now() - t) / 1000));
    }
    prefill[n] = median(runs);
}

const decodeRuns = [];
for (let r = 0; r < repeat; r++) {
    await seq.clearHistory();
    let count = 0;
    let t = 0;
    // the first yield is the token after the start token (its prefill, not timed); then one per decode
    for await (const _ of seq.evaluate([2], {temperature: 0})) {
        if (count === 0) t = performance.now();
        else if (count === gen) break;
        count++;
    }
    decodeRuns.push(gen / ((performance.now() - t) / 1000));
}
const decode = median(decodeRuns);
const rss = peakRssMiB();

console.log(`llama.cpp (node-llama-cpp, ${llama.buildType} ${llama.gpu === false ? "cpu" : llama.gpu}) model ${modelPath}`);
console.log(`system info: ${llama.systemInfo}`);
console.log(`threads ${threads}, batch ${batchSize}, context ${contextSize}, flash attention on, median of ${repeat} runs`);
console.log(`start-up: ${startup.toFixed(3)} s`);
for (const n of promptSizes) console.log(`prefill ${String(n).padStart(5)} tokens: ${prefill[n].toFixed(1).padStart(8)} tok/s`);
console.log(`decode  ${String(gen).padStart(5)} tokens: ${decode.toFixed(1).padStart(8)} tok/s`);
console.log(`peak RSS ${rss.toFixed(0)} MiB`);
if (args.json)
    fs.writeFileSync(args.json, JSON.stringify({model: modelPath, threads, prefill_tok_s: prefill, decode_tok_s: decode,
        peak_rss_mib: rss, startup_s: startup, system_info: llama.systemInfo}) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
