/* The NEON kernel family for aarch64 (Advanced SIMD is part of the base ISA there): the matmuls
 * of quant/matmul.h and the vector loops of ops/vec.h.
 *
 * Matmuls: the same shape as kernels_avx2.c: one primitive, load16 (16 consecutive weights of a
 * row as FP32), used by a fused decode-dot for T == 1 and, when T > 1, by the tiling driver's
 * 4-row x 512-column tiles (tiling.h), expanded once and reused for every input.  LUT lookups of
 * any width are table instructions on the FP16 entries split into low/high byte planes: TBL
 * covers 64 entries, TBX extends to 256.
 *
 * Vector loops: the same algorithms and constants as kernels_avx2.c (see there): own vector exp
 * with Cody-Waite reduction, GELU in double (2 lanes per register), tails through a zero-padded
 * copy. */
#include "kernels/kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/simd_util.h"
#include "kernels/tiling.h"
#include "kernels/vec_math.h"
#include "quant/lut_format.h"
#include "util/cpu.h"
#include "util/util.h"

/* ---- FP32 activations (qmat_matmul_rows) ---- */

enum { /* the LUT formats last */
    FMT_F32,
    FMT_F16,
    FMT_BF16,
    FMT_LUT4,  /* indices are nibbles */
    FMT_LUT8,  /* indices are bytes */
    FMT_LUT_N, /* other widths: indices unpacked one by one, looked up 16 at a time */
};

typedef struct {
    const QMatrix *w;
    int fmt;     /* FMT_*: which of the specialised loops read it */
    int nblocks; /* LUT: 64-entry blocks of the table (1, 2 or 4) */
    int group;   /* whose table is loaded; -1 none yet */
    uint8x16x4_t t_lo[4], t_hi[4]; /* FP16 entries' low / high bytes, 64 per block */
    float table[1 << LUT_MAX_BITS];
} Reader;

ALWAYS_INLINE QMatKind fmt_kind(int fmt) {
    return fmt == FMT_F32 ? QM_F32 : fmt == FMT_F16 ? QM_F16 : fmt == FMT_BF16 ? QM_BF16 : QM_LUT;
}

static int matrix_fmt(const QMatrix *w) {
    if (w->kind != QM_LUT) return w->kind == QM_F32 ? FMT_F32 : w->kind == QM_F16 ? FMT_F16 : FMT_BF16;
    return w->bits == 4 ? FMT_LUT4 : w->bits == 8 ? FMT_LUT8 : FMT_LUT_N;
}

/* fn(..., fmt) with fmt as a constant, so that fn and the always-inline loops it calls are
 * specialised per format. */
#define WITH_FMT(fmt, fn, ...)                       \
    switch (fmt) {                                   \
    case FMT_F32: fn(__VA_ARGS__, FMT_F32); break;   \
    case FMT_F16: fn(__VA_ARGS__, FMT_F16); break;   \
    case FMT_BF16: fn(__VA_ARGS__, FMT_BF16); break; \
    case FMT_LUT4: fn(__VA_ARGS__, FMT_LUT4); break; \
    case FMT_LUT8: fn(__VA_ARGS__, FMT_LUT8); break; \
    default: fn(__VA_ARGS__, FMT_LUT_N); break;      \
    }

static void reader_init(void *reader, const QMatrix *w) {
    Reader *rd = reader;
    *rd = (Reader){.w = w, .fmt = matrix_fmt(w), .group = -1};
    if (w->kind == QM_LUT) rd->nblocks = w->bits <= 6 ? 1 : 1 << (w->bits - 6);
}

static void reader_load_table(Reader *rd, int g) {
    int n = 1 << rd->w->bits;
    const uint16_t *src = rd->w->luts + (size_t)g * (size_t)n;
    uint8_t lo[1 << LUT_MAX_BITS] = {0}, hi[1 << LUT_MAX_BITS] = {0};
    for (int i = 0; i < n; i++) {
        rd->table[i] = f16_to_f32(src[i]);
        lo[i] = (uint8_t)src[i];
        hi[i] = (uint8_t)(src[i] >> 8);
    }
    for (int b = 0; b < rd->nblocks; b++) {
        rd->t_lo[b] = vld1q_u8_x4(lo + 64 * b);
        rd->t_hi[b] = vld1q_u8_x4(hi + 64 * b);
    }
    rd->group = g;
}

