/* The Gemma 3 forward pass, top to bottom, for a batch of n tokens at positions pos..pos+n-1.
 * Prefill (n > 1) and decode (n == 1) are the same code: each query attends to the cached
 * keys of earlier batches plus this batch's own keys, so no path needs a separate mask. A batch
 * may hold several sequences (a server's decode step): they share the matmuls, each attends to
 * its own cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "ops/vec.h"
#include "kernels/matmul.h"
#include "util/pool.h"
#include "util/util.h"

int runstate_init(RunState *s, const Model *m, int context, int max_batch) {
    const ModelConfig *c = &m->cfg;
    memset(s, 0, sizeof *s);
    if (context < 1 || context > c->max_position_embeddings) {
        err_set("context %d is outside 1..%d (max_position_embeddings)", context, c->max_position_embeddings);
        return -1;
    }
    if (max_batch < 1) {
        err_set("batch size %d must be at least 1", max_batch);
        return -1;
    }
    if (max_batch > context) max_batch = context;
    s->context = context;
    s->max_batch = max_batch;
    size_t B = (size_t)max_batch, H = (size_t)c->hidden_size, hd = (size_t)c->head_dim;
    size_t qd = (size_t)c->num_heads * hd, kvd = (size_t)c->num_kv_heads * hd, I = (size_t)c->intermediate_size;
    s->k_cache = xcalloc((size_t)c->num_layers, sizeof(float *));
    s->v_cache = xcalloc((size_t)c->num_layers, sizeof(float *));
    s->cache_cap = xcalloc((size_t)c->num_layers, sizeof(int));
    for (int l = 0; l < c->num_layers; l++) {
        int cap = context;
        if (c->layer_types[l] == LAYER_SLIDING && c->sliding_window + RING_SLACK < context)
            cap = c->sliding_window + RING_SLACK;
        size_t bytes;
        if (mul_size((size_t)cap * kvd, sizeof(float), &bytes)) return -1;
        s->cache_cap[l] = cap;
        s->k_cache[l] = xmalloc(bytes);
        s->v_cache[l] = xmalloc(bytes);
    }
    s->x = xmalloc(sizeof(float) * B * H);
    s->xn = xmalloc(sizeof(float) * B * H);
    s->q = xmalloc(sizeof(float) * B * qd);
    s->k = xmalloc(sizeof(float) * B * kvd);
    s->v = xmalloc(sizeof(float) * B * kvd);
    s->att = xmalloc(sizeof(float) * B * qd);
    s->proj = xmalloc(sizeof(float) * B * H);
    s->gate = xmalloc(sizeof(float) * B * I);
    s->up = xmalloc(sizeof(float) * B * I);
    s->n_threads = pool_threads();
    s->scores = xmalloc(sizeof(float) * (size_t)context * (size_t)s->n_threads);
    s->rope_cos_local = xmalloc(sizeof(float) * B * hd / 2);
    s->rope_sin_local = xmalloc(sizeof(float) * B * hd / 2);
    s->rope_cos_global = xmalloc(sizeof(float) * B * hd / 2);
    s->rope_sin_global = xmalloc(sizeof(float) * B * hd / 2);
    s->n_layers = c->num_layers;
    s->sliding_window = c->sliding_window;
    s->precision = PRECISION_Q8;
    return 0;
}

void runstate_free(RunState *s) {
    for (int l = 0; l < s->n_layers; l++) {
        free(s->k_cache[l]);
        free(s->v_cache[l]);
    }
    free(s->k_cache);
    free(s->v_cache);
    free(s->cache_cap);
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->proj);
    free(s->gate);
    free(s->up);
    free(s->scores);
    free(s->rope_cos_local);
    free(s->rope_sin_local);
    free(s->rope_cos_global);
    free(s->rope_sin_global);
    qacts_free(&s->xq);
    memset(s, 0, sizeof *s);
}

static const char *const precision_names[] = {"q8", "fp32", "fp16"};

int precision_parse(const char *name, Precision *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, precision_names[i])) {
            *out = (Precision)i;
            return 0;
        }
    err_set("precision '%s': expected " PRECISION_NAMES, name);
    return -1;
}

const char *precision_name(Precision p) { return (unsigned)p < 3 ? precision_names[p] : "unknown"; }

void runstate_set_precision(RunState *s, Precision p) { s->precision = p; }

void runstate_reset(RunState *s) { s->pos = 0; }

int runstate_rewind(RunState *s, int pos) {
    if (pos < 0 || pos > s->pos) return -1;
    /* a ring slot of position j < pos was overwritten once position j + cap was written */
    for (int l = 0; l < s->n_layers; l++)
        if (s->cache_cap[l] < s->context && s->pos - pos > s->cache_cap[l] - s->sliding_window) return -1;
    s->pos = pos;
    return 0;
}

