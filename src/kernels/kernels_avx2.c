/* The AVX2+FMA+F16C kernel family (built with -mavx2 -mfma -mf16c; picked at run time): the
 * matmuls of quant/matmul.h and the vector loops of ops/vec.h.  With KERNELS_VNNI defined, as
 * kernels_avxvnni.c compiles it, the same source is the AVX-VNNI family: its 8-bit dot products
 * on vpdpbusd (dot_u8s8), everything else alike.
 *
 * Matmuls.  Every weight format goes through two primitives: load32 (32 consecutive weights of a
 * row as four FP32 vectors) for the bulk of a row and load8 for the rest.  Two loops use them:
 *   T == 1 (decode, memory bound): fused load + FMA against x, each packed byte read once;
 *   (LUT4 reads a copy of x permuted to the order its lookups produce, lut4_permute_x, so the
 *   nibbles need no interleave: ~1.3x less CPU per weight than load32);
 *   T > 1 (prefill): the tiling driver (tiling.h) has a 4-row x 512-column tile expanded to FP32
 *   once and reused for all T inputs, so the index decode is amortised over T.
 * Functions are specialised per format through always_inline + a constant `fmt` argument, so
 * there is one copy of each loop in the source and no format branch inside the hot loops.
 *
 * Vector loops.  exp is our own vector code, the same in every function that needs it:
 *   x = k ln2 + r, k = round(x / ln2), |r| <= ln2/2: Cody-Waite with ln2 split in two constants,
 *   whose first product k*HI cancels exactly under FMA, so r has one rounding;
 *   exp(r) = 1 + (r + r^2 P(r)), the small part rounded before the 1 is added;
 *   times 2^k built from exponent bits.  Float exp: <= 1.1 ulp over every float argument
 *   (libm expf: 0.5); a degree-7 polynomial would give 0.94 for one more FMA, not worth it.
 * Float exp (softmax) applies 2^k as two normal factors 2^(k/2) 2^(k-k/2) so that results in the
 * denormal range round once, correctly, and k needs no special case anywhere in [-159, 128].
 * GELU works in double (see gelu_ref in kernels_scalar.c for why), 4 lanes at a time, so its result is the
 * exact value rounded once to float (<= 0.503 ulp over every float in [-20, 20]).  Double lanes
 * cost more than float ones would, but float cannot reach a few ulp for x < -3, and GELU is one
 * element per 3 * hidden_size multiply-adds of the MLP around it.
 * Tails (n not a multiple of 8) go through the same vector code on a zero-padded copy, so every
 * element of a call gets the same function whatever its position. */
#include "kernels/kernels.h"

#ifdef KERNELS_VNNI
#define FAMILY avxvnni
#define FAMILY_CPU_RUNS cpu_has_avx_vnni
#else
#define FAMILY avx2
#define FAMILY_CPU_RUNS cpu_has_avx2_fma_f16c
#endif

#if defined(__x86_64__)

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/simd_util.h"
#include "kernels/tiling.h"
#include "kernels/vec_math.h"
#include "kernels/x86_intrin.h"
#include "quant/lut_format.h"
#include "util/cpu.h"
#include "util/util.h"

/* ---- FP32 activations (qmat_matmul_rows) ---- */

enum { /* the LUT formats last */
    FMT_F32,
    FMT_F16,
    FMT_BF16,
    FMT_LUT_PERM8,  /* bits <= 3: the FP32 table fits one register, lookup = one permute */
    FMT_LUT4,       /* bits == 4: load32 via pshufb on FP16 byte planes; load8 via 2 permutes */
    FMT_LUT6,       /* bits == 6: load32 via pshufb on 4 sub-tables; load8 via gather */
    FMT_LUT_GATHER, /* bits 5, 7, 8: gather from the FP32 table */
};

/* What a kernel needs to read one matrix: for LUT, the index decoders and the tables of the
 * group the current row belongs to. */
typedef struct {
    const QMatrix *w;
    int fmt;        /* FMT_*: which of the specialised loops read it */
    int vec32_cols; /* columns [0, vec32_cols) go 32 at a time (load32), */
    int vec_cols;   /* then up to vec_cols 8 at a time (load8), the rest one by one */
    __m256i shuf, shift, mask; /* load8's index decoder */
    __m256 t_lo, t_hi;         /* table entries 0..7, 8..15 as FP32 (bits <= 4) */
    /* bits 4 and 6: low / high bytes of the FP16 entries 16s..16s+15, in both 128-bit lanes */
    __m256i t16_lo[4], t16_hi[4];
    int group;    /* whose table is loaded; -1 none yet */
    _Alignas(32) float table[1 << LUT_MAX_BITS];
} Reader;

/* Bytes load32 reads for 32 indices in format fmt (0: load32 is four load8s). */
static size_t load32_span(int fmt) { return fmt == FMT_LUT4 ? 16 : fmt == FMT_LUT6 ? 28 : 0; }

static int lut_fmt(int bits) {
    return bits <= 3 ? FMT_LUT_PERM8 : bits == 4 ? FMT_LUT4 : bits == 6 ? FMT_LUT6 : FMT_LUT_GATHER;
}

ALWAYS_INLINE QMatKind fmt_kind(int fmt) {
    return fmt == FMT_F32 ? QM_F32 : fmt == FMT_F16 ? QM_F16 : fmt == FMT_BF16 ? QM_BF16 : QM_LUT;
}

static int matrix_fmt(const QMatrix *w) {
    return w->kind == QM_F32 ? FMT_F32 : w->kind == QM_F16 ? FMT_F16 : w->kind == QM_BF16 ? FMT_BF16 : lut_fmt(w->bits);
}

/* fn(..., fmt) with fmt as a constant, so that fn and the always-inline loops it calls are
 * specialised per format. */
#define WITH_FMT(fmt, fn, ...)                                 \
    switch (fmt) {                                             \
    case FMT_F32: fn(__VA_ARGS__, FMT_F32); break;             \
    case FMT_F16: fn(__VA_ARGS__, FMT_F16); break;             \
    case FMT_BF16: fn(__VA_ARGS__, FMT_BF16); break;           \
    case FMT_LUT_PERM8: fn(__VA_ARGS__, FMT_LUT_PERM8); break; \
    case FMT_LUT4: fn(__VA_ARGS__, FMT_LUT4); break;           \
    case FMT_LUT6: fn(__VA_ARGS__, FMT_LUT6); break;           \
    default: fn(__VA_ARGS__, FMT_LUT_GATHER); break;           \
    }

