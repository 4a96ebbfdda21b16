/* Tokenizer speed: load time of Gemma 3's tokenizer.json and encode throughput on the 1 MB
 * English corpus, beside the reference figures from tests/data/tokenizers/gemma3/README.md.
 * usage: build/bench/bench_tokenizer [GEMMA3_TOKENIZER_DIR] */
#include <stdio.h>
#include <stdlib.h>

#include "tokenizer/tokenizer.h"
#include "util/util.h"

enum { LOADS = 3, RUNS = 5 };

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data/tokenizers/gemma3";
    char *json = path_join(dir, "tokenizer.json"), *corpus = path_join(dir, "bench_english_1mb.txt");

    Tokenizer *tok = NULL;
    double best_load = 1e9;
    for (int i = 0; i < LOADS; i++) {
        tok_free(tok);
        double t0 = now_seconds();
        tok = tok_load(json);
        if (!tok) {
            fprintf(stderr, "bench_tokenizer: %s\n", err_get());
            return 1;
        }
        double dt = now_seconds() - t0;
        if (dt < best_load) best_load = dt;
    }
    size_t len;
    char *text = read_text_file(corpus, 1 << 26, &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: %s\n", err_get());
        return 1;
    }

    double best = 1e9, best_decode = 1e9;
    int n = 0;
    for (int i = 0; i < RUNS; i++) {
        int *ids;
        double t0 = now_seconds();
        tok_encode(tok, text, len, 0, &ids, &n);
        double t1 = now_seconds();
        char *back = tok_decode(tok, ids, n, 0, NULL);
        double t2 = now_seconds();
        if (t1 - t0 < best) best = t1 - t0;
        if (t2 - t1 < best_decode) best_decode = t2 - t1;
        free(back);
        free(ids);
    }
    printf("tokenizer.json load: %.3f s (best of %d)\n", best_load, LOADS);
    printf("corpus: %s, %zu bytes, %d tokens\n", corpus, len, n);
    printf("encode, best of %d:\n", RUNS);
    printf("  anemll.c                %9.0f tokens/s  (%.3f s)\n", n / best, best);
    printf("  HF tokenizers (Rust)    %9.0f tokens/s  (README, best of 5, 2-core x86)\n", 360000.0);
    printf("  transformers.js (JS)    %9.0f tokens/s  (README, best of 5)\n", 50000.0);
    printf("decode: %.0f tokens/s (%.3f s)\n", n / best_decode, best_decode);
    tok_free(tok);
    free(text);
    free(json);
    free(corpus);
    return 0;
}
