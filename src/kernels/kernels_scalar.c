/* The scalar kernel family: the reference every SIMD family is tested against, built
 * everywhere.  Plain loops meant to be obviously right: a matmul dequantizes a row (qmat_row) and
 * dots it in FP32, the vector loops go through libm; tests/test_vec.c also checks these against a
 * long-double reference. */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/vec_math.h"
#include "quant/lut_format.h"
#include "util/util.h"

static void qmat_rows_scalar(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    float *row = xmalloc(sizeof(float) * (size_t)w->cols);
    for (int r = r0; r < r1; r++) {
        qmat_row(w, r, row);
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * (size_t)w->cols;
            float acc = 0.0f;
            for (int c = 0; c < w->cols; c++) acc += row[c] * xt[c];
            y[(size_t)t * (size_t)w->rows + (size_t)r] = acc;
        }
    }
    free(row);
}

/* Reference for the 8-bit path: integer sums per block in order, FP32 accumulation in order. */
static void qmat_rows_q8_scalar(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    int n = 1 << w->bits, nb = x->nblocks;
    int8_t *wrow = xcalloc((size_t)x->ld, 1); /* the row's codes, zero past cols */
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = qmat_row_data(w, r);
        const int8_t *codes = w->lut_q8 + (size_t)(r / w->group) * (size_t)n;
        for (int c = 0; c < w->cols; c++) wrow[c] = codes[lut_get_index(row, c, w->bits)];
        for (int t = 0; t < x->T; t++) {
            const int8_t *q = x->q + (size_t)t * (size_t)x->ld;
            const float *d = x->d + (size_t)t * (size_t)(x->ld / QACT_BLOCK);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                int32_t isum = 0;
                for (int c = b * QACT_BLOCK; c < (b + 1) * QACT_BLOCK; c++) isum += wrow[c] * q[c];
                acc += d[b] * (float)isum;
            }
            y[(size_t)t * (size_t)w->rows + (size_t)r] = acc * w->lut_q8_scale[r / w->group];
        }
    }
    free(wrow);
}

/* ---- vector loops (ops/vec.h) ---- */

static float vec_dot_scalar(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void vec_axpy_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* the many-row forms: the single ones row after row (the reference for the faster forms) */
static void vec_dot_rows_scalar(const float *q, const float *k, size_t ldk, int rows, int n, float *out) {
    for (int j = 0; j < rows; j++) out[j] = vec_dot_scalar(q, k + (size_t)j * ldk, n);
}

static void vec_axpy_rows_scalar(float *y, const float *a, const float *x, size_t ldx, int rows, int n) {
    for (int j = 0; j < rows; j++) vec_axpy_scalar(y, a[j], x + (size_t)j * ldx, n);
}

/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), in double.  The tanh form in float is useless for
 * x < -3: 1 + tanhf(u) cancels to a few ulp of 1 (or to 0) while the result is tiny but normal.
 * The exp form does not cancel, but for x << 0 the result ~ x exp(-2u) with 2u ~ 0.07|x|^3 is
 * sensitive to the rounding of u itself (relative error of the result ~ |2u| times that of u,
 * ~70x at x = -9), so it needs u to more than float precision: double gives ~1e-14. */
static float gelu_ref(float x) {
    if (isinf(x)) return x > 0 ? x : -0.0f; /* x / (1 + exp(inf)) would be -inf / inf */
    double xd = x;
    double u = VEC_GELU_K * (xd + VEC_GELU_A * xd * xd * xd);
    return (float)(xd / (1.0 + exp(-2.0 * u)));
}

static void vec_gelu_tanh_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu_ref(x[i]);
}

static double vec_exp_shift_scalar(float *x, float shift, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        sum += x[i];
    }
    return sum;
}

static int vec_round_f16_scalar(float *x, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = round_f16(x[i]);
        bad |= !isfinite(x[i]);
    }
    return bad;
}

static int runs_everywhere(void) { return 1; }

const KernelTable kernels_scalar = {.name = "scalar", .cpu_runs = runs_everywhere,
                                    .matmul_rows = qmat_rows_scalar, .matmul_q8_rows = qmat_rows_q8_scalar,
                                    .dot = vec_dot_scalar, .axpy = vec_axpy_scalar, .dot_rows = vec_dot_rows_scalar, .axpy_rows = vec_axpy_rows_scalar, .gelu_tanh = vec_gelu_tanh_scalar,
                                    .exp_shift = vec_exp_shift_scalar, .round_f16 = vec_round_f16_scalar,
                                    .quantize_step = qacts_quantize_step_ref};
