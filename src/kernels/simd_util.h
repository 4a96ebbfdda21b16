/* Internal to src/kernels: what the SIMD family files share. */
#ifndef ANEMLL_SIMD_UTIL_H
#define ANEMLL_SIMD_UTIL_H

/* For the helpers that take a constant format or width: inlined, each call is a loop specialised
 * for it, with no branch on it inside. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A loop over a constant count of inputs unrolled, so its per-input accumulators stay in
 * registers: UNROLL(4) for (...). */
#define UNROLL_PRAGMA_(x) _Pragma(#x)
#define UNROLL(n) UNROLL_PRAGMA_(GCC unroll n)

/* Decode streams each matrix from memory once; the hardware prefetcher alone leaves a core short
 * of bandwidth.  Asking for the line this far ahead of the one being read gave 25-30% more per
 * core on Zen 4 (bench_lut-style, 131072 x 1152, LUT4 and LUT6; 512 B to 16 KiB tried, 4 KiB best).
 * A prefetch never faults, so it may run past the matrix. */
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

/* hsum8 of eight vectors at once, lane k the sum of v_k, each by hsum8's additions (so the same
 * bits): the halves added, then lanes 0 + 2 and 1 + 3, then those two.  A tiled matmul finishes
 * its rows with this instead of eight hsum8, which cost about as much as the dot products of a
 * 1152-column row (decode, which finishes row by row, keeps hsum8). */
ALWAYS_INLINE __m256 hsum8_x8(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4, __m256 v5, __m256 v6,
                              __m256 v7) {
    /* p_k = [v_k's halves added | v_(k+4)'s] */
#define HALVES(a, b) _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31))
    __m256 p0 = HALVES(v0, v4), p1 = HALVES(v1, v5), p2 = HALVES(v2, v6), p3 = HALVES(v3, v7);
#undef HALVES
    /* per 128-bit half: [s0 + s2, s1 + s3] of p_k, then of p_(k+1) */
    __m256 w01 = _mm256_add_ps(_mm256_shuffle_ps(p0, p1, 0x44), _mm256_shuffle_ps(p0, p1, 0xee));
    __m256 w23 = _mm256_add_ps(_mm256_shuffle_ps(p2, p3, 0x44), _mm256_shuffle_ps(p2, p3, 0xee));
    return _mm256_add_ps(_mm256_shuffle_ps(w01, w23, 0x88), _mm256_shuffle_ps(w01, w23, 0xdd));
}

/* A tile of 4 rows finished for inputs t and u (u == t for an odd last input): acc holds each
 * input's 4 rows of 8 partial sums, [input][4][8]; y[t * ldy + i] = (hsum8 of row i's sums -
 * share_t) * scale[i], and likewise for u; scale holds the 4 rows' scales twice.  The same
 * operations as a row finished alone with hsum8, so the same bits. */
ALWAYS_INLINE void finish_tile_pair(const float *acc, int t, int u, float share_t, float share_u, __m256 scale, float *y,
                                    size_t ldy) {
    const float *a = acc + (size_t)t * 32, *b = acc + (size_t)u * 32;
    __m256 h = hsum8_x8(_mm256_loadu_ps(a), _mm256_loadu_ps(a + 8), _mm256_loadu_ps(a + 16), _mm256_loadu_ps(a + 24),
                        _mm256_loadu_ps(b), _mm256_loadu_ps(b + 8), _mm256_loadu_ps(b + 16), _mm256_loadu_ps(b + 24));
    __m256 share = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(share_t)), _mm_set1_ps(share_u), 1);
    __m256 o = _mm256_mul_ps(_mm256_sub_ps(h, share), scale);
    _mm_storeu_ps(y + (size_t)t * ldy, _mm256_castps256_ps128(o));
    if (u != t) _mm_storeu_ps(y + (size_t)u * ldy, _mm256_extractf128_ps(o, 1));
}
#endif

#endif
