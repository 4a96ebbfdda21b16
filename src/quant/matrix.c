#include "quant/matrix.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "quant/lut_format.h"
#include "util/pool.h"
#include "util/util.h"

void qmat_row(const QMatrix *w, int r, float *out) {
    const void *row = qmat_row_data(w, r);
    switch (w->kind) {
    case QM_F32: memcpy(out, row, sizeof(float) * (size_t)w->cols); break;
    case QM_F16:
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(((const uint16_t *)row)[c]);
        break;
    case QM_BF16:
        for (int c = 0; c < w->cols; c++) out[c] = bf16_to_f32(((const uint16_t *)row)[c]);
        break;
    case QM_LUT: {
        const uint16_t *lut = w->luts + (size_t)(r / w->group) * (1u << w->bits);
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(lut[lut_get_index(row, c, w->bits)]);
        break;
    }
    }
}

/* ---- 8-bit path ---- */

/* codes[i] = v[i] / scale rounded to the nearest integer (ties to even), within +-range, where
 * scale = max|v| / range is returned.  Any inf or NaN in v: codes 0 and a NaN scale, so every sum
 * over them is NaN, as it would be in FP32.  A max|v| so small that range / max|v| overflows
 * (below ~4e-37): codes and scale 0.  Tables and activations both go through here. */
static float quantize_symmetric(const float *v, int n, int range, int8_t *codes) {
    float amax = 0.0f;
    int finite = 1;
    for (int i = 0; i < n; i++) {
        float m = fabsf(v[i]);
        amax = m > amax ? m : amax;
        finite &= m <= FLT_MAX; /* false for NaN too */
    }
    float r = (float)range, inv = finite && amax > 0.0f ? r / amax : 0.0f;
    if (inv > FLT_MAX) inv = amax = 0.0f; /* max|v| < ~4e-37: r / max overflows; all codes 0 */
    for (int i = 0; i < n; i++) {
        float c = finite ? (v[i] * inv + QMAT_ROUND_MAGIC) - QMAT_ROUND_MAGIC : 0.0f;
        codes[i] = (int8_t)(c > r ? range : c < -r ? -range : c);
    }
    return finite ? amax / r : NAN;
}

void qmat_prepare_q8(QMatrix *w) {
    if (w->kind != QM_LUT || w->lut_q8) return;
    int n = 1 << w->bits, ngroups = lut_num_groups(w->rows, w->group);
    w->lut_q8 = xmalloc((size_t)ngroups * (size_t)n);
    w->lut_q8_scale = xmalloc(sizeof(float) * (size_t)ngroups);
    float v[1 << LUT_MAX_BITS];
    for (int g = 0; g < ngroups; g++) {
        const uint16_t *t = w->luts + (size_t)g * (size_t)n;
        for (int i = 0; i < n; i++) v[i] = f16_to_f32(t[i]);
        w->lut_q8_scale[g] = quantize_symmetric(v, n, QMAT_Q8_RANGE(w->bits), w->lut_q8 + (size_t)g * (size_t)n);
    }
}

void qmat_free_q8(QMatrix *w) {
    free(w->lut_q8);
    free(w->lut_q8_scale);
    free(w->codes8);
    w->lut_q8 = NULL;
    w->lut_q8_scale = NULL;
    w->codes8 = NULL;
}

static void codes8_task(void *ctx, int i, int n) {
    const QMatrix *w = ctx;
    int r0 = (int)((long)w->rows * i / n), r1 = (int)((long)w->rows * (i + 1) / n), nidx = 1 << w->bits;
    uint8_t *idx = xmalloc((size_t)w->cols);
    for (int r = r0; r < r1; r++) {
        const int8_t *tab = w->lut_q8 + (size_t)(r / w->group) * (size_t)nidx;
        int8_t *out = w->codes8 + (size_t)r * (size_t)w->codes8_ld;
        lut_unpack_row(qmat_row_data(w, r), w->cols, w->bits, idx);
        for (int c = 0; c < w->cols; c++) out[c] = tab[idx[c]];
    }
    free(idx);
}

