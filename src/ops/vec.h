/* vec: the FP32 loops of the forward pass that are not matmuls (attention dots, weighted sums,
 * softmax numerators, GELU), run by the kernel family chosen for this run, as the matmuls are
 * (kernels/kernels.h: ANEMLL_KERNEL / qmat_set_kernel), so forcing the scalar path forces it
 * everywhere.
 *
 * Every path is accurate to a few ulp against the exact function (tests/test_vec.c checks each
 * one against a long-double reference), so switching paths never changes results by more than
 * float rounding.  Summation order differs between paths (vec_dot), so results are not
 * bit-identical across paths.  Pointers need no alignment; n may be 0. */
#ifndef ANEMLL_VEC_H
#define ANEMLL_VEC_H

#include <stddef.h>

/* sum a[i] * b[i], i < n */
float vec_dot(const float *a, const float *b, int n);

/* y[i] += a * x[i], i < n */
void vec_axpy(float *y, float a, const float *x, int n);

/* Attention's many-row forms, bit for bit the same as the single calls (so a query's result does
 * not depend on how its keys are grouped): out[j] = vec_dot(q, k + j * ldk, n) for j < rows, and
 * vec_axpy(y, a[j], x + j * ldx, n) for j = 0, 1, .., rows - 1 in that order. */
void vec_dot_rows(const float *q, const float *k, size_t ldk, int rows, int n, float *out);
void vec_axpy_rows(float *y, const float *a, const float *x, size_t ldx, int rows, int n);

/* In place: x[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's
 * gelu(approximate='tanh').  The exact value rounded to float (within 2e-7 relative), for every
 * input, including x < -3 where the formula as written, in float, cancels (1 + tanhf -> 0);
 * gelu(+inf) = +inf, gelu(-inf) = -0, NaN stays NaN. */
void vec_gelu_tanh(float *x, size_t n);

/* In place: x[i] = expf(x[i] - shift) (the difference rounded to float first, as C evaluates
 * it), within ~1 ulp; returns the sum of the stored values, accumulated in double.  The softmax
 * numerator with shift = max: then every value is in (0, 1] and the sum is >= 1.  Results below
 * FLT_MIN are denormals (or 0), exp(-inf) = 0, overflow gives inf, NaN stays NaN. */
double vec_exp_shift(float *x, float shift, int n);

/* In place: x[i] rounded to the nearest FP16 value (ties to even, overflow to inf, FP16
 * subnormals kept) and back to float, bit-identical on every path; returns 1 if any result is not
 * finite.  Strict-FP16 emulation: what an FP16 engine stores after each op. */
int vec_round_f16(float *x, size_t n);

#endif
