/* Next-token choice: greedy (temperature 0), or temperature + top-k + top-p sampling with a
 * seeded generator, applied in that order as Hugging Face does. */
#ifndef ANEMLL_SAMPLER_H
#define ANEMLL_SAMPLER_H

#include <stdint.h>

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t rng;      /* state; set by sampler_init */
    /* scratch for sampling, [vocab] */
    int vocab;
    int *idx;
    float *prob;
} Sampler;

void sampler_init(Sampler *s, int vocab, float temperature, int top_k, float top_p, uint64_t seed);
void sampler_free(Sampler *s);
/* logits: [vocab]; not modified */
int sampler_sample(Sampler *s, const float *logits);
/* index of the largest value, the first one on ties; NaNs never win (a NaN at 0: 0) */
int argmax(const float *v, int n);
/* uniform in [0, 1) */
float sampler_uniform(Sampler *s);

#endif
