/* LUT palettization (ANEMLL's recipe, coremltools mode="kmeans"): every group of `g` consecutive
 * output rows shares a table of 2^bits FP16 centroids fitted by 1-D k-means, and every weight is
 * stored as the bits-wide index of its nearest centroid.  Dequant: W[r, c] = lut[r / g][idx[r, c]].
 *
 * Packed index layout (what qmat_row / qmat_matmul decode):
 *   - each row occupies row_bytes = ceil(cols * bits / 8) bytes and starts on a byte boundary;
 *   - within a row the indices form a little-endian bit stream: index c occupies bits
 *     [c*bits, c*bits + bits) counting from bit 0 (the least significant bit) of byte 0, its
 *     low bits first.  So 4-bit packs two per byte, low nibble first; 6-bit packs four per three
 *     bytes; 8-bit is one byte per index; unused high bits of a row's last byte are zero.
 * Tables: [ngroups][1 << bits] uint16 FP16, ascending within each table. */
#ifndef ANEMLL_LUT_H
#define ANEMLL_LUT_H

#include <stddef.h>
#include <stdint.h>

#include "quant/matrix.h"

#define LUT_MIN_BITS 2
#define LUT_MAX_BITS 8
#define LUT_DEFAULT_ITERS 100

typedef struct {
    int bits;        /* 2..8: 2^bits centroids per table */
    int per_channel; /* g: consecutive output rows sharing a table; 0 = one table for the tensor */
    int max_iters;   /* Lloyd iteration cap; 0 = LUT_DEFAULT_ITERS */
} LutSpec;

/* A palettized matrix that owns its buffers (lut_palettize). */
typedef struct {
    int rows, cols, bits;
    int group;       /* rows per table, per_channel resolved (0 -> rows); the last may be partial */
    int ngroups;
    size_t row_bytes;
    uint8_t *indices; /* [rows][row_bytes] */
    uint16_t *luts;   /* [ngroups][1 << bits] */
} LutMatrix;

size_t lut_row_bytes(int cols, int bits);
/* Rows per table for a spec: per_channel, or rows when per_channel is 0 (or exceeds rows). */
int lut_group_rows(int rows, int per_channel);
int lut_num_groups(int rows, int group);

/* Index c of a packed row (see the layout above). */
static inline unsigned lut_get_index(const uint8_t *row, int c, int bits) {
    size_t bit = (size_t)c * (size_t)bits;
    unsigned v = row[bit >> 3];
    if ((bit & 7) + (size_t)bits > 8) v |= (unsigned)row[(bit >> 3) + 1] << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1u);
}
/* idx[cols] (each < 2^bits) <-> one packed row of lut_row_bytes(cols, bits) bytes. */
void lut_pack_row(const uint8_t *idx, int cols, int bits, uint8_t *row);
void lut_unpack_row(const uint8_t *row, int cols, int bits, uint8_t *idx);

/* Fit one table: k-means (k = 2^bits) over distinct values `v` (strictly ascending, finite) with
 * weights `count` (> 0), d >= 1 of them.  Deterministic: quantile initialisation, weighted Lloyd
 * iterations until the clustering stops changing or max_iters, empty clusters refilled by
 * splitting the one with the largest squared error.  When d <= k the table holds the values
 * themselves (exact up to FP16 rounding).  table: [1 << bits] FP16, ascending. */
void lut_fit_table(const double *v, const double *count, size_t d, int bits, int max_iters,
                   uint16_t *table);

/* Palettize `src` (kind F32, F16, BF16 or LUT) into caller buffers: indices [rows][lut_row_bytes],
 * luts [ngroups][1 << bits].  Groups are spread over n_threads threads (<= 1: the calling thread
 * only); the result does not depend on n_threads.  Memory: F16/BF16 sources are read in place
 * (each thread keeps ~2 MiB of counters); other kinds are converted one group at a time, 12 bytes
 * per weight of a group per thread (so g = 0 on a big F32 tensor costs 12 bytes per weight).
 * Returns 0, or -1 with err_set (bad spec, NaN/inf or a weight beyond the FP16 range). */
int lut_palettize_into(const QMatrix *src, LutSpec spec, int n_threads, uint8_t *indices,
                       uint16_t *luts);
/* Same, allocating the result.  Free with lut_matrix_free. */
int lut_palettize(const QMatrix *src, LutSpec spec, int n_threads, LutMatrix *out);
void lut_matrix_free(LutMatrix *m);
/* A QMatrix (kind QM_LUT) that reads m's buffers. */
QMatrix lut_matrix_view(const LutMatrix *m);

#endif
