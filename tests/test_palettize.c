/* The k-means LUT palettizer (convert/palettize.h): exactness, error, determinism across thread
 * counts, partial groups and refused input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "matrices.h"
#include "rng.h"
#include "convert/palettize.h"
#include "quant/lut_format.h"
#include "quant/matrix.h"
#include "util/util.h"

/* Mean squared difference between the weights of a and ref ([rows, cols]). */
static double mse(const QMatrix *a, const float *ref) {
    float *row = xmalloc(sizeof(float) * (size_t)a->cols);
    double s = 0.0;
    for (int r = 0; r < a->rows; r++) {
        qmat_row(a, r, row);
        for (int c = 0; c < a->cols; c++) {
            double d = (double)row[c] - ref[(size_t)r * (size_t)a->cols + (size_t)c];
            s += d * d;
        }
    }
    free(row);
    return s / ((double)a->rows * a->cols);
}

static void test_exact_when_few_values(void) {
    rng_seed(2);
    static const QMatKind kinds[] = {QM_F32, QM_F16, QM_BF16};
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++) {
        for (int pc = 0; pc <= 4; pc += 2) {
            int rows = 11, cols = 29, k = 1 << bits;
            int group = lut_group_rows(rows, pc);
            float *v = xmalloc(sizeof(float) * (size_t)rows * cols);
            for (int g = 0; g * group < rows; g++) {
                /* this group's palette: <= k distinct values exact in FP16 and BF16 */
                float pal[256];
                int np = 1 + (int)(rng_next() % (uint64_t)k);
                for (int i = 0; i < np; i++)
                    pal[i] = bf16_to_f32(f32_to_bf16(round_f16(rng_gauss())));
                for (int r = g * group; r < rows && r < (g + 1) * group; r++)
                    for (int c = 0; c < cols; c++) v[r * cols + c] = pal[rng_next() % (uint64_t)np];
            }
            for (size_t ki = 0; ki < 3; ki++) {
                TestMat src = mat_from_f32(kinds[ki], rows, cols, v);
                LutMatrix lm;
                CHECK(lut_palettize(&src.m, (LutSpec){bits, pc, 0}, 1, &lm) == 0);
                QMatrix q = lut_matrix_view(&lm);
                CHECKF(mse(&q, v) == 0.0, "bits %d pc %d kind %d", bits, pc, (int)kinds[ki]);
                /* re-palettizing a LUT matrix with its own width is exact too */
                LutMatrix again;
                CHECK(lut_palettize(&q, (LutSpec){bits, pc, 0}, 2, &again) == 0);
                QMatrix q2 = lut_matrix_view(&again);
                CHECK(mse(&q2, v) == 0.0);
                lut_matrix_free(&again);
                lut_matrix_free(&lm);
                mat_free(&src);
            }
            free(v);
        }
    }
    /* F32 values not exact in FP16 come back as their FP16 rounding */
    float v[3 * 5];
    for (int i = 0; i < 15; i++) v[i] = (float)(i % 4) * 0.1234567f;
    TestMat src = mat_from_f32(QM_F32, 3, 5, v);
    LutMatrix lm;
    CHECK(lut_palettize(&src.m, (LutSpec){2, 0, 0}, 1, &lm) == 0);
    float row[5];
    QMatrix q = lut_matrix_view(&lm);
    for (int r = 0; r < 3; r++) {
        qmat_row(&q, r, row);
        for (int c = 0; c < 5; c++) CHECK(row[c] == round_f16(v[r * 5 + c]));
    }
    lut_matrix_free(&lm);
    mat_free(&src);
}

