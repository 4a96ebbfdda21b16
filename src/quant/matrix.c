#include "quant/matrix.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quant/lut.h"
#include "quant/matrix_kernels.h"
#include "util/cpu.h"
#include "util/util.h"

void qmat_row(const QMatrix *w, int r, float *out) {
    size_t off = (size_t)r * (size_t)w->cols;
    switch (w->kind) {
    case QM_F32:
        memcpy(out, (const float *)w->data + off, sizeof(float) * (size_t)w->cols);
        break;
    case QM_F16: {
        const uint16_t *p = (const uint16_t *)w->data + off;
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(p[c]);
        break;
    }
    case QM_BF16: {
        const uint16_t *p = (const uint16_t *)w->data + off;
        for (int c = 0; c < w->cols; c++) out[c] = bf16_to_f32(p[c]);
        break;
    }
    case QM_LUT: {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        const uint16_t *lut = w->luts + (size_t)(r / w->group) * (1u << w->bits);
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(lut[lut_get_index(row, c, w->bits)]);
        break;
    }
    }
}

void qmat_rows_scalar(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    float *row = xmalloc(sizeof(float) * (size_t)w->cols);
    for (int r = r0; r < r1; r++) {
        qmat_row(w, r, row);
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * (size_t)w->cols;
            float acc = 0.0f;
            for (int c = 0; c < w->cols; c++) acc += row[c] * xt[c];
            y[(size_t)t * (size_t)w->rows + (size_t)r] = acc;
        }
    }
    free(row);
}

/* ---- kernel selection ---- */

static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;
static atomic_int active_kernel = QMAT_KERNEL_SCALAR;

static QMatKernel best_kernel(void) {
    if (qmat_kernel_available(QMAT_KERNEL_AVX2)) return QMAT_KERNEL_AVX2;
    if (qmat_kernel_available(QMAT_KERNEL_NEON)) return QMAT_KERNEL_NEON;
    return QMAT_KERNEL_SCALAR;
}

static void kernel_from_env(void) {
    QMatKernel k = QMAT_KERNEL_AUTO;
    const char *s = getenv("ANEMLL_KERNEL");
    if (s && *s) {
        if (qmat_kernel_parse(s, &k) != 0) {
            fprintf(stderr,
                    "anemll: warning: ANEMLL_KERNEL=%s unknown (scalar|avx2|neon|auto), using auto\n",
                    s);
            k = QMAT_KERNEL_AUTO;
        } else if (!qmat_kernel_available(k)) {
            fprintf(stderr,
                    "anemll: warning: ANEMLL_KERNEL=%s not supported on this CPU, using auto\n", s);
            k = QMAT_KERNEL_AUTO;
        }
    }
    atomic_store(&active_kernel, k == QMAT_KERNEL_AUTO ? best_kernel() : k);
}

int qmat_kernel_available(QMatKernel k) {
    switch (k) {
    case QMAT_KERNEL_AUTO:
    case QMAT_KERNEL_SCALAR: return 1;
    case QMAT_KERNEL_AVX2:
#if defined(__x86_64__)
        return cpu_has_avx2_fma_f16c();
#else
        return 0;
#endif
    case QMAT_KERNEL_NEON:
#if defined(__aarch64__)
        return cpu_has_neon();
#else
        return 0;
#endif
    }
    return 0;
}

int qmat_set_kernel(QMatKernel k) {
    pthread_once(&kernel_once, kernel_from_env); /* so a later first matmul cannot undo this */
    if (!qmat_kernel_available(k)) {
        err_set("matmul kernel %s is not available on this CPU", qmat_kernel_name(k));
        return -1;
    }
    atomic_store(&active_kernel, k == QMAT_KERNEL_AUTO ? best_kernel() : k);
    return 0;
}

QMatKernel qmat_active_kernel(void) {
    pthread_once(&kernel_once, kernel_from_env);
    return (QMatKernel)atomic_load(&active_kernel);
}

const char *qmat_kernel_name(QMatKernel k) {
    switch (k) {
    case QMAT_KERNEL_AUTO: return "auto";
    case QMAT_KERNEL_SCALAR: return "scalar";
    case QMAT_KERNEL_AVX2: return "avx2";
    case QMAT_KERNEL_NEON: return "neon";
    }
    return "?";
}

int qmat_kernel_parse(const char *s, QMatKernel *out) {
    static const QMatKernel all[] = {QMAT_KERNEL_AUTO, QMAT_KERNEL_SCALAR, QMAT_KERNEL_AVX2,
                                     QMAT_KERNEL_NEON};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcasecmp(s, qmat_kernel_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* ---- matmul ---- */

void qmat_matmul_rows(const QMatrix *w, const float *x, int T, float *y, int r0, int r1) {
    if (T <= 0 || r0 >= r1) return;
    switch (qmat_active_kernel()) {
#if defined(__x86_64__)
    case QMAT_KERNEL_AVX2: qmat_rows_avx2(w, x, T, y, r0, r1); return;
#endif
#if defined(__aarch64__)
    case QMAT_KERNEL_NEON: qmat_rows_neon(w, x, T, y, r0, r1); return;
#endif
    default: qmat_rows_scalar(w, x, T, y, r0, r1); return;
    }
}

void qmat_matmul(const QMatrix *w, const float *x, int T, float *y) {
    qmat_matmul_rows(w, x, T, y, 0, w->rows);
}

size_t qmat_bytes(const QMatrix *w) {
    size_t n = (size_t)w->rows * (size_t)w->cols;
    switch (w->kind) {
    case QM_F32: return n * 4;
    case QM_F16:
    case QM_BF16: return n * 2;
    case QM_LUT: {
        size_t ngroups = ((size_t)w->rows + (size_t)w->group - 1) / (size_t)w->group;
        return (size_t)w->rows * w->row_bytes + ngroups * ((size_t)1 << w->bits) * 2;
    }
    }
    return 0;
}
