/* The AVX-512 kernel family (F, BW, VL, DQ + VNNI + VBMI; built with those flags, picked at run
 * time): the 8-bit-activation matmuls, where the time goes.  The FP32-activation matmul and the
 * vector loops are the AVX2 family's, called through its table: they are a small share of the
 * time, and one version of them is less to test.
 *
 * 8-bit matmul.  A weight's code is looked up as an unsigned byte, code + offset (64 for 4-bit
 * tables, whose codes fit 7 bits; 128 otherwise), and vpdpbusd multiplies 4 such bytes by 4
 * signed activation codes into each int32 lane, exactly; the offset comes off at the end as
 * offset * x->qsum.  A step covers 64 columns, two activation blocks, as 32 codes of the even
 * columns and 32 of the odd ones (x->q_nib's order), each half one vpdpbusd into the same 8 lanes:
 * lanes 0-3 | 4-7 are blocks 0 | 1, converted once and scaled by x->d_pair in one FMA.
 *   4-bit: 32 packed bytes, low nibbles (even columns) and high nibbles (odd), one vpshufb each
 *     with the group's 16 codes in each 128-bit lane.  The int32 lanes equal the AVX2 family's
 *     maddubs + madd sums, so the two families give the same bits for 4-bit matrices.
 *   6-bit: 48 packed bytes; vpermb gives each qword the 6 bytes of 8 indices, vpmultishiftqb
 *     moves index j to byte j, vpermb looks the 64 codes up from one register (it reads the low 6
 *     bits only, so no mask), and one more vpermb puts the even columns first.  (The AVX2 family
 *     needs 4 vpshufb, 3 XOR and the unpacking shifts per 32.)
 *   other widths: indices decoded one by one (formats nobody converts to by default).
 * Steps are 256-bit: on Zen 4, the first machine this family ran on, 512-bit operations are split
 * in two, and 512-bit steps (16 lanes, one vpdpbusd) measured no faster; two rows per decode pass
 * neither.  Decode (T <= 8) fuses lookup and dot for all its inputs.  T > 8 decodes a tile of 4
 * rows x 1024 columns of codes once (tiling.h) and runs the inputs over it two at a time, each code
 * vector feeding two vpdpbusd.  Both do the same FP32 operations in the same order for a row and an input, so a
 * result does not depend on the batch size. */
#include "kernels/kernels.h"

#if defined(__x86_64__)

#include <string.h>

#include "kernels/simd_util.h"
#include "kernels/tiling.h"
#include "kernels/x86_intrin.h"
#include "quant/lut_format.h"
#include "util/cpu.h"
#include "util/util.h"

#define STEP 64              /* columns per step: two activation blocks */
#define A512_TILE_COLS 1024  /* 4 rows x 1024 codes = 4 KiB of L1 reused by every input */

/* n <= 64 bytes from p, zero past n, never reading past p + n (a row's last step). */
ALWAYS_INLINE __m512i load_bytes(const uint8_t *p, size_t n) {
#if defined(ANEMLL_SIMDE) /* SIMDe 0.7.4 has no masked byte loads */
    _Alignas(64) uint8_t b[64] = {0};
    memcpy(b, p, n);
    return _mm512_load_si512(b);
#else
    return _mm512_maskz_loadu_epi8(n >= 64 ? ~0ull : (1ull << n) - 1, p);
#endif
}

/* What a pass over one matrix needs: its format and the current group's table of codes. */
typedef struct {
    const QMatrix *w;
    int bits;
    int offset;   /* added to every code: unsigned for vpdpbusd */
    int group;    /* whose table is loaded; -1 none */
    int g_first, g_end; /* its rows [g_first, g_end): a row in them needs no division */
    int full_end;       /* steps below it read whole vectors inside the row (no tail load) */
    __m512i tab;  /* 4-bit: the 16 codes in each 128-bit lane; 6-bit: the 64 codes */
    uint8_t codes[1 << LUT_MAX_BITS]; /* other widths: the codes, offset */
} Lut8;

static void lut8_init(Lut8 *l, const QMatrix *w) {
    l->w = w, l->bits = w->bits, l->offset = w->bits <= 4 ? 64 : 128, l->group = -1;
    l->g_first = l->g_end = 0;
    l->full_end = 0; /* step c loads bytes [c * bits / 8, + 32) for 4-bit, [.., + 64) for 6-bit */
    if (w->bits == 4 || w->bits == 6)
        while ((size_t)l->full_end * (size_t)w->bits / 8 + (w->bits == 4 ? 32u : 64u) <= w->row_bytes)
            l->full_end += STEP;
}

