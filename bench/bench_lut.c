/* Throughput of LUT palettization and of the matmul kernels on a random BF16 matrix.
 *   build/bench/bench_lut [rows cols [threads]]      (default 10240 2560, 2 threads)
 * Palettization: M weights/s for several specs and thread counts.
 * Matmul: ms per call for T = 1 (decode: GB/s of weight bytes read) and T = 64 (prefill:
 * GFLOP/s), for each available kernel and weight format.
 * Batched decode: ms per 8-bit call at T = 1, 2, 4, 8 (a server's step for that many streams)
 * and each against T = 1, for the SIMD kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/palettize.h"
#include "kernels/kernels.h"
#include "quant/lut_format.h"
#include "kernels/matmul.h"
#include "quant/matrix.h"
#include "util/util.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static float gauss(void) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        u[i] = (double)(rng >> 11) * (1.0 / 9007199254740992.0);
    }
    return (float)(sqrt(-2.0 * log(u[0] + 1e-300)) * cos(6.283185307179586 * u[1]));
}

static double mse_vs(const QMatrix *q, const QMatrix *ref) {
    float *a = xmalloc(sizeof(float) * (size_t)q->cols);
    float *b = xmalloc(sizeof(float) * (size_t)q->cols);
    double s = 0.0;
    for (int r = 0; r < q->rows; r += 97) { /* a sample of rows is enough for a figure */
        qmat_row(q, r, a);
        qmat_row(ref, r, b);
        for (int c = 0; c < q->cols; c++) s += ((double)a[c] - b[c]) * ((double)a[c] - b[c]);
    }
    free(a);
    free(b);
    return s / ((double)((q->rows + 96) / 97) * q->cols);
}

/* Mean seconds per matmul call, repeating for at least ~0.3 s.  xq: the 8-bit path (with x
 * quantized inside the timing, as the forward pass does), or NULL for FP32 activations. */
static double time_matmul(const QMatrix *w, const float *x, QActs *xq, int T, float *y) {
    int n = -1; /* the first call warms up */
    double t0 = 0, t = 0;
    do {
        if (n == 0) t0 = now_seconds();
        if (xq) {
            qacts_quantize(xq, x, T, w->cols);
            qmat_matmul_q8_rows(w, xq, y, 0, w->rows);
        } else {
            qmat_matmul(w, x, T, y);
        }
        n++;
        t = now_seconds() - t0;
    } while (n < 1 || t < 0.3);
    return t / n;
}

int main(int argc, char **argv) {
    int rows = argc > 2 ? atoi(argv[1]) : 10240, cols = argc > 2 ? atoi(argv[2]) : 2560;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (rows <= 0 || cols <= 0 || threads <= 0) {
        fprintf(stderr, "usage: bench_lut [rows cols [threads]]\n");
        return 2;
    }
    size_t n = (size_t)rows * (size_t)cols;
    uint16_t *w16 = xmalloc(n * 2);
    for (size_t i = 0; i < n; i++) w16[i] = f32_to_bf16(0.02f * gauss());
    QMatrix src = {.kind = QM_BF16, .rows = rows, .cols = cols, .data = w16};
    printf("matrix %d x %d BF16 (gaussian, sigma 0.02)\n\n", rows, cols);

    printf("palettize                     threads   seconds   M weights/s   MSE/var\n");
    static const struct { int bits, g; } specs[] = {{4, 4}, {6, 4}, {8, 4}, {2, 0}, {4, 0}};
    LutMatrix keep4 = {0}, keep6 = {0};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        /* the first spec also single-threaded, for the scaling figure */
        int runs[2] = {1, threads}, first = (i == 0 && threads > 1) ? 0 : 1;
        for (int ri = first; ri < 2; ri++) {
            int th = runs[ri];
            LutMatrix lm;
            double t0 = now_seconds();
            if (lut_palettize(&src, (LutSpec){specs[i].bits, specs[i].g, 0}, th, &lm) != 0) {
                fprintf(stderr, "bench_lut: %s\n", err_get());
                return 1;
            }
            double dt = now_seconds() - t0;
            QMatrix q = lut_matrix_view(&lm);
            printf("  LUT%d, per_channel %-4d       %5d   %7.2f   %11.1f   %.5f\n", specs[i].bits,
                   specs[i].g, th, dt, (double)n / dt / 1e6, mse_vs(&q, &src) / (0.02 * 0.02));
            if (specs[i].bits == 4 && specs[i].g == 4 && !keep4.indices) keep4 = lm;
            else if (specs[i].bits == 6 && specs[i].g == 4 && !keep6.indices) keep6 = lm;
            else lut_matrix_free(&lm);
        }
    }

    printf("\nmatmul (1 thread)   kernel     T=1 ms    GB/s   T=64 ms  GFLOP/s\n");
    float *x = xmalloc(sizeof(float) * 64 * (size_t)cols);
    float *y = xmalloc(sizeof(float) * 64 * (size_t)rows);
    for (size_t i = 0; i < 64 * (size_t)cols; i++) x[i] = gauss();
    QMatrix mats[3] = {src, lut_matrix_view(&keep4), lut_matrix_view(&keep6)};
    static const char *names[3] = {"BF16", "LUT4,g4", "LUT6,g4"};
    QActs xq = {0};
    for (int m = 0; m < 3; m++) {
        qmat_prepare_q8(&mats[m]);
        for (int q8 = 0; q8 < 1 + (mats[m].lut_q8 != NULL); q8++)
            for (QMatKernel k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++) {
                if (qmat_set_kernel(k) != 0) continue;
                QActs *a = q8 ? &xq : NULL;
                double t1 = time_matmul(&mats[m], x, a, 1, y), t64 = time_matmul(&mats[m], x, a, 64, y);
                double gbs = (double)qmat_bytes(&mats[m]) / t1 / 1e9;
                double gflops = 2.0 * 64 * (double)n / t64 / 1e9;
                printf("  %-8s %-7s  %-8s %8.3f %7.2f %9.2f %8.2f\n", names[m], q8 ? "x int8" : "x fp32",
                       qmat_kernel_name(k), t1 * 1e3, gbs, t64 * 1e3, gflops);
            }
        qmat_free_q8(&mats[m]);
    }

    printf("\nbatched decode, x int8 (1 thread)   T=1 ms   T=2 ms (x)     T=4 ms (x)     T=8 ms (x)\n");
    for (int m = 1; m < 3; m++) {
        qmat_prepare_q8(&mats[m]);
        for (QMatKernel k = QMAT_KERNEL_SCALAR + 1; k < QMAT_KERNEL_END; k++) {
            if (qmat_set_kernel(k) != 0) continue;
            double t1 = time_matmul(&mats[m], x, &xq, 1, y);
            printf("  %-8s %-24s %7.3f", names[m], qmat_kernel_name(k), t1 * 1e3);
            for (int T = 2; T <= 8; T *= 2) {
                double t = time_matmul(&mats[m], x, &xq, T, y);
                printf("   %7.3f (%.2f)", t * 1e3, t / t1);
            }
            printf("\n");
        }
        qmat_free_q8(&mats[m]);
    }
    qacts_free(&xq);
    lut_matrix_free(&keep4);
    lut_matrix_free(&keep6);
    free(x);
    free(y);
    free(w16);
    return 0;
}
