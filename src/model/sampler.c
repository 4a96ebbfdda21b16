#include "model/sampler.h"

#include <math.h>
#include <stdlib.h>

#include "util/rng.h"
#include "util/util.h"

void sampler_init(Sampler *s, int vocab, float temperature, int top_k, float top_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->rng = seed ^ 0x9E3779B97F4A7C15ull;
    s->vocab = vocab;
    s->cand = xmalloc(sizeof(SamplerCand) * (size_t)vocab);
    s->prob = xmalloc(sizeof(float) * (size_t)vocab);
}

void sampler_free(Sampler *s) {
    free(s->cand);
    free(s->prob);
    s->cand = NULL;
    s->prob = NULL;
}

int argmax(const float *v, int n) {
    /* the best value kept in a register: re-reading v[best] each step made a 262144-entry vocab
     * take ~0.94 ms, this ~0.21 ms (a throwaway harness) */
    int best = 0;
    float bv = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > bv) bv = v[i], best = i;
    return best;
}

float sampler_uniform(Sampler *s) { return (float)(splitmix64(&s->rng) >> 40) / 16777216.0f; }

/* Candidate order: logit descending, the lower id first on ties. */
static int better(SamplerCand a, SamplerCand b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

static int by_rank(const void *pa, const void *pb) {
    SamplerCand a = *(const SamplerCand *)pa, b = *(const SamplerCand *)pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static SamplerCand cand_of(const float *logits, int i) { return (SamplerCand){isnan(logits[i]) ? -INFINITY : logits[i], i}; }

/* The k best tokens into s->cand[0, k), best first: a heap of the best so far with the worst at
 * its root, then a sort of those k (not of the vocabulary). */
static void best_k(Sampler *s, const float *logits, int k) {
    SamplerCand *h = s->cand;
    for (int i = 0; i < s->vocab; i++) {
        SamplerCand c = cand_of(logits, i);
        int j;
        if (i < k) { /* sift up */
            for (j = i; j > 0 && better(h[(j - 1) / 2], c); j = (j - 1) / 2) h[j] = h[(j - 1) / 2];
        } else if (better(c, h[0])) { /* replaces the worst; sift down */
            for (j = 0; 2 * j + 1 < k;) {
                int m = 2 * j + 1;
                if (m + 1 < k && better(h[m], h[m + 1])) m++;
                if (!better(c, h[m])) break;
                h[j] = h[m], j = m;
            }
        } else {
            continue;
        }
        h[j] = c;
    }
    qsort(h, (size_t)k, sizeof *h, by_rank);
}

/* With every token a candidate (no top-k) and top-p below 1: the best tokens holding at least
 * top_p of the mass, into s->cand best first; returns their count.  Tokens are bucketed by how far
 * their logit is below the max, in temperatures; the nearest buckets that reach the mass are the
 * only ones sorted (the whole vocabulary only for a flat distribution). */
static int heaviest(Sampler *s, const float *logits, float maxl, double total) {
    static const float edge[] = {2, 4, 8, 16, 32, 64, INFINITY};
    enum { NB = sizeof edge / sizeof edge[0] };
    double mass[NB] = {0};
    for (int i = 0; i < s->vocab; i++) {
        float d = (maxl - logits[i]) / s->temperature;
        int b = 0;
        while (b < NB - 1 && !(d < edge[b])) b++;
        mass[b] += s->prob[i]; /* NaN logits weigh 0 */
    }
    int b = 0;
    for (double m = mass[0]; b < NB - 1 && m < s->top_p * total; m += mass[++b]) {}
    int n = 0;
    for (int i = 0; i < s->vocab; i++)
        if ((maxl - logits[i]) / s->temperature < edge[b] || (b == NB - 1 && !isnan(logits[i])))
            s->cand[n++] = cand_of(logits, i);
    qsort(s->cand, (size_t)n, sizeof *s->cand, by_rank);
    return n;
}

int sampler_sample(Sampler *s, const float *logits) {
    int V = s->vocab;
    if (s->temperature <= 0) return argmax(logits, V);
    float maxl = -INFINITY;
    for (int i = 0; i < V; i++) maxl = logits[i] > maxl ? logits[i] : maxl;
    if (!isfinite(maxl)) return argmax(logits, V); /* an inf logit, or none but -inf / NaN */
    /* the weights exp((logit - max) / T), by id; NaN weighs 0 */
#define WEIGH(i) (s->prob[i] = isnan(logits[i]) ? 0.0f : expf((logits[i] - maxl) / s->temperature))
    int n;      /* candidates s->cand[0, n), best first */
    double sum; /* their mass; with top-p alone, every token's */
    if (s->top_k > 0 && s->top_k < V) {
        n = s->top_k;
        best_k(s, logits, n);
        sum = 0;
        for (int j = 0; j < n; j++) sum += WEIGH(s->cand[j].id);
    } else {
        sum = 0;
        for (int i = 0; i < V; i++) sum += WEIGH(i);
        if (s->top_p >= 1.0f) { /* temperature alone: draw from every token, in id order */
            double r = sampler_uniform(s) * sum, acc = 0;
            for (int i = 0; i < V; i++)
                if (r < (acc += s->prob[i])) return i;
            return argmax(logits, V);
        }
        n = heaviest(s, logits, maxl, sum);
    }
#undef WEIGH
    /* top-p: the smallest prefix whose mass reaches top_p (at least one token) */
    if (s->top_p < 1.0f) {
        double cum = 0;
        int keep = n;
        for (int j = 0; j < n; j++) {
            cum += s->prob[s->cand[j].id] / sum;
            if (cum >= s->top_p) {
                keep = j + 1;
                break;
            }
        }
        n = keep;
        sum = 0;
        for (int j = 0; j < n; j++) sum += s->prob[s->cand[j].id];
    }
    double r = sampler_uniform(s) * sum, acc = 0;
    for (int j = 0; j < n; j++) {
        acc += s->prob[s->cand[j].id];
        if (r < acc) return s->cand[j].id;
    }
    return s->cand[n - 1].id;
}