static void lut8_load_group(Lut8 *l, int g) {
    int n = 1 << l->bits;
    const int8_t *src = l->w->lut_q8 + (size_t)g * (size_t)n;
    if (l->bits == 4)
        l->tab = _mm512_add_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)src)), _mm512_set1_epi8(64));
    else if (l->bits == 6)
        l->tab = _mm512_xor_si512(_mm512_loadu_si512(src), _mm512_set1_epi8((char)0x80)); /* + 128, mod 256 */
    else
        for (int i = 0; i < n; i++) l->codes[i] = (uint8_t)(src[i] + l->offset);
    l->group = g;
    l->g_first = g * l->w->group;
    l->g_end = l->g_first + l->w->group;
}

/* Row r's packed indices, with its group's table loaded. */
ALWAYS_INLINE const uint8_t *lut8_row(Lut8 *l, int r) {
    if (r < l->g_first || r >= l->g_end) lut8_load_group(l, r / l->w->group);
    return qmat_row_data(l->w, r);
}

/* A step's 64 codes: the even columns', then the odd ones'. */
typedef struct {
    __m256i even, odd;
} Codes;

/* Step c's (a multiple of 64) codes of a 4-bit row. */
ALWAYS_INLINE Codes codes4(const Lut8 *l, const uint8_t *row, int c, int full) {
    size_t off = (size_t)c / 2, rb = l->w->row_bytes;
    __m256i raw = full ? _mm256_loadu_si256((const __m256i *)(row + off))
                       : _mm512_castsi512_si256(load_bytes(row + off, rb - off < 32 ? rb - off : 32));
    __m256i nib = _mm256_set1_epi8(0x0f), tab = _mm512_castsi512_si256(l->tab);
    return (Codes){_mm256_shuffle_epi8(tab, _mm256_and_si256(raw, nib)),
                   _mm256_shuffle_epi8(tab, _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib))};
}

ALWAYS_INLINE Codes split_codes(__m512i v) {
    return (Codes){_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)};
}

/* vpermb control: qword k gets bytes 6k .. 6k+5, the 8 indices 8k .. 8k+7 at bits 6j (its last
 * two bytes repeat byte 6k+5; multishift never reads them). */
static const uint8_t spread6[64] = {
#define Q(k) 6 * k, 6 * k + 1, 6 * k + 2, 6 * k + 3, 6 * k + 4, 6 * k + 5, 6 * k + 5, 6 * k + 5
    Q(0), Q(1), Q(2), Q(3), Q(4), Q(5), Q(6), Q(7)
#undef Q
};

/* Step c's codes of a 6-bit row, in column order. */
ALWAYS_INLINE __m512i codes6(const Lut8 *l, const uint8_t *row, int c, int full) {
    size_t off = (size_t)c * 3 / 4, rb = l->w->row_bytes;
    __m512i raw = full ? _mm512_loadu_si512(row + off) : load_bytes(row + off, rb - off < 48 ? rb - off : 48);
    __m512i q = _mm512_permutexvar_epi8(_mm512_loadu_si512(spread6), raw);
    /* byte j of each qword <- its bits 6j .. 6j+7: index j in the low 6 bits */
    __m512i idx = _mm512_multishift_epi64_epi8(_mm512_set1_epi64(0x2a241e18120c0600), q);
    return _mm512_permutexvar_epi8(idx, l->tab);
}

/* vpermb control from column order to step order (even columns, then odd ones). */
static const uint8_t even_odd[64] = {
#define E(k) 2 * k, 2 * k + 2, 2 * k + 4, 2 * k + 6
#define O(k) 2 * k + 1, 2 * k + 3, 2 * k + 5, 2 * k + 7
    E(0), E(4), E(8), E(12), E(16), E(20), E(24), E(28), O(0), O(4), O(8), O(12), O(16), O(20), O(24), O(28)
#undef E
#undef O
};

/* Step c's codes of a 6-bit row. */
ALWAYS_INLINE Codes codes6_step(const Lut8 *l, const uint8_t *row, int c, int full) {
    return split_codes(_mm512_permutexvar_epi8(_mm512_loadu_si512(even_odd), codes6(l, row, c, full)));
}