static void reader_init(void *reader, const QMatrix *w) {
    Reader *rd = reader;
    *rd = (Reader){.w = w, .fmt = matrix_fmt(w), .group = -1, .vec_cols = w->cols & ~7, .vec32_cols = w->cols & ~31};
    if (w->kind != QM_LUT) return;
    /* Vector loads must stay inside the row.  Eight b-bit indices are b bytes and load8 reads
     * 8 bytes; 32 indices are 4b bytes and load32 reads load32_span bytes. */
    int b = w->bits;
    size_t rb = w->row_bytes, span = load32_span(lut_fmt(b));
    size_t chunks8 = rb >= 8 ? (rb - 8) / (size_t)b + 1 : 0;
    if ((size_t)rd->vec_cols / 8 > chunks8) rd->vec_cols = (int)chunks8 * 8;
    if (span == 0) {
        rd->vec32_cols = rd->vec_cols & ~31;
    } else {
        size_t chunks32 = rb >= span ? (rb - span) / (4 * (size_t)b) + 1 : 0;
        if ((size_t)rd->vec32_cols / 32 > chunks32) rd->vec32_cols = (int)chunks32 * 32;
    }
    /* load8: lane i's index starts at bit i*b of the chunk: bring bytes (i*b)/8 and (i*b)/8 + 1
     * into the lane's low 16 bits, shift right by (i*b)%8, mask.  b <= 8: two bytes suffice. */
    uint8_t ctrl[32];
    int shifts[8];
    for (int i = 0; i < 8; i++) {
        int byte = i * b / 8;
        ctrl[4 * i] = (uint8_t)byte;
        ctrl[4 * i + 1] = (uint8_t)(byte + 1);
        ctrl[4 * i + 2] = ctrl[4 * i + 3] = 0x80; /* zero */
        shifts[i] = i * b % 8;
    }
    rd->shuf = _mm256_loadu_si256((const __m256i *)ctrl);
    rd->shift = _mm256_loadu_si256((const __m256i *)shifts);
    rd->mask = _mm256_set1_epi32((1 << b) - 1);
}

static void reader_load_table(Reader *rd, int g) {
    int n = 1 << rd->w->bits;
    const uint16_t *src = rd->w->luts + (size_t)g * (size_t)n;
    if (n >= 8) {
        for (int i = 0; i < n; i += 8)
            _mm256_store_ps(rd->table + i,
                            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    } else {
        for (int i = 0; i < n; i++) rd->table[i] = f16_to_f32(src[i]);
    }
    rd->t_lo = _mm256_load_ps(rd->table);
    rd->t_hi = _mm256_load_ps(rd->table + 8);
    if (n == 16 || n == 64) {
        for (int s = 0; s < n / 16; s++) {
            uint8_t lo[16], hi[16];
            for (int i = 0; i < 16; i++) {
                lo[i] = (uint8_t)src[16 * s + i];
                hi[i] = (uint8_t)(src[16 * s + i] >> 8);
            }
            rd->t16_lo[s] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)lo));
            rd->t16_hi[s] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)hi));
        }
    }
    rd->group = g;
}

/* Start of row r's stored data, with its group's tables loaded for LUT formats. */
ALWAYS_INLINE const void *reader_row(Reader *rd, int r, int fmt) {
    if (fmt >= FMT_LUT_PERM8 && r / rd->w->group != rd->group) reader_load_table(rd, r / rd->w->group);
    return qmat_row_data(rd->w, r);
}

/* Weights c..c+7 of a row as FP32; c is a multiple of 8 below vec_cols. */
ALWAYS_INLINE __m256 load8(const Reader *rd, const void *row, int c, int fmt) {
    switch (fmt) {
    case FMT_F32: return _mm256_loadu_ps((const float *)row + c);
    case FMT_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c)));
    case FMT_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + c));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    default: {
        const uint8_t *p = (const uint8_t *)row + (size_t)c / 8 * (size_t)rd->w->bits;
        __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadl_epi64((const __m128i *)p));
        __m256i idx = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_shuffle_epi8(bytes, rd->shuf), rd->shift), rd->mask);
        if (fmt == FMT_LUT_PERM8) return _mm256_permutevar8x32_ps(rd->t_lo, idx);
        if (fmt == FMT_LUT4) {
            __m256 lo = _mm256_permutevar8x32_ps(rd->t_lo, idx);
            __m256 hi = _mm256_permutevar8x32_ps(rd->t_hi, idx);
            /* blendv selects on the sign bit: move index bit 3 there */
            return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
        }
        return _mm256_i32gather_ps(rd->table, idx, 4);
    }
    }
}

/* Explicit fields rather than an array: kept in registers without relying on loop unrolling. */
typedef struct {
    __m256 v0, v1, v2, v3;
} F32x32;

/* 32 FP16 weights given as byte planes (byte k of each 128-bit lane: weight k of that lane's 16)
 * -> FP32 in order. */
ALWAYS_INLINE F32x32 fp16_planes_to_f32(__m256i lo, __m256i hi) {
    __m256i h0 = _mm256_unpacklo_epi8(lo, hi); /* weights 0..7 | 16..23 */
    __m256i h1 = _mm256_unpackhi_epi8(lo, hi); /* weights 8..15 | 24..31 */
    return (F32x32){_mm256_cvtph_ps(_mm256_castsi256_si128(h0)),
                    _mm256_cvtph_ps(_mm256_castsi256_si128(h1)),
                    _mm256_cvtph_ps(_mm256_extracti128_si256(h0, 1)),
                    _mm256_cvtph_ps(_mm256_extracti128_si256(h1, 1))};
}

/* Weights c..c+31 of a row as FP32; c is a multiple of 32 below vec32_cols.
 * LUT4/LUT6 turn the indices into bytes and look the FP16 entries up with pshufb (a 16-entry
 * byte table per instruction), which is much cheaper than permutes or gathers per 8 weights. */
