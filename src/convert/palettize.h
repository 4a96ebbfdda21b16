/* LUT palettization (ANEMLL's recipe, coremltools mode="kmeans"): fits each group's table of
 * 2^bits FP16 centroids by 1-D k-means and stores every weight as the index of its nearest
 * centroid, in the packed format of quant/lut_format.h. */
#ifndef ANEMLL_PALETTIZE_H
#define ANEMLL_PALETTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "quant/lut_format.h"
#include "quant/matrix.h"

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