void qmat_prepare_codes8(QMatrix *w, int n_threads) {
    if (w->kind != QM_LUT || !w->lut_q8 || w->codes8) return;
    w->codes8_ld = (w->cols + 63) / 64 * 64;
    w->codes8 = xcalloc((size_t)w->rows, (size_t)w->codes8_ld);
    pool_run(codes8_task, w, n_threads < 1 ? 1 : n_threads);
}

void qacts_resize(QActs *a, int T, int cols) {
    int nb = (cols + QACT_BLOCK - 1) / QACT_BLOCK, ld = (cols + 63) / 64 * 64, ldd = ld / QACT_BLOCK;
    size_t nq = (size_t)T * (size_t)ld, nd = (size_t)T * (size_t)ldd;
    if (nq > a->cap_q) {
        free(a->q);
        free(a->q_nib);
        a->q = xmalloc(nq);
        a->q_nib = xmalloc(nq);
        a->cap_q = nq;
    }
    if (nd > a->cap_d) {
        free(a->d);
        free(a->d_pair);
        free(a->qsum);
        a->d = xmalloc(sizeof(float) * nd);
        a->d_pair = xmalloc(sizeof(float) * nd * 4);
        a->qsum = xmalloc(sizeof(float) * nd); /* T <= nd */
        a->cap_d = nd;
    }
    a->T = T, a->cols = cols, a->nblocks = nb, a->ld = ld;
}

void qacts_quantize_step_ref(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]) {
    for (int b = 0; b < 2; b++) {
        int c0 = b * QACT_BLOCK, m = n - c0 >= QACT_BLOCK ? QACT_BLOCK : n > c0 ? n - c0 : 0;
        d[b] = quantize_symmetric(x + c0, m, 127, q + c0);
        memset(q + c0 + m, 0, (size_t)(QACT_BLOCK - m)); /* past cols */
        sums[b] = 0;
        for (int i = 0; i < QACT_BLOCK; i++) sums[b] += q[c0 + i];
    }
    for (int i = 0; i < 32; i++) {
        q_nib[i] = q[2 * i];
        q_nib[32 + i] = q[2 * i + 1];
    }
}

void qacts_quantize_rows(QActs *a, const float *x, int t0, int t1) {
    int cols = a->cols, ld = a->ld, ldd = ld / QACT_BLOCK;
    for (int t = t0; t < t1; t++) {
        const float *xt = x + (size_t)t * (size_t)cols;
        int8_t *q = a->q + (size_t)t * (size_t)ld, *p = a->q_nib + (size_t)t * (size_t)ld;
        float *d = a->d + (size_t)t * (size_t)ldd, qs = 0.0f;
        for (int c = 0; c < ld; c += 64) {
            int32_t sums[2];
            qacts_quantize_step(xt + c, cols - c < 64 ? cols - c : 64, /* every step starts inside the row */ q + c, p + c, d + c / 32, sums);
            qs += d[c / 32] * (float)sums[0]; /* in block order */
            qs += d[c / 32 + 1] * (float)sums[1];
            float *dp = a->d_pair + ((size_t)t * (size_t)ldd + (size_t)(c / 32)) * 4;
            for (int i = 0; i < 8; i++) dp[i] = d[c / 32 + i / 4];
        }
        a->qsum[t] = qs;
    }
}

void qacts_quantize(QActs *a, const float *x, int T, int cols) {
    qacts_resize(a, T, cols);
    qacts_quantize_rows(a, x, 0, T);
}

void qacts_free(QActs *a) {
    free(a->q);
    free(a->q_nib);
    free(a->d);
    free(a->d_pair);
    free(a->qsum);
    memset(a, 0, sizeof *a);
}

QStream qmat_stream(const QMatrix *w) {
    size_t rows = (size_t)w->rows;
    if (w->codes8) return (QStream){w->codes8, rows * (size_t)w->codes8_ld};
    if (w->kind == QM_LUT) return (QStream){w->data, rows * w->row_bytes};
    return (QStream){w->data, rows * (size_t)w->cols * (w->kind == QM_F32 ? 4u : 2u)};
}

size_t qmat_bytes(const QMatrix *w) {
    size_t tables = 0;
    if (w->kind == QM_LUT) tables = (size_t)lut_num_groups(w->rows, w->group) * ((size_t)1 << w->bits) * 2;
    return qmat_stream(w).bytes + tables;
}
