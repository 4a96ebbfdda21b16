/* Sampling cost per token over Gemma 3's vocabulary (262144 logits): greedy, temperature alone,
 * and with top-k / top-p.  A server samples once per stream per step, the main thread while the
 * pool waits.  The logits are uniform in [-10, 10]: a flat distribution, top-p's worst case (its
 * 0.9 of the mass spans ~30000 tokens, and the ~52000 within 4 of the max are sorted).
 *   build/bench/bench_sampler [vocab]   (default 262144) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/sampler.h"
#include "util/rng.h"
#include "util/util.h"

enum { ROWS = 16 }; /* distinct logit rows, so no call repeats the one before */

int main(int argc, char **argv) {
    int V = argc > 1 ? atoi(argv[1]) : 262144;
    if (V < 2) {
        fprintf(stderr, "usage: bench_sampler [vocab >= 2]\n");
        return 2;
    }
    float *logits = xmalloc(sizeof(float) * (size_t)V * ROWS);
    uint64_t seed = 1;
    for (size_t i = 0; i < (size_t)V * ROWS; i++) logits[i] = (float)(splitmix64(&seed) >> 40) / 16777216.0f * 20.0f - 10.0f;
    static const struct {
        const char *name;
        float temperature, top_p;
        int top_k;
    } modes[] = {{"greedy", 0.0f, 1.0f, 0},
                 {"T 1", 1.0f, 1.0f, 0},
                 {"T 0.7, top_k 40", 0.7f, 1.0f, 40},
                 {"T 1, top_p 0.9", 1.0f, 0.9f, 0}};
    printf("vocab %d: ms per sampled token\n", V);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        Sampler s;
        sampler_init(&s, V, modes[m].temperature, modes[m].top_k, modes[m].top_p, 7);
        long n = 0, sum = 0;
        double t0 = now_seconds(), t;
        do {
            sum += sampler_sample(&s, logits + (size_t)(n % ROWS) * (size_t)V);
            n++;
        } while ((t = now_seconds() - t0) < 0.5 || n < 3);
        printf("  %-18s %8.3f   (ids sum %ld)\n", modes[m].name, t / (double)n * 1e3, sum);
        sampler_free(&s);
    }
    free(logits);
    return 0;
}