/* Start of row r's stored data, with its group's table loaded for LUT formats. */
ALWAYS_INLINE const void *reader_row(Reader *rd, int r, int fmt) {
    if (fmt >= FMT_LUT4 && r / rd->w->group != rd->group) reader_load_table(rd, r / rd->w->group);
    return qmat_row_data(rd->w, r);
}

typedef struct {
    float32x4_t v0, v1, v2, v3;
} F32x16;

/* 16 table indices starting at column c (c + 16 <= cols), one per byte. */
ALWAYS_INLINE uint8x16_t indices16(const Reader *rd, const uint8_t *row, int c, int fmt) {
    if (fmt == FMT_LUT4) { /* 8 bytes; index 2j is the low nibble of byte j */
        uint8x8_t raw = vld1_u8(row + (size_t)c / 2);
        uint8x8_t lo = vand_u8(raw, vdup_n_u8(0x0f)), hi = vshr_n_u8(raw, 4);
        return vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi));
    }
    if (fmt == FMT_LUT8) return vld1q_u8(row + c);
    uint8_t idx[16];
    for (int i = 0; i < 16; i++) idx[i] = (uint8_t)lut_get_index(row, c + i, rd->w->bits);
    return vld1q_u8(idx);
}

/* One byte plane of 16 table entries: TBL for entries 0..63, TBX (keeps lanes whose index is
 * out of range) for each further 64. */
ALWAYS_INLINE uint8x16_t lookup_plane(const uint8x16x4_t *planes, int nblocks, uint8x16_t idx) {
    uint8x16_t r = vqtbl4q_u8(planes[0], idx);
    for (int b = 1; b < nblocks; b++)
        r = vqtbx4q_u8(r, planes[b], vsubq_u8(idx, vdupq_n_u8((uint8_t)(64 * b))));
    return r;
}

/* Weights c..c+15 of a row as FP32; c + 16 <= cols. */
ALWAYS_INLINE F32x16 load16(const Reader *rd, const void *row, int c, int fmt) {
    switch (fmt) {
    case FMT_F32: {
        const float *p = (const float *)row + c;
        return (F32x16){vld1q_f32(p), vld1q_f32(p + 4), vld1q_f32(p + 8), vld1q_f32(p + 12)};
    }
    case FMT_F16: {
        const uint16_t *p = (const uint16_t *)row + c;
        float16x8_t a = vreinterpretq_f16_u16(vld1q_u16(p));
        float16x8_t b = vreinterpretq_f16_u16(vld1q_u16(p + 8));
        return (F32x16){vcvt_f32_f16(vget_low_f16(a)), vcvt_high_f32_f16(a),
                        vcvt_f32_f16(vget_low_f16(b)), vcvt_high_f32_f16(b)};
    }
    case FMT_BF16: { /* BF16 is the top half of an FP32 */
        const uint16_t *p = (const uint16_t *)row + c;
        uint16x8_t a = vld1q_u16(p), b = vld1q_u16(p + 8);
        return (F32x16){vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(a), 16)),
                        vreinterpretq_f32_u32(vshll_high_n_u16(a, 16)),
                        vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16)),
                        vreinterpretq_f32_u32(vshll_high_n_u16(b, 16))};
    }
    default: {
        uint8x16_t idx = indices16(rd, (const uint8_t *)row, c, fmt);
        uint8x16_t lo = lookup_plane(rd->t_lo, rd->nblocks, idx);
        uint8x16_t hi = lookup_plane(rd->t_hi, rd->nblocks, idx);
        float16x8_t h0 = vreinterpretq_f16_u8(vzip1q_u8(lo, hi)); /* weights 0..7 as FP16 */
        float16x8_t h1 = vreinterpretq_f16_u8(vzip2q_u8(lo, hi)); /* weights 8..15 */
        return (F32x16){vcvt_f32_f16(vget_low_f16(h0)), vcvt_high_f32_f16(h0),
                        vcvt_f32_f16(vget_low_f16(h1)), vcvt_high_f32_f16(h1)};
    }
    }
}

/* Weight c of a row as FP32 (the columns past the last 16). */
ALWAYS_INLINE float load1(const Reader *rd, const void *row, int c, int fmt) {
    return qmat_weight(fmt_kind(fmt), row, c, rd->w->bits, rd->table);
}

