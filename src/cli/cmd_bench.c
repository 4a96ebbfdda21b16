/* `bench`: prefill and decode throughput, start-up time, memory, and the decode speed the
 * machine's memory bandwidth allows (bytes of weights read per token / measured read bandwidth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "util/json.h"
#include "util/rng.h"
#include "util/util.h"

#define MAX_PROMPT_SIZES 8

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void random_tokens(int *ids, int n, int vocab, uint64_t seed) {
    for (int i = 0; i < n; i++) ids[i] = 3 + (int)((lcg64(&seed) >> 33) % (uint64_t)(vocab - 3));
    ids[0] = 2;
}

static const ArgSpec bench_args[] = {
    {"--prompt-tokens", NULL, "N,N,...", "64,512", "prompt sizes to time prefill at (at most 8)", 0},
    {"--gen-tokens", NULL, "N", "64", "tokens to decode per timed run", 0},
    {"--repeat", NULL, "N", "3", "timed runs of each measurement; the median is reported", 0},
    {"--threads", NULL, "N", "$ANEMLL_THREADS, else all cores", "threads of the thread pool", 0},
    {"--batch", NULL, "N", "64", "prefill batch size", 0},
    {"--json", NULL, "FILE", NULL, "also write every number to FILE as JSON", 0},
    {0},
};

const CommandSpec bench_spec = {
    "bench",
    "prefill/decode throughput, memory and the bandwidth bound",
    "[--model DIR] [options]",
    "Times prefill of random prompts and token-by-token decode (median of --repeat runs after an untimed "
    "warm-up), start-up (load, mmap, state) and peak RSS, then measures the machine's read bandwidth and "
    "reports the decode speed it bounds: decode reads every weight once per token, so the bound is "
    "bandwidth / bytes of weights per token. Results go to stdout, and with --json to a file.",
    (const ArgSpec *const[]){model_args, bench_args, precision_args, NULL},
    "anemll bench\n"
    "anemll bench --model /tmp/gemma3-1b-lut --prompt-tokens 64,512 --gen-tokens 64 --threads 2 --json bench.json",
};

int cmd_bench(int argc, char **argv) {
    Args a;
    args_init(&a, &bench_spec, argc, argv);
    const char *dir = arg_str(&a, "--model", NULL);
    const char *sizes = arg_str(&a, "--prompt-tokens", "64,512");
    long gen = arg_int(&a, "--gen-tokens", 64, 1, 1 << 20);
    long threads = arg_int(&a, "--threads", 0, 1, 256);
    long repeats = arg_int(&a, "--repeat", 3, 1, 100);
    long batch = arg_int(&a, "--batch", 64, 1, 1 << 16);
    const char *json = arg_str(&a, "--json", NULL);
    const char *precision = arg_str(&a, "--precision", "q8");
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (model_arg(dir, &dir) || check_output_apart("--json", json, &dir, 1)) return fail_with_error();
    anemll_precision prec;
    if (precision_flag(precision, &prec)) return fail_with_error();
    int psz[MAX_PROMPT_SIZES], np = 0;
    for (const char *p = sizes; *p && np < MAX_PROMPT_SIZES;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > (1 << 20)) {
            err_set("--prompt-tokens '%s': expected sizes like 64,512", sizes);
            return fail_with_error();
        }
        psz[np++] = (int)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (threads) anemll_set_threads((int)threads);

    double t0 = now_seconds();
    anemll_model *m;
    if (anemll_model_load(dir, &m)) return fail_with_error();
    anemll_model_info info;
    anemll_model_get_info(m, &info);
    int context = info.default_context;
    int max_prompt = 0;
    for (int i = 0; i < np; i++) max_prompt = psz[i] > max_prompt ? psz[i] : max_prompt;
    int need = max_prompt > (int)gen + 1 ? max_prompt : (int)gen + 1;
    if (need > context) {
        err_set("a %d-token run does not fit the context of %d", need, context);
        anemll_model_free(m);
        return fail_with_error();
    }
    anemll_session_options so;
    anemll_session_default_options(&so);
    so.context = context;
    so.batch = (int)batch;
    so.precision = prec;
    so.overflow_continue = 1;
    anemll_session *s;
    if (anemll_session_new(m, &so, &s)) {
        anemll_model_free(m);
        return fail_with_error();
    }
    double startup = now_seconds() - t0;
    int V = info.vocab_size;
    int *ids = xmalloc(sizeof(int) * (size_t)need);
    double *runs = xmalloc(sizeof(double) * (size_t)repeats);
    double prefill[MAX_PROMPT_SIZES];
    int rc = 0;
    /* one untimed pass faults the weights in */
    random_tokens(ids, need, V, 1);
    rc |= anemll_session_set(s, ids, 8 < need ? 8 : need);
    for (int i = 0; i < np && !rc; i++) {
        for (int r = 0; r < repeats && !rc; r++) {
            random_tokens(ids, psz[i], V, (uint64_t)r + 7); /* starts with <bos>, so nothing is reused */
            rc |= anemll_session_truncate(s, 0);
            double t = now_seconds();
            rc |= anemll_session_set(s, ids, psz[i]);
            runs[r] = psz[i] / (now_seconds() - t);
        }
        prefill[i] = median(runs, (int)repeats);
    }
    for (int r = 0; r < repeats && !rc; r++) {
        random_tokens(ids, 1, V, 3);
        rc |= anemll_session_truncate(s, 0) || anemll_session_set(s, ids, 1);
        double t = now_seconds();
        for (long g = 0; g < gen && !rc; g++) {
            int next = 3 + (int)(g % (V - 3)); /* the token does not change the work */
            rc |= anemll_session_push(s, next);
        }
        runs[r] = gen / (now_seconds() - t);
    }
    double decode = median(runs, (int)repeats);
    struct rusage ru; /* before the bandwidth probe's buffer */
    getrusage(RUSAGE_SELF, &ru);
    double rss_mib = ru.ru_maxrss / 1024.0;
    if (rc) {
        fail_with_error();
    } else {
        double gbs = anemll_read_bandwidth_gbs(m, 5);
        double bpt = info.bytes_per_token;
        double bound = gbs * 1e9 / bpt;
        printf("model: %s\n  %s\n  weight files %.1f MiB, %.1f MiB read per decoded token\n", info.dir, info.shape,
               info.file_bytes / 1048576.0, bpt / 1048576.0);
        printf("threads %d, kernel %s, precision %s, batch %ld, median of %ld runs\n", anemll_threads(),
               anemll_kernel_active(), precision, batch, repeats);
        printf("start-up (load + mmap + state): %.3f s\n", startup);
        for (int i = 0; i < np; i++) printf("prefill %5d tokens: %8.1f tok/s\n", psz[i], prefill[i]);
        printf("decode  %5ld tokens: %8.1f tok/s\n", gen, decode);
        printf("read bandwidth %.1f GB/s -> decode bound %.1f tok/s (decode at %.0f%% of it)\n", gbs, bound,
               100.0 * decode / bound);
        printf("peak RSS %.0f MiB\n", rss_mib);
        if (json) {
            /* composed in memory (any length), the model path through the one JSON string writer */
            char *buf = NULL;
            size_t len = 0;
            FILE *j = open_memstream(&buf, &len);
            fprintf(j, "{\"model\": ");
            json_write_string(j, info.dir, strlen(info.dir));
            fprintf(j, ", \"threads\": %d, \"kernel\": \"%s\", \"precision\": \"%s\",\n \"prefill_tok_s\": {",
                    anemll_threads(), anemll_kernel_active(), precision);
            for (int i = 0; i < np; i++) fprintf(j, "%s\"%d\": %.3f", i ? ", " : "", psz[i], prefill[i]);
            fprintf(j,
                    "},\n \"decode_tok_s\": %.3f, \"peak_rss_mib\": %.1f, \"read_gbs\": %.3f,"
                    " \"decode_bound_tok_s\": %.3f, \"bytes_per_token\": %.0f, \"startup_s\": %.4f,"
                    " \"weights_mib\": %.1f}\n",
                    decode, rss_mib, gbs, bound, bpt, startup, info.file_bytes / 1048576.0);
            fclose(j);
            if (atomic_write_file(json, buf, len)) rc = -1;
            free(buf);
            if (rc) fail_with_error();
        }
    }
    free(runs);
    free(ids);
    anemll_session_free(s);
    anemll_model_free(m);
    return rc ? 1 : 0;
}
