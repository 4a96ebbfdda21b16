#include "kernels/matmul.h"

#include "kernels/kernels.h"

void qmat_matmul_rows(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    if (T <= 0 || r0 >= r1) return;
    kernels_active()->matmul_rows(w, x, T, y, r0, r1);
}

void qmat_matmul_q8_rows(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    if (x->T <= 0 || r0 >= r1) return;
    kernels_active()->matmul_q8_rows(w, x, y, r0, r1);
}

void qmat_matmul(const QMatrix *w, const float *x, int T, float *y) {
    qmat_matmul_rows(w, x, T, y, 0, w->rows);
}

int qmat_kernel_wants_codes8(const QMatrix *w) {
    return w->kind == QM_LUT && (kernels_active()->codes8_widths >> w->bits & 1u);
}

void qacts_quantize_step(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]) {
    kernels_active()->quantize_step(x, n, q, q_nib, d, sums);
}