ALWAYS_INLINE float dot_row(const Reader *rd, const void *row, const float *x, int fmt) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int c = 0, cols = rd->w->cols;
    for (; c + 16 <= cols; c += 16) {
        F32x16 w = load16(rd, row, c, fmt);
        a0 = vfmaq_f32(a0, w.v0, vld1q_f32(x + c));
        a1 = vfmaq_f32(a1, w.v1, vld1q_f32(x + c + 4));
        a2 = vfmaq_f32(a2, w.v2, vld1q_f32(x + c + 8));
        a3 = vfmaq_f32(a3, w.v3, vld1q_f32(x + c + 12));
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; c < cols; c++) s += load1(rd, row, c, fmt) * x[c];
    return s;
}

/* Columns [c0, c1) of rows r .. r + nr - 1 to FP32, row r + i by reader rd[i] into
 * buf + i * F32_TILE_COLS. */
ALWAYS_INLINE void decode_rows(Reader *rd, int r, int nr, int c0, int c1, float *restrict buf, int fmt) {
    for (int i = 0; i < nr; i++, rd++, buf += F32_TILE_COLS) {
        const void *row = reader_row(rd, r + i, fmt);
        int c = c0;
        for (; c + 16 <= c1; c += 16) {
            F32x16 w = load16(rd, row, c, fmt);
            float *o = buf + (c - c0);
            vst1q_f32(o, w.v0), vst1q_f32(o + 4, w.v1), vst1q_f32(o + 8, w.v2), vst1q_f32(o + 12, w.v3);
        }
        for (; c < c1; c++) buf[c - c0] = load1(rd, row, c, fmt);
    }
}

/* acc[t][i] += tile row i . x[t] over n columns, for t < T (x row stride ldx). */
static void tile_fma(const void *const rows[TILE_ROWS], int n, const float *x, size_t ldx, int T, float *acc) {
    const float *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (; c + 4 <= n; c += 4) {
            float32x4_t u = vld1q_f32(xt + c);
            a0 = vfmaq_f32(a0, vld1q_f32(w0 + c), u);
            a1 = vfmaq_f32(a1, vld1q_f32(w1 + c), u);
            a2 = vfmaq_f32(a2, vld1q_f32(w2 + c), u);
            a3 = vfmaq_f32(a3, vld1q_f32(w3 + c), u);
        }
        float *a = acc + (size_t)t * TILE_ROWS;
        a[0] += vaddvq_f32(a0), a[1] += vaddvq_f32(a1);
        a[2] += vaddvq_f32(a2), a[3] += vaddvq_f32(a3);
        for (; c < n; c++)
            a[0] += w0[c] * xt[c], a[1] += w1[c] * xt[c], a[2] += w2[c] * xt[c], a[3] += w3[c] * xt[c];
    }
}

/* T == 1: one fused pass over each row. */
ALWAYS_INLINE void dot_rows(Reader *rd, const float *x, float *y, int r0, int r1, int fmt) {
    for (int r = r0; r < r1; r++) y[r] = dot_row(rd, reader_row(rd, r, fmt), x, fmt);
}

static void fp32_dot_rows(void *reader, const float *x, float *y, int r0, int r1) {
    WITH_FMT(((Reader *)reader)->fmt, dot_rows, reader, x, y, r0, r1);
}

static void fp32_decode(void *readers, int r, int nr, int c0, int c1, float *restrict buf) {
    WITH_FMT(((Reader *)readers)->fmt, decode_rows, readers, r, nr, c0, c1, buf);
}

/* tile_fma sums its lanes itself */
static void fp32_reduce(const float *acc, int T, int nr, float *y, size_t ldy) {
    for (int t = 0; t < T; t++) memcpy(y + (size_t)t * ldy, acc + (size_t)t * TILE_ROWS, sizeof(float) * (size_t)nr);
}

static void qmat_rows_neon(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    static const Fp32Tiling tiling = {sizeof(Reader), 1, reader_init, fp32_dot_rows, fp32_decode, tile_fma,
                                      fp32_reduce};
    Reader rd[TILE_ROWS];
    tile_matmul_f32(&tiling, rd, w, x, T, y, r0, r1);
}

