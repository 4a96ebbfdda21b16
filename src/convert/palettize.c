#include "convert/palettize.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- table fitting: 1-D weighted k-means over sorted distinct values ---- */

/* first i in [lo, hi) with v[i] > x (hi if none) */
static size_t upper_bound(const double *v, size_t lo, size_t hi, double x) {
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Prefix sums over the distinct values make every cluster statistic O(1):
 * cluster [a, b) has weight W[b]-W[a], sum S[b]-S[a], sum of squares Q[b]-Q[a]. */
typedef struct {
    const double *v;
    double *W, *S, *Q;
} Prefix;

static double cluster_mean(const Prefix *p, size_t a, size_t b) {
    if (b - a == 1) return p->v[a]; /* exact for single-valued clusters */
    return (p->S[b] - p->S[a]) / (p->W[b] - p->W[a]);
}

static double cluster_sse(const Prefix *p, size_t a, size_t b) {
    double s = p->S[b] - p->S[a];
    return (p->Q[b] - p->Q[a]) - s * s / (p->W[b] - p->W[a]);
}

/* Boundaries s[0..k] (s[0] = 0, s[k] = d) with k non-empty clusters: cluster j takes the values
 * whose cumulative-weight midpoint falls in its j/k quantile slice, nudged so none is empty. */
static void init_quantiles(const Prefix *p, size_t d, int k, size_t *s) {
    double total = p->W[d];
    s[0] = 0;
    for (int j = 1; j < k; j++) {
        double target = total * j / k;
        size_t lo = 0, hi = d; /* first i with (W[i] + W[i+1]) / 2 >= target */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if ((p->W[mid] + p->W[mid + 1]) * 0.5 >= target) hi = mid;
            else lo = mid + 1;
        }
        size_t min_s = s[j - 1] + 1, max_s = d - (size_t)(k - j);
        s[j] = lo < min_s ? min_s : lo > max_s ? max_s : lo;
    }
    s[k] = d;
}

/* s[0..k] non-decreasing -> k non-empty clusters: drop empty ones, then split the cluster with
 * the largest squared error (among those with >= 2 values) at its mean until k again. */
static void refill_empty(const Prefix *p, size_t *s, int k) {
    int m = 0;
    for (int j = 1; j <= k; j++)
        if (s[j] != s[m]) s[++m] = s[j];
    for (; m < k; m++) {
        int best = -1;
        double best_sse = -INFINITY;
        for (int j = 0; j < m; j++) {
            if (s[j + 1] - s[j] < 2) continue;
            double e = cluster_sse(p, s[j], s[j + 1]);
            if (e > best_sse) best_sse = e, best = j;
        }
        size_t a = s[best], b = s[best + 1];
        size_t cut = upper_bound(p->v, a, b, cluster_mean(p, a, b));
        if (cut < a + 1) cut = a + 1;
        if (cut > b - 1) cut = b - 1;
        memmove(&s[best + 2], &s[best + 1], sizeof *s * (size_t)(m - best));
        s[best + 1] = cut;
    }
}

void lut_fit_table(const double *v, const double *count, size_t d, int bits, int max_iters,
                   uint16_t *table) {
    int k = 1 << bits;
    if (d <= (size_t)k) { /* few values: the table is the values (padded with the largest) */
        for (size_t j = 0; j < (size_t)k; j++) table[j] = f32_to_f16((float)v[j < d ? j : d - 1]);
        return;
    }
    if (max_iters <= 0) max_iters = LUT_DEFAULT_ITERS;

    double *buf = xmalloc(sizeof(double) * 3 * (d + 1));
    Prefix p = {v, buf, buf + d + 1, buf + 2 * (d + 1)};
    p.W[0] = p.S[0] = p.Q[0] = 0.0;
    for (size_t i = 0; i < d; i++) {
        p.W[i + 1] = p.W[i] + count[i];
        p.S[i + 1] = p.S[i] + count[i] * v[i];
        p.Q[i + 1] = p.Q[i] + count[i] * v[i] * v[i];
    }

    size_t s[(1 << LUT_MAX_BITS) + 1], next[(1 << LUT_MAX_BITS) + 1];
    double c[1 << LUT_MAX_BITS];
    init_quantiles(&p, d, k, s);
    for (int it = 0;; it++) {
        for (int j = 0; j < k; j++) c[j] = cluster_mean(&p, s[j], s[j + 1]);
        if (it == max_iters) break;
        /* Lloyd step: in 1-D the nearest-centroid regions are split at midpoints */
        next[0] = 0;
        next[k] = d;
        for (int j = 1; j < k; j++) next[j] = upper_bound(v, 0, d, 0.5 * (c[j - 1] + c[j]));
        refill_empty(&p, next, k);
        if (memcmp(next, s, sizeof(size_t) * (size_t)(k + 1)) == 0) break; /* converged */
        memcpy(s, next, sizeof(size_t) * (size_t)(k + 1));
    }
    for (int j = 0; j < k; j++) table[j] = f32_to_f16((float)c[j]);
    free(buf);
}