/* Other widths: step c's codes in step order, the offset alone (code 0) past the row's columns. */
static Codes codes_any(const Lut8 *l, const uint8_t *row, int c) {
    _Alignas(64) uint8_t u[STEP];
    for (int i = 0; i < STEP; i++) {
        int col = c + even_odd[i];
        u[i] = col < l->w->cols ? l->codes[lut_get_index(row, col, l->bits)] : (uint8_t)l->offset;
    }
    return split_codes(_mm512_load_si512(u));
}

/* full: the step is below l->full_end (a constant where inlined, so its loads have no tail test) */
ALWAYS_INLINE Codes step_codes(const Lut8 *l, const uint8_t *row, int c, int bits, int full) {
    return bits == 4 ? codes4(l, row, c, full) : bits == 6 ? codes6_step(l, row, c, full) : codes_any(l, row, c);
}

/* Input t's codes (nibble order) and block scales (d_pair), located once per call: the step loops
 * then only add the column to a base, with no per-step index arithmetic. */
typedef struct {
    const int8_t *q;
    const float *d;
} Input;

ALWAYS_INLINE Input input_at(const QActs *x, int t) {
    return (Input){x->q_nib + (size_t)t * (size_t)x->ld, x->d_pair + (size_t)t * (size_t)(x->ld / QACT_BLOCK) * 4};
}

/* The input's activation codes of step c, in step order. */
ALWAYS_INLINE Codes step_x(Input in, int c) {
    return (Codes){_mm256_loadu_si256((const __m256i *)(in.q + c)), _mm256_loadu_si256((const __m256i *)(in.q + c + 32))};
}

/* The input's block scales of step c: d of blocks 2k (x4), 2k + 1 (x4), 8 floats per 64 columns. */
ALWAYS_INLINE const float *step_d(Input in, int c) { return in.d + (unsigned)c / 8; }

/* acc += the step's codes u . x: 8 lanes, the even and odd halves summed into each, so lanes
 * 0-3 | 4-7 are blocks 0 | 1 and d (x->d_pair) their scales.  The int32 lanes equal the AVX2
 * family's maddubs + madd sums (which cannot saturate: codes + 64 <= 127 for 4 bits); 256-bit
 * steps, because on Zen 4 (this family's first machine) 512-bit operations are split in two and
 * measured no faster. */
typedef __m256 Acc;
#define ACC_LANES 8
ALWAYS_INLINE Acc step_fma(Acc acc, Codes u, Codes xq, const float *d) {
    __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u.even, xq.even);
    s = _mm256_dpbusd_epi32(s, u.odd, xq.odd);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_loadu_ps(d), acc);
}

/* A row's output for input t from its accumulator. */
ALWAYS_INLINE float finish_row(const Lut8 *l, Acc acc, const QActs *x, int t) {
    return (hsum8(acc) - (float)l->offset * x->qsum[t]) * l->w->lut_q8_scale[l->group];
}

/* Decode: y[t * rows + r] for r in [r0, r1) and the T <= FUSED_MAX_T inputs, lookup and dot
 * fused: each step's codes are looked up once and meet every input while in registers, so a few
 * inputs at once (a server's decode step for several streams) cost little more than one.  (Two rows
 * a pass, sharing the activation loads, measured no faster.) */
#define FUSED_MAX_T 8
#define UNROLL_T UNROLL(8)

ALWAYS_INLINE void dot_rows(Lut8 *l, const QActs *x, float *y, int r0, int r1, int bits, int T) {
    size_t rows = (size_t)l->w->rows;
    Input in[FUSED_MAX_T];
    UNROLL_T for (int t = 0; t < T; t++) in[t] = input_at(x, t);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = lut8_row(l, r);
        Acc acc[FUSED_MAX_T];
        UNROLL_T for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        int c = 0;
        for (; c < l->full_end; c += STEP) {
            prefetch_ahead(row + (size_t)c * (size_t)bits / 8);
            Codes u = step_codes(l, row, c, bits, 1);
            UNROLL_T for (int t = 0; t < T; t++) acc[t] = step_fma(acc[t], u, step_x(in[t], c), step_d(in[t], c));
        }
        for (; c < x->ld; c += STEP) {
            Codes u = step_codes(l, row, c, bits, 0);
            UNROLL_T for (int t = 0; t < T; t++) acc[t] = step_fma(acc[t], u, step_x(in[t], c), step_d(in[t], c));
        }
        for (int t = 0; t < T; t++) y[(size_t)t * rows + (size_t)r] = finish_row(l, acc[t], x, t);
    }
}

