/* `bench`: prefill and decode throughput, start-up time, memory, and the decode speed the
 * machine's memory bandwidth allows (bytes of weights read per token / measured read bandwidth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/pool.h"
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

/* ---- read bandwidth: every thread sums its own slice of a buffer much larger than the caches ---- */
typedef struct {
    const uint64_t *buf;
    size_t n;
    uint64_t sums[POOL_MAX_THREADS];
} ReadJob;

static void read_task(void *ctx, int i, int n) {
    ReadJob *j = ctx;
    size_t a = j->n * (size_t)i / (size_t)n, b = j->n * (size_t)(i + 1) / (size_t)n;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t k = a; k + 4 <= b; k += 4) {
        s0 += j->buf[k];
        s1 += j->buf[k + 1];
        s2 += j->buf[k + 2];
        s3 += j->buf[k + 3];
    }
    j->sums[i] = s0 + s1 + s2 + s3;
}

static double read_bandwidth_gbs(size_t bytes, int repeats) {
    ReadJob j = {.n = bytes / 8};
    uint64_t *buf = xmalloc(bytes);
    for (size_t k = 0; k < j.n; k++) buf[k] = k;
    j.buf = buf;
    double *gbs = xmalloc(sizeof(double) * (size_t)repeats);
    pool_run(read_task, &j, pool_threads()); /* warm up */
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        pool_run(read_task, &j, pool_threads());
        gbs[r] = (double)bytes / (now_seconds() - t0) / 1e9;
    }
    double m = median(gbs, repeats);
    free(gbs);
    free(buf);
    return m;
}

/* Bytes of weights one decoded token reads: every layer matrix and the LM head, one embedding row. */
static double bytes_per_token(const Model *m) {
    double b = 0;
    for (int l = 0; l < m->cfg.num_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        const QMatrix *mats[] = {&w->q, &w->k, &w->v, &w->o, &w->gate, &w->up, &w->down};
        for (int i = 0; i < 7; i++) b += (double)qmat_bytes(mats[i]);
    }
    b += (double)qmat_bytes(&m->w.lm_head);
    b += (double)qmat_bytes(&m->w.embed) / m->cfg.vocab_size;
    return b;
}

static int random_tokens(int *ids, int n, int vocab, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = 3 + (int)((seed >> 33) % (uint64_t)(vocab - 3));
    }
    ids[0] = 2;
    return 0;
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
    long threads = arg_int(&a, "--threads", 0, 1, POOL_MAX_THREADS);
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
    if (threads) pool_set_threads((int)threads);

    double t0 = now_seconds();
    Model m;
    if (model_load(&m, dir)) return fail_with_error();
    int context = model_default_context(&m);
    int max_prompt = 0;
    for (int i = 0; i < np; i++) max_prompt = psz[i] > max_prompt ? psz[i] : max_prompt;
    int need = max_prompt > (int)gen + 1 ? max_prompt : (int)gen + 1;
    if (need > context) {
        err_set("a %d-token run does not fit the context of %d", need, context);
        model_free(&m);
        return fail_with_error();
    }
    RunState s;
    if (runstate_init(&s, &m, context, (int)batch)) {
        model_free(&m);
        return fail_with_error();
    }
    runstate_set_precision(&s, (Precision)prec);
    s.overflow_continue = 1;
    double startup = now_seconds() - t0;
    int V = m.cfg.vocab_size;
    int *ids = xmalloc(sizeof(int) * (size_t)need);
    float *logits = xmalloc(sizeof(float) * (size_t)V);
    double *runs = xmalloc(sizeof(double) * (size_t)repeats);
    double prefill[MAX_PROMPT_SIZES];
    int rc = 0;
    /* one untimed pass faults the weights in */
    random_tokens(ids, need, V, 1);
    runstate_reset(&s);
    rc |= model_prefill(&m, &s, ids, 8 < need ? 8 : need, LOGITS_LAST, logits, NULL, NULL);
    for (int i = 0; i < np && !rc; i++) {
        for (int r = 0; r < repeats && !rc; r++) {
            random_tokens(ids, psz[i], V, (uint64_t)r + 7);
            runstate_reset(&s);
            double t = now_seconds();
            rc |= model_prefill(&m, &s, ids, psz[i], LOGITS_LAST, logits, NULL, NULL);
            runs[r] = psz[i] / (now_seconds() - t);
        }
        prefill[i] = median(runs, (int)repeats);
    }
    for (int r = 0; r < repeats && !rc; r++) {
        random_tokens(ids, 1, V, 3);
        runstate_reset(&s);
        rc |= model_forward(&m, &s, ids, 1, LOGITS_LAST, logits);
        double t = now_seconds();
        for (long g = 0; g < gen && !rc; g++) {
            int next = 3 + (int)(g % (V - 3)); /* the token does not change the work */
            rc |= model_forward(&m, &s, &next, 1, LOGITS_LAST, logits);
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
        double gbs = read_bandwidth_gbs((size_t)1 << 30, 5);
        double bpt = bytes_per_token(&m);
        double bound = gbs * 1e9 / bpt;
        size_t file_bytes = 0;
        for (int i = 0; i < m.st.n_files; i++) file_bytes += m.st.files[i].size;
        char desc[512];
        config_describe(&m.cfg, desc, sizeof desc);
        printf("model: %s\n  %s\n  weight files %.1f MiB, %.1f MiB read per decoded token\n", m.dir, desc,
               file_bytes / 1048576.0, bpt / 1048576.0);
        printf("threads %d, kernel %s, precision %s, batch %ld, median of %ld runs\n", pool_threads(),
               qmat_kernel_name(qmat_active_kernel()), precision, batch, repeats);
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
            tokjson_write_string(j, m.dir, strlen(m.dir));
            fprintf(j, ", \"threads\": %d, \"kernel\": \"%s\", \"precision\": \"%s\",\n \"prefill_tok_s\": {",
                    pool_threads(), qmat_kernel_name(qmat_active_kernel()), precision);
            for (int i = 0; i < np; i++) fprintf(j, "%s\"%d\": %.3f", i ? ", " : "", psz[i], prefill[i]);
            fprintf(j,
                    "},\n \"decode_tok_s\": %.3f, \"peak_rss_mib\": %.1f, \"read_gbs\": %.3f,"
                    " \"decode_bound_tok_s\": %.3f, \"bytes_per_token\": %.0f, \"startup_s\": %.4f,"
                    " \"weights_mib\": %.1f}\n",
                    decode, rss_mib, gbs, bound, bpt, startup, file_bytes / 1048576.0);
            fclose(j);
            if (atomic_write_file(json, buf, len)) rc = -1;
            free(buf);
            if (rc) fail_with_error();
        }
    }
    free(runs);
    free(ids);
    free(logits);
    runstate_free(&s);
    model_free(&m);
    return rc ? 1 : 0;
}