/* ---- 8-bit activations (qmat_matmul_q8_rows) ----
 * Weights are decoded to int8 codes by table lookups (TBL on the group's code table).  The
 * integer dot of 32 columns (one activation block): vmull_s8 / vmlal_s8 put two int8 products in
 * each int16 lane (|w|, |q| <= 127: a pair stays within int16), one pairwise add widens to int32,
 * and one FP32 multiply-add per block applies the input's scale d.  Base ARMv8.0 Advanced SIMD
 * only (no dot-product extension).
 *
 * Every path (fused decode for T == 1, tiles for T > 1) performs the same FP32 operations in the
 * same order for a given row and input, so an output never depends on the batch size (integer
 * sums are exact in any order, but which products land in which int32 lane is kept the same too).
 * Both walk the padded width x->ld in steps of 64 columns with one float32x4 accumulator per row
 * and input, one FMA per block of 32 columns, blocks in order (q8_block); the result is the
 * horizontal sum of the accumulator (q8_hsum) times the group's scale.  4-bit works in nibble
 * order against x->q_nib (the low nibbles of 32 packed bytes are the 32 even columns of the 64,
 * the high nibbles the odd ones), other widths in column order against x->q.  The padding up to
 * x->ld adds exact zeros (x codes 0, d 0), and packed bytes near or past a row's end are read
 * through a zero-padded copy (q8_row_chunk), so there is no scalar tail and no read past
 * row_bytes. */

/* The group's code table (1 << bits entries) padded to 256 bytes with zeros, as TBL tables. */
typedef struct {
    int bits;
    const int8_t *codes;        /* the group's 1 << bits codes */
    int8x16x4_t t[4];           /* entries 64k .. 64k + 63 */
    _Alignas(16) int8_t pad[256];
} Q8Table;

static void q8_table_init(Q8Table *tb, const QMatrix *w, int g) {
    int n = 1 << w->bits;
    tb->bits = w->bits;
    tb->codes = w->lut_q8 + (size_t)g * (size_t)n;
    memset(tb->pad, 0, sizeof tb->pad);
    memcpy(tb->pad, tb->codes, (size_t)n);
    for (int k = 0; k < 4; k++) tb->t[k] = vld1q_s8_x4(tb->pad + 64 * k);
}

/* The `n` packed bytes from byte `off` of a row (n <= 32): the row itself when they lie within
 * row_bytes, else a copy of what is left of them in tail[32], zero-padded (those indices meet x
 * codes of 0, so whatever code they give adds 0). */
ALWAYS_INLINE const uint8_t *q8_row_chunk(const QMatrix *w, const uint8_t *row, size_t off, size_t n,
                                          uint8_t *tail) {
    if (off + n <= w->row_bytes) return row + off;
    memset(tail, 0, 32);
    if (off < w->row_bytes) memcpy(tail, row + off, w->row_bytes - off);
    return tail;
}

/* idx0..idx3 (lane j: index 4j + k of 32) -> the 32 indices in natural order, as two vectors. */
ALWAYS_INLINE uint8x16x2_t interleave4(uint8x8_t i0, uint8x8_t i1, uint8x8_t i2, uint8x8_t i3) {
    uint8x16_t p01 = vcombine_u8(vzip1_u8(i0, i1), vzip2_u8(i0, i1)); /* (4j, 4j+1) pairs */
    uint8x16_t p23 = vcombine_u8(vzip1_u8(i2, i3), vzip2_u8(i2, i3)); /* (4j+2, 4j+3) */
    uint16x8_t a = vreinterpretq_u16_u8(p01), b = vreinterpretq_u16_u8(p23);
    return (uint8x16x2_t){{vreinterpretq_u8_u16(vzip1q_u16(a, b)), vreinterpretq_u8_u16(vzip2q_u16(a, b))}};
}

/* 16 indices (< 256) -> codes. */
ALWAYS_INLINE int8x16_t lookup256(const Q8Table *tb, uint8x16_t idx) {
    int8x16_t r = vqtbl4q_s8(tb->t[0], idx);
    r = vqtbx4q_s8(r, tb->t[1], vsubq_u8(idx, vdupq_n_u8(64)));
    r = vqtbx4q_s8(r, tb->t[2], vsubq_u8(idx, vdupq_n_u8(128)));
    return vqtbx4q_s8(r, tb->t[3], vsubq_u8(idx, vdupq_n_u8(192)));
}