ALWAYS_INLINE F32x32 load32(const Reader *rd, const void *row, int c, int fmt) {
    if (fmt == FMT_LUT4) {
        /* 16 bytes = 32 nibbles; index 2j is the low nibble of byte j */
        __m128i raw = _mm_loadu_si128((const __m128i *)((const uint8_t *)row + (size_t)c / 2));
        __m128i nib = _mm_set1_epi8(0x0f);
        __m128i lo = _mm_and_si128(raw, nib), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), nib);
        __m256i idx = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
        return fp16_planes_to_f32(_mm256_shuffle_epi8(rd->t16_lo[0], idx),
                                  _mm256_shuffle_epi8(rd->t16_hi[0], idx));
    }
    if (fmt == FMT_LUT6) {
        /* 24 bytes = 32 indices: 12 bytes (16 indices) per 128-bit lane, read as 2 x 16 bytes */
        const uint8_t *p = (const uint8_t *)row + (size_t)c * 6 / 8;
        __m256i raw = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
            _mm_loadu_si128((const __m128i *)(p + 12)), 1);
        /* each dword w = 3 bytes holds 4 indices, index i at bits 6i: spread them to bytes */
        __m256i w = _mm256_shuffle_epi8(
            raw, _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1,
                                  3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
        __m256i i0 = _mm256_and_si256(w, _mm256_set1_epi32(0x3f));
        __m256i i1 = _mm256_and_si256(_mm256_slli_epi32(w, 2), _mm256_set1_epi32(0x3f00));
        __m256i i2 = _mm256_and_si256(_mm256_slli_epi32(w, 4), _mm256_set1_epi32(0x3f0000));
        __m256i i3 = _mm256_and_si256(_mm256_slli_epi32(w, 6), _mm256_set1_epi32(0x3f000000));
        __m256i idx = _mm256_or_si256(_mm256_or_si256(i0, i1), _mm256_or_si256(i2, i3));
        /* pshufb uses the low 4 bits; index bits 4 and 5 pick the sub-table (blendv reads each
         * byte's top bit, so shift those bits there; 16-bit shifts leave other bytes' top bits) */
        __m256i sel4 = _mm256_slli_epi16(idx, 3), sel5 = _mm256_slli_epi16(idx, 2);
#define PICK(t)                                                                                  \
    _mm256_blendv_epi8(                                                                          \
        _mm256_blendv_epi8(_mm256_shuffle_epi8(t[0], idx), _mm256_shuffle_epi8(t[1], idx), sel4), \
        _mm256_blendv_epi8(_mm256_shuffle_epi8(t[2], idx), _mm256_shuffle_epi8(t[3], idx), sel4), \
        sel5)
        return fp16_planes_to_f32(PICK(rd->t16_lo), PICK(rd->t16_hi));
#undef PICK
    }
    return (F32x32){load8(rd, row, c, fmt), load8(rd, row, c + 8, fmt),
                    load8(rd, row, c + 16, fmt), load8(rd, row, c + 24, fmt)};
}

/* Weight c of a row as FP32 (the columns past vec_cols). */
ALWAYS_INLINE float load1(const Reader *rd, const void *row, int c, int fmt) {
    return qmat_weight(fmt_kind(fmt), row, c, rd->w->bits, rd->table);
}

/* Decode (T == 1) of LUT4 with x pre-permuted (lut4_permute_x): the 16 packed bytes of 32
 * indices are broadcast to both 128-bit lanes, lane 0 keeps the low nibbles (even columns) and
 * lane 1 the high nibbles (odd columns), so no interleave is needed before the lookup.  The four
 * vectors hold columns {0,2,..,14}, {1,3,..,15}, {16,18,..,30}, {17,19,..,31} of the block,
 * which is the order lut4_permute_x gives x. */
ALWAYS_INLINE F32x32 load32_lut4_perm(const Reader *rd, const void *row, int c) {
    __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)((const uint8_t *)row + (size_t)c / 2)));
    __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(raw, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                                   _mm256_set1_epi8(0x0f));
    __m256i lo = _mm256_shuffle_epi8(rd->t16_lo[0], idx), hi = _mm256_shuffle_epi8(rd->t16_hi[0], idx);
    __m256i h0 = _mm256_unpacklo_epi8(lo, hi); /* columns 0,2,..,14 | 1,3,..,15 */
    __m256i h1 = _mm256_unpackhi_epi8(lo, hi); /* columns 16,..,30 | 17,..,31 */
    return (F32x32){_mm256_cvtph_ps(_mm256_castsi256_si128(h0)), _mm256_cvtph_ps(_mm256_extracti128_si256(h0, 1)),
                    _mm256_cvtph_ps(_mm256_castsi256_si128(h1)), _mm256_cvtph_ps(_mm256_extracti128_si256(h1, 1))};
}

/* xp[0, n) = x in load32_lut4_perm's column order, block of 32 by block of 32; n % 32 == 0. */
static void lut4_permute_x(const float *x, int n, float *xp) {
    for (int b = 0; b < n; b += 32)
        for (int i = 0; i < 8; i++) {
            xp[b + i] = x[b + 2 * i];
            xp[b + 8 + i] = x[b + 2 * i + 1];
            xp[b + 16 + i] = x[b + 16 + 2 * i];
            xp[b + 24 + i] = x[b + 17 + 2 * i];
        }
}

/* Lanes [0, n) set, 0 <= n <= 8: for masked loads of a row's last partial vector. */
static inline __m256i first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* sum_c row[c] * x[c] over the whole row.  x32: x for the 32-column steps over [0, vec32_cols):
 * x itself, or for LUT4 with perm set, x in lut4_permute_x's order read by load32_lut4_perm. */
ALWAYS_INLINE float dot_row(const Reader *rd, const void *row, const float *x32, const float *x, int fmt, int perm) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c < rd->vec32_cols; c += 32) {
        F32x32 w = perm ? load32_lut4_perm(rd, row, c) : load32(rd, row, c, fmt);
        a0 = _mm256_fmadd_ps(w.v0, _mm256_loadu_ps(x32 + c), a0);
        a1 = _mm256_fmadd_ps(w.v1, _mm256_loadu_ps(x32 + c + 8), a1);
        a2 = _mm256_fmadd_ps(w.v2, _mm256_loadu_ps(x32 + c + 16), a2);
        a3 = _mm256_fmadd_ps(w.v3, _mm256_loadu_ps(x32 + c + 24), a3);
    }
    for (; c + 8 <= rd->vec_cols; c += 8)
        a0 = _mm256_fmadd_ps(load8(rd, row, c, fmt), _mm256_loadu_ps(x + c), a0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; c < rd->w->cols; c++) s += load1(rd, row, c, fmt) * x[c];
    return s;
}

/* Columns [c0, c1) of rows r .. r + nr - 1 to FP32, row r + i by reader rd[i] into
 * buf + i * F32_TILE_COLS; c0 a multiple of 32. */
ALWAYS_INLINE void decode_rows(Reader *rd, int r, int nr, int c0, int c1, float *restrict buf, int fmt) {
    for (int i = 0; i < nr; i++, rd++, buf += F32_TILE_COLS) {
        const void *row = reader_row(rd, r + i, fmt);
        int c = c0;
        for (; c + 32 <= c1 && c < rd->vec32_cols; c += 32) {
            F32x32 w = load32(rd, row, c, fmt);
            float *o = buf + (c - c0);
            _mm256_storeu_ps(o, w.v0), _mm256_storeu_ps(o + 8, w.v1);
            _mm256_storeu_ps(o + 16, w.v2), _mm256_storeu_ps(o + 24, w.v3);
        }
        for (; c + 8 <= c1 && c + 8 <= rd->vec_cols; c += 8)
            _mm256_storeu_ps(buf + (c - c0), load8(rd, row, c, fmt));
        for (; c < c1; c++) buf[c - c0] = load1(rd, row, c, fmt);
    }
}

/* acc[t][i][0..8) (8 partial sums each) += rows[i] . x[t] over n columns, for t < T.  x has row
 * stride ldx.  Two inputs at a time: 8 accumulators hide the FMA latency, and each tile load
 * feeds two FMAs. */