/* out = x / sqrt(mean(x^2) + eps) * gain, gain = (1 + w).   x, out: [n]; in place allowed. */
static void rmsnorm(float *out, const float *x, const float *gain, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * r * gain[i];
}

/* cos/sin of position p for each frequency j < hd/2, computed in FP32 like the reference:
 * inv_freq_j = 1 / base^(2j/hd) (divided by the linear scaling factor), angle = inv_freq_j * p. */
static void rope_table(float *cos_out, float *sin_out, int pos, int hd, double base, double factor) {
    for (int j = 0; j < hd / 2; j++) {
        float inv = 1.0f / powf((float)base, (float)(2 * j) / (float)hd);
        inv = (float)(inv / factor);
        float angle = inv * (float)pos;
        cos_out[j] = cosf(angle);
        sin_out[j] = sinf(angle);
    }
}

/* Rotate one head vector by the half-split convention: (x1, x2) -> (x1 c - x2 s, x2 c + x1 s). */
static void rope_apply(float *v, const float *cs, const float *sn, int hd) {
    int half = hd / 2;
    for (int j = 0; j < half; j++) {
        float a = v[j], b = v[j + half];
        v[j] = a * cs[j] - b * sn[j];
        v[j + half] = b * cs[j] + a * sn[j];
    }
}

