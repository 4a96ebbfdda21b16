/* QMatrix: a weight matrix [rows = out features, cols = in features] in whatever form it is
 * stored (F32, F16, BF16 straight from a mapped file, or LUT-palettized), and the matmul that
 * reads it without ever making a dequantized copy of the whole matrix. */
#ifndef ANEMLL_MATRIX_H
#define ANEMLL_MATRIX_H

#include <stddef.h>
#include <stdint.h>

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
} QMatrix;

/* y[t, r] = sum_c W[r, c] * x[t, c] for t < T.   x: [T, cols], y: [T, rows], FP32. */
void qmat_matmul(const QMatrix *w, const float *x, int T, float *y);
/* Row r of W as FP32 (embedding lookup).   out: [cols] */
void qmat_row(const QMatrix *w, int r, float *out);
/* Bytes the matrix occupies (indices + tables). */
size_t qmat_bytes(const QMatrix *w);

/* qmat_matmul restricted to output rows [r0, r1): writes y[t, r] for those rows only, so callers
 * can split one matmul across threads by row ranges. */
void qmat_matmul_rows(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);

/* Kernel selection.  AUTO picks the best path this CPU runs (AVX2+FMA+F16C on x86-64, NEON on
 * aarch64, else scalar).  The environment variable ANEMLL_KERNEL=scalar|avx2|neon|auto is read
 * once, at the first matmul; qmat_set_kernel overrides it (tests force each path). */
typedef enum { QMAT_KERNEL_AUTO, QMAT_KERNEL_SCALAR, QMAT_KERNEL_AVX2, QMAT_KERNEL_NEON } QMatKernel;

int qmat_kernel_available(QMatKernel k);
/* Force a path (AUTO: back to the best).  Returns 0, or -1 with err_set if unavailable. */
int qmat_set_kernel(QMatKernel k);
/* The path qmat_matmul runs now (never AUTO). */
QMatKernel qmat_active_kernel(void);
const char *qmat_kernel_name(QMatKernel k);
/* "scalar" / "avx2" / "neon" / "auto" -> kernel; -1 if unknown. */
int qmat_kernel_parse(const char *s, QMatKernel *out);

#endif
