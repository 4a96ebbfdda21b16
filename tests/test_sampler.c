/* Sampling: greedy, top-k/top-p limits, temperature, and seeded reproducibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/sampler.h"
#include "util/rng.h"

static const float logits[6] = {1.0f, 3.0f, 2.5f, -1.0f, 3.0f, 0.0f};

static void test_greedy_first_max(void) {
    Sampler s;
    sampler_init(&s, 6, 0.0f, 0, 1.0f, 1);
    CHECK(sampler_sample(&s, logits) == 1); /* ties go to the first */
    CHECK(argmax(logits, 6) == 1);
    sampler_free(&s);
}

/* NaN never wins: one in the middle is passed over, one first keeps index 0 (nothing is > NaN). */
static void test_argmax_nan(void) {
    const float mid[4] = {1.0f, NAN, 2.0f, 0.5f}, first[3] = {NAN, 5.0f, 7.0f};
    CHECK(argmax(mid, 4) == 2);
    CHECK(argmax(first, 3) == 0);
    const float zeros[2] = {-0.0f, 0.0f};
    CHECK(argmax(zeros, 2) == 0); /* +0 is not > -0: the first */
}

static void test_top_k_one_is_greedy(void) {
    Sampler s;
    sampler_init(&s, 6, 5.0f, 1, 1.0f, 9);
    for (int i = 0; i < 50; i++) CHECK(sampler_sample(&s, logits) == 1);
    sampler_free(&s);
}

/* top-p keeps the smallest prefix reaching p: with p tiny only the best token remains */
static void test_top_p_small(void) {
    Sampler s;
    sampler_init(&s, 6, 1.0f, 0, 0.01f, 4);
    for (int i = 0; i < 50; i++) CHECK(sampler_sample(&s, logits) == 1);
    sampler_free(&s);
}

/* top-k 3 only ever yields the three best tokens, and frequencies follow softmax at T=1 */
static void test_distribution(void) {
    Sampler s;
    sampler_init(&s, 6, 1.0f, 3, 1.0f, 123);
    int count[6] = {0};
    int n = 60000;
    for (int i = 0; i < n; i++) count[sampler_sample(&s, logits)]++;
    CHECK(count[0] == 0 && count[3] == 0 && count[5] == 0);
    double z = exp(3.0) + exp(2.5) + exp(3.0);
    double p2 = exp(2.5) / z;
    CHECKF(fabs(count[2] / (double)n - p2) < 0.01, "freq %g want %g", count[2] / (double)n, p2);
    CHECKF(fabs(count[1] / (double)n - exp(3.0) / z) < 0.01, "freq %g", count[1] / (double)n);
    sampler_free(&s);
}

/* The reference: the whole vocabulary sorted (logit descending, lower id first), the top-k
 * prefix, the softmax at T in that order, the top-p prefix, and a draw of u * mass walking it;
 * with neither limit, the walk goes in id order.  The sampler selects and sorts far less, and must
 * pick the same token for the same uniform draw. */
static const float *ref_keys;
static int ref_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (ref_keys[i] != ref_keys[j]) return ref_keys[i] < ref_keys[j] ? 1 : -1;
    return i - j;
}

static int reference_sample(const float *l, int V, float T, int k, float p, float u) {
    int *idx = malloc(sizeof(int) * (size_t)V), n = V;
    float *w = malloc(sizeof(float) * (size_t)V), maxl = l[argmax(l, V)];
    for (int i = 0; i < V; i++) idx[i] = i;
    if (k > 0 || p < 1.0f) {
        ref_keys = l;
        qsort(idx, (size_t)V, sizeof(int), ref_desc);
    }
    if (k > 0 && k < V) n = k;
    double sum = 0;
    for (int j = 0; j < n; j++) sum += w[j] = expf((l[idx[j]] - maxl) / T);
    if (p < 1.0f) {
        double cum = 0;
        int keep = n;
        for (int j = 0; j < n; j++)
            if ((cum += w[j] / sum) >= p) {
                keep = j + 1;
                break;
            }
        n = keep, sum = 0;
        for (int j = 0; j < n; j++) sum += w[j];
    }
    double r = u * sum, acc = 0;
    int id = idx[n - 1];
    for (int j = 0; j < n; j++)
        if (r < (acc += w[j])) {
            id = idx[j];
            break;
        }
    free(idx), free(w);
    return id;
}

static void test_matches_full_sort(void) {
    enum { V = 3000 };
    float *l = malloc(sizeof(float) * V);
    uint64_t seed = 5;
    for (int i = 0; i < V; i++) l[i] = (float)((splitmix64(&seed) >> 40) % 700) / 40.0f; /* many ties */
    static const struct {
        float T, p;
        int k;
    } cfg[] = {{0.7f, 1.0f, 40}, {1.3f, 0.8f, 7}, {0.5f, 0.95f, 300}, {1.0f, 0.9f, 0}, {0.2f, 0.5f, 0}, {2.0f, 0.99f, 0}, {1.0f, 1.0f, 0}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        Sampler s, twin; /* twin draws the same uniforms for the reference */
        sampler_init(&s, V, cfg[c].T, cfg[c].k, cfg[c].p, 11 + c);
        sampler_init(&twin, V, cfg[c].T, cfg[c].k, cfg[c].p, 11 + c);
        int differ = 0;
        for (int i = 0; i < 2000; i++) differ += sampler_sample(&s, l) != reference_sample(l, V, cfg[c].T, cfg[c].k, cfg[c].p, sampler_uniform(&twin));
        CHECKF(!differ, "T %g top_k %d top_p %g: %d of 2000 draws differ from the full sort", cfg[c].T, cfg[c].k, cfg[c].p, differ);
        sampler_free(&s);
        sampler_free(&twin);
    }
    free(l);
}

static void test_seeded(void) {
    Sampler a, b, c;
    sampler_init(&a, 6, 2.0f, 0, 1.0f, 77);
    sampler_init(&b, 6, 2.0f, 0, 1.0f, 77);
    sampler_init(&c, 6, 2.0f, 0, 1.0f, 78);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        int x = sampler_sample(&a, logits), y = sampler_sample(&b, logits), z = sampler_sample(&c, logits);
        same &= x == y;
        differ |= x != z;
    }
    CHECK(same && differ);
    sampler_free(&a);
    sampler_free(&b);
    sampler_free(&c);
}

int main(void) {
    RUN(test_greedy_first_max);
    RUN(test_argmax_nan);
    RUN(test_top_k_one_is_greedy);
    RUN(test_top_p_small);
    RUN(test_distribution);
    RUN(test_matches_full_sort);
    RUN(test_seeded);
    CHECK_EXIT();
}