/* ---- palettizing a matrix ---- */

/* Unsigned keys whose order is the float order (negatives reversed below positives). */
static inline uint32_t order_key32(uint32_t u) { return (u & 0x80000000u) ? ~u : u | 0x80000000u; }
static inline uint32_t order_unkey32(uint32_t k) {
    return (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
}
static inline uint32_t order_key16(uint16_t h) {
    return (h & 0x8000u) ? (uint16_t)~h : (uint32_t)h | 0x8000u;
}
static inline uint16_t order_unkey16(uint32_t k) {
    return (uint16_t)((k & 0x8000u) ? k & 0x7fffu : ~k);
}

/* LSD radix sort of n keys using their low `bytes` bytes; returns whichever of a/tmp holds them. */
static uint32_t *radix_sort(uint32_t *a, uint32_t *tmp, size_t n, int bytes) {
    for (int pass = 0; pass < bytes; pass++) {
        size_t count[256] = {0};
        int sh = 8 * pass;
        for (size_t i = 0; i < n; i++) count[(a[i] >> sh) & 255]++;
        size_t pos = 0;
        for (int b = 0; b < 256; b++) {
            size_t cnt = count[b];
            count[b] = pos;
            pos += cnt;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i] >> sh) & 255]++] = a[i];
        uint32_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* Table entries ascending -> decision points between neighbours, padded to a power of two. */
static void table_midpoints(const uint16_t *table, int k, double *mids) {
    for (int j = 0; j + 1 < k; j++)
        mids[j] = 0.5 * ((double)f16_to_f32(table[j]) + (double)f16_to_f32(table[j + 1]));
    mids[k - 1] = INFINITY;
}

/* Index of the nearest table entry = number of midpoints below x (ties go to the lower entry). */
static inline unsigned nearest_entry(const double *mids, int k, double x) {
    unsigned i = 0;
    for (int step = k / 2; step > 0; step /= 2)
        if (mids[i + (unsigned)step - 1] < x) i += (unsigned)step;
    return i;
}

typedef struct {
    const QMatrix *src;
    int bits, group, ngroups, max_iters;
    size_t row_bytes;
    uint8_t *indices;
    uint16_t *luts;
    atomic_int next_group;
    atomic_int failed_group; /* lowest group with a bad weight seen so far; ngroups if none */
} PalJob;

/* Per-thread scratch.  16-bit sources count raw values in a 65536-entry table (BF16 groups have
 * only a few thousand distinct values, so no sort of the full group is needed); other sources sort
 * the whole group. */
typedef struct {
    uint32_t *keys, *tmp;   /* distinct keys (16-bit) or all keys of the group (other) */
    double *v, *count;      /* distinct values ascending and their counts */
    uint32_t *hist;         /* 16-bit: count per key, all zero between groups */
    uint8_t *key_index;     /* 16-bit: table index per key */
    float *vals;            /* other: the group's values row-major */
    uint8_t *idx;           /* one row of indices */
    double mids[1 << LUT_MAX_BITS];
} PalWork;

static int is_16bit(QMatKind k) { return k == QM_F16 || k == QM_BF16; }

