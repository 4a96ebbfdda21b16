/* Matmuls over stored matrices (quant/matrix.h), run by the kernel family chosen for this run
 * (kernels/kernels.h). */
#ifndef ANEMLL_MATMUL_H
#define ANEMLL_MATMUL_H

#include "quant/matrix.h"

/* y[t, r] = sum_c W[r, c] * x[t, c] for t < T.   x: [T, cols], y: [T, rows], FP32. */
void qmat_matmul(const QMatrix *w, const float *x, int T, float *y);

/* qmat_matmul restricted to output rows [r0, r1): writes y[t, r] for those rows only, so callers
 * can split one matmul across threads by row ranges. */
void qmat_matmul_rows(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);

/* qmat_matmul_rows with 8-bit inputs; w must have lut_q8 (qmat_prepare_q8).  y: [x->T, rows] */
void qmat_matmul_q8_rows(const QMatrix *w, const QActs *x, float *y, int r0, int r1);

/* qacts_quantize_step_ref (quant/matrix.h) by the kernel family in use. */
void qacts_quantize_step(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]);

/* Whether the kernel family in use reads w faster from a code per weight (QMatrix.codes8, built by
 * qmat_prepare_codes8) than from its indices. */
int qmat_kernel_wants_codes8(const QMatrix *w);

#endif
