/* Internal to src/kernels: the one tiling driver of the SIMD families' batched matmuls.  Output
 * rows go TILE_ROWS at a time and the columns a tile's width at a time; per tile the family
 * decodes each row's columns once (decode) and runs every input over them (tile), so decoding the
 * stored format is amortised over the T inputs and the tile stays in L1 while they pass. */
#ifndef ANEMLL_TILING_H
#define ANEMLL_TILING_H

#include <stddef.h>

#include "quant/matrix.h"

#define TILE_ROWS 4
#define F32_TILE_COLS 512 /* 4 rows x 512 FP32 = 8 KiB: stays in L1 while all T inputs pass over it */

/* A family's side of one kind of tiled matmul; ctx is the family's state for one call. */
typedef struct {
    int tile_cols; /* columns per tile */
    int acc_lanes; /* partial sums the family keeps per input and row */
    /* Columns [c0, c1) of rows r .. r + nr - 1 as tile reads them: rows[i] for row r + i,
     * decoded into a buffer of tile row i's, or pointing into the matrix itself. */
    void (*decode)(void *ctx, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS]);
    /* acc[t][i][0, acc_lanes) += the tile's row i . input t over columns [c0, c1), for every t.
     * A short last tile repeats its row 0 in the rows past the matrix; their sums are dropped. */
    void (*tile)(void *ctx, const void *const rows[TILE_ROWS], int c0, int c1, float *acc);
    /* The row tile's outputs y[t * ldy + r + i], t < T and i < nr, from acc[t][i][0, acc_lanes). */
    void (*finish)(void *ctx, const float *acc, int T, int r, int nr, float *y, size_t ldy);
} TileKernel;

/* y[t * ldy + r] for rows [r0, r1) and t < T, over columns [0, width). */
void tile_matmul(const TileKernel *k, void *ctx, int T, int width, float *y, size_t ldy, int r0, int r1);

/* A family's FP32-activation matmul (qmat_matmul_rows), which every family runs the same way:
 * T == 1 by its fused pass over each row (dot_rows), T > 1 by tile_matmul with F32 rows read in
 * place and other formats decoded to FP32 by the tile row's reader (one per tile row: rows of a
 * tile may belong to different LUT groups). */
typedef struct {
    size_t reader_size; /* bytes of one of the family's readers */
    int acc_lanes;
    void (*reader_init)(void *reader, const QMatrix *w);
    /* T == 1: y[r] for r in [r0, r1) */
    void (*dot_rows)(void *reader, const float *x, float *y, int r0, int r1);
    /* Columns [c0, c1) of rows r .. r + nr - 1 as FP32, row r + i by reader i into
     * buf + i * F32_TILE_COLS; c0 a multiple of 32.  Not called for F32, read in place. */
    void (*decode)(void *readers, int r, int nr, int c0, int c1, float *buf);
    /* acc[t][i][0, acc_lanes) += rows[i] . x[t] over n columns, for t < T (x row stride ldx);
     * rows: the tile's rows as FP32. */
    void (*tile)(const void *const rows[TILE_ROWS], int n, const float *x, size_t ldx, int T, float *acc);
    /* y[t * ldy + i], t < T and i < nr, from acc[t][i][0, acc_lanes). */
    void (*reduce)(const float *acc, int T, int nr, float *y, size_t ldy);
} Fp32Tiling;

/* qmat_matmul_rows for T >= 1 and r0 < r1; readers: room for TILE_ROWS of k's readers. */
void tile_matmul_f32(const Fp32Tiling *k, void *readers, const QMatrix *w, const float *x, int T, float *y, int r0,
                     int r1);

#endif