/* GELU with the exact erf (hidden_activation "gelu"); the tanh form goes through vec_gelu_tanh. */
static float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* In place over v [n], split across the pool (a prefill batch's MLP is n = 64 x I values). */
typedef struct {
    float *v;
    size_t n;
    Activation act;
} GeluJob;

static void gelu_task(void *ctx, int i, int n_tasks) {
    GeluJob *j = ctx;
    size_t a = j->n * (size_t)i / (size_t)n_tasks, b = j->n * (size_t)(i + 1) / (size_t)n_tasks;
    if (j->act == ACT_GELU_TANH)
        vec_gelu_tanh(j->v + a, b - a);
    else
        for (size_t k = a; k < b; k++) j->v[k] = gelu_erf(j->v[k]);
}

static void gelu(float *v, size_t n, Activation act) {
    GeluJob j = {v, n, act};
    pool_run(gelu_task, &j, n >= 65536 ? pool_threads() : 1);
}

/* Matmuls are split by output rows across the pool's threads: each streams its own part of
 * the weights, which is what bounds decode speed. */
typedef struct {
    const QMatrix *w;
    const float *x;
    const QActs *xq; /* x as 8-bit codes, or NULL */
    int T;
    float *y;
} MatmulJob;

static void matmul_task(void *ctx, int i, int n) {
    const MatmulJob *j = ctx;
    /* boundaries on multiples of 16 rows keep each thread's LUT groups whole */
    int units = (j->w->rows + 15) / 16;
    int r0 = (int)((long)units * i / n) * 16, r1 = (int)((long)units * (i + 1) / n) * 16;
    if (r1 > j->w->rows) r1 = j->w->rows;
    if (r0 >= r1) return;
    if (j->xq)
        qmat_matmul_q8_rows(j->w, j->xq, j->y, r0, r1);
    else
        qmat_matmul_rows(j->w, j->x, j->T, j->y, r0, r1);
}

typedef struct {
    QActs *a;
    const float *x;
} QuantJob;

static void quantize_task(void *ctx, int i, int n) {
    QuantJob *j = ctx;
    qacts_quantize_rows(j->a, j->x, j->a->T * i / n, j->a->T * (i + 1) / n);
}

/* The 8-bit codes of x [T, cols] for the LUT matmuls that read it next (w: the first of them),
 * or NULL when they take FP32 (not LUT, --precision fp32 / fp16).  Quantized once for all
 * matrices sharing an input. */
static const QActs *quantize_input(RunState *s, const QMatrix *w, const float *x, int T, int cols) {
    if (s->precision != PRECISION_Q8 || !w->lut_q8) return NULL;
    qacts_resize(&s->xq, T, cols);
    QuantJob j = {&s->xq, x};
    pool_run(quantize_task, &j, T >= 8 ? pool_threads() : 1); /* a prefill batch: by inputs */
    return &s->xq;
}

/* y [T, rows] = x [T, cols] W^T; xq: quantize_input(x) (used for LUT matrices only) */
static void matmul(const QMatrix *w, const float *x, const QActs *xq, int T, float *y) {
    MatmulJob j = {w, x, w->lut_q8 ? xq : NULL, T, y};
    /* decode: several tasks per thread, so a thread that starts late takes fewer of them */
    int n = T == 1 && pool_threads() > 1 ? 4 * pool_threads() : pool_threads();
    if ((long)w->rows * w->cols * T < 65536) n = 1; /* too small to be worth a hand-off */
    pool_run(matmul_task, &j, n);
}

/* Strict-FP16 emulation: round an op's output to FP16 as the Neural Engine would store it. The
 * first value that is not finite (an FP16 overflow) is recorded with its layer, op and positions;
 * block_done, once per block, then fails the run (or, with overflow_continue, notes it and goes on). */
static int round_to_f16(float *v, size_t n) { return vec_round_f16(v, n); }

static void note_overflow(RunState *s, int layer, const char *op) {
    if (s->overflow_pending) return;
    s->overflow_pending = 1;
    if (s->overflowed) return; /* continuing: the first one met is the one reported */
    if (layer < 0)
        snprintf(s->overflow_where, sizeof s->overflow_where, "%s", op);
    else
        snprintf(s->overflow_where, sizeof s->overflow_where, "layer %d, %s", layer, op);
    s->overflow_first = s->rows_first;
    s->overflow_last = s->rows_last;
}

static void act(RunState *s, float *v, size_t n, int layer, const char *op) {
    if (s->precision == PRECISION_FP16 && round_to_f16(v, n)) note_overflow(s, layer, op);
}

static int block_done(RunState *s) {
    if (!s->overflow_pending) return 0;
    s->overflow_pending = 0;
    if (s->overflow_continue) {
        s->overflowed = 1;
        return 0;
    }
    if (s->overflow_first == s->overflow_last)
        err_set("FP16 overflow: non-finite value at %s (position %d)", s->overflow_where, s->overflow_first);
    else
        err_set("FP16 overflow: non-finite value at %s (positions %d..%d)", s->overflow_where, s->overflow_first,
                s->overflow_last);
    return -1;
}

/* A NaN becomes the peak and stays: a plain max skips NaN, and would report the finite rest. */
static void track_peak(float *peak, const float *v, size_t n) {
    for (size_t i = 0; i < n && !isnan(*peak); i++)
        if (!(fabsf(v[i]) <= *peak)) *peak = fabsf(v[i]);
}

static float softcap(float x, double cap) { return cap > 0 ? (float)(tanh(x / cap) * cap) : x; }

/* Self-attention of one layer for one sequence's n queries at positions pos..pos+n-1.
 * q, k, v, att: this sequence's rows of the batch. Keys at positions >= pos come from these rows,
 * older ones from the sequence's cache. (query, head) pairs are spread over the threads, each with
 * its own row of s->scores. */
typedef struct {
    const ModelConfig *c;
    RunState *s; /* the sequence: its cache, scores and precision */
    const float *q, *k, *v;
    float *att;
    int l, pos, n;
    int bad_scores[POOL_MAX_THREADS], bad_probs[POOL_MAX_THREADS]; /* per task: an FP16 overflow was met */
} AttnJob;

/* Positions [lo, hi] of a key (or value) head as runs of rows contiguous in memory (row stride
 * kvd), in position order: the cache's ring from lo up to this batch (split where the ring
 * wraps), then the batch's own rows from pos.  run[i] starts at position lo + first[i]. */
typedef struct {
    const float *rows[3];
    int first[3], n[3];
} KeyRuns;

static int key_runs(const float *cache, const float *batch, int cap, int pos, int lo, int hi, size_t kvd,
                    KeyRuns *r) {
    int k = 0;
    for (int j = lo; j <= hi;) {
        int n = j >= pos ? hi - j + 1 : (pos <= hi + 1 ? pos : hi + 1) - j; /* batch, or cache up to it */
        if (j < pos && n > cap - j % cap) n = cap - j % cap;                   /* the ring wraps there */
        r->rows[k] = j >= pos ? batch + (size_t)(j - pos) * kvd : cache + (size_t)(j % cap) * kvd;
        r->first[k] = j - lo, r->n[k] = n;
        k++, j += n;
    }
    return k;
}

static void attention_task(void *ctx, int task, int n_tasks) {
    AttnJob *job = ctx;
    const ModelConfig *c = job->c;
    RunState *s = job->s;
    int pos = job->pos, l = job->l;
    int hd = c->head_dim, nh = c->num_heads, kvh = c->num_kv_heads, group = nh / kvh;
    int kvd = kvh * hd, cap = s->cache_cap[l];
    int sliding = c->layer_types[l] == LAYER_SLIDING;
    float scale = (float)(1.0 / sqrt(c->query_pre_attn_scalar));
    const float *kc = s->k_cache[l], *vc = s->v_cache[l];
    float *sc = s->scores + (size_t)task * s->context;
    for (int p = task; p < job->n * nh; p += n_tasks) {
        int t = p / nh, h = p % nh, kh = h / group;
        int qpos = pos + t;
        int lo = sliding && qpos - c->sliding_window + 1 > 0 ? qpos - c->sliding_window + 1 : 0;
        int nk = qpos - lo + 1;
        const float *q = job->q + (size_t)t * nh * hd + (size_t)h * hd;
        KeyRuns kr, vr;
        int runs = key_runs(kc + (size_t)kh * hd, job->k + (size_t)kh * hd, cap, pos, lo, qpos, (size_t)kvd, &kr);
        key_runs(vc + (size_t)kh * hd, job->v + (size_t)kh * hd, cap, pos, lo, qpos, (size_t)kvd, &vr);
        for (int i = 0; i < runs; i++) vec_dot_rows(q, kr.rows[i], (size_t)kvd, kr.n[i], hd, sc + kr.first[i]);
        for (int j = 0; j < nk; j++) sc[j] = softcap(sc[j] * scale, c->attn_logit_softcapping);
        if (s->precision == PRECISION_FP16) job->bad_scores[task] |= round_to_f16(sc, (size_t)nk);
        float maxv = -INFINITY;
        for (int j = 0; j < nk; j++)
            if (sc[j] > maxv) maxv = sc[j];
        double sum = vec_exp_shift(sc, maxv, nk);
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < nk; j++) sc[j] *= inv;
        if (s->precision == PRECISION_FP16) job->bad_probs[task] |= round_to_f16(sc, (size_t)nk);
        float *out = job->att + (size_t)t * nh * hd + (size_t)h * hd;
        memset(out, 0, sizeof(float) * (size_t)hd);
        for (int i = 0; i < runs; i++) vec_axpy_rows(out, sc + vr.first[i], vr.rows[i], (size_t)kvd, vr.n[i], hd);
    }
}