static void test_error_decreases_with_bits(void) {
    rng_seed(3);
    int rows = 64, cols = 256;
    float *v = gauss_matrix(rows, cols, 0.02f);
    TestMat src = mat_from_f32(QM_BF16, rows, cols, v);
    float *vb = xmalloc(sizeof(float) * (size_t)rows * cols); /* what the BF16 source holds */
    for (int i = 0; i < rows * cols; i++) vb[i] = bf16_to_f32(f32_to_bf16(v[i]));
    double prev = INFINITY, var = 0.02 * 0.02;
    static const int bitss[] = {2, 4, 6, 8};
    for (int i = 0; i < 4; i++) {
        LutMatrix lm;
        CHECK(lut_palettize(&src.m, (LutSpec){bitss[i], 4, 0}, 2, &lm) == 0);
        QMatrix q = lut_matrix_view(&lm);
        double e = mse(&q, vb);
        fprintf(stderr, "  LUT%d,g4 MSE/var = %.5f\n", bitss[i], e / var);
        CHECKF(e < prev, "bits %d: %g vs %g", bitss[i], e, prev);
        prev = e;
        /* Lloyd-Max optimum for a gaussian: 0.1175 (4 levels), 0.0095 (16 levels) */
        if (bitss[i] == 2) CHECK(e / var < 0.13);
        if (bitss[i] == 4) CHECK(e / var < 0.0115);
        for (int g = 0; g < lm.ngroups; g++) { /* tables ascending */
            const uint16_t *t = lm.luts + ((size_t)g << lm.bits);
            for (int j = 1; j < 1 << lm.bits; j++) CHECK(f16_to_f32(t[j - 1]) <= f16_to_f32(t[j]));
        }
        lut_matrix_free(&lm);
    }
    mat_free(&src);
    free(vb);
    free(v);
}

static void test_fit_table_uses_every_entry(void) {
    /* one dominant value plus a few rare ones: quantile init alone would put several
     * centroids on the dominant value; k-means must still give k distinct entries */
    double v[20], cnt[20];
    for (int i = 0; i < 20; i++) v[i] = i, cnt[i] = i == 0 ? 1e6 : 1;
    uint16_t t[4], t2[4];
    lut_fit_table(v, cnt, 20, 2, 0, t);
    lut_fit_table(v, cnt, 20, 2, 0, t2);
    CHECK(memcmp(t, t2, sizeof t) == 0);
    CHECK(fabsf(f16_to_f32(t[0])) < 1e-3f); /* the dominant value keeps (nearly) its own entry */
    for (int j = 1; j < 4; j++) CHECK(f16_to_f32(t[j - 1]) < f16_to_f32(t[j]));
    /* two tight clusters, k = 4 >= 2 clusters: the optimum keeps both cluster means exact */
    double w[6] = {-1.0, -0.999, -0.998, 1.0, 1.001, 1.002}, c1[6] = {1, 1, 1, 1, 1, 1};
    uint16_t t4[4];
    lut_fit_table(w, c1, 6, 2, 0, t4);
    CHECK(f16_to_f32(t4[0]) < 0 && f16_to_f32(t4[3]) > 0);
}

static void test_threads_identical(void) {
    rng_seed(4);
    int rows = 37, cols = 53;
    float *v = gauss_matrix(rows, cols, 1.0f);
    static const QMatKind kinds[] = {QM_F32, QM_BF16};
    static const int bitss[] = {3, 4, 6};
    static const int pcs[] = {0, 1, 4};
    for (int ki = 0; ki < 2; ki++) {
        TestMat src = mat_from_f32(kinds[ki], rows, cols, v);
        for (int bi = 0; bi < 3; bi++)
            for (int pi = 0; pi < 3; pi++) {
                LutSpec spec = {bitss[bi], pcs[pi], 0};
                LutMatrix one, two, three;
                CHECK(lut_palettize(&src.m, spec, 1, &one) == 0);
                CHECK(lut_palettize(&src.m, spec, 2, &two) == 0);
                CHECK(lut_palettize(&src.m, spec, 3, &three) == 0);
                size_t ni = (size_t)rows * one.row_bytes;
                size_t nl = sizeof(uint16_t) * ((size_t)one.ngroups << one.bits);
                CHECK(memcmp(one.indices, two.indices, ni) == 0);
                CHECK(memcmp(one.luts, two.luts, nl) == 0);
                CHECK(memcmp(one.indices, three.indices, ni) == 0);
                CHECK(memcmp(one.luts, three.luts, nl) == 0);
                lut_matrix_free(&one);
                lut_matrix_free(&two);
                lut_matrix_free(&three);
            }
        mat_free(&src);
    }
    free(v);
}