/* dot_rows with T and the width constants, so each combination is its own loop */
#define DOT_ROWS_T(T)                                          \
    case T:                                                    \
        if (w->bits == 4) dot_rows(&l, x, y, r0, r1, 4, T);   \
        else if (w->bits == 6) dot_rows(&l, x, y, r0, r1, 6, T); \
        else dot_rows(&l, x, y, r0, r1, 0, T);                \
        break;

static void fused_rows(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    Lut8 l;
    lut8_init(&l, w);
    switch (x->T) {
        DOT_ROWS_T(1) DOT_ROWS_T(2) DOT_ROWS_T(3) DOT_ROWS_T(4) DOT_ROWS_T(5) DOT_ROWS_T(6) DOT_ROWS_T(7) DOT_ROWS_T(8)
    }
}
#undef DOT_ROWS_T

/* ---- T > 1: tiles of codes ---- */

typedef struct {
    Lut8 lut[TILE_ROWS]; /* one per tile row: the rows of a tile may be in different groups */
    const QActs *x;
    _Alignas(64) uint8_t codes[TILE_ROWS][A512_TILE_COLS];
} Tiles;

ALWAYS_INLINE void decode_tile(Tiles *tl, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS], int bits) {
    for (int i = 0; i < nr; i++) {
        Lut8 *l = &tl->lut[i];
        const uint8_t *row = lut8_row(l, r + i);
        int c = c0, full = c1 < l->full_end ? c1 : l->full_end;
        for (; c < full; c += STEP) {
            prefetch_ahead(row + (size_t)c * (size_t)bits / 8);
            Codes u = step_codes(l, row, c, bits, 1);
            _mm256_store_si256((__m256i *)(tl->codes[i] + (c - c0)), u.even);
            _mm256_store_si256((__m256i *)(tl->codes[i] + (c - c0) + 32), u.odd);
        }
        for (; c < c1; c += STEP) {
            Codes u = step_codes(l, row, c, bits, 0);
            _mm256_store_si256((__m256i *)(tl->codes[i] + (c - c0)), u.even);
            _mm256_store_si256((__m256i *)(tl->codes[i] + (c - c0) + 32), u.odd);
        }
        rows[i] = tl->codes[i];
    }
}

static void tile_decode(void *ctx, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS]) {
    Tiles *tl = ctx;
    switch (tl->lut[0].bits) {
    case 4: decode_tile(tl, r, nr, c0, c1, rows, 4); break;
    case 6: decode_tile(tl, r, nr, c0, c1, rows, 6); break;
    default: decode_tile(tl, r, nr, c0, c1, rows, 0); break;
    }
}

/* acc[t][i][0, ACC_LANES) += the tile's row i . input t over columns [c0, c1), two inputs a
 * pass, each code vector feeding both. */
static void tile_run(void *ctx, const void *const rows[TILE_ROWS], int c0, int c1, float *acc) {
    const Tiles *tl = ctx;
    const uint8_t *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
    const QActs *x = tl->x;
    enum { L = ACC_LANES };
    for (int t = 0; t < x->T; t += 2) {
        int u = t + 1 < x->T ? t + 1 : t; /* odd T: the last input twice, the same sums */
        float *a = acc + (size_t)t * TILE_ROWS * L, *b = acc + (size_t)u * TILE_ROWS * L;
        Input ia = input_at(x, t), ib = input_at(x, u);
        Acc a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + L), a2 = _mm256_loadu_ps(a + 2 * L), a3 = _mm256_loadu_ps(a + 3 * L);
        Acc b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + L), b2 = _mm256_loadu_ps(b + 2 * L), b3 = _mm256_loadu_ps(b + 3 * L);
        for (int c = c0; c < c1; c += STEP) {
            Codes xa = step_x(ia, c), xb = step_x(ib, c);
            const float *da = step_d(ia, c), *db = step_d(ib, c);
            Codes v;
#define TILE_CODES(w) (Codes){_mm256_load_si256((const __m256i *)(w + (c - c0))), _mm256_load_si256((const __m256i *)(w + (c - c0) + 32))}
            v = TILE_CODES(w0), a0 = step_fma(a0, v, xa, da), b0 = step_fma(b0, v, xb, db);
            v = TILE_CODES(w1), a1 = step_fma(a1, v, xa, da), b1 = step_fma(b1, v, xb, db);
            v = TILE_CODES(w2), a2 = step_fma(a2, v, xa, da), b2 = step_fma(b2, v, xb, db);
            v = TILE_CODES(w3), a3 = step_fma(a3, v, xa, da), b3 = step_fma(b3, v, xb, db);
#undef TILE_CODES
        }
        _mm256_storeu_ps(b, b0), _mm256_storeu_ps(b + L, b1), _mm256_storeu_ps(b + 2 * L, b2), _mm256_storeu_ps(b + 3 * L, b3);
        _mm256_storeu_ps(a, a0), _mm256_storeu_ps(a + L, a1), _mm256_storeu_ps(a + 2 * L, a2), _mm256_storeu_ps(a + 3 * L, a3);
    }
}