static float value16(QMatKind kind, uint16_t h) {
    return kind == QM_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

/* Sorted keys -> distinct values with counts (+0 and -0 merge).  -1 on a value no FP16 table
 * entry can hold (NaN, inf, beyond +-65504). */
static int add_distinct(PalWork *wk, size_t *d, float val, double cnt) {
    if (!isfinite(round_f16(val))) return -1;
    if (*d > 0 && wk->v[*d - 1] == (double)val) {
        wk->count[*d - 1] += cnt;
    } else {
        wk->v[*d] = val;
        wk->count[*d] = cnt;
        (*d)++;
    }
    return 0;
}

static int palettize_group16(const PalJob *job, PalWork *wk, int r0, int r1, uint16_t *table) {
    const QMatrix *src = job->src;
    int cols = src->cols, k = 1 << job->bits;
    size_t nkeys = 0;
    for (int r = r0; r < r1; r++) {
        const uint16_t *p = (const uint16_t *)src->data + (size_t)r * (size_t)cols;
        for (int c = 0; c < cols; c++) {
            uint32_t key = order_key16(p[c]);
            if (wk->hist[key]++ == 0) wk->keys[nkeys++] = key;
        }
    }
    uint32_t *keys = radix_sort(wk->keys, wk->tmp, nkeys, 2);
    size_t d = 0;
    int bad = 0;
    for (size_t i = 0; i < nkeys && !bad; i++)
        bad = add_distinct(wk, &d, value16(src->kind, order_unkey16(keys[i])), wk->hist[keys[i]]);
    if (!bad) {
        lut_fit_table(wk->v, wk->count, d, job->bits, job->max_iters, table);
        table_midpoints(table, k, wk->mids);
    }
    for (size_t i = 0; i < nkeys; i++) {
        uint32_t key = keys[i];
        wk->hist[key] = 0;
        if (!bad)
            wk->key_index[key] =
                (uint8_t)nearest_entry(wk->mids, k, value16(src->kind, order_unkey16(key)));
    }
    if (bad) return -1;
    for (int r = r0; r < r1; r++) {
        const uint16_t *p = (const uint16_t *)src->data + (size_t)r * (size_t)cols;
        for (int c = 0; c < cols; c++) wk->idx[c] = wk->key_index[order_key16(p[c])];
        lut_pack_row(wk->idx, cols, job->bits, job->indices + (size_t)r * job->row_bytes);
    }
    return 0;
}

static int palettize_group_sorted(const PalJob *job, PalWork *wk, int r0, int r1,
                                  uint16_t *table) {
    const QMatrix *src = job->src;
    int cols = src->cols, k = 1 << job->bits;
    size_t n = (size_t)(r1 - r0) * (size_t)cols;
    for (int r = r0; r < r1; r++) qmat_row(src, r, wk->vals + (size_t)(r - r0) * (size_t)cols);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &wk->vals[i], 4);
        wk->keys[i] = order_key32(u);
    }
    uint32_t *keys = radix_sort(wk->keys, wk->tmp, n, 4);
    size_t d = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && keys[j] == keys[i]) j++;
        uint32_t u = order_unkey32(keys[i]);
        float val;
        memcpy(&val, &u, 4);
        if (add_distinct(wk, &d, val, (double)(j - i)) != 0) return -1;
        i = j;
    }
    lut_fit_table(wk->v, wk->count, d, job->bits, job->max_iters, table);
    table_midpoints(table, k, wk->mids);
    for (int r = r0; r < r1; r++) {
        const float *row = wk->vals + (size_t)(r - r0) * (size_t)cols;
        for (int c = 0; c < cols; c++) wk->idx[c] = (uint8_t)nearest_entry(wk->mids, k, row[c]);
        lut_pack_row(wk->idx, cols, job->bits, job->indices + (size_t)r * job->row_bytes);
    }
    return 0;
}

static void *palettize_worker(void *arg) {
    PalJob *job = arg;
    const QMatrix *src = job->src;
    size_t group_elems = (size_t)job->group * (size_t)src->cols;
    size_t nkeys = is_16bit(src->kind) ? 65536 : group_elems;
    size_t max_distinct = nkeys < group_elems ? nkeys : group_elems;
    PalWork wk = {0};
    wk.keys = xmalloc(sizeof(uint32_t) * nkeys);
    wk.tmp = xmalloc(sizeof(uint32_t) * nkeys);
    wk.v = xmalloc(sizeof(double) * max_distinct);
    wk.count = xmalloc(sizeof(double) * max_distinct);
    wk.idx = xmalloc((size_t)src->cols);
    if (is_16bit(src->kind)) {
        wk.hist = xcalloc(65536, sizeof(uint32_t));
        wk.key_index = xmalloc(65536);
    } else {
        wk.vals = xmalloc(sizeof(float) * group_elems);
    }
    for (;;) {
        if (atomic_load(&job->failed_group) < job->ngroups) break;
        int g = atomic_fetch_add(&job->next_group, 1);
        if (g >= job->ngroups) break;
        int r0 = g * job->group;
        int r1 = r0 + job->group < src->rows ? r0 + job->group : src->rows;
        uint16_t *table = job->luts + ((size_t)g << job->bits);
        int rc = is_16bit(src->kind) ? palettize_group16(job, &wk, r0, r1, table)
                                     : palettize_group_sorted(job, &wk, r0, r1, table);
        if (rc != 0) { /* keep the lowest failing group so the message is stable */
            int cur = atomic_load(&job->failed_group);
            while (g < cur && !atomic_compare_exchange_weak(&job->failed_group, &cur, g)) {
            }
        }
    }
    free(wk.keys);
    free(wk.tmp);
    free(wk.v);
    free(wk.count);
    free(wk.idx);
    free(wk.hist);
    free(wk.key_index);
    free(wk.vals);
    return NULL;
}

