/* Internal to src/kernels: what the SIMD family files share. */
#ifndef ANEMLL_SIMD_UTIL_H
#define ANEMLL_SIMD_UTIL_H

/* For the helpers that take a constant format or width: inlined, each call is a loop specialised
 * for it, with no branch on it inside. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

#if defined(__AVX__)
#include "kernels/x86_intrin.h"

/* The sum of v's 8 lanes, ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)): results depend on
 * the order, so every kernel that sums 8 lanes uses this one. */
ALWAYS_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

#endif