/* Codes of the 32 columns whose indices are the 4 * b bytes at p, in column order (widths other
 * than 4).  bits: the width when known at compile time, else 0 (then tb->bits). */
ALWAYS_INLINE int8x16x2_t decode32_q8(const Q8Table *tb, const uint8_t *p, int bits) {
    int b = bits ? bits : tb->bits;
    if (b == 6) { /* 24 bytes: byte triple j holds indices 4j .. 4j+3 */
        uint8x8x3_t v = vld3_u8(p);
        uint8x8_t m = vdup_n_u8(0x3f);
        uint8x8_t i0 = vand_u8(v.val[0], m);
        uint8x8_t i1 = vorr_u8(vshr_n_u8(v.val[0], 6), vand_u8(vshl_n_u8(v.val[1], 2), m));
        uint8x8_t i2 = vorr_u8(vshr_n_u8(v.val[1], 4), vand_u8(vshl_n_u8(v.val[2], 4), m));
        uint8x8_t i3 = vshr_n_u8(v.val[2], 2);
        uint8x16x2_t idx = interleave4(i0, i1, i2, i3);
        return (int8x16x2_t){{vqtbl4q_s8(tb->t[0], idx.val[0]), vqtbl4q_s8(tb->t[0], idx.val[1])}};
    }
    if (b == 2) { /* 8 bytes: byte j holds indices 4j .. 4j+3 */
        uint8x8_t raw = vld1_u8(p), m = vdup_n_u8(3);
        uint8x16x2_t idx = interleave4(vand_u8(raw, m), vand_u8(vshr_n_u8(raw, 2), m),
                                       vand_u8(vshr_n_u8(raw, 4), m), vshr_n_u8(raw, 6));
        int8x16_t tab = tb->t[0].val[0];
        return (int8x16x2_t){{vqtbl1q_s8(tab, idx.val[0]), vqtbl1q_s8(tab, idx.val[1])}};
    }
    if (b == 8) return (int8x16x2_t){{lookup256(tb, vld1q_u8(p)), lookup256(tb, vld1q_u8(p + 16))}};
    /* 3, 5, 7 bits: each 8 indices are b bytes, unpacked from one 64-bit word */
    _Alignas(16) int8_t out[32];
    uint64_t mask = (1u << b) - 1u;
    for (int k = 0; k < 4; k++) {
        uint64_t v = 0;
        for (int i = 0; i < b; i++) v |= (uint64_t)p[k * b + i] << (8 * i);
        for (int i = 0; i < 8; i++) out[8 * k + i] = tb->codes[(v >> (i * b)) & mask];
    }
    return (int8x16x2_t){{vld1q_s8(out), vld1q_s8(out + 16)}};
}

/* Codes of a row's columns [c, c + 64) (c a multiple of 64, possibly past cols) as 4 x 16 in the
 * order of the x codes they meet: 4-bit in nibble order (x->q_nib), other widths in column order
 * (x->q).  Reads only within row_bytes. */
ALWAYS_INLINE void decode64_q8(const QMatrix *w, const Q8Table *tb, const uint8_t *row, int c, int bits,
                               int8x16_t v[4]) {
    uint8_t tail[32];
    if (bits == 4) {
        const uint8_t *p = q8_row_chunk(w, row, (size_t)c / 2, 32, tail);
        uint8x16_t r0 = vld1q_u8(p), r1 = vld1q_u8(p + 16), nib = vdupq_n_u8(0x0f);
        int8x16_t tab = tb->t[0].val[0];
        v[0] = vqtbl1q_s8(tab, vandq_u8(r0, nib)); /* even columns of block 2k */
        v[1] = vqtbl1q_s8(tab, vandq_u8(r1, nib)); /* even columns of block 2k + 1 */
        v[2] = vqtbl1q_s8(tab, vshrq_n_u8(r0, 4)); /* odd columns of block 2k */
        v[3] = vqtbl1q_s8(tab, vshrq_n_u8(r1, 4)); /* odd columns of block 2k + 1 */
        return;
    }
    size_t n = 4 * (size_t)(bits ? bits : tb->bits); /* bytes per 32 columns */
    for (int h = 0; h < 2; h++) {
        int8x16x2_t b = decode32_q8(tb, q8_row_chunk(w, row, ((size_t)c / 32 + (size_t)h) * n, n, tail), bits);
        v[2 * h] = b.val[0], v[2 * h + 1] = b.val[1];
    }
}