int lut_palettize_into(const QMatrix *src, LutSpec spec, int n_threads, uint8_t *indices,
                       uint16_t *luts) {
    if (spec.bits < LUT_MIN_BITS || spec.bits > LUT_MAX_BITS) {
        err_set("LUT bits %d out of range %d..%d", spec.bits, LUT_MIN_BITS, LUT_MAX_BITS);
        return -1;
    }
    if (spec.per_channel < 0) {
        err_set("LUT per_channel %d is negative", spec.per_channel);
        return -1;
    }
    if (src->rows <= 0 || src->cols <= 0) {
        err_set("cannot palettize an empty matrix (%d x %d)", src->rows, src->cols);
        return -1;
    }
    PalJob job = {
        .src = src,
        .bits = spec.bits,
        .group = lut_group_rows(src->rows, spec.per_channel),
        .max_iters = spec.max_iters,
        .row_bytes = lut_row_bytes(src->cols, spec.bits),
        .indices = indices,
        .luts = luts,
    };
    job.ngroups = lut_num_groups(src->rows, job.group);
    if (is_16bit(src->kind) && (uint64_t)job.group * (uint64_t)src->cols > UINT32_MAX) {
        err_set("LUT group of %d x %d weights is too large (per-key counts are 32-bit)", job.group,
                src->cols);
        return -1;
    }
    atomic_init(&job.next_group, 0);
    atomic_init(&job.failed_group, job.ngroups);

    if (n_threads > job.ngroups) n_threads = job.ngroups;
    if (n_threads < 1) n_threads = 1;
    pthread_t *tids = xmalloc(sizeof(pthread_t) * (size_t)n_threads);
    int started = 0;
    for (; started < n_threads - 1; started++)
        if (pthread_create(&tids[started], NULL, palettize_worker, &job) != 0) break;
    palettize_worker(&job); /* the caller works too; fewer threads only cost time */
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    free(tids);

    int bad = atomic_load(&job.failed_group);
    if (bad < job.ngroups) {
        err_set("weight outside the FP16 range (or NaN) in rows %d..%d: cannot palettize",
                bad * job.group,
                (bad + 1) * job.group < src->rows ? (bad + 1) * job.group - 1 : src->rows - 1);
        return -1;
    }
    return 0;
}

int lut_palettize(const QMatrix *src, LutSpec spec, int n_threads, LutMatrix *out) {
    memset(out, 0, sizeof *out);
    if (spec.bits < LUT_MIN_BITS || spec.bits > LUT_MAX_BITS || src->rows <= 0 || src->cols <= 0)
        return lut_palettize_into(src, spec, n_threads, NULL, NULL); /* reports the error */
    LutMatrix m = {
        .rows = src->rows,
        .cols = src->cols,
        .bits = spec.bits,
        .group = lut_group_rows(src->rows, spec.per_channel),
        .row_bytes = lut_row_bytes(src->cols, spec.bits),
    };
    m.ngroups = lut_num_groups(m.rows, m.group);
    size_t nidx;
    if (mul_size((size_t)m.rows, m.row_bytes, &nidx) != 0) return -1;
    m.indices = xmalloc(nidx);
    m.luts = xmalloc(sizeof(uint16_t) * ((size_t)m.ngroups << m.bits));
    if (lut_palettize_into(src, spec, n_threads, m.indices, m.luts) != 0) {
        lut_matrix_free(&m);
        return -1;
    }
    *out = m;
    return 0;
}

void lut_matrix_free(LutMatrix *m) {
    free(m->indices);
    free(m->luts);
    memset(m, 0, sizeof *m);
}

QMatrix lut_matrix_view(const LutMatrix *m) {
    return (QMatrix){
        .kind = QM_LUT,
        .rows = m->rows,
        .cols = m->cols,
        .data = m->indices,
        .bits = m->bits,
        .group = m->group,
        .row_bytes = m->row_bytes,
        .luts = m->luts,
    };
}
