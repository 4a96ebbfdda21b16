#include "quant/matrix.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static unsigned lut_index(const uint8_t *row, int c, int bits) {
    /* indices are a little-endian bit stream per row: index c occupies bits [c*bits, c*bits+bits) */
    size_t bit = (size_t)c * (size_t)bits;
    unsigned v = row[bit >> 3];
    if ((bit & 7) + (size_t)bits > 8) v |= (unsigned)row[(bit >> 3) + 1] << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1u);
}

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
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(lut[lut_index(row, c, w->bits)]);
        break;
    }
    }
}

void qmat_matmul(const QMatrix *w, const float *x, int T, float *y) {
    float *row = xmalloc(sizeof(float) * (size_t)w->cols);
    for (int r = 0; r < w->rows; r++) {
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