/* Dot of 32 int8 codes as four int32 partial sums. */
ALWAYS_INLINE int32x4_t dot32_s8(int8x16_t w0, int8x16_t w1, int8x16_t u0, int8x16_t u1) {
    int16x8_t p0 = vmlal_high_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(u0)), w0, u0);
    int16x8_t p1 = vmlal_high_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(u1)), w1, u1);
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}

/* Where, within a 64-column step stored as 4 x 16 codes, the two 16-code halves of block j (0:
 * the step's first block, 1: its second) lie: vectors Q8_HALF(nib, j, 0) and Q8_HALF(nib, j, 1).
 * Nibble order (4-bit): the first block is vectors 0 and 2 (its even, then odd columns), the
 * second 1 and 3; column order: 0, 1 and 2, 3. */
#define Q8_HALF(nib, j, h) ((nib) ? (j) + 2 * (h) : 2 * (j) + (h))

/* The FP32 operation every path applies per block: acc += (int32 partial sums) * d. */
ALWAYS_INLINE float32x4_t q8_block(float32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t u0, int8x16_t u1, float d) {
    return vfmaq_n_f32(acc, vcvtq_f32_s32(dot32_s8(w0, w1, u0, u1)), d);
}

/* One 64-column step of one row and one input (the fused path): w, u the 4 x 16 weight / x
 * codes, d the scales of the step's two blocks. */
ALWAYS_INLINE float32x4_t q8_step(float32x4_t acc, const int8x16_t w[4], const int8x16_t u[4], const float *d,
                                  int nib) {
#define BLOCK(j) \
    q8_block(acc, w[Q8_HALF(nib, j, 0)], w[Q8_HALF(nib, j, 1)], u[Q8_HALF(nib, j, 0)], u[Q8_HALF(nib, j, 1)], d[j])
    acc = BLOCK(0); /* written out: a loop over j would index the arrays by a variable */
    return BLOCK(1);
#undef BLOCK
}

ALWAYS_INLINE void q8_load64(const int8_t *p, int8x16_t v[4]) {
    v[0] = vld1q_s8(p), v[1] = vld1q_s8(p + 16), v[2] = vld1q_s8(p + 32), v[3] = vld1q_s8(p + 48);
}

/* The final reduction, the same in every path. */
ALWAYS_INLINE float q8_hsum(float32x4_t acc) { return vaddvq_f32(acc); }

/* T == 1: one row against x's single input, fused decode + dot.  bits as for decode32_q8. */
ALWAYS_INLINE float dot_row_q8(const QMatrix *w, const Q8Table *tb, const uint8_t *row, const QActs *x, int bits) {
    int nib = bits == 4, ld = x->ld;
    const int8_t *q = nib ? x->q_nib : x->q;
    const float *d = x->d;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int c = 0; c < ld; c += 64) {
        int8x16_t wv[4], u[4];
        decode64_q8(w, tb, row, c, bits, wv);
        q8_load64(q + c, u);
        acc = q8_step(acc, wv, u, d + c / QACT_BLOCK, nib);
    }
    return q8_hsum(acc);
}

#define Q8_TILE_COLS 1024 /* 4 rows x 1024 codes = 4 KiB of L1 reused by every input */

/* acc[t][i] (a float32x4) += rows[i] . x[t] over n columns (a multiple of 64) from column c0
 * of x, for inputs t and, if two, t + 1: each weight load feeds two dots.  Per row and input the
 * same q8_block sequence as q8_step.  The 4 rows x 2 inputs accumulators are named variables
 * (no array for the compiler to promote), and the loop body is one block, not a whole 64-column
 * step: with 64 columns of x codes for two inputs live, GCC and Clang both spill accumulators. */
