#include "kernels/tiling.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void tile_matmul(const TileKernel *k, void *ctx, int T, int width, float *y, size_t ldy, int r0, int r1) {
    size_t per_tile = (size_t)k->acc_lanes * TILE_ROWS * (size_t)T;
    float *acc = xmalloc(sizeof(float) * per_tile);
    for (int r = r0; r < r1; r += TILE_ROWS) {
        int nr = r1 - r < TILE_ROWS ? r1 - r : TILE_ROWS;
        memset(acc, 0, sizeof(float) * per_tile);
        for (int c0 = 0; c0 < width; c0 += k->tile_cols) {
            int c1 = c0 + k->tile_cols < width ? c0 + k->tile_cols : width;
            const void *rows[TILE_ROWS];
            k->decode(ctx, r, nr, c0, c1, rows);
            for (int i = nr; i < TILE_ROWS; i++) rows[i] = rows[0];
            k->tile(ctx, rows, c0, c1, acc);
        }
        k->finish(ctx, acc, T, r, nr, y, ldy);
    }
    free(acc);
}

/* ---- FP32 activations ---- */

typedef struct {
    const Fp32Tiling *k;
    char *readers;
    const QMatrix *w;
    const float *x;
    int T;
    _Alignas(64) float buf[TILE_ROWS][F32_TILE_COLS];
} Fp32Tiles;

static void f32_decode(void *ctx, int r, int nr, int c0, int c1, const void *rows[TILE_ROWS]) {
    Fp32Tiles *f = ctx;
    const QMatrix *w = f->w;
    if (w->kind != QM_F32) f->k->decode(f->readers, r, nr, c0, c1, &f->buf[0][0]);
    for (int i = 0; i < nr; i++)
        rows[i] = w->kind == QM_F32 ? (const float *)qmat_row_data(w, r + i) + c0 : f->buf[i];
}

static void f32_tile(void *ctx, const void *const rows[TILE_ROWS], int c0, int c1, float *acc) {
    const Fp32Tiles *f = ctx;
    f->k->tile(rows, c1 - c0, f->x + c0, (size_t)f->w->cols, f->T, acc);
}

static void f32_finish(void *ctx, const float *acc, int T, int r, int nr, float *y, size_t ldy) {
    ((const Fp32Tiles *)ctx)->k->reduce(acc, T, nr, y + r, ldy);
}

void tile_matmul_f32(const Fp32Tiling *k, void *readers, const QMatrix *w, const float *x, int T, float *y, int r0,
                     int r1) {
    if (T == 1) {
        k->reader_init(readers, w);
        k->dot_rows(readers, x, y, r0, r1);
        return;
    }
    Fp32Tiles f;
    f.k = k, f.readers = readers, f.w = w, f.x = x, f.T = T;
    for (int i = 0; i < TILE_ROWS; i++) k->reader_init(f.readers + (size_t)i * k->reader_size, w);
    const TileKernel tiles = {F32_TILE_COLS, k->acc_lanes, f32_decode, f32_tile, f32_finish};
    tile_matmul(&tiles, &f, T, w->cols, y, (size_t)w->rows, r0, r1);
}