static void test_partial_last_group(void) {
    /* rows 10, g 4: groups {0-3}, {4-7}, {8-9}; the last group's table fits only its 2 rows */
    rng_seed(5);
    int rows = 10, cols = 17;
    float *v = gauss_matrix(rows, cols, 1.0f);
    for (int c = 0; c < cols; c++) {
        v[8 * cols + c] = 100.0f;
        v[9 * cols + c] = c % 2 ? 200.0f : -50.0f;
    }
    TestMat src = mat_from_f32(QM_F32, rows, cols, v);
    LutMatrix lm;
    CHECK(lut_palettize(&src.m, (LutSpec){2, 4, 0}, 2, &lm) == 0);
    CHECK(lm.group == 4 && lm.ngroups == 3);
    QMatrix q = lut_matrix_view(&lm);
    CHECK(qmat_bytes(&q) == (size_t)rows * lut_row_bytes(cols, 2) + 3 * 4 * 2);
    float row[17];
    for (int r = 8; r < 10; r++) {
        qmat_row(&q, r, row);
        for (int c = 0; c < cols; c++) CHECK(row[c] == v[r * cols + c]);
    }
    lut_matrix_free(&lm);
    /* g larger than rows: one table, like g = 0 */
    LutMatrix big, whole;
    CHECK(lut_palettize(&src.m, (LutSpec){3, 64, 0}, 1, &big) == 0);
    CHECK(lut_palettize(&src.m, (LutSpec){3, 0, 0}, 1, &whole) == 0);
    CHECK(big.ngroups == 1 && whole.ngroups == 1);
    CHECK(memcmp(big.luts, whole.luts, sizeof(uint16_t) * 8) == 0);
    CHECK(memcmp(big.indices, whole.indices, (size_t)rows * big.row_bytes) == 0);
    lut_matrix_free(&big);
    lut_matrix_free(&whole);
    mat_free(&src);
    free(v);
}

static void test_bad_input(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    TestMat src = mat_from_f32(QM_F32, 2, 3, v);
    LutMatrix lm;
    CHECK(lut_palettize(&src.m, (LutSpec){1, 0, 0}, 1, &lm) != 0);
    CHECK(lut_palettize(&src.m, (LutSpec){9, 0, 0}, 1, &lm) != 0);
    CHECK(lut_palettize(&src.m, (LutSpec){4, -1, 0}, 1, &lm) != 0);
    ((float *)src.data)[4] = NAN;
    CHECK(lut_palettize(&src.m, (LutSpec){4, 1, 0}, 2, &lm) != 0);
    CHECK(strstr(err_get(), "rows 1..1") != NULL);
    ((float *)src.data)[4] = 1e6f; /* no FP16 entry holds it */
    CHECK(lut_palettize(&src.m, (LutSpec){4, 0, 0}, 1, &lm) != 0);
    mat_free(&src);
    TestMat bsrc = mat_from_f32(QM_BF16, 2, 3, v);
    ((uint16_t *)bsrc.data)[0] = 0x7f80; /* +inf */
    CHECK(lut_palettize(&bsrc.m, (LutSpec){4, 0, 0}, 1, &lm) != 0);
    mat_free(&bsrc);
}

int main(void) {
    RUN(test_exact_when_few_values);
    RUN(test_error_decreases_with_bits);
    RUN(test_fit_table_uses_every_entry);
    RUN(test_threads_identical);
    RUN(test_partial_last_group);
    RUN(test_bad_input);
    CHECK_EXIT();
}
