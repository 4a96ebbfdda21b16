/* Internal to src/kernels: what the SIMD family files share. */
#ifndef ANEMLL_SIMD_UTIL_H
#define ANEMLL_SIMD_UTIL_H

/* For the helpers that take a constant format or width: inlined, each call is a loop specialised
 * for it, with no branch on it inside. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Decode streams each matrix from memory once; the hardware prefetcher alone leaves a core short
 * of bandwidth.  Asking for the line this far ahead of the one being read gave 25-30% more per
 * core on Zen 4 (bench_lut-style, 131072 x 1152, LUT4 and LUT6; 512 B to 16 KiB tried, 4 KiB best).
 * A prefetch never faults, so it may run past the matrix. */
/* A loop over a constant count of inputs unrolled, so its per-input accumulators stay in
 * registers: UNROLL(4) for (...). */
#define UNROLL_PRAGMA_(x) _Pragma(#x)
#define UNROLL(n) UNROLL_PRAGMA_(GCC unroll n)

#define PREFETCH_AHEAD 4096
ALWAYS_INLINE void prefetch_ahead(const void *p) { __builtin_prefetch((const char *)p + PREFETCH_AHEAD, 0, 3); }

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
