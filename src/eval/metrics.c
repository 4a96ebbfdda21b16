/* Quality metrics: one step, running sums of a prompt, summaries. See metrics.h. */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler.h"

/* ---------------------------------------------------------------- metrics */

double eval_pearson(const float *a, const float *b, int n) {
    if (n <= 0) return 1.0;
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double saa = 0, sbb = 0, sab = 0;
    for (int i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    /* population std: sqrt(s / n) */
    int ca = sqrt(saa / n) < 1e-12, cb = sqrt(sbb / n) < 1e-12;
    if (ca || cb) return ca && cb ? 1.0 : 0.0;
    /* mean(da db) / (std a std b) = sab / sqrt(saa sbb): exactly 1 for identical vectors */
    double r = sab / sqrt(saa * sbb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static double logsumexp(const float *v, int n, double max) {
    double z = 0;
    for (int i = 0; i < n; i++) z += exp((double)v[i] - max);
    return max + log(z);
}

double eval_log_softmax_at(const float *logits, int V, int id) {
    double m = logits[argmax(logits, V)];
    return (double)logits[id] - logsumexp(logits, V, m);
}

void eval_step(const float *h, const float *c, int V, EvalStep *o) {
    memset(o, 0, sizeof *o);
    o->ref_top = argmax(h, V);
    o->cand_top = argmax(c, V);
    o->match = o->ref_top == o->cand_top;
    double mh = h[o->ref_top], mc = c[o->cand_top];
    double zh = 0, zc = 0;
    for (int v = 0; v < V; v++) {
        zh += exp((double)h[v] - mh);
        zc += exp((double)c[v] - mc);
    }
    double kl = 0, ent = 0;
    for (int v = 0; v < V; v++) {
        double p = exp((double)h[v] - mh) / zh, q = exp((double)c[v] - mc) / zc;
        double lq = log(q + EVAL_EPS);
        kl += p * (log(p + EVAL_EPS) - lq);
        ent -= q * lq;
    }
    o->kl = kl;
    o->entropy = ent;
    o->corr = eval_pearson(h, c, V);
}

void eval_topk(const float *v, int n, int k, int *out) {
    int m = 0; /* out[0..m) sorted: larger first, lower index first on ties */
    for (int i = 0; i < n; i++) {
        if (m == k && !(v[i] > v[out[k - 1]])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && v[i] > v[out[j - 1]]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
}

double eval_top5_overlap(const float *a, const float *b, int n) {
    int k = n < 5 ? n : 5, ta[5], tb[5], common = 0;
    if (k <= 0) return 1.0;
    eval_topk(a, n, k, ta);
    eval_topk(b, n, k, tb);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) common += ta[i] == tb[j];
    return (double)common / k;
}

int eval_first_nonfinite(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

/* ---------------------------------------------------------------- accumulation */

void eval_accum_init(EvalAccum *a) {
    memset(a, 0, sizeof *a);
    a->first_div = -1;
    a->kl_max = -INFINITY;
    a->corr_min = INFINITY;
}

void eval_accum_add(EvalAccum *a, const EvalStep *s) {
    if (!s->match && a->first_div < 0) a->first_div = a->n;
    a->n++;
    a->n_match += s->match;
    a->kl += s->kl;
    a->corr += s->corr;
    a->entropy += s->entropy;
    a->nll_ref += s->nll_ref;
    a->nll_cand += s->nll_cand;
    a->top5 += s->top5;
    if (s->kl > a->kl_max) a->kl_max = s->kl;
    if (s->corr < a->corr_min) a->corr_min = s->corr;
}

void eval_accum_finish(const EvalAccum *a, EvalPromptResult *r) {
    r->steps = a->n;
    r->first_divergence = a->first_div;
    if (a->n == 0) {
        r->kl_mean = r->kl_max = r->corr_mean = r->corr_min = r->entropy_mean = r->match_rate = 0;
        r->nll_ref = r->nll_cand = r->top5 = 0;
        return;
    }
    double n = a->n;
    r->kl_mean = a->kl / n;
    r->kl_max = a->kl_max;
    r->corr_mean = a->corr / n;
    r->corr_min = a->corr_min;
    r->entropy_mean = a->entropy / n;
    r->match_rate = a->n_match / n;
    r->nll_ref = a->nll_ref / n;
    r->nll_cand = a->nll_cand / n;
    r->top5 = a->top5 / n;
}

static void minmax(double v, double *lo, double *hi) {
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

void eval_summarize(const EvalPromptResult *r, int n, int weighted, EvalSummary *s) {
    memset(s, 0, sizeof *s);
    s->text = weighted;
    s->kl_min = s->corr_min = s->match_min = s->entropy_min = INFINITY;
    s->kl_max = s->corr_max = s->match_max = s->entropy_max = -INFINITY;
    double w_total = 0, nll_r = 0, nll_c = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].steps <= 0) continue;
        s->prompts++;
        s->scored_steps += r[i].steps;
        s->capped += r[i].steps < r[i].steps_requested;
        double w = weighted ? r[i].steps : 1.0;
        w_total += w;
        s->kl_mean += w * r[i].kl_mean;
        s->corr_mean += w * r[i].corr_mean;
        s->match_rate += w * r[i].match_rate;
        s->entropy_mean += w * r[i].entropy_mean;
        s->top5 += w * r[i].top5;
        nll_r += r[i].steps * r[i].nll_ref;
        nll_c += r[i].steps * r[i].nll_cand;
        minmax(r[i].kl_mean, &s->kl_min, &s->kl_max);
        minmax(r[i].corr_mean, &s->corr_min, &s->corr_max);
        minmax(r[i].match_rate, &s->match_min, &s->match_max);
        minmax(r[i].entropy_mean, &s->entropy_min, &s->entropy_max);
    }
    if (s->prompts == 0) {
        s->kl_min = s->kl_max = s->corr_min = s->corr_max = 0;
        s->match_min = s->match_max = s->entropy_min = s->entropy_max = 0;
        return;
    }
    s->kl_mean /= w_total;
    s->corr_mean /= w_total;
    s->match_rate /= w_total;
    s->entropy_mean /= w_total;
    s->top5 /= w_total;
    s->steps = weighted ? s->scored_steps : (n > 0 ? r[0].steps_requested : 0);
    if (weighted) {
        s->ppl_ref = exp(nll_r / s->scored_steps);
        s->ppl_cand = exp(nll_c / s->scored_steps);
    }
}

void eval_result_free(EvalPromptResult *r) {
    free(r->tokens);
    r->tokens = NULL;
}
