/* NEON matmul kernels for aarch64 (Advanced SIMD is part of the base ISA there).
 *
 * Same shape as matrix_avx2.c: one primitive, load16 (16 consecutive weights of a row as FP32),
 * used by a fused decode-dot for T == 1 and by a 4-row x 512-column tile expanded once and
 * reused for every input when T > 1.  LUT lookups of any width are table instructions on the
 * FP16 entries split into low/high byte planes: TBL covers 64 entries, TBX extends to 256. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <stdlib.h>
#include <string.h>

#include "quant/lut.h"
#include "quant/matrix_kernels.h"
#include "util/util.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

enum {
    FMT_F32,
    FMT_F16,
    FMT_BF16,
    FMT_LUT4,  /* indices are nibbles */
    FMT_LUT8,  /* indices are bytes */
    FMT_LUT_N, /* other widths: indices unpacked one by one, looked up 16 at a time */
};

typedef struct {
    const QMatrix *w;
    int nblocks; /* LUT: 64-entry blocks of the table (1, 2 or 4) */
    int group;   /* whose table is loaded; -1 none yet */
    uint8x16x4_t t_lo[4], t_hi[4]; /* FP16 entries' low / high bytes, 64 per block */
    float table[1 << LUT_MAX_BITS];
} Reader;

static void reader_init(Reader *rd, const QMatrix *w) {
    memset(rd, 0, sizeof *rd);
    rd->w = w;
    rd->group = -1;
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

ALWAYS_INLINE const void *reader_row(Reader *rd, int r, int fmt) {
    const QMatrix *w = rd->w;
    size_t off = (size_t)r * (size_t)w->cols;
    switch (fmt) {
    case FMT_F32: return (const float *)w->data + off;
    case FMT_F16:
    case FMT_BF16: return (const uint16_t *)w->data + off;
    default:
        if (r / w->group != rd->group) reader_load_table(rd, r / w->group);
        return (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    }
}

typedef struct {
    float32x4_t v0, v1, v2, v3;
} F32x16;

/* 16 table indices starting at column c (c + 16 <= cols), one per byte. */
ALWAYS_INLINE uint8x16_t indices16(const Reader *rd, const uint8_t *row, int c, int fmt) {
    if (fmt == FMT_LUT4) { /* 8 bytes; index 2j is the low nibble of byte j */
        uint8x8_t raw = vld1_u8(row + c / 2);
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

ALWAYS_INLINE float load1(const Reader *rd, const void *row, int c, int fmt) {
    switch (fmt) {
    case FMT_F32: return ((const float *)row)[c];
    case FMT_F16: return f16_to_f32(((const uint16_t *)row)[c]);
    case FMT_BF16: return bf16_to_f32(((const uint16_t *)row)[c]);
    default: return rd->table[lut_get_index(row, c, rd->w->bits)];
    }
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

/* Row columns [c0, c1) to FP32 in out[0, c1 - c0). */
ALWAYS_INLINE void decode_range(const Reader *rd, const void *row, int c0, int c1, float *out,
                                int fmt) {
    int c = c0;
    for (; c + 16 <= c1; c += 16) {
        F32x16 w = load16(rd, row, c, fmt);
        float *o = out + (c - c0);
        vst1q_f32(o, w.v0), vst1q_f32(o + 4, w.v1), vst1q_f32(o + 8, w.v2), vst1q_f32(o + 12, w.v3);
    }
    for (; c < c1; c++) out[c - c0] = load1(rd, row, c, fmt);
}

#define TILE_ROWS 4
#define TILE_COLS 512

/* acc[t][i] += tile row i . x[t] over n columns, for t < T (x row stride ldx). */
static void tile_fma(const float *const tile[TILE_ROWS], int n, const float *x, size_t ldx, int T,
                     float *acc) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (; c + 4 <= n; c += 4) {
            float32x4_t u = vld1q_f32(xt + c);
            a0 = vfmaq_f32(a0, vld1q_f32(tile[0] + c), u);
            a1 = vfmaq_f32(a1, vld1q_f32(tile[1] + c), u);
            a2 = vfmaq_f32(a2, vld1q_f32(tile[2] + c), u);
            a3 = vfmaq_f32(a3, vld1q_f32(tile[3] + c), u);
        }
        float *a = acc + (size_t)t * TILE_ROWS;
        a[0] += vaddvq_f32(a0), a[1] += vaddvq_f32(a1);
        a[2] += vaddvq_f32(a2), a[3] += vaddvq_f32(a3);
        for (; c < n; c++)
            for (int i = 0; i < TILE_ROWS; i++) a[i] += tile[i][c] * xt[c];
    }
}

ALWAYS_INLINE void rows_fmt(const QMatrix *w, const float *x, int T, float *y, int r0, int r1,
                            int fmt) {
    Reader rd[TILE_ROWS]; /* one per tile row: rows of a tile may belong to different groups */
    size_t ldy = (size_t)w->rows, cols = (size_t)w->cols;
    for (int i = 0; i < TILE_ROWS; i++) reader_init(&rd[i], w);
    if (T == 1) {
        for (int r = r0; r < r1; r++) y[r] = dot_row(&rd[0], reader_row(&rd[0], r, fmt), x, fmt);
        return;
    }
    float buf[TILE_ROWS][TILE_COLS];
    float *acc = xmalloc(sizeof(float) * TILE_ROWS * (size_t)T);
    for (int r = r0; r < r1; r += TILE_ROWS) {
        int nr = r1 - r < TILE_ROWS ? r1 - r : TILE_ROWS;
        const void *row[TILE_ROWS];
        for (int i = 0; i < nr; i++) row[i] = reader_row(&rd[i], r + i, fmt);
        memset(acc, 0, sizeof(float) * TILE_ROWS * (size_t)T);
        for (int c0 = 0; c0 < w->cols; c0 += TILE_COLS) {
            int c1 = c0 + TILE_COLS < w->cols ? c0 + TILE_COLS : w->cols;
            const float *tile[TILE_ROWS];
            for (int i = 0; i < TILE_ROWS; i++) {
                if (i >= nr) {
                    tile[i] = tile[0]; /* short last tile: repeat row 0, drop its sums */
                } else if (fmt == FMT_F32) {
                    tile[i] = (const float *)row[i] + c0;
                } else {
                    decode_range(&rd[i], row[i], c0, c1, buf[i], fmt);
                    tile[i] = buf[i];
                }
            }
            tile_fma(tile, c1 - c0, x + c0, cols, T, acc);
        }
        for (int t = 0; t < T; t++)
            for (int i = 0; i < nr; i++)
                y[(size_t)t * ldy + (size_t)(r + i)] = acc[(size_t)t * TILE_ROWS + (size_t)i];
    }
    free(acc);
}

void qmat_rows_neon(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    switch (w->kind) {
    case QM_F32: rows_fmt(w, x, T, y, r0, r1, FMT_F32); break;
    case QM_F16: rows_fmt(w, x, T, y, r0, r1, FMT_F16); break;
    case QM_BF16: rows_fmt(w, x, T, y, r0, r1, FMT_BF16); break;
    case QM_LUT:
        if (w->bits == 4) rows_fmt(w, x, T, y, r0, r1, FMT_LUT4);
        else if (w->bits == 8) rows_fmt(w, x, T, y, r0, r1, FMT_LUT8);
        else rows_fmt(w, x, T, y, r0, r1, FMT_LUT_N);
        break;
    }
}

#else
typedef int matrix_neon_unused; /* not aarch64: nothing to build */
#endif