ALWAYS_INLINE void tile_q8_pair(const void *const rows[TILE_ROWS], int n, const QActs *x, int c0, int t, float *acc,
                                int nib, int two) {
    const int8_t *wq0 = rows[0], *wq1 = rows[1], *wq2 = rows[2], *wq3 = rows[3];
    size_t ld = (size_t)x->ld, ldd = ld / QACT_BLOCK;
    const int8_t *q0 = (nib ? x->q_nib : x->q) + (size_t)t * ld + c0, *q1 = q0 + ld;
    const float *d0 = x->d + (size_t)t * ldd + c0 / QACT_BLOCK, *d1 = d0 + ldd;
    float *a = acc + (size_t)t * TILE_ROWS * 4, *b = a + TILE_ROWS * 4;
    float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4), a2 = vld1q_f32(a + 8), a3 = vld1q_f32(a + 12);
    float32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    if (two) b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
    for (int c = 0; c < n; c += 64) {
        for (int j = 0; j < 2; j++) { /* the step's two blocks, as q8_step orders them */
            int o0 = c + 16 * Q8_HALF(nib, j, 0), o1 = c + 16 * Q8_HALF(nib, j, 1);
            float du = d0[c / QACT_BLOCK + j], dv = d1[c / QACT_BLOCK + j];
            int8x16_t u0 = vld1q_s8(q0 + o0), u1 = vld1q_s8(q0 + o1), v0 = u0, v1 = u1;
            if (two) v0 = vld1q_s8(q1 + o0), v1 = vld1q_s8(q1 + o1);
#define ROW(i)                                                         \
    do {                                                               \
        int8x16_t w0 = vld1q_s8(wq##i + o0), w1 = vld1q_s8(wq##i + o1); \
        a##i = q8_block(a##i, w0, w1, u0, u1, du);                     \
        if (two) b##i = q8_block(b##i, w0, w1, v0, v1, dv);            \
    } while (0)
            ROW(0);
            ROW(1);
            ROW(2);
            ROW(3);
#undef ROW
        }
    }
    vst1q_f32(a, a0), vst1q_f32(a + 4, a1), vst1q_f32(a + 8, a2), vst1q_f32(a + 12, a3);
    if (two) vst1q_f32(b, b0), vst1q_f32(b + 4, b1), vst1q_f32(b + 8, b2), vst1q_f32(b + 12, b3);
}

/* fn(..., bits) with bits a constant where the width has paths of its own (2, 4, 6, 8), else 0
 * (3, 5, 7: read from the table), so that fn and the always-inline loops it calls are
 * specialised per width. */
#define WITH_BITS(bits, fn, ...)        \
    switch (bits) {                     \
    case 2: fn(__VA_ARGS__, 2); break;  \
    case 4: fn(__VA_ARGS__, 4); break;  \
    case 6: fn(__VA_ARGS__, 6); break;  \
    case 8: fn(__VA_ARGS__, 8); break;  \
    default: fn(__VA_ARGS__, 0); break; \
    }

/* One 8-bit matmul: tile_matmul's state, and the T == 1 pass's. */
typedef struct {
    const QMatrix *w;
    const QActs *x;
    Q8Table tb[TILE_ROWS]; /* one per tile row: rows of a tile may belong to different groups */
    int tg[TILE_ROWS];     /* the group of tb[i]; -1 none yet */
    _Alignas(16) int8_t wq[TILE_ROWS][Q8_TILE_COLS];
} Q8Tiles;

/* Tile row i's table, loaded for row r. */
static const Q8Table *q8_table(Q8Tiles *q, int i, int r) {
    int g = r / q->w->group;
    if (g != q->tg[i]) q8_table_init(&q->tb[i], q->w, g), q->tg[i] = g;
    return &q->tb[i];
}

/* bits: the width when known at compile time (2, 4, 6, 8), else 0 (3, 5, 7: from the table). */
ALWAYS_INLINE void q8_dot_rows(Q8Tiles *q, float *y, int r0, int r1, int bits) {
    const QMatrix *w = q->w;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = qmat_row_data(w, r);
        y[r] = dot_row_q8(w, q8_table(q, 0, r), row, q->x, bits) * w->lut_q8_scale[r / w->group];
    }
}