static void tile_fma(const void *const rows[TILE_ROWS], int n, const float *x, size_t ldx, int T, float *acc) {
    const float *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
    int nv = n & ~7;
    __m256i tail = first_lanes(n - nv);
#define LOAD_FULL(p) _mm256_loadu_ps(p)
#define LOAD_TAIL(p) _mm256_maskload_ps(p, tail) /* never touches memory past column n */
#define TILE_STEP(LOAD)                                                                   \
    do {                                                                                  \
        __m256 u = LOAD(x0 + c), v = LOAD(x1 + c), w;                                     \
        w = LOAD(w0 + c), a0 = _mm256_fmadd_ps(w, u, a0), b0 = _mm256_fmadd_ps(w, v, b0); \
        w = LOAD(w1 + c), a1 = _mm256_fmadd_ps(w, u, a1), b1 = _mm256_fmadd_ps(w, v, b1); \
        w = LOAD(w2 + c), a2 = _mm256_fmadd_ps(w, u, a2), b2 = _mm256_fmadd_ps(w, v, b2); \
        w = LOAD(w3 + c), a3 = _mm256_fmadd_ps(w, u, a3), b3 = _mm256_fmadd_ps(w, v, b3); \
    } while (0)
    for (int t = 0; t < T; t += 2) {
        const float *x0 = x + (size_t)t * ldx;
        const float *x1 = t + 1 < T ? x0 + ldx : x0; /* odd T: the duplicate sums are identical */
        float *a = acc + (size_t)t * TILE_ROWS * 8, *b = t + 1 < T ? a + TILE_ROWS * 8 : a;
        __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
        __m256 a2 = _mm256_loadu_ps(a + 16), a3 = _mm256_loadu_ps(a + 24);
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 b2 = _mm256_loadu_ps(b + 16), b3 = _mm256_loadu_ps(b + 24);
        int c = 0;
        for (; c < nv; c += 8) TILE_STEP(LOAD_FULL);
        if (c < n) TILE_STEP(LOAD_TAIL);
        _mm256_storeu_ps(a, a0), _mm256_storeu_ps(a + 8, a1);
        _mm256_storeu_ps(a + 16, a2), _mm256_storeu_ps(a + 24, a3);
        _mm256_storeu_ps(b, b0), _mm256_storeu_ps(b + 8, b1); /* b == a for odd T: same sums */
        _mm256_storeu_ps(b + 16, b2), _mm256_storeu_ps(b + 24, b3);
    }
#undef TILE_STEP
#undef LOAD_TAIL
#undef LOAD_FULL
}

/* T == 1: y[r] = row r . x for r in [r0, r1), x32 and perm as for dot_row. */
ALWAYS_INLINE void dot_rows(Reader *rd, const float *x32, const float *x, int perm, float *y, int r0, int r1,
                            int fmt) {
    for (int r = r0; r < r1; r++) y[r] = dot_row(rd, reader_row(rd, r, fmt), x32, x, fmt, perm);
}

/* T == 1; LUT4 reads x permuted once to the order of its lookups. */
static void fp32_dot_rows(void *reader, const float *x, float *y, int r0, int r1) {
    Reader *rd = reader;
    if (rd->fmt != FMT_LUT4) {
        WITH_FMT(rd->fmt, dot_rows, rd, x, x, 0, y, r0, r1);
        return;
    }
    float *xp = xmalloc(sizeof(float) * ((size_t)rd->vec32_cols + 1));
    lut4_permute_x(x, rd->vec32_cols, xp);
    dot_rows(rd, xp, x, 1, y, r0, r1, FMT_LUT4);
    free(xp);
}

static void fp32_decode(void *readers, int r, int nr, int c0, int c1, float *restrict buf) {
    WITH_FMT(((Reader *)readers)->fmt, decode_rows, readers, r, nr, c0, c1, buf);
}

static void fp32_reduce(const float *acc, int T, int nr, float *y, size_t ldy) {
    for (int t = 0; t < T; t++, acc += TILE_ROWS * 8, y += ldy)
        for (int i = 0; i < nr; i++) y[i] = hsum8(_mm256_loadu_ps(acc + 8 * i));
}

static void qmat_rows_avx2(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    static const Fp32Tiling tiling = {sizeof(Reader), 8, reader_init, fp32_dot_rows, fp32_decode, tile_fma,
                                      fp32_reduce};
    Reader rd[TILE_ROWS];
    tile_matmul_f32(&tiling, rd, w, x, T, y, r0, r1);
}

/* ---- 8-bit activations (qmat_matmul_q8_rows) ----
 * Integer dot of 32 columns: unsigned bytes times signed bytes (dot_u8s8), so the weight's sign
 * moves onto x (sign(x, w)) and |w| is the unsigned side; one FP32 FMA per block applies d.
 * Every path (fused decode for T <= 8, tiles beyond) performs the same FP32 operations in the
 * same order for a given row and input, so an output never depends on the batch size: 4-bit
 * works on 64 columns in nibble order (x->q_nib, one FMA per pair of blocks), other widths on 32
 * in column order (x->q, one FMA per block); the padding up to x->ld adds exact zeros.
 * 4-bit codes fit 7 bits (QMAT_Q8_RANGE), so those kernels look up code + 64 (unsigned, <= 127:
 * pair sums stay within int16 with no sign juggling) and subtract 64 * x->qsum at the end. */

/* acc + the products of unsigned bytes u by signed bytes s, summed over each 4 adjacent bytes (8
 * int32 lanes); |u|, |s| <= 127.  AVX2: maddubs's int16 pair sums, then madd with ones to int32;
 * a pair sum is at most 2 * 127 * 127 < 32767, so maddubs never saturates.  AVX-VNNI: vpdpbusd,
 * which sums the same four products per lane in int32.  The lanes hold the same integers either
 * way, so the two families' outputs agree bit for bit. */
ALWAYS_INLINE __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#ifdef KERNELS_VNNI
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/* 32 int8 weights (and their absolute values) . 32 int8 x codes, as 8 int32 partial sums. */
ALWAYS_INLINE __m256i dot32_i8(__m256i w_abs, __m256i w, __m256i x) {
    return dot_u8s8(_mm256_setzero_si256(), w_abs, _mm256_sign_epi8(x, w));
}

/* acc + 32 unsigned codes (code + 64) . 32 signed x codes, as 8 int32 partial sums. */
ALWAYS_INLINE __m256i dot32_u7(__m256i acc, __m256i u, __m256i x) { return dot_u8s8(acc, u, x); }

#define LUT4_OFFSET 64

/* A 4-bit group's 16 codes + LUT4_OFFSET, in both 128-bit lanes. */
ALWAYS_INLINE __m256i lut4_table_u7(const int8_t *tab) {
    return _mm256_add_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab)),
                           _mm256_set1_epi8(LUT4_OFFSET));
}

