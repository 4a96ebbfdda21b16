/* vec.h: scalar reference versions and the run-time dispatch to the SIMD ones.
 *
 * The scalar versions are meant to be obviously right (plain loops over libm), since every SIMD
 * path is tested against them and against a long-double reference. */
#include "ops/vec.h"

#include <math.h>

#include "ops/vec_kernels.h"
#include "quant/matrix.h"
#include "util/util.h"

/* ---- scalar reference ---- */

float vec_dot_scalar(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void vec_axpy_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
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

void vec_gelu_tanh_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu_ref(x[i]);
}

double vec_exp_shift_scalar(float *x, float shift, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        sum += x[i];
    }
    return sum;
}

int vec_round_f16_scalar(float *x, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = round_f16(x[i]);
        bad |= !isfinite(x[i]);
    }
    return bad;
}

/* ---- dispatch: the matmul kernel choice picks the vector path too ---- */

float vec_dot(const float *a, const float *b, int n) {
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: return vec_dot_avx2(a, b, n);
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: return vec_dot_neon(a, b, n);
#endif
    default: return vec_dot_scalar(a, b, n);
    }
}

void vec_axpy(float *y, float a, const float *x, int n) {
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: vec_axpy_avx2(y, a, x, n); return;
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: vec_axpy_neon(y, a, x, n); return;
#endif
    default: vec_axpy_scalar(y, a, x, n); return;
    }
}

void vec_gelu_tanh(float *x, size_t n) {
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: vec_gelu_tanh_avx2(x, n); return;
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: vec_gelu_tanh_neon(x, n); return;
#endif
    default: vec_gelu_tanh_scalar(x, n); return;
    }
}

double vec_exp_shift(float *x, float shift, int n) {
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: return vec_exp_shift_avx2(x, shift, n);
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: return vec_exp_shift_neon(x, shift, n);
#endif
    default: return vec_exp_shift_scalar(x, shift, n);
    }
}

int vec_round_f16(float *x, size_t n) {
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: return vec_round_f16_avx2(x, n);
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: return vec_round_f16_neon(x, n);
#endif
    default: return vec_round_f16_scalar(x, n);
    }
}
