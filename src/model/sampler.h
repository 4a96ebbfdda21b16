/* Next-token choice: greedy (temperature 0), or temperature + top-k + top-p sampling with a
 * seeded generator, applied in that order as Hugging Face does.  The candidates go best first
 * (logit descending, the lower id on ties) and a draw walks them in that order; with neither
 * limit, every token is a candidate and the walk goes in id order (the same distribution, no sort).
 * Only what a limit keeps is sorted: top-k's k, top-p's heaviest tokens. */
#ifndef ANEMLL_SAMPLER_H
#define ANEMLL_SAMPLER_H

#include <stdint.h>

/* A candidate token: its logit (NaN read as -inf, so it never wins) and its id. */
typedef struct {
    float logit;
    int id;
} SamplerCand;

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t rng;      /* state; set by sampler_init */
    /* scratch for sampling, [vocab] each */
    int vocab;
    SamplerCand *cand; /* the candidates, best first */
    float *prob;       /* by token id: exp((logit - max) / temperature) */
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