/* Start of `span` packed bytes at byte `off` of a row, safe for a `read`-byte load: near or past
 * the row's end, a zero-padded copy in tail[32] (the indices there meet x codes of 0). */
ALWAYS_INLINE const uint8_t *row_chunk(const QMatrix *w, const uint8_t *row, size_t off, size_t span, size_t read,
                                       uint8_t *tail) {
    if (off + read <= w->row_bytes) return row + off;
    memset(tail, 0, 32);
    if (off < w->row_bytes) memcpy(tail, row + off, w->row_bytes - off < span ? w->row_bytes - off : span);
    return tail;
}

/* 64 4-bit indices (32 bytes at p) -> codes of the 32 even columns and of the 32 odd ones. */
ALWAYS_INLINE void lut4_codes64(const uint8_t *p, __m256i tab, __m256i *even, __m256i *odd) {
    __m256i raw = _mm256_loadu_si256((const __m256i *)p), nib = _mm256_set1_epi8(0x0f);
    *even = _mm256_shuffle_epi8(tab, _mm256_and_si256(raw, nib));
    *odd = _mm256_shuffle_epi8(tab, _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib));
}

/* 32 6-bit indices (24 bytes from p; 28 are read) -> their 32 int8 codes in column order.
 * t: lut6_tables of the group's 64 codes. */
ALWAYS_INLINE __m256i lut6_codes32(const uint8_t *p, const __m256i t[4]) {
    /* 12 bytes (16 indices) per 128-bit lane, read as 2 x 16 bytes */
    __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                          _mm_loadu_si128((const __m128i *)(p + 12)), 1);
    /* 3 bytes b0 b1 b2 hold 4 indices (index i at bits 6i).  As 16-bit words b0|b1 (indices 0, 1
     * in bits 0..11) and b1|b2 (indices 2, 3 in bits 4..15): x16 on the first then >> 4 on both
     * leaves each word's two indices at bits 0..5 and 6..11; the second moves to bits 8..13. */
    __m256i v = _mm256_shuffle_epi8(raw, _mm256_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 0, 1, 1,
                                                          2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11));
    v = _mm256_srli_epi16(_mm256_mullo_epi16(v, _mm256_set1_epi32(0x00010010)), 4);
    __m256i idx = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi16(0x3f)),
                                  _mm256_and_si256(_mm256_slli_epi16(v, 2), _mm256_set1_epi16(0x3f00)));
    /* pshufb reads the low 4 bits and gives 0 where the top bit is set: idx - 16k is negative below
     * sub-table k, so lookup k answers for every index >= 16k, and with t[k] stored as sub-table k
     * XOR sub-table k - 1 (lut6_tables) the XOR of the four answers telescopes to the entry. */
    __m256i i1 = _mm256_sub_epi8(idx, _mm256_set1_epi8(16)), i2 = _mm256_sub_epi8(idx, _mm256_set1_epi8(32));
    __m256i i3 = _mm256_sub_epi8(idx, _mm256_set1_epi8(48));
    return _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi8(t[0], idx), _mm256_shuffle_epi8(t[1], i1)),
                            _mm256_xor_si256(_mm256_shuffle_epi8(t[2], i2), _mm256_shuffle_epi8(t[3], i3)));
}

/* The 64 codes as four 16-entry tables, each XORed with the one before, in both 128-bit lanes. */
static void lut6_tables(const int8_t *tab, __m256i t[4]) {
    __m128i prev = _mm_setzero_si128();
    for (int k = 0; k < 4; k++) {
        __m128i cur = _mm_loadu_si128((const __m128i *)(tab + 16 * k));
        t[k] = _mm256_broadcastsi128_si256(_mm_xor_si128(cur, prev));
        prev = cur;
    }
}

/* Row r's columns [c0, c0 + span) as int8 codes in out[0, span) (span a multiple of 64; zero
 * past cols): 4-bit in nibble order, as code + LUT4_OFFSET; other widths in column order, copied
 * from w->codes8 where it is built.  tab: the row's codes. */
static void decode_q8_range(const QMatrix *w, int r, const int8_t *tab, int c0, int span, int8_t *out) {
    const uint8_t *row = qmat_row_data(w, r);
    uint8_t tail[32];
    if (w->codes8 && w->bits != 4) {
        memcpy(out, w->codes8 + (size_t)r * (size_t)w->codes8_ld + c0, (size_t)span);
        return;
    }
    if (w->bits == 4) {
        __m256i t = lut4_table_u7(tab), e, o;
        for (int c = c0; c < c0 + span; c += 64) {
            lut4_codes64(row_chunk(w, row, (size_t)c / 2, 32, 32, tail), t, &e, &o);
            _mm256_storeu_si256((__m256i *)(out + (c - c0)), e);
            _mm256_storeu_si256((__m256i *)(out + (c - c0) + 32), o);
        }
        return;
    }
    if (w->bits == 6) {
        __m256i t[4];
        lut6_tables(tab, t);
        for (int c = c0; c < c0 + span; c += 32)
            _mm256_storeu_si256((__m256i *)(out + (c - c0)),
                                lut6_codes32(row_chunk(w, row, (size_t)c * 3 / 4, 24, 28, tail), t));
        return;
    }
    int c = c0;
    for (; c < c0 + span && c < w->cols; c++) out[c - c0] = tab[lut_get_index(row, c, w->bits)];
    for (; c < c0 + span; c++) out[c - c0] = 0;
}

#define Q8_TILE_COLS 1024 /* 4 rows x 1024 x (w, |w|) = 8 KiB of L1 reused by every input */

/* A tile row: its codes and, for widths other than 4, their absolute values (maddubs' unsigned
 * side). */
typedef struct {
    _Alignas(32) int8_t q[Q8_TILE_COLS];
    _Alignas(32) int8_t abs[Q8_TILE_COLS];
} Q8TileRow;

/* acc[t][i] (8 partial sums) += tile row i . x[t] over n columns (a multiple of 64) from column
 * c0 of x, for t < T; two inputs at a time so each weight load feeds two dots. */
