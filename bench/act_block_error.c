/* What the activation block size costs in accuracy: the relative error of y = W x when x is
 * quantized to 8-bit codes with one scale (max|x| / 127) per block of B columns, for B = 32 (what
 * the engine uses), 64, 128 and 256 (llama.cpp's Q8_K), on inputs shaped like a transformer's:
 * Gaussian, heavy-tailed, and Gaussian with a few outlier channels.  Coarser blocks would let a
 * kernel convert and scale its integer sums less often (see the README's Speed section); this is
 * the price.  W is Gaussian and exact, so only the activations' error is measured.
 *   build/bench/act_block_error [rows cols [inputs]]   (default 512 1152 50) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/rng.h"
#include "util/util.h"

static uint64_t seed = 20261201;

/* Box-Muller on two splitmix64 draws (u in (0, 1], so the log is finite) */
static float gauss(void) {
    double u = (double)((splitmix64(&seed) >> 11) + 1) * 0x1p-53, v = (double)(splitmix64(&seed) >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static const int blocks[] = {32, 64, 128, 256};
enum { NBLOCKS = sizeof blocks / sizeof blocks[0] };

/* x quantized per block of b columns and back to FP32, as the engine's quantizer does for b = 32 */
static void fake_quantize(const float *x, int n, int b, float *out) {
    for (int c0 = 0; c0 < n; c0 += b) {
        int c1 = c0 + b < n ? c0 + b : n;
        float amax = 0.0f;
        for (int c = c0; c < c1; c++) amax = fmaxf(amax, fabsf(x[c]));
        float d = amax / 127.0f;
        for (int c = c0; c < c1; c++) out[c] = d > 0.0f ? nearbyintf(x[c] / d) * d : 0.0f;
    }
}

/* sqrt(sum (y - yq)^2 / sum y^2) over the rows */
static double rel_error(const float *w, int rows, int cols, const float *x, const float *xq) {
    double e = 0.0, norm = 0.0;
    for (int r = 0; r < rows; r++) {
        double y = 0.0, yq = 0.0;
        for (int c = 0; c < cols; c++) {
            y += (double)w[(size_t)r * cols + c] * x[c];
            yq += (double)w[(size_t)r * cols + c] * xq[c];
        }
        e += (y - yq) * (y - yq);
        norm += y * y;
    }
    return sqrt(e / norm);
}

int main(int argc, char **argv) {
    int rows = argc > 2 ? atoi(argv[1]) : 512, cols = argc > 2 ? atoi(argv[2]) : 1152;
    int inputs = argc > 3 ? atoi(argv[3]) : 50;
    if (rows <= 0 || cols <= 0 || inputs <= 0) {
        fprintf(stderr, "usage: act_block_error [rows cols [inputs]]\n");
        return 2;
    }
    float *w = xmalloc(sizeof(float) * (size_t)rows * (size_t)cols);
    float *x = xmalloc(sizeof(float) * (size_t)cols), *xq = xmalloc(sizeof(float) * (size_t)cols);
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) w[i] = gauss();
    static const char *kinds[] = {"gaussian", "heavy tail (g^3)", "gelu(g) * g", "4 outlier channels x30",
                                  "4 outlier channels x100"};
    printf("relative error of W x (%d x %d), x as 8-bit codes per block, mean of %d inputs\n", rows, cols, inputs);
    printf("%-26s", "input");
    for (int b = 0; b < NBLOCKS; b++) printf("   block %3d", blocks[b]);
    printf("\n");
    for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++) {
        double err[NBLOCKS] = {0};
        for (int n = 0; n < inputs; n++) {
            for (int c = 0; c < cols; c++) {
                float g = gauss();
                x[c] = k == 1 ? g * g * g : k == 2 ? g * fmaxf(gauss(), 0.0f) : g;
            }
            if (k >= 3)
                for (int j = 0; j < 4; j++) x[(j * 293 + 17) % cols] *= k == 3 ? 30.0f : 100.0f;
            for (int b = 0; b < NBLOCKS; b++) {
                fake_quantize(x, cols, blocks[b], xq);
                err[b] += rel_error(w, rows, cols, x, xq);
            }
        }
        printf("%-26s", kinds[k]);
        for (int b = 0; b < NBLOCKS; b++) printf("   %8.3f%%", 100.0 * err[b] / inputs);
        printf("\n");
    }
    free(w);
    free(x);
    free(xq);
    return 0;
}
