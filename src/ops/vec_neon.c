/* NEON versions of vec.h for aarch64 (Advanced SIMD is part of the base ISA there).
 * Same algorithms and constants as vec_avx2.c (see there): own vector exp with Cody-Waite
 * reduction, GELU in double (2 lanes per register), tails through a zero-padded copy. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "ops/vec_kernels.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four accumulators of 4 lanes: FMLA latency is ~4 cycles with 2 or more pipes. */
float vec_dot_neon(const float *a, const float *b, int n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

void vec_axpy_neon(float *y, float a, const float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t y0 = vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a);
        float32x4_t y1 = vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), a);
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

/* ---- GELU (double) ---- */

/* x / (1 + exp(t)), t = -2 sqrt(2/pi) (x + 0.044715 x^3), for 2 lanes; x already >= -12 or NaN */
ALWAYS_INLINE float64x2_t gelu2d(float64x2_t x) {
    float64x2_t x2 = vmulq_f64(x, x);
    float64x2_t t = vmulq_f64(x, vfmaq_f64(vdupq_n_f64(-2.0 * VEC_GELU_K), x2,
                                           vdupq_n_f64(-2.0 * VEC_GELU_K * VEC_GELU_A)));
    t = vmaxq_f64(t, vdupq_n_f64(-200.0)); /* FMAX returns NaN if either operand is NaN */
    const float64x2_t magic = vdupq_n_f64(6755399441055744.0); /* 1.5 * 2^52 */
    float64x2_t kd = vfmaq_f64(magic, t, vdupq_n_f64(VEC_LOG2E));
    float64x2_t kf = vsubq_f64(kd, magic);
    float64x2_t r = vfmsq_f64(t, kf, vdupq_n_f64(VEC_LN2_HI_D));
    r = vfmsq_f64(r, kf, vdupq_n_f64(VEC_LN2_LO_D));
    float64x2_t p = vfmaq_f64(vdupq_n_f64(VEC_EXPD_P4), r, vdupq_n_f64(VEC_EXPD_P5));
    p = vfmaq_f64(vdupq_n_f64(VEC_EXPD_P3), p, r);
    p = vfmaq_f64(vdupq_n_f64(VEC_EXPD_P2), p, r);
    p = vfmaq_f64(vdupq_n_f64(VEC_EXPD_P1), p, r);
    p = vfmaq_f64(vdupq_n_f64(VEC_EXPD_P0), p, r);
    float64x2_t q = vfmaq_f64(r, p, vmulq_f64(r, r));
    float64x2_t scale = vreinterpretq_f64_s64(
        vshlq_n_s64(vaddq_s64(vreinterpretq_s64_f64(kd), vdupq_n_s64(1023)), 52));
    const float64x2_t one = vdupq_n_f64(1.0);
    float64x2_t e = vmulq_f64(vaddq_f64(one, q), scale);
    return vdivq_f64(x, vaddq_f64(one, e));
}

ALWAYS_INLINE float32x4_t gelu4(float32x4_t v) {
    v = vmaxq_f32(v, vdupq_n_f32(VEC_GELU_XMIN));
    float64x2_t lo = gelu2d(vcvt_f64_f32(vget_low_f32(v)));
    float64x2_t hi = gelu2d(vcvt_high_f64_f32(v));
    return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
}

void vec_gelu_tanh_neon(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t a = gelu4(vld1q_f32(x + i)), b = gelu4(vld1q_f32(x + i + 4));
        vst1q_f32(x + i, a);
        vst1q_f32(x + i + 4, b);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, gelu4(vld1q_f32(x + i)));
    if (i < n) {
        float buf[4] = {0};
        memcpy(buf, x + i, (n - i) * sizeof(float));
        vst1q_f32(buf, gelu4(vld1q_f32(buf)));
        memcpy(x + i, buf, (n - i) * sizeof(float));
    }
}

/* ---- exp (float) ---- */

ALWAYS_INLINE float32x4_t exp4(float32x4_t d) {
    d = vminq_f32(vmaxq_f32(d, vdupq_n_f32(VEC_EXPF_MIN)), vdupq_n_f32(VEC_EXPF_MAX));
    int32x4_t k = vcvtnq_s32_f32(vmulq_n_f32(d, (float)VEC_LOG2E)); /* NaN -> 0 */
    float32x4_t kf = vcvtq_f32_s32(k);
    float32x4_t r = vfmsq_n_f32(d, kf, VEC_LN2_HI_F);
    r = vfmsq_n_f32(r, kf, VEC_LN2_LO_F);
    float32x4_t p = vfmaq_n_f32(vdupq_n_f32(VEC_EXPF_P3), r, VEC_EXPF_P4);
    p = vfmaq_f32(vdupq_n_f32(VEC_EXPF_P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(VEC_EXPF_P1), p, r);
    p = vfmaq_f32(vdupq_n_f32(VEC_EXPF_P0), p, r);
    float32x4_t e = vaddq_f32(vdupq_n_f32(1.0f), vfmaq_f32(r, p, vmulq_f32(r, r)));
    int32x4_t k1 = vshrq_n_s32(k, 1), k2 = vsubq_s32(k, k1);
    const int32x4_t bias = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k1, bias), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k2, bias), 23));
    return vmulq_f32(vmulq_f32(e, s1), s2);
}

double vec_exp_shift_neon(float *x, float shift, int n) {
    float32x4_t vs = vdupq_n_f32(shift);
    float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = exp4(vsubq_f32(vld1q_f32(x + i), vs));
        vst1q_f32(x + i, v);
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(v)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(v));
    }
    double sum = vaddvq_f64(vaddq_f64(a0, a1));
    if (i < n) {
        float buf[4] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(buf, exp4(vsubq_f32(vld1q_f32(buf), vs)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
        for (int j = 0; j < n - i; j++) sum += buf[j];
    }
    return sum;
}

/* ---- FP16 rounding: FCVTN with the default FPCR (round to nearest, ties to even) ---- */

int vec_round_f16_neon(float *x, size_t n) {
    const uint32x4_t expo = vdupq_n_u32(0x7f800000);
    uint32x4_t bad = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t r = vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i)));
        vst1q_f32(x + i, r);
        bad = vorrq_u32(bad, vceqq_u32(vandq_u32(vreinterpretq_u32_f32(r), expo), expo));
    }
    int any = vmaxvq_u32(bad) != 0;
    for (; i < n; i++) {
        x[i] = vgetq_lane_f32(vcvt_f32_f16(vcvt_f16_f32(vdupq_n_f32(x[i]))), 0);
        any |= !isfinite(x[i]);
    }
    return any;
}

#else
typedef int vec_neon_unused; /* not aarch64: nothing to build */
#endif