ALWAYS_INLINE void tile_q8(const void *const rows[TILE_ROWS], int n, const QActs *x, int c0, float *acc, int nib) {
    const Q8TileRow *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
    size_t ld = (size_t)x->ld, ldd = ld / QACT_BLOCK;
    for (int t = 0; t < x->T; t += 2) {
        int two = t + 1 < x->T;
        const int8_t *q0 = (nib ? x->q_nib : x->q) + (size_t)t * ld + c0, *q1 = two ? q0 + ld : q0;
        /* nib: d_pair, 8 floats per 64 columns; else d, one per 32: the same offset either way */
        const float *d0 = (nib ? x->d_pair + (size_t)t * ldd * 4 + c0 / 8 : x->d + (size_t)t * ldd + c0 / QACT_BLOCK);
        const float *d1 = two ? d0 + (nib ? ldd * 4 : ldd) : d0;
        float *a = acc + (size_t)t * TILE_ROWS * 8, *b = two ? a + TILE_ROWS * 8 : a;
        __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
        __m256 a2 = _mm256_loadu_ps(a + 16), a3 = _mm256_loadu_ps(a + 24);
        __m256 e0 = _mm256_loadu_ps(b), e1 = _mm256_loadu_ps(b + 8);
        __m256 e2 = _mm256_loadu_ps(b + 16), e3 = _mm256_loadu_ps(b + 24);
        for (int c = 0; c < n; c += 64) {
            const float *du = nib ? d0 + c / 8 : d0 + c / QACT_BLOCK, *dv = nib ? d1 + c / 8 : d1 + c / QACT_BLOCK;
            __m256i u0 = _mm256_loadu_si256((const __m256i *)(q0 + c));
            __m256i u1 = _mm256_loadu_si256((const __m256i *)(q0 + c + 32));
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(q1 + c));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(q1 + c + 32));
#define W(i, k) _mm256_load_si256((const __m256i *)(w##i->q + c + (k)))
#define A(i, k) _mm256_load_si256((const __m256i *)(w##i->abs + c + (k)))
#define ROW(i, ACC, DOT0, DOT1, D)                                                                          \
    do {                                                                                                    \
        if (nib) {                                                                                          \
            __m256i s_ = dot32_u7(_mm256_setzero_si256(), W(i, 0), DOT0);                                   \
            ACC = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_u7(s_, W(i, 32), DOT1)), _mm256_loadu_ps(D), ACC); \
        } else {                                                                                            \
            ACC = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_i8(A(i, 0), W(i, 0), DOT0)),                     \
                                  _mm256_broadcast_ss(D), ACC);                                             \
            ACC = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_i8(A(i, 32), W(i, 32), DOT1)),                   \
                                  _mm256_broadcast_ss((D) + 1), ACC);                                       \
        }                                                                                                   \
    } while (0)
            ROW(0, a0, u0, u1, du);
            ROW(1, a1, u0, u1, du);
            ROW(2, a2, u0, u1, du);
            ROW(3, a3, u0, u1, du);
            if (two) {
                ROW(0, e0, v0, v1, dv);
                ROW(1, e1, v0, v1, dv);
                ROW(2, e2, v0, v1, dv);
                ROW(3, e3, v0, v1, dv);
            }
#undef ROW
#undef A
#undef W
        }
        _mm256_storeu_ps(a, a0), _mm256_storeu_ps(a + 8, a1);
        _mm256_storeu_ps(a + 16, a2), _mm256_storeu_ps(a + 24, a3);
        if (two) {
            _mm256_storeu_ps(b, e0), _mm256_storeu_ps(b + 8, e1);
            _mm256_storeu_ps(b + 16, e2), _mm256_storeu_ps(b + 24, e3);
        }
    }
}

/* Decode (T <= FUSED_MAX_T inputs) of 4-bit, fused: the tile path's operations without the tile,
 * each step's codes looked up once for every input (a server's batched step).  out[t] for t < T,
 * before the group's scale.  tab: the group's lut4_table_u7. */
#define FUSED_MAX_T 4 /* T accumulators and the step's codes fit the 16 registers */
#define UNROLL_T UNROLL(4)

ALWAYS_INLINE void dot_row_q8_lut4(const QMatrix *w, const uint8_t *row, __m256i tab, const QActs *x, int T,
                                   float *out) {
    size_t ld = (size_t)x->ld, ldd = ld / QACT_BLOCK;
    __m256 acc[FUSED_MAX_T];
    UNROLL_T for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    uint8_t tail[32];
    for (int c = 0; c < x->ld; c += 64) {
        __m256i e, o;
        prefetch_ahead(row + c / 2);
        lut4_codes64(row_chunk(w, row, (size_t)c / 2, 32, 32, tail), tab, &e, &o);
        UNROLL_T for (int t = 0; t < T; t++) {
            const int8_t *q = x->q_nib + (size_t)t * ld + c;
            __m256i xe = _mm256_loadu_si256((const __m256i *)q), xo = _mm256_loadu_si256((const __m256i *)(q + 32));
            __m256i s = dot32_u7(dot32_u7(_mm256_setzero_si256(), e, xe), o, xo);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_loadu_ps(x->d_pair + (t * ldd + (size_t)c / 32) * 4),
                                     acc[t]);
        }
    }
    UNROLL_T for (int t = 0; t < T; t++) out[t] = hsum8(acc[t]) - LUT4_OFFSET * x->qsum[t];
}

/* Decode of 6-bit, fused likewise; or of any width but 4 from w->codes8 (codes8 set: tab and the
 * indices unused), with the same operations on the same codes. */
ALWAYS_INLINE void dot_row_q8_cols(const QMatrix *w, int r, const __m256i tab[4], const QActs *x, int codes8, int T,
                                   float *out) {
    size_t ld = (size_t)x->ld, ldd = ld / QACT_BLOCK;
    const uint8_t *row = qmat_row_data(w, r);
    const int8_t *c8 = codes8 ? w->codes8 + (size_t)r * (size_t)w->codes8_ld : NULL;
    __m256 acc[FUSED_MAX_T];
    UNROLL_T for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    uint8_t tail[32];
    for (int c = 0; c < x->ld; c += 32) {
        prefetch_ahead(codes8 ? (const uint8_t *)c8 + c : row + (size_t)c * 3 / 4);
        __m256i c32 = codes8 ? _mm256_loadu_si256((const __m256i *)(c8 + c))
                             : lut6_codes32(row_chunk(w, row, (size_t)c * 3 / 4, 24, 28, tail), tab);
        __m256i a32 = _mm256_abs_epi8(c32);
        UNROLL_T for (int t = 0; t < T; t++) {
            __m256i xq = _mm256_loadu_si256((const __m256i *)(x->q + (size_t)t * ld + c));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_i8(a32, c32, xq)),
                                     _mm256_broadcast_ss(x->d + t * ldd + (size_t)c / 32), acc[t]);
        }
    }
    UNROLL_T for (int t = 0; t < T; t++) out[t] = hsum8(acc[t]);
}

/* Rows [r0, r1) of a 4-bit or 6-bit matrix, or one with codes8, for T <= FUSED_MAX_T inputs
 * (constant where inlined); y: [T, rows]. */
