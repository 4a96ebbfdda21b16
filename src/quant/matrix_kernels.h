/* Internal to src/quant: the per-ISA matmul kernels matrix.c dispatches to.  Each computes
 * y[t, r] = sum_c W[r, c] * x[t, c] for rows r in [r0, r1) and t < T (y: [T, w->rows]). */
#ifndef ANEMLL_MATRIX_KERNELS_H
#define ANEMLL_MATRIX_KERNELS_H

#include "quant/matrix.h"

/* The reference every SIMD kernel is tested against: dequantize a row (qmat_row), dot in FP32. */
void qmat_rows_scalar(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);

/* Reference for the 8-bit path: integer sums per block in order, FP32 accumulation in order. */
void qmat_rows_q8_scalar(const QMatrix *w, const QActs *x, float *y, int r0, int r1);

#if defined(__x86_64__)
void qmat_rows_q8_avx2(const QMatrix *w, const QActs *x, float *y, int r0, int r1);
void qmat_rows_avx2(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);
#endif
#if defined(__aarch64__)
void qmat_rows_q8_neon(const QMatrix *w, const QActs *x, float *y, int r0, int r1);
void qmat_rows_neon(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);
#endif

#endif