/* Attention of sequence s, whose rows in the batch w start at row r, then its keys and values
 * join its cache. */
static void attention(const ModelConfig *c, RunState *w, RunState *s, int l, int r, int n) {
    int hd = c->head_dim, nh = c->num_heads, kvd = c->num_kv_heads * hd, cap = s->cache_cap[l];
    const float *k = w->k + (size_t)r * kvd, *v = w->v + (size_t)r * kvd;
    AttnJob job = {.c = c, .s = s, .q = w->q + (size_t)r * nh * hd, .k = k, .v = v,
                   .att = w->att + (size_t)r * nh * hd, .l = l, .pos = s->pos, .n = n};
    int tasks = s->n_threads < n * nh ? s->n_threads : n * nh;
    pool_run(attention_task, &job, tasks);
    for (int i = 0; i < tasks; i++) {
        if (job.bad_scores[i]) note_overflow(w, l, "attention scores");
        if (job.bad_probs[i]) note_overflow(w, l, "attention probabilities");
    }
    /* Append these rows to the cache; a ring keeps only the last `cap` positions. */
    int first = n > cap ? n - cap : 0;
    for (int t = first; t < n; t++) {
        size_t slot = (size_t)((s->pos + t) % cap);
        memcpy(s->k_cache[l] + slot * kvd, k + (size_t)t * kvd, sizeof(float) * (size_t)kvd);
        memcpy(s->v_cache[l] + slot * kvd, v + (size_t)t * kvd, sizeof(float) * (size_t)kvd);
    }
}