ALWAYS_INLINE void fused_rows(const QMatrix *w, const QActs *x, float *y, int r0, int r1, int T) {
    int n = 1 << w->bits, g = -1, g_end = r0; /* the group loaded, and its end row */
    int codes8 = w->codes8 && w->bits != 4;
    __m256i tab[4];
    for (int r = r0; r < r1; r++) {
        if (r >= g_end) { /* no division per row */
            g = r / w->group, g_end = (g + 1) * w->group;
            const int8_t *t8 = w->lut_q8 + (size_t)g * (size_t)n;
            if (w->bits == 4) tab[0] = lut4_table_u7(t8);
            else if (!codes8) lut6_tables(t8, tab);
        }
        float out[FUSED_MAX_T];
        if (w->bits == 4) dot_row_q8_lut4(w, qmat_row_data(w, r), tab[0], x, T, out);
        else if (codes8) dot_row_q8_cols(w, r, NULL, x, 1, T, out);
        else dot_row_q8_cols(w, r, tab, x, 0, T, out);
        for (int t = 0; t < T; t++) y[(size_t)t * (size_t)w->rows + (size_t)r] = out[t] * w->lut_q8_scale[g];
    }
}

/* Inputs [t0, t0 + n) of x as a batch of their own: the same buffers, offset. */
static QActs acts_slice(const QActs *x, int t0, int n) {
    QActs s = *x;
    size_t ld = (size_t)x->ld, ldd = ld / QACT_BLOCK;
    s.T = n;
    s.q += (size_t)t0 * ld, s.q_nib += (size_t)t0 * ld;
    s.d += (size_t)t0 * ldd, s.d_pair += (size_t)t0 * ldd * 4, s.qsum += t0;
    return s;
}

#define FUSED_T(T) \
    case T: fused_rows(w, x, y, r0, r1, T); break;
__attribute__((noinline)) static void fused_rows_any(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    switch (x->T) { FUSED_T(1) FUSED_T(2) FUSED_T(3) FUSED_T(4) }
}
#undef FUSED_T

/* T > 8, or widths without a fused path: tile_matmul's state. */
typedef struct {
    const QMatrix *w;
    const QActs *x;
    int nib; /* 4-bit: codes + LUT4_OFFSET in nibble order */
    Q8TileRow rows[TILE_ROWS];
} Q8Tiles;

static void q8_decode(void *ctx, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS]) {
    Q8Tiles *q = ctx;
    const QMatrix *w = q->w;
    for (int i = 0; i < nr; i++) {
        Q8TileRow *o = &q->rows[i];
        decode_q8_range(w, r + i, w->lut_q8 + (size_t)((r + i) / w->group) * ((size_t)1 << w->bits), c0, c1 - c0, o->q);
        for (int c = 0; c < c1 - c0 && !q->nib; c += 32) /* 4-bit: unsigned codes need no |w| */
            _mm256_store_si256((__m256i *)(o->abs + c),
                               _mm256_abs_epi8(_mm256_load_si256((const __m256i *)(o->q + c))));
        rows[i] = o;
    }
}

static void q8_tile(void *ctx, const void *const rows[TILE_ROWS], int c0, int c1, float *acc) {
    const Q8Tiles *q = ctx;
    if (q->nib) tile_q8(rows, c1 - c0, q->x, c0, acc, 1);
    else tile_q8(rows, c1 - c0, q->x, c0, acc, 0);
}

/* Row r + i's output for input t: (its sum - the offset's share) * its group's scale; a whole tile
 * (4 rows) of two inputs per hsum8_x8, the same operations as the fused pass's. */
static void q8_finish(void *ctx, const float *acc, int T, int r, int nr, float *y, size_t ldy) {
    const Q8Tiles *q = ctx;
    float s[TILE_ROWS];
    for (int i = 0; i < nr; i++) s[i] = q->w->lut_q8_scale[(r + i) / q->w->group];
#define OFFSET_SHARE(t) (q->nib ? LUT4_OFFSET * q->x->qsum[t] : 0.0f)
    if (nr < TILE_ROWS) { /* the matrix's last rows */
        for (int t = 0; t < T; t++, acc += TILE_ROWS * 8, y += ldy)
            for (int i = 0; i < nr; i++) y[r + i] = (hsum8(_mm256_loadu_ps(acc + 8 * i)) - OFFSET_SHARE(t)) * s[i];
        return;
    }
    const __m256 scale = _mm256_setr_ps(s[0], s[1], s[2], s[3], s[0], s[1], s[2], s[3]);
    _Static_assert(TILE_ROWS == 4, "finish_tile_pair's layout: [input][4 rows][8 lanes]");
    for (int t = 0; t < T; t += 2) {
        int u = t + 1 < T ? t + 1 : t;
        finish_tile_pair(acc, t, u, OFFSET_SHARE(t), OFFSET_SHARE(u), scale, y + r, ldy);
    }
#undef OFFSET_SHARE
}

static const TileKernel q8_tiles = {Q8_TILE_COLS, 8, q8_decode, q8_tile, q8_finish};

static void qmat_rows_q8_avx2(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    /* up to two fused passes of FUSED_MAX_T inputs (each reading the weights) beat the tiles */
    if (x->T <= 2 * FUSED_MAX_T && (w->bits == 4 || w->bits == 6 || w->codes8)) {
        for (int t0 = 0; t0 < x->T; t0 += FUSED_MAX_T) {
            QActs part = acts_slice(x, t0, x->T - t0 < FUSED_MAX_T ? x->T - t0 : FUSED_MAX_T);
            fused_rows_any(w, &part, y + (size_t)t0 * (size_t)w->rows, r0, r1);
        }
        return;
    }
    Q8Tiles q;
    q.w = w, q.x = x, q.nib = w->bits == 4;
    tile_matmul(&q8_tiles, &q, x->T, x->ld, y, (size_t)w->rows, r0, r1);
}

/* ---- 8-bit activations: quantizing a step of 64 columns (qacts_quantize_step_ref) ----
 * The same operations as the reference, 8 lanes at a time: max |x| is exact in any order, and
 * each code is x * (127 / max) rounded by the same add and subtract of 1.5 * 2^23, as separate
 * multiply and add (C11 mode: no contraction into an FMA), so every bit agrees. */
ALWAYS_INLINE __m256i quantize8(__m256 v, __m256 inv) {
    const __m256 magic = _mm256_set1_ps(QMAT_ROUND_MAGIC), lim = _mm256_set1_ps(127.0f);
    __m256 c = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(v, inv), magic), magic);
    return _mm256_cvtps_epi32(_mm256_min_ps(lim, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), lim), c)));
}