ALWAYS_INLINE void q8_decode_rows(Q8Tiles *q, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS], int bits) {
    const QMatrix *w = q->w;
    for (int i = 0; i < nr; i++) {
        const Q8Table *tb = q8_table(q, i, r + i);
        const uint8_t *row = qmat_row_data(w, r + i);
        for (int c = 0; c < c1 - c0; c += 64) {
            int8x16_t wv[4];
            decode64_q8(w, tb, row, c0 + c, bits, wv);
            int8_t *o = q->wq[i] + c;
            vst1q_s8(o, wv[0]), vst1q_s8(o + 16, wv[1]), vst1q_s8(o + 32, wv[2]), vst1q_s8(o + 48, wv[3]);
        }
        rows[i] = q->wq[i];
    }
}

static void q8_decode(void *ctx, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS]) {
    WITH_BITS(((Q8Tiles *)ctx)->w->bits, q8_decode_rows, ctx, r, nr, c0, c1, rows);
}

ALWAYS_INLINE void q8_tile_bits(const Q8Tiles *q, const void *const rows[TILE_ROWS], int c0, int c1, float *acc,
                                int bits) {
    int T = q->x->T, nib = bits == 4, t = 0;
    for (; t + 2 <= T; t += 2) tile_q8_pair(rows, c1 - c0, q->x, c0, t, acc, nib, 1);
    if (t < T) tile_q8_pair(rows, c1 - c0, q->x, c0, t, acc, nib, 0);
}

static void q8_tile(void *ctx, const void *const rows[TILE_ROWS], int c0, int c1, float *acc) {
    const Q8Tiles *q = ctx;
    WITH_BITS(q->w->bits, q8_tile_bits, q, rows, c0, c1, acc);
}

static void q8_finish(void *ctx, const float *acc, int T, int r, int nr, float *y, size_t ldy) {
    const Q8Tiles *q = ctx;
    for (int t = 0; t < T; t++, acc += TILE_ROWS * 4, y += ldy)
        for (int i = 0; i < nr; i++) y[r + i] = q8_hsum(vld1q_f32(acc + 4 * i)) * q->w->lut_q8_scale[(r + i) / q->w->group];
}

static const TileKernel q8_tiles = {Q8_TILE_COLS, 4, q8_decode, q8_tile, q8_finish};

static void qmat_rows_q8_neon(const QMatrix *w, const QActs *x, float *y, int r0, int r1) {
    Q8Tiles q;
    q.w = w, q.x = x;
    for (int i = 0; i < TILE_ROWS; i++) q.tg[i] = -1;
    if (x->T == 1) {
        WITH_BITS(w->bits, q8_dot_rows, &q, y, r0, r1);
        return;
    }
    tile_matmul(&q8_tiles, &q, x->T, x->ld, y, (size_t)w->rows, r0, r1);
}

/* ---- vector loops (ops/vec.h) ---- */

/* Four accumulators of 4 lanes: FMLA latency is ~4 cycles with 2 or more pipes. */
static float vec_dot_neon(const float *a, const float *b, int n) {
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

static void vec_axpy_neon(float *y, float a, const float *x, int n) {
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

/* the many-row forms: the single ones row after row (the reference for the faster forms) */
static void vec_dot_rows_neon(const float *q, const float *k, size_t ldk, int rows, int n, float *out) {
    for (int j = 0; j < rows; j++) out[j] = vec_dot_neon(q, k + (size_t)j * ldk, n);
}

static void vec_axpy_rows_neon(float *y, const float *a, const float *x, size_t ldx, int rows, int n) {
    for (int j = 0; j < rows; j++) vec_axpy_neon(y, a[j], x + (size_t)j * ldx, n);
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

static void vec_gelu_tanh_neon(float *x, size_t n) {
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

static double vec_exp_shift_neon(float *x, float shift, int n) {
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

static int vec_round_f16_neon(float *x, size_t n) {
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

const KernelTable kernels_neon = {.name = "neon", .cpu_runs = cpu_has_neon,
                                  .matmul_rows = qmat_rows_neon, .matmul_q8_rows = qmat_rows_q8_neon,
                                  .dot = vec_dot_neon, .axpy = vec_axpy_neon, .dot_rows = vec_dot_rows_neon, .axpy_rows = vec_axpy_rows_neon, .gelu_tanh = vec_gelu_tanh_neon,
                                  .exp_shift = vec_exp_shift_neon, .round_f16 = vec_round_f16_neon,
                                  .quantize_step = qacts_quantize_step_ref /* not hot enough on NEON yet */};

#else
const KernelTable kernels_neon = {.name = "neon"}; /* not aarch64: known by name only */
#endif