/* finish_row for every row and input, a whole tile (4 rows) of two inputs per hsum8_x8. */
static void tile_finish(void *ctx, const float *acc, int T, int r, int nr, float *y, size_t ldy) {
    const Tiles *tl = ctx;
    const QActs *x = tl->x;
    enum { L = ACC_LANES };
    if (nr < TILE_ROWS) { /* the matrix's last rows */
        for (int t = 0; t < T; t++, acc += TILE_ROWS * L, y += ldy)
            for (int i = 0; i < nr; i++) y[r + i] = finish_row(&tl->lut[i], _mm256_loadu_ps(acc + L * i), x, t);
        return;
    }
    float s[TILE_ROWS];
    for (int i = 0; i < TILE_ROWS; i++) s[i] = tl->lut[i].w->lut_q8_scale[tl->lut[i].group];
    const __m256 scale = _mm256_setr_ps(s[0], s[1], s[2], s[3], s[0], s[1], s[2], s[3]);
    const float offset = (float)tl->lut[0].offset; /* one matrix: one width, one offset */
    _Static_assert(TILE_ROWS == 4 && L == 8, "finish_tile_pair's layout: [input][4 rows][8 lanes]");
    for (int t = 0; t < T; t += 2) {
        int u = t + 1 < T ? t + 1 : t;
        finish_tile_pair(acc, t, u, offset * x->qsum[t], offset * x->qsum[u], scale, y + r, ldy);
    }
}

static void qmat_rows_q8_avx512(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    if (x->T <= FUSED_MAX_T) {
        fused_rows(w, x, y, r0, r1);
        return;
    }
    Tiles tl; /* 5 KiB */
    for (int i = 0; i < TILE_ROWS; i++) lut8_init(&tl.lut[i], w);
    tl.x = x;
    static const TileKernel tiles = {A512_TILE_COLS, ACC_LANES, tile_decode, tile_run, tile_finish};
    tile_matmul(&tiles, &tl, x->T, x->ld, y, (size_t)w->rows, r0, r1);
}

/* ---- the AVX2 family's loops ---- */

static void qmat_rows_f32(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    kernels_avx2.matmul_rows(w, x, T, y, r0, r1);
}
static float vec_dot(const float *a, const float *b, int n) { return kernels_avx2.dot(a, b, n); }
static void vec_axpy(float *y, float a, const float *x, int n) { kernels_avx2.axpy(y, a, x, n); }
static void vec_dot_rows(const float *q, const float *k, size_t ldk, int rows, int n, float *out) {
    kernels_avx2.dot_rows(q, k, ldk, rows, n, out);
}
static void vec_axpy_rows(float *y, const float *a, const float *x, size_t ldx, int rows, int n) {
    kernels_avx2.axpy_rows(y, a, x, ldx, rows, n);
}
static void vec_gelu_tanh(float *x, size_t n) { kernels_avx2.gelu_tanh(x, n); }
static double vec_exp_shift(float *x, float shift, int n) { return kernels_avx2.exp_shift(x, shift, n); }
static int vec_round_f16(float *x, size_t n) { return kernels_avx2.round_f16(x, n); }
static void quantize_step(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]) {
    kernels_avx2.quantize_step(x, n, q, q_nib, d, sums);
}

const KernelTable KERNEL_TABLE(avx512) = {KERNEL_TABLE_HEAD(avx512, cpu_has_avx512_vnni_vbmi),
                                         .matmul_rows = qmat_rows_f32, .matmul_q8_rows = qmat_rows_q8_avx512,
                                         .dot = vec_dot, .axpy = vec_axpy, .dot_rows = vec_dot_rows, .axpy_rows = vec_axpy_rows, .gelu_tanh = vec_gelu_tanh,
                                         .exp_shift = vec_exp_shift, .round_f16 = vec_round_f16,
                                         .quantize_step = quantize_step};

#else
const KernelTable KERNEL_TABLE(avx512) = {.name = "avx512"}; /* not x86-64: known by name only */
#endif
