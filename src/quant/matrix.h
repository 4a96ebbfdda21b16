/* QMatrix: a weight matrix [rows = out features, cols = in features] in whatever form it is
 * stored (F32, F16, BF16 straight from a mapped file, or LUT-palettized), and the 8-bit forms of
 * its tables and of the inputs (QActs) that the 8-bit matmul reads.  The matmuls themselves are
 * quant/matmul.h's; they never make a dequantized copy of the whole matrix. */
#ifndef ANEMLL_MATRIX_H
#define ANEMLL_MATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "quant/lut_format.h"
#include "util/util.h"

typedef enum { QM_F32, QM_F16, QM_BF16, QM_LUT } QMatKind;

typedef struct {
    QMatKind kind;
    int rows, cols;
    const void *data;       /* F32/F16/BF16: [rows, cols] row-major; LUT: packed indices, row_bytes per row */
    /* LUT only */
    int bits;               /* index width, 2..8 */
    int group;              /* output rows sharing one table (== rows for one table per tensor) */
    size_t row_bytes;       /* ceil(cols * bits / 8) */
    const uint16_t *luts;   /* [ceil(rows / group)][1 << bits] FP16 centroids */
    /* 8-bit form of the tables for qmat_matmul_q8_rows (qmat_prepare_q8; owned, NULL until then):
     * entry i of group g ~= lut_q8[g][i] * lut_q8_scale[g], codes within +-QMAT_Q8_RANGE(bits) */
    int8_t *lut_q8;         /* [ngroups][1 << bits] */
    float *lut_q8_scale;    /* [ngroups] */
    /* The same codes one per weight, for kernels whose lookup of this width costs more than
     * reading a byte (qmat_prepare_codes8; owned, NULL until then): codes8[r * codes8_ld + c] =
     * lut_q8[g(r)][index (r, c)], zero for c >= cols */
    int8_t *codes8;         /* [rows][codes8_ld] */
    int codes8_ld;          /* cols rounded up to 64 */
} QMatrix;

/* Row r of W as FP32 (embedding lookup).   out: [cols] */
void qmat_row(const QMatrix *w, int r, float *out);

/* Start of row r's stored data: its weights (F32, F16, BF16) or its packed LUT indices. */
static inline const void *qmat_row_data(const QMatrix *w, int r) {
    size_t weight = w->kind == QM_F32 ? sizeof(float) : sizeof(uint16_t);
    return (const uint8_t *)w->data + (size_t)r * (w->kind == QM_LUT ? w->row_bytes : (size_t)w->cols * weight);
}

/* Weight c of a row of `kind` as FP32, given its qmat_row_data and, for LUT, its index width and
 * its group's table as FP32.  Inlined with a constant kind, only that kind's load remains. */
static inline float qmat_weight(QMatKind kind, const void *row, int c, int bits, const float *lut) {
    switch (kind) {
    case QM_F32: return ((const float *)row)[c];
    case QM_F16: return f16_to_f32(((const uint16_t *)row)[c]);
    case QM_BF16: return bf16_to_f32(((const uint16_t *)row)[c]);
    case QM_LUT: break;
    }
    return lut[lut_get_index(row, c, bits)];
}
/* What a pass over every row streams from memory: codes8 when built (the indices are then not
 * read), else the packed indices or the dense values (the small tables not included). */
typedef struct {
    const void *data;
    size_t bytes;
} QStream;
QStream qmat_stream(const QMatrix *w);
/* Bytes a pass over every row reads: qmat_stream's, plus a LUT matrix's tables. */
size_t qmat_bytes(const QMatrix *w);

/* ---- 8-bit activations (the fast path for LUT matrices) ----
 * A palettized matrix holds at most 2^bits distinct values per group, so its tables lose little
 * as 8-bit codes times one FP32 scale per group (error <= scale/2 = max|entry|/254).  With the
 * inputs also as 8-bit codes, one FP32 scale per block of 32 columns (as llama.cpp's Q8_0), a
 * matmul is integer dot products of 32 columns, each scaled once: four times the work per
 * instruction of FP32.  y[t, r] = s_g * sum_b d[t, b] * sum_{c in block b} code_w[r, c] * q[t, c]. */
#define QACT_BLOCK 32

typedef struct {
    int T, cols;
    int nblocks;       /* ceil(cols / QACT_BLOCK) */
    int ld;            /* codes per input: cols rounded up to 64 (whole pairs of blocks) */
    int8_t *q;         /* [T][ld] round(x / d), zero past cols */
    int8_t *q_nib;     /* [T][ld] the same codes ordered for 4-bit nibble lookups: each 64
                        * columns as their 32 even columns, then their 32 odd ones */
    float *d;          /* [T][ld / 32] max|x| / 127 over each block (0 for padding) */
    float *d_pair;     /* [T][ld / 64][8] d of blocks 2k (x4), then 2k + 1 (x4): the scales of a
                        * nibble-order step's 8 lanes, ready for one vector multiply */
    float *qsum;       /* [T] sum over blocks, in order, of d * (sum of the block's codes): what an
                        * offset added to every weight code adds to the output, per unit offset */
    size_t cap_q, cap_d;
} QActs;

/* Table codes span +-127, except for 4 bits and fewer: +-63.  A 16-entry table is far coarser than
 * 7-bit codes of its entries, and codes that fit 7 bits let a kernel offset them to unsigned
 * (code + 64 <= 127) and multiply unsigned by signed bytes with no sign juggling. */
#define QMAT_Q8_RANGE(bits) ((bits) <= 4 ? 63 : 127)

/* Adding then subtracting 1.5 * 2^23 rounds |v| < 2^22 to the nearest integer, ties to even, as
 * nearbyintf does but without a library call per element (the quantizers, reference and SIMD). */
#define QMAT_ROUND_MAGIC 12582912.0f

/* Build lut_q8 / lut_q8_scale for a QM_LUT matrix (no-op otherwise, or if already built). */
void qmat_prepare_q8(QMatrix *w);
void qmat_free_q8(QMatrix *w);
/* Build codes8 for a QM_LUT matrix whose lut_q8 is built (no-op otherwise, or if already built),
 * with n_threads threads; 33% more bytes than 6-bit indices, read with no unpacking or lookup. */
void qmat_prepare_codes8(QMatrix *w, int n_threads);
/* x: [T, cols] FP32 -> a (its buffers grow as needed; free with qacts_free). */
void qacts_quantize(QActs *a, const float *x, int T, int cols);
/* The same in two steps, so inputs can be quantized by several threads: qacts_resize sets a's
 * shape, then qacts_quantize_rows fills inputs [t0, t1) of x ([T, cols], the whole batch). */
void qacts_resize(QActs *a, int T, int cols);
void qacts_quantize_rows(QActs *a, const float *x, int t0, int t1);
/* One step of 64 columns of an input: x[0, n) (n <= 64; zero past n) -> its codes in column order
 * q[64] and in nibble order q_nib[64] (the 32 even columns, then the 32 odd ones), the scales of
 * its two blocks d[2] and the sums of their codes sums[2].  The reference every kernel family's
 * quantize_step (kernels/kernels.h) gives bit for bit; qacts_quantize_rows runs the active one. */
void qacts_quantize_step_ref(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]);
void qacts_free(QActs *a);

#endif
