/* AVX2+FMA versions of vec.h (built with -mavx2 -mfma; picked at run time).
 *
 * exp is our own vector code, the same in every function that needs it:
 *   x = k ln2 + r, k = round(x / ln2), |r| <= ln2/2: Cody-Waite with ln2 split in two constants,
 *   whose first product k*HI cancels exactly under FMA, so r has one rounding;
 *   exp(r) = 1 + (r + r^2 P(r)), the small part rounded before the 1 is added;
 *   times 2^k built from exponent bits.  Float exp: <= 1.1 ulp over every float argument
 *   (libm expf: 0.5); a degree-7 polynomial would give 0.94 for one more FMA, not worth it.
 * Float exp (softmax) applies 2^k as two normal factors 2^(k/2) 2^(k-k/2) so that results in the
 * denormal range round once, correctly, and k needs no special case anywhere in [-159, 128].
 * GELU works in double (see gelu_ref in vec.c for why), 4 lanes at a time, so its result is the
 * exact value rounded once to float (<= 0.503 ulp over every float in [-20, 20]).  Double lanes
 * cost more than float ones would, but float cannot reach a few ulp for x < -3, and GELU is one
 * element per 3 * hidden_size multiply-adds of the MLP around it.
 * Tails (n not a multiple of 8) go through the same vector code on a zero-padded copy, so every
 * element of a call gets the same function whatever its position. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ops/vec_kernels.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ALWAYS_INLINE double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* Four independent accumulators: an FMA has 4-5 cycles of latency and two issue per cycle, so
 * one accumulator would run at 1/8 to 1/10 of the machine's rate. */
float vec_dot_avx2(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

void vec_axpy_avx2(float *y, float a, const float *x, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

/* ---- GELU (double) ---- */

/* gelu of 4 floats, as x / (1 + exp(t)), t = -2 sqrt(2/pi) (x + 0.044715 x^3), in double. */
ALWAYS_INLINE __m128 gelu4(__m128 xf) {
    /* max(c, x) returns x when x is NaN, so NaN flows through to the result */
    __m256d x = _mm256_cvtps_pd(_mm_max_ps(_mm_set1_ps(VEC_GELU_XMIN), xf));
    __m256d x2 = _mm256_mul_pd(x, x);
    __m256d t = _mm256_mul_pd(x, _mm256_fmadd_pd(x2, _mm256_set1_pd(-2.0 * VEC_GELU_K * VEC_GELU_A),
                                                 _mm256_set1_pd(-2.0 * VEC_GELU_K)));
    /* x >= -12 bounds t above (t <= 143); below, exp(-200) already vanishes next to 1 (x -> +inf
     * gives t = -inf, clamped so k stays in range) */
    t = _mm256_max_pd(_mm256_set1_pd(-200.0), t);
    /* k = round(t / ln2) by the 1.5 * 2^52 trick: the sum's low mantissa bits are k itself */
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);
    __m256d kd = _mm256_fmadd_pd(t, _mm256_set1_pd(VEC_LOG2E), magic);
    __m256d kf = _mm256_sub_pd(kd, magic);
    __m256d r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(VEC_LN2_HI_D), t);
    r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(VEC_LN2_LO_D), r);
    __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(VEC_EXPD_P5), r, _mm256_set1_pd(VEC_EXPD_P4));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(VEC_EXPD_P3));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(VEC_EXPD_P2));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(VEC_EXPD_P1));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(VEC_EXPD_P0));
    __m256d q = _mm256_fmadd_pd(p, _mm256_mul_pd(r, r), r);
    /* 2^k: k + 1023 into the exponent field (bits 52..62); the 2^51 of magic shifts out */
    __m256d scale = _mm256_castsi256_pd(
        _mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(kd), _mm256_set1_epi64x(1023)), 52));
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d e = _mm256_mul_pd(_mm256_add_pd(one, q), scale);
    return _mm256_cvtpd_ps(_mm256_div_pd(x, _mm256_add_pd(one, e)));
}

ALWAYS_INLINE __m256 gelu8(__m256 v) {
    __m128 lo = gelu4(_mm256_castps256_ps128(v));
    __m128 hi = gelu4(_mm256_extractf128_ps(v, 1));
    return _mm256_set_m128(hi, lo);
}

void vec_gelu_tanh_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float buf[8] = {0};
        memcpy(buf, x + i, (n - i) * sizeof(float));
        _mm256_storeu_ps(buf, gelu8(_mm256_loadu_ps(buf)));
        memcpy(x + i, buf, (n - i) * sizeof(float));
    }
}

/* ---- exp (float) ---- */

ALWAYS_INLINE __m256 exp8(__m256 d) {
    /* operand order keeps NaN (max/min return the second operand when either is NaN) */
    d = _mm256_min_ps(_mm256_set1_ps(VEC_EXPF_MAX), _mm256_max_ps(_mm256_set1_ps(VEC_EXPF_MIN), d));
    __m256 kf = _mm256_round_ps(_mm256_mul_ps(d, _mm256_set1_ps((float)VEC_LOG2E)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(VEC_LN2_HI_F), d);
    r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(VEC_LN2_LO_F), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(VEC_EXPF_P4), r, _mm256_set1_ps(VEC_EXPF_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VEC_EXPF_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VEC_EXPF_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VEC_EXPF_P0));
    __m256 e = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r));
    /* 2^k = 2^k1 * 2^k2, both normal for k in [-159, 128]; NaN gives k = INT_MIN, which builds
     * two finite factors, and e is NaN anyway */
    __m256i k = _mm256_cvtps_epi32(kf);
    __m256i k1 = _mm256_srai_epi32(k, 1);
    __m256i k2 = _mm256_sub_epi32(k, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
}

double vec_exp_shift_avx2(float *x, float shift, int n) {
    __m256 vs = _mm256_set1_ps(shift);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        _mm256_storeu_ps(x + i, v);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double sum = hsum4d(_mm256_add_pd(a0, a1));
    if (i < n) {
        float buf[8] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(buf, exp8(_mm256_sub_ps(_mm256_loadu_ps(buf), vs)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
        for (int j = 0; j < n - i; j++) sum += buf[j];
    }
    return sum;
}

/* ---- FP16 rounding: F16C converts with IEEE round-to-nearest-even, as f32_to_f16 does ---- */

ALWAYS_INLINE __m256 round8_f16(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

int vec_round_f16_avx2(float *x, size_t n) {
    /* not finite <=> exponent bits all ones */
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = round8_f16(_mm256_loadu_ps(x + i));
        _mm256_storeu_ps(x + i, r);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(r), expo), expo));
    }
    if (i < n) {
        float buf[8] = {0};
        memcpy(buf, x + i, (n - i) * sizeof(float));
        __m256 r = round8_f16(_mm256_loadu_ps(buf));
        _mm256_storeu_ps(buf, r);
        memcpy(x + i, buf, (n - i) * sizeof(float));
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(r), expo), expo));
    }
    return !_mm256_testz_si256(bad, bad);
}

#else
typedef int vec_avx2_unused; /* not x86-64: nothing to build */
#endif