/* x[t] = norm(x[t]) for each of n rows of width w */
static void rmsnorm_rows(float *out, const float *x, const float *gain, int n, int w, float eps) {
    for (int t = 0; t < n; t++) rmsnorm(out + (size_t)t * w, x + (size_t)t * w, gain, w, eps);
}

/* x += post_norm(p): a sublayer's output joins the residual stream. */
static void residual_add(RunState *s, float *x, float *p, const float *gain, int n, int H, float eps, int l,
                         const char *norm_op) {
    rmsnorm_rows(p, p, gain, n, H, eps);
    act(s, p, (size_t)n * H, l, norm_op);
    for (size_t i = 0; i < (size_t)n * H; i++) x[i] += p[i];
    act(s, x, (size_t)n * H, l, "residual add");
}

/* The batch's rows: each sequence's n tokens, one after another. Matmuls, norms and activations
 * run on all rows at once (a row's result does not depend on the others), rope and attention per
 * sequence at its own positions. w holds the rows (its scratch) and the options; it may be the
 * only sequence itself. */
int model_forward_seqs(const Model *m, RunState *w, const SeqRows *seqs, int n_seqs, LogitsMode mode,
                       float *logits) {
    const ModelConfig *c = &m->cfg;
    const ModelWeights *mw = &m->w;
    int H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    int nh = c->num_heads, kvh = c->num_kv_heads, V = c->vocab_size;
    float eps = c->rms_norm_eps;
    int n = 0; /* rows */
    for (int i = 0; i < n_seqs; i++) {
        const RunState *s = seqs[i].s;
        if (seqs[i].n < 1 || n + seqs[i].n > w->max_batch) {
            err_set("batch of %d tokens (allowed 1..%d)", n + seqs[i].n, w->max_batch);
            return -1;
        }
        if (s->pos + seqs[i].n > s->context) {
            err_set("positions %d..%d exceed the context of %d", s->pos, s->pos + seqs[i].n - 1, s->context);
            return -1;
        }
        for (int t = 0; t < seqs[i].n; t++)
            if (seqs[i].tokens[t] < 0 || seqs[i].tokens[t] >= V) {
                err_set("token id %d is outside the vocabulary (0..%d)", seqs[i].tokens[t], V - 1);
                return -1;
            }
        n += seqs[i].n;
    }
    if (n_seqs < 1) {
        err_set("a batch needs at least one sequence");
        return -1;
    }
    w->rows_first = seqs[0].s->pos; /* overflow reports name the first sequence's positions */
    w->rows_last = seqs[0].s->pos + n - 1;

    /* embeddings, scaled by sqrt(H), and the rope angles of each row's position */
    for (int i = 0, r = 0; i < n_seqs; i++)
        for (int t = 0; t < seqs[i].n; t++, r++) {
            float *x = w->x + (size_t)r * H;
            qmat_row(&mw->embed, seqs[i].tokens[t], x);
            for (int j = 0; j < H; j++) x[j] *= mw->embed_scale;
            size_t o = (size_t)r * hd / 2;
            int pos = seqs[i].s->pos + t;
            rope_table(w->rope_cos_local + o, w->rope_sin_local + o, pos, hd, c->rope_local_base_freq, 1.0);
            rope_table(w->rope_cos_global + o, w->rope_sin_global + o, pos, hd, c->rope_theta,
                       c->rope_scaling_factor);
        }
    act(w, w->x, (size_t)n * H, -1, "embeddings");
    if (block_done(w)) return -1;
    if (w->layer_peaks) track_peak(&w->embed_peak, w->x, (size_t)n * H);

    for (int l = 0; l < c->num_layers; l++) {
        const LayerWeights *lw = &mw->layers[l];
        int sliding = c->layer_types[l] == LAYER_SLIDING;
        const float *rc = sliding ? w->rope_cos_local : w->rope_cos_global;
        const float *rs = sliding ? w->rope_sin_local : w->rope_sin_global;

        /* attention block: x += post_attn_norm(o_proj(attn(rope(norm(q)), rope(norm(k)), v))) */
        rmsnorm_rows(w->xn, w->x, lw->input_norm, n, H, eps);
        act(w, w->xn, (size_t)n * H, l, "input norm");
        const QActs *xq = quantize_input(w, &lw->q, w->xn, n, H);
        matmul(&lw->q, w->xn, xq, n, w->q);
        matmul(&lw->k, w->xn, xq, n, w->k);
        matmul(&lw->v, w->xn, xq, n, w->v);
        act(w, w->q, (size_t)n * nh * hd, l, "q_proj");
        act(w, w->k, (size_t)n * kvh * hd, l, "k_proj");
        act(w, w->v, (size_t)n * kvh * hd, l, "v_proj");
        rmsnorm_rows(w->q, w->q, lw->q_norm, n * nh, hd, eps);
        rmsnorm_rows(w->k, w->k, lw->k_norm, n * kvh, hd, eps);
        act(w, w->q, (size_t)n * nh * hd, l, "q_norm");
        act(w, w->k, (size_t)n * kvh * hd, l, "k_norm");
        for (int t = 0; t < n; t++) {
            const float *cs = rc + (size_t)t * hd / 2, *sn = rs + (size_t)t * hd / 2;
            for (int h = 0; h < nh; h++) rope_apply(w->q + ((size_t)t * nh + h) * hd, cs, sn, hd);
            for (int h = 0; h < kvh; h++) rope_apply(w->k + ((size_t)t * kvh + h) * hd, cs, sn, hd);
        }
        act(w, w->q, (size_t)n * nh * hd, l, "rope q");
        act(w, w->k, (size_t)n * kvh * hd, l, "rope k");
        for (int i = 0, r = 0; i < n_seqs; r += seqs[i].n, i++) attention(c, w, seqs[i].s, l, r, seqs[i].n);
        act(w, w->att, (size_t)n * nh * hd, l, "attention output");
        matmul(&lw->o, w->att, quantize_input(w, &lw->o, w->att, n, nh * hd), n, w->proj);
        act(w, w->proj, (size_t)n * H, l, "o_proj");
        residual_add(w, w->x, w->proj, lw->post_attn_norm, n, H, eps, l, "post-attention norm");
        if (block_done(w)) return -1;

        /* MLP block: x += post_ff_norm(down(gelu(gate(norm(x))) * up(norm(x)))) */
        rmsnorm_rows(w->xn, w->x, lw->pre_ff_norm, n, H, eps);
        act(w, w->xn, (size_t)n * H, l, "pre-feedforward norm");
        xq = quantize_input(w, &lw->gate, w->xn, n, H);
        matmul(&lw->gate, w->xn, xq, n, w->gate);
        matmul(&lw->up, w->xn, xq, n, w->up);
        act(w, w->gate, (size_t)n * I, l, "gate_proj");
        act(w, w->up, (size_t)n * I, l, "up_proj");
        gelu(w->gate, (size_t)n * I, c->activation);
        act(w, w->gate, (size_t)n * I, l, "gelu");
        for (size_t i = 0; i < (size_t)n * I; i++) w->gate[i] *= w->up[i];
        act(w, w->gate, (size_t)n * I, l, "gelu * up");
        matmul(&lw->down, w->gate, quantize_input(w, &lw->down, w->gate, n, I), n, w->proj);
        act(w, w->proj, (size_t)n * H, l, "down_proj");
        residual_add(w, w->x, w->proj, lw->post_ff_norm, n, H, eps, l, "post-feedforward norm");
        if (block_done(w)) return -1;
        if (w->layer_peaks) track_peak(&w->layer_peaks[l], w->x, (size_t)n * H);
    }
    for (int i = 0; i < n_seqs; i++) seqs[i].s->pos += seqs[i].n;

    if (mode == LOGITS_NONE) return 0;
    /* LOGITS_LAST: the last row of each sequence; LOGITS_ALL: every row */
    int rows = 0;
    for (int i = 0, r = 0; i < n_seqs; r += seqs[i].n, i++)
        for (int t = mode == LOGITS_LAST ? seqs[i].n - 1 : 0; t < seqs[i].n; t++, rows++)
            rmsnorm_rows(w->xn + (size_t)rows * H, w->x + (size_t)(r + t) * H, mw->final_norm, 1, H, eps);
    if (mode == LOGITS_LAST) w->rows_first = w->rows_last;
    act(w, w->xn, (size_t)rows * H, -1, "final norm");
    matmul(&mw->lm_head, w->xn, quantize_input(w, &mw->lm_head, w->xn, rows, H), rows, logits);
    if (c->final_logit_softcapping > 0)
        for (size_t i = 0; i < (size_t)rows * V; i++) logits[i] = softcap(logits[i], c->final_logit_softcapping);
    act(w, logits, (size_t)rows * V, -1, "lm_head logits");
    return block_done(w);
}

