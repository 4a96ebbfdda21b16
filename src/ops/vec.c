/* vec.h: each call goes to the kernel family chosen for this run (kernels/kernels.h). */
#include "ops/vec.h"

#include "kernels/kernels.h"

float vec_dot(const float *a, const float *b, int n) { return kernels_active()->dot(a, b, n); }

void vec_axpy(float *y, float a, const float *x, int n) { kernels_active()->axpy(y, a, x, n); }
void vec_dot_rows(const float *q, const float *k, size_t ldk, int rows, int n, float *out) {
    kernels_active()->dot_rows(q, k, ldk, rows, n, out);
}
void vec_axpy_rows(float *y, const float *a, const float *x, size_t ldx, int rows, int n) {
    kernels_active()->axpy_rows(y, a, x, ldx, rows, n);
}

void vec_gelu_tanh(float *x, size_t n) { kernels_active()->gelu_tanh(x, n); }

double vec_exp_shift(float *x, float shift, int n) { return kernels_active()->exp_shift(x, shift, n); }

int vec_round_f16(float *x, size_t n) { return kernels_active()->round_f16(x, n); }