static void quantize_step_avx2(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]) {
    _Alignas(32) float pad[64];
    if (n < 64) { /* the row's last step: zero past its columns, as the reference */
        memset(pad, 0, sizeof pad);
        memcpy(pad, x, sizeof(float) * (size_t)(n > 0 ? n : 0));
        x = pad;
    }
    const __m256 sign = _mm256_set1_ps(-0.0f), fmax = _mm256_set1_ps(FLT_MAX);
    __m256i codes[2];
    for (int b = 0; b < 2; b++) {
        const float *v = x + 32 * b;
        __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8), v2 = _mm256_loadu_ps(v + 16);
        __m256 v3 = _mm256_loadu_ps(v + 24);
        __m256 m0 = _mm256_andnot_ps(sign, v0), m1 = _mm256_andnot_ps(sign, v1);
        __m256 m2 = _mm256_andnot_ps(sign, v2), m3 = _mm256_andnot_ps(sign, v3);
        /* finite: every |x| <= FLT_MAX (false for NaN) */
        __m256 ok = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(m0, fmax, _CMP_LE_OQ), _mm256_cmp_ps(m1, fmax, _CMP_LE_OQ)),
                                  _mm256_and_ps(_mm256_cmp_ps(m2, fmax, _CMP_LE_OQ), _mm256_cmp_ps(m3, fmax, _CMP_LE_OQ)));
        int finite = _mm256_movemask_ps(ok) == 0xff;
        __m256 mx = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        float amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
        float inv = finite && amax > 0.0f ? 127.0f / amax : 0.0f;
        if (inv > FLT_MAX) inv = amax = 0.0f; /* as the reference: a block too small to scale */
        d[b] = finite ? amax / 127.0f : NAN;
        __m256 vi = _mm256_set1_ps(inv);
        __m256i c0 = quantize8(v0, vi), c1 = quantize8(v1, vi), c2 = quantize8(v2, vi), c3 = quantize8(v3, vi);
        if (!finite) c0 = c1 = c2 = c3 = _mm256_setzero_si256();
        __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        sums[b] = _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1)));
        /* int32 -> int8: the packs work within 128-bit lanes; the permute puts the 32 in order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
        codes[b] = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + 32 * b), codes[b]);
    }
    /* nibble order: even bytes of the 64, then odd ones */
    const __m256i eo = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12,
                                        14, 1, 3, 5, 7, 9, 11, 13, 15);
    __m256i a = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(codes[0], eo), 0xd8); /* even 0-15 | odd 0-15 */
    __m256i b = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(codes[1], eo), 0xd8); /* even 16-31 | odd 16-31 */
    _mm256_storeu_si256((__m256i *)q_nib, _mm256_permute2x128_si256(a, b, 0x20));
    _mm256_storeu_si256((__m256i *)(q_nib + 32), _mm256_permute2x128_si256(a, b, 0x31));
}

/* ---- vector loops (ops/vec.h) ---- */

ALWAYS_INLINE double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* Four independent accumulators: an FMA has 4-5 cycles of latency and two issue per cycle, so
 * one accumulator would run at 1/8 to 1/10 of the machine's rate. */
static float vec_dot_avx2(const float *a, const float *b, int n) {
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

static void vec_axpy_avx2(float *y, float a, const float *x, int n) {
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

/* Attention's many-row forms: the same operations per row (and per element) as vec_dot_avx2 and
 * vec_axpy_avx2, so the same bits, with q loaded once for two rows and each chunk of y kept in
 * registers across all the rows instead of loaded and stored once per row. */
static void vec_dot_rows_avx2(const float *q, const float *k, size_t ldk, int rows, int n, float *out) {
    int j = 0;
    for (; j + 2 <= rows; j += 2) {
        const float *a = k + (size_t)j * ldk, *b = a + ldk;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            __m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
            __m256 q2 = _mm256_loadu_ps(q + i + 16), q3 = _mm256_loadu_ps(q + i + 24);
            s0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(a + i), s0), t0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b + i), t0);
            s1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(a + i + 8), s1), t1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(b + i + 8), t1);
            s2 = _mm256_fmadd_ps(q2, _mm256_loadu_ps(a + i + 16), s2), t2 = _mm256_fmadd_ps(q2, _mm256_loadu_ps(b + i + 16), t2);
            s3 = _mm256_fmadd_ps(q3, _mm256_loadu_ps(a + i + 24), s3), t3 = _mm256_fmadd_ps(q3, _mm256_loadu_ps(b + i + 24), t3);
        }
        for (; i + 8 <= n; i += 8) {
            __m256 q0 = _mm256_loadu_ps(q + i);
            s0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(a + i), s0), t0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b + i), t0);
        }
        float sa = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        float sb = hsum8(_mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
        for (; i < n; i++) sa = fmaf(q[i], a[i], sa), sb = fmaf(q[i], b[i], sb);
        out[j] = sa, out[j + 1] = sb;
    }
    if (j < rows) out[j] = vec_dot_avx2(q, k + (size_t)j * ldk, n);
}

static void vec_axpy_rows_avx2(float *y, const float *a, const float *x, size_t ldx, int rows, int n) {
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 y0 = _mm256_loadu_ps(y + i), y1 = _mm256_loadu_ps(y + i + 8);
        __m256 y2 = _mm256_loadu_ps(y + i + 16), y3 = _mm256_loadu_ps(y + i + 24);
        for (int j = 0; j < rows; j++) {
            const float *xj = x + (size_t)j * ldx + i;
            __m256 va = _mm256_set1_ps(a[j]);
            y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(xj), y0), y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(xj + 8), y1);
            y2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(xj + 16), y2), y3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(xj + 24), y3);
        }
        _mm256_storeu_ps(y + i, y0), _mm256_storeu_ps(y + i + 8, y1);
        _mm256_storeu_ps(y + i + 16, y2), _mm256_storeu_ps(y + i + 24, y3);
    }
    if (i < n) /* the last n % 32: row after row, as vec_axpy_avx2 does them */
        for (int j = 0; j < rows; j++) vec_axpy_avx2(y + i, a[j], x + (size_t)j * ldx + i, n - i);
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

static void vec_gelu_tanh_avx2(float *x, size_t n) {
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

static double vec_exp_shift_avx2(float *x, float shift, int n) {
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

static int vec_round_f16_avx2(float *x, size_t n) {
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

const KernelTable KERNEL_TABLE(FAMILY) = {KERNEL_TABLE_HEAD(FAMILY, FAMILY_CPU_RUNS),
                                         .matmul_rows = qmat_rows_avx2, .matmul_q8_rows = qmat_rows_q8_avx2,
                                         .dot = vec_dot_avx2, .axpy = vec_axpy_avx2, .dot_rows = vec_dot_rows_avx2, .axpy_rows = vec_axpy_rows_avx2, .gelu_tanh = vec_gelu_tanh_avx2,
                                         .exp_shift = vec_exp_shift_avx2, .round_f16 = vec_round_f16_avx2,
                                         .quantize_step = quantize_step_avx2,
                                         /* every width but 4 (one pshufb per 32 weights): 6-bit takes 4 pshufb,
                                          * 3 XOR and the unpacking per 32, the others go one by one */
                                         .codes8_widths = 0x1ec};

#else
const KernelTable KERNEL_TABLE(FAMILY) = {.name = KERNEL_STR(FAMILY)}; /* not x86-64: known by name only */
#endif