int model_rows_independent(const Model *m, Precision p) {
    if (p != PRECISION_Q8) return 0;
    if (!m->w.lm_head.lut_q8) return 0;
    for (int l = 0; l < m->cfg.num_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        const QMatrix *mats[LAYER_NUM_MATRICES] = {LAYER_MATRICES(w)};
        for (int i = 0; i < LAYER_NUM_MATRICES; i++)
            if (!mats[i]->lut_q8) return 0;
    }
    return 1;
}

int model_forward(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *logits) {
    SeqRows one = {s, tokens, n};
    return model_forward_seqs(m, s, &one, 1, mode, logits);
}

int model_prefill(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *last_logits,
                  LogitsSink sink, void *sink_ctx) {
    float *buf = NULL;
    if (mode == LOGITS_ALL) buf = xmalloc(sizeof(float) * (size_t)s->max_batch * (size_t)m->cfg.vocab_size);
    int rc = 0;
    for (int b = 0; b < n && rc == 0; b += s->max_batch) {
        int nb = n - b < s->max_batch ? n - b : s->max_batch;
        int last = b + nb == n;
        int first_pos = s->pos;
        if (mode == LOGITS_ALL) {
            rc = model_forward(m, s, tokens + b, nb, LOGITS_ALL, buf);
            if (rc == 0 && sink) rc = sink(sink_ctx, buf, first_pos, nb);
            if (rc == 0 && last && last_logits)
                memcpy(last_logits, buf + (size_t)(nb - 1) * m->cfg.vocab_size,
                       sizeof(float) * (size_t)m->cfg.vocab_size);
        } else {
            rc = model_forward(m, s, tokens + b, nb, last && mode == LOGITS_LAST ? LOGITS_LAST : LOGITS_NONE,
                               last_logits);
        }
    }
    free(buf);
    return rc;
}
