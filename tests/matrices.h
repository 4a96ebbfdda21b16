/* Test matrices: a QMatrix of any stored kind with owned storage, and gaussian values. */
#ifndef ANEMLL_TESTS_MATRICES_H
#define ANEMLL_TESTS_MATRICES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant/matrix.h"
#include "rng.h"
#include "util/util.h"

/* A matrix of `kind` with owned storage. */
typedef struct {
    QMatrix m;
    void *data;
    uint16_t *luts;
} TestMat;

static inline TestMat mat_from_f32(QMatKind kind, int rows, int cols, const float *v) {
    TestMat t = {{.kind = kind, .rows = rows, .cols = cols}, NULL, NULL};
    size_t n = (size_t)rows * (size_t)cols;
    if (kind == QM_F32) {
        t.data = xmalloc(n * 4);
        memcpy(t.data, v, n * 4);
    } else {
        uint16_t *h = xmalloc(n * 2);
        for (size_t i = 0; i < n; i++) h[i] = kind == QM_F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
        t.data = h;
    }
    t.m.data = t.data;
    return t;
}

static inline float *gauss_matrix(int rows, int cols, float scale) {
    float *v = xmalloc(sizeof(float) * (size_t)rows * (size_t)cols);
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) v[i] = scale * rng_gauss();
    return v;
}

static inline void mat_free(TestMat *t) {
    free(t->data);
    free(t->luts);
}

#endif
