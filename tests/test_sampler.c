/* Sampling: greedy, top-k/top-p limits, temperature, and seeded reproducibility. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "model/sampler.h"

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
    RUN(test_seeded);
    CHECK_EXIT();
}
