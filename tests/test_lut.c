/* The packed LUT format and the matmul kernels: every family this CPU runs (emulated ones too, in
 * the emu build), each against the double reference and the scalar family, as cases named after
 * the family. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "matrices.h"
#include "rng.h"
#include "convert/palettize.h"
#include "kernels/kernels.h"
#include "quant/lut_format.h"
#include "kernels/matmul.h"
#include "quant/matrix.h"
#include "util/util.h"

/* ---- helpers ---- */

/* A LUT matrix with uniformly random indices (every table entry gets used) and random tables,
 * independent of the palettizer. */
static TestMat random_lut(int rows, int cols, int bits, int per_channel) {
    int group = lut_group_rows(rows, per_channel), ngroups = lut_num_groups(rows, group);
    size_t rb = lut_row_bytes(cols, bits);
    TestMat t = {{.kind = QM_LUT, .rows = rows, .cols = cols, .bits = bits, .group = group,
                  .row_bytes = rb},
                 NULL, NULL};
    uint8_t *packed = xmalloc(rb * (size_t)rows), *idx = xmalloc((size_t)cols);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) idx[c] = (uint8_t)(rng_next() >> 56) & ((1u << bits) - 1u);
        lut_pack_row(idx, cols, bits, packed + (size_t)r * rb);
    }
    t.luts = xmalloc(sizeof(uint16_t) * ((size_t)ngroups << bits));
    for (size_t i = 0; i < ((size_t)ngroups << bits); i++) t.luts[i] = f32_to_f16(rng_gauss());
    free(idx);
    t.data = packed;
    t.m.data = packed;
    t.m.luts = t.luts;
    return t;
}

/* Largest |y - ref| / sum_c |w x| over all outputs, with ref = dequantize (qmat_row) then
 * multiply in double. */
static double matmul_rel_error(const QMatrix *w, const float *x, int T, const float *y) {
    float *row = xmalloc(sizeof(float) * (size_t)w->cols);
    double worst = 0.0;
    for (int r = 0; r < w->rows; r++) {
        qmat_row(w, r, row);
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * (size_t)w->cols;
            double sum = 0.0, mag = 0.0;
            for (int c = 0; c < w->cols; c++) {
                sum += (double)row[c] * xt[c];
                mag += fabs((double)row[c] * xt[c]);
            }
            double err = fabs((double)y[(size_t)t * (size_t)w->rows + (size_t)r] - sum);
            double rel = mag > 0 ? err / mag : err;
            if (!(rel <= worst)) worst = rel; /* NaN sticks */
        }
    }
    free(row);
    return worst;
}

/* The family the per-family cases test (run_per_family has made it the active one). */
static QMatKernel fam;

static const int shapes[][2] = {{13, 37}, {1, 37}, {13, 1}, {5, 8},  {7, 9},
                                {16, 64}, {9, 100}, {3, 1030}, {6, 24}};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])
static const int Ts[] = {1, 3, 7, 64};

/* ---- kernel selection ---- */

static void test_kernel_env_and_selection(void) {
    /* runs first: the variable is read once, at the first matmul / query */
    setenv("ANEMLL_KERNEL", "scalar", 1);
    CHECK(qmat_active_kernel() == QMAT_KERNEL_SCALAR);
    CHECK(qmat_set_kernel(QMAT_KERNEL_AUTO) == 0);
    CHECK(qmat_active_kernel() != QMAT_KERNEL_AUTO);
    CHECK(qmat_kernel_available(qmat_active_kernel()));
    QMatKernel k;
    CHECK(qmat_kernel_parse("AVX2", &k) == 0 && k == QMAT_KERNEL_AVX2);
    CHECK(qmat_kernel_parse("avxvnni", &k) == 0 && k == QMAT_KERNEL_AVXVNNI);
    CHECK(qmat_kernel_parse("neon", &k) == 0 && k == QMAT_KERNEL_NEON);
    CHECK(qmat_kernel_parse("auto", &k) == 0 && k == QMAT_KERNEL_AUTO);
    CHECK(qmat_kernel_parse("sse9", &k) != 0);
    CHECK(strcmp(qmat_kernel_name(QMAT_KERNEL_SCALAR), "scalar") == 0);
    /* at most one of the SIMD paths exists on a machine */
    CHECK(!(qmat_kernel_available(QMAT_KERNEL_AVX2) && qmat_kernel_available(QMAT_KERNEL_NEON)));
    QMatKernel missing =
        qmat_kernel_available(QMAT_KERNEL_AVX2) ? QMAT_KERNEL_NEON : QMAT_KERNEL_AVX2;
    QMatKernel before = qmat_active_kernel();
    CHECK(qmat_set_kernel(missing) != 0);
    CHECK(qmat_active_kernel() == before);
    fprintf(stderr, "  active kernel (auto): %s\n", qmat_kernel_name(qmat_active_kernel()));
}

/* The emulated families of the emu build (one per ANEMLL_EMU_<NAME> it defines) are there and run
 * wherever AVX2 does, and AUTO never picks one: they are for tests.  (The product's build has none:
 * help_test.sh checks the families `anemll --version` lists.) */
static void test_emulated_families(void) {
    int expected = 0, found = 0;
#ifdef ANEMLL_EMU_AVXVNNI
    expected++;
    CHECK(kernels_table(QMAT_KERNEL_AVXVNNI_EMU)->emulated);
#endif
#ifdef ANEMLL_EMU_AVX512
    expected++;
    CHECK(kernels_table(QMAT_KERNEL_AVX512_EMU)->emulated);
#endif
    for (QMatKernel k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++)
        if (kernels_table(k)->emulated) {
            found++;
            CHECKF(qmat_kernel_available(k) == qmat_kernel_available(QMAT_KERNEL_AVX2), "%s", qmat_kernel_name(k));
        }
    CHECK(found == expected);
    CHECK(qmat_set_kernel(QMAT_KERNEL_AUTO) == 0);
    CHECKF(!kernels_active()->emulated, "auto picked %s", qmat_kernel_name(qmat_active_kernel()));
}

/* ---- packing ---- */

static void test_pack_bit_order(void) {
    uint8_t row[4] = {0xff, 0xff, 0xff, 0xff};
    const uint8_t i4[3] = {1, 2, 3};
    lut_pack_row(i4, 3, 4, row); /* low nibble first; unused high bits zero */
    CHECK(row[0] == 0x21 && row[1] == 0x03);
    const uint8_t i6[4] = {1, 2, 3, 4}; /* 1 | 2<<6 | 3<<12 | 4<<18 = 0x103081 */
    lut_pack_row(i6, 4, 6, row);
    CHECK(row[0] == 0x81 && row[1] == 0x30 && row[2] == 0x10);
    const uint8_t i2[5] = {3, 0, 1, 2, 1};
    lut_pack_row(i2, 5, 2, row);
    CHECK(row[0] == (3 | 0 << 2 | 1 << 4 | 2 << 6) && row[1] == 1);
    CHECK(lut_row_bytes(37, 6) == 28 && lut_row_bytes(1, 2) == 1 && lut_row_bytes(8, 8) == 8);
}

static void test_pack_roundtrip(void) {
    static const int colss[] = {1, 2, 3, 5, 7, 8, 9, 13, 37, 64, 101};
    rng_seed(1);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++) {
        for (size_t ci = 0; ci < sizeof colss / sizeof colss[0]; ci++) {
            int cols = colss[ci];
            size_t rb = lut_row_bytes(cols, bits);
            uint8_t idx[101], back[101], row[101];
            for (int c = 0; c < cols; c++)
                idx[c] = (uint8_t)(rng_next() >> 32) & ((1u << bits) - 1);
            lut_pack_row(idx, cols, bits, row);
            lut_unpack_row(row, cols, bits, back);
            CHECKF(memcmp(idx, back, (size_t)cols) == 0, "bits %d cols %d", bits, cols);
            int pad = (int)(rb * 8) - cols * bits; /* unused high bits of the last byte are 0 */
            CHECKF(pad == 0 || (row[rb - 1] >> (8 - pad)) == 0, "bits %d cols %d", bits, cols);
            /* matches the bit-stream definition bit by bit */
            for (int c = 0; c < cols; c++)
                for (int k = 0; k < bits; k++) {
                    size_t bit = (size_t)c * (size_t)bits + (size_t)k;
                    CHECK(((row[bit / 8] >> (bit % 8)) & 1) == ((idx[c] >> k) & 1));
                }
        }
    }
}

/* ---- matmul ---- */

/* y from kernel k for every T, compared with the double reference; y is poisoned first. */
static void check_matmul(QMatKernel k, const QMatrix *w, const char *what) {
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
        int T = Ts[ti];
        float *x = gauss_matrix(T, w->cols, 1.0f);
        float *y = xmalloc(sizeof(float) * (size_t)T * (size_t)w->rows);
        for (size_t i = 0; i < (size_t)T * (size_t)w->rows; i++) y[i] = NAN;
        qmat_matmul(w, x, T, y);
        double e = matmul_rel_error(w, x, T, y);
        CHECKF(e <= 1e-5, "%s kernel %s rows %d cols %d T %d: rel err %g", what,
               qmat_kernel_name(k), w->rows, w->cols, T, e);
        free(x);
        free(y);
    }
}

static void test_matmul_lut(void) {
    static const int pcs[] = {0, 1, 4, 8};
    rng_seed(6);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++)
        for (int pi = 0; pi < 4; pi++)
            for (int si = 0; si < NSHAPES; si++) {
                TestMat t = random_lut(shapes[si][0], shapes[si][1], bits, pcs[pi]);
                char what[32];
                snprintf(what, sizeof what, "LUT%d g%d", bits, pcs[pi]);
                check_matmul(fam, &t.m, what);
                mat_free(&t);
            }
}

static void test_matmul_palettized(void) {
    /* the real pipeline: BF16 -> palettize -> matmul */
    rng_seed(7);
    float *v = gauss_matrix(21, 515, 0.05f);
    TestMat src = mat_from_f32(QM_BF16, 21, 515, v);
    for (int bits = 4; bits <= 6; bits += 2) {
        LutMatrix lm;
        CHECK(lut_palettize(&src.m, (LutSpec){bits, 4, 0}, 2, &lm) == 0);
        QMatrix q = lut_matrix_view(&lm);
        check_matmul(fam, &q, "palettized");
        lut_matrix_free(&lm);
    }
    mat_free(&src);
    free(v);
}

static void test_matmul_float_kinds(void) {
    static const QMatKind kinds[] = {QM_F32, QM_F16, QM_BF16};
    static const char *names[] = {"F32", "F16", "BF16"};
    rng_seed(8);
    for (int si = 0; si < NSHAPES; si++) {
        float *v = gauss_matrix(shapes[si][0], shapes[si][1], 1.0f);
        for (int kk = 0; kk < 3; kk++) {
            TestMat t = mat_from_f32(kinds[kk], shapes[si][0], shapes[si][1], v);
            for (int T = 1; T <= 7; T += 6) { /* agrees with scalar */
                float *x = gauss_matrix(T, t.m.cols, 1.0f);
                size_t ny = (size_t)T * (size_t)t.m.rows;
                float *ys = xmalloc(sizeof(float) * ny), *yk = xmalloc(sizeof(float) * ny);
                kernels_table(QMAT_KERNEL_SCALAR)->matmul_rows(&t.m, x, T, ys, 0, t.m.rows);
                qmat_matmul(&t.m, x, T, yk);
                float tol = 1e-5f * sqrtf((float)t.m.cols);
                for (size_t i = 0; i < ny; i++)
                    CHECKF(fabsf(yk[i] - ys[i]) <= tol * (1.0f + fabsf(ys[i])), "%s %s %dx%d T %d: %g vs %g",
                           names[kk], qmat_kernel_name(fam), t.m.rows, t.m.cols, T, yk[i], ys[i]);
                free(x);
                free(ys);
                free(yk);
            }
            check_matmul(fam, &t.m, names[kk]);
            mat_free(&t);
        }
        free(v);
    }
}

static void test_matmul_row_range(void) {
    /* qmat_matmul_rows writes exactly rows [r0, r1) of every y[t] */
    rng_seed(9);
    TestMat t = random_lut(11, 19, 4, 4);
    int T = 3;
    float *x = gauss_matrix(T, 19, 1.0f), full[3 * 11], part[3 * 11];
    for (int Tn = 1; Tn <= T; Tn += 2) {
        qmat_matmul(&t.m, x, Tn, full);
        for (int i = 0; i < 3 * 11; i++) part[i] = -12345.0f;
        qmat_matmul_rows(&t.m, x, Tn, part, 3, 9);
        for (int tt = 0; tt < Tn; tt++)
            for (int r = 0; r < 11; r++) {
                float got = part[tt * 11 + r];
                CHECK(r >= 3 && r < 9 ? got == full[tt * 11 + r] : got == -12345.0f);
            }
    }
    free(x);
    mat_free(&t);
}

/* ---- 8-bit activations ---- */

/* The codes follow their definition: |q| <= 127, x within d/2 of q * d, 127 reached in every
 * block with a non-zero value; table codes within scale/2 of the FP16 entries and within
 * +-QMAT_Q8_RANGE(bits). */
static void check_q8_codes(const QMatrix *w, const QActs *a, const float *x) {
    int n = 1 << w->bits, bad = 0;
    for (int g = 0; g < lut_num_groups(w->rows, w->group); g++)
        for (int i = 0; i < n; i++) {
            float v = f16_to_f32(w->luts[(size_t)g * n + i]), s = w->lut_q8_scale[g];
            bad |= fabsf(v - w->lut_q8[(size_t)g * n + i] * s) > 0.5f * s * 1.0001f + 1e-30f;
            bad |= abs(w->lut_q8[(size_t)g * n + i]) > QMAT_Q8_RANGE(w->bits);
        }
    for (int t = 0; t < a->T; t++)
        for (int b = 0; b < a->nblocks; b++) {
            float d = a->d[(size_t)t * (a->ld / QACT_BLOCK) + b];
            int peak = 0;
            for (int c = b * QACT_BLOCK; c < (b + 1) * QACT_BLOCK; c++) {
                int q = a->q[(size_t)t * a->ld + c];
                float xv = c < a->cols ? x[(size_t)t * a->cols + c] : 0.0f;
                bad |= q < -127 || q > 127 || fabsf(xv - q * d) > 0.5f * d * 1.0001f + 1e-30f;
                if (abs(q) > peak) peak = abs(q);
            }
            bad |= d > 0 && peak != 127;
        }
    /* q_nib: each 64 columns' even codes, then odd ones; blocks past cols: codes and scale 0 */
    for (int t = 0; t < a->T; t++)
        for (int c = 0; c < a->ld; c++) {
            const int8_t *q = a->q + (size_t)t * a->ld, *p = a->q_nib + (size_t)t * a->ld;
            int base = c / 64 * 64, i = c % 64;
            bad |= p[c] != q[base + (i < 32 ? 2 * i : 2 * (i - 32) + 1)];
            bad |= c >= a->cols && (q[c] != 0 || (c % QACT_BLOCK == 0 && c / QACT_BLOCK >= a->nblocks &&
                                                  a->d[(size_t)t * (a->ld / QACT_BLOCK) + c / QACT_BLOCK] != 0));
        }
    CHECKF(!bad, "LUT%d %dx%d T %d: 8-bit codes off their definition", w->bits, w->rows, w->cols, a->T);
}

/* y[t, r] from the codes, in double: what every q8 kernel computes up to FP32 rounding; *mag:
 * the sum of the terms' magnitudes (what that rounding is relative to). */
static double q8_expected(const QMatrix *w, const QActs *a, int t, int r, double *mag) {
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    const int8_t *tab = w->lut_q8 + (size_t)(r / w->group) * (1u << w->bits);
    double acc = 0.0, s = w->lut_q8_scale[r / w->group];
    *mag = 0.0;
    for (int c = 0; c < w->cols; c++) {
        double v = (double)tab[lut_get_index(row, c, w->bits)] * a->q[(size_t)t * a->ld + c] *
                   a->d[(size_t)t * (a->ld / QACT_BLOCK) + c / QACT_BLOCK];
        acc += v;
        *mag += fabs(v) * s;
    }
    return acc * s;
}

static void test_matmul_q8(void) {
    static const int pcs[] = {0, 4};
    static const int q8_shapes[][2] = {{13, 37}, {5, 64}, {9, 100}, {6, 128}, {3, 1030}, {17, 2100}};
    static const int q8_Ts[] = {1, 2, 3, 64};
    rng_seed(11);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++)
        for (int pi = 0; pi < 2; pi++)
            for (size_t si = 0; si < sizeof q8_shapes / sizeof q8_shapes[0]; si++) {
                TestMat tm = random_lut(q8_shapes[si][0], q8_shapes[si][1], bits, pcs[pi]);
                QMatrix *w = &tm.m;
                qmat_prepare_q8(w);
                for (size_t ti = 0; ti < 2 * (sizeof q8_Ts / sizeof q8_Ts[0]); ti++) {
                    int T = q8_Ts[ti % (sizeof q8_Ts / sizeof q8_Ts[0])];
                    if (ti == sizeof q8_Ts / sizeof q8_Ts[0]) qmat_prepare_codes8(w, 2); /* the same again */
                    float *x = gauss_matrix(T, w->cols, 1.0f);
                    QActs a = {0};
                    qacts_quantize(&a, x, T, w->cols);
                    check_q8_codes(w, &a, x);
                    float *y = xmalloc(sizeof(float) * (size_t)T * (size_t)w->rows);
                    for (size_t i = 0; i < (size_t)T * (size_t)w->rows; i++) y[i] = NAN;
                    qmat_matmul_q8_rows(w, &a, y, 0, w->rows);
                    double worst = 0.0;
                    for (int t = 0; t < T; t++)
                        for (int r = 0; r < w->rows; r++) {
                            double mag, e = q8_expected(w, &a, t, r, &mag), got = y[(size_t)t * w->rows + r];
                            double rel = fabs(got - e) / (1e-30 + mag);
                            if (!(rel <= worst)) worst = rel;
                        }
                    CHECKF(worst <= 1e-5, "q8 LUT%d g%d %dx%d T %d kernel %s%s: rel err %g vs the codes", bits,
                           pcs[pi], w->rows, w->cols, T, qmat_kernel_name(fam), w->codes8 ? " codes8" : "", worst);
                    /* and against the FP32 matmul: the 8-bit error is small against sum |w x| */
                    double e = matmul_rel_error(w, x, T, y);
                    CHECKF(e <= 0.02, "q8 LUT%d %dx%d T %d kernel %s: rel err %g vs FP32", bits, w->rows, w->cols,
                           T, qmat_kernel_name(fam), e);
                    free(y);
                    free(x);
                    qacts_free(&a);
                }
                qmat_free_q8(w);
                mat_free(&tm);
            }
}

/* An output depends on its own input only, bit for bit, whatever the batch around it: what makes
 * prefill, decode and a chat's cached prefix give the same logits as one long batch. */
static void test_matmul_q8_batch_invariant(void) {
    static const int q8_shapes[][2] = {{9, 100}, {8, 1152}, {5, 2100}, {4, 64}};
    rng_seed(13);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++)
        for (size_t si = 0; si < 2 * (sizeof q8_shapes / sizeof q8_shapes[0]); si++) {
            int c8 = si >= sizeof q8_shapes / sizeof q8_shapes[0]; /* the shapes again, with codes8 */
            const int *shape = q8_shapes[si % (sizeof q8_shapes / sizeof q8_shapes[0])];
            TestMat tm = random_lut(shape[0], shape[1], bits, 4);
            QMatrix *w = &tm.m;
            qmat_prepare_q8(w);
            if (c8) qmat_prepare_codes8(w, 1);
            /* small batches and tiled ones (kernels may treat them apart) */
            int T = si % 3 == 0 ? 3 : si % 3 == 1 ? 7 : 19, same = 1;
            float *x = gauss_matrix(T, w->cols, 1.0f);
            float *yb = xmalloc(sizeof(float) * (size_t)T * w->rows), *y1 = xmalloc(sizeof(float) * w->rows);
            QActs a = {0};
            qacts_quantize(&a, x, T, w->cols);
            qmat_matmul_q8_rows(w, &a, yb, 0, w->rows);
            for (int t = 0; t < T; t++) {
                qacts_quantize(&a, x + (size_t)t * w->cols, 1, w->cols);
                qmat_matmul_q8_rows(w, &a, y1, 0, w->rows);
                same &= memcmp(y1, yb + (size_t)t * w->rows, sizeof(float) * w->rows) == 0;
            }
            CHECKF(same, "q8 LUT%d %dx%d kernel %s%s: batch of %d differs from one by one", bits, w->rows, w->cols,
                   qmat_kernel_name(fam), c8 ? " codes8" : "", T);
            free(x), free(yb), free(y1);
            qacts_free(&a);
            qmat_free_q8(w);
            mat_free(&tm);
        }
}

/* The family's quantize_step gives the reference's codes, scales and sums bit for bit: full and
 * short steps, zeros, denormals, huge values, an inf or NaN in either block. */
static void test_quantize_step(void) {
    const KernelTable *k = kernels_table(fam);
    rng_seed(17);
    for (int trial = 0; trial < 400; trial++) {
        float x[64];
        int n = trial % 7 == 0 ? (int)(rng_next() >> 58) : 64; /* 0..63, or a whole step */
        float scale = trial % 5 == 0 ? 1e-40f : trial % 5 == 1 ? 3e37f : 1.0f;
        for (int i = 0; i < 64; i++) x[i] = trial % 11 == 0 ? 0.0f : rng_gauss() * scale;
        if (trial % 13 == 0) x[(trial / 13) % 64] = trial % 2 ? INFINITY : NAN;
        int8_t q[2][64], nib[2][64];
        float d[2][2];
        int32_t sums[2][2];
        qacts_quantize_step_ref(x, n, q[0], nib[0], d[0], sums[0]);
        k->quantize_step(x, n, q[1], nib[1], d[1], sums[1]);
        CHECKF(!memcmp(q[0], q[1], 64) && !memcmp(nib[0], nib[1], 64) && !memcmp(d[0], d[1], sizeof d[0]) &&
                   sums[0][0] == sums[1][0] && sums[0][1] == sums[1][1],
               "kernel %s trial %d (n %d): quantize_step differs from the reference", k->name, trial, n);
    }
}

/* A model builds codes8 for its head only where the family in use wants it (model.c), so a
 * family must give the same bits from codes8 as from the indices: a run's logits then do not
 * depend on which family loaded the model. */
static void test_matmul_q8_codes8_same_bits(void) {
    static const int shapes[][2] = {{13, 37}, {9, 100}, {17, 2100}};
    static const int Ts[] = {1, 3};
    rng_seed(15);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                TestMat tm = random_lut(shapes[si][0], shapes[si][1], bits, 4);
                QMatrix *w = &tm.m;
                int T = Ts[ti];
                qmat_prepare_q8(w);
                size_t ny = (size_t)T * (size_t)w->rows;
                float *x = gauss_matrix(T, w->cols, 1.0f), *ya = xmalloc(sizeof(float) * ny);
                float *yb = xmalloc(sizeof(float) * ny);
                QActs a = {0};
                qacts_quantize(&a, x, T, w->cols);
                qmat_matmul_q8_rows(w, &a, ya, 0, w->rows);
                qmat_prepare_codes8(w, 2);
                qmat_matmul_q8_rows(w, &a, yb, 0, w->rows);
                CHECKF(!memcmp(ya, yb, sizeof(float) * ny), "kernel %s LUT%d %dx%d T %d: codes8 changes the output",
                       qmat_kernel_name(fam), bits, w->rows, w->cols, T);
                qacts_free(&a);
                free(x), free(ya), free(yb);
                qmat_free_q8(w);
                mat_free(&tm);
            }
}

/* codes8 holds exactly the code of every weight, zero past the columns. */
static void test_codes8_built(void) {
    rng_seed(16);
    TestMat tm = random_lut(11, 70, 6, 4);
    QMatrix *w = &tm.m;
    qmat_prepare_q8(w);
    qmat_prepare_codes8(w, 3);
    CHECK(w->codes8 && w->codes8_ld == 128);
    for (int r = 0; r < w->rows; r++)
        for (int c = 0; c < w->codes8_ld; c++) {
            int8_t want = c < w->cols ? w->lut_q8[(r / w->group) * 64 + lut_get_index(qmat_row_data(w, r), c, 6)] : 0;
            CHECKF(w->codes8[(size_t)r * (size_t)w->codes8_ld + c] == want, "row %d col %d", r, c);
        }
    qmat_free_q8(w);
    CHECK(w->codes8 == NULL);
    mat_free(&tm);
}

static void test_matmul_q8_nonfinite(void) {
    /* a NaN or inf input must reach the output, as in FP32, not vanish into a code */
    rng_seed(12);
    TestMat tm = random_lut(8, 96, 4, 4);
    qmat_prepare_q8(&tm.m);
    for (int kind = 0; kind < 2; kind++) {
        float *x = gauss_matrix(1, 96, 1.0f), y[8];
        x[70] = kind ? INFINITY : NAN;
        QActs a = {0};
        qacts_quantize(&a, x, 1, 96);
        qmat_matmul_q8_rows(&tm.m, &a, y, 0, 8);
        int all_bad = 1;
        for (int r = 0; r < 8; r++) all_bad &= !isfinite(y[r]);
        CHECKF(all_bad, "kernel %s: %s input gave a finite output", qmat_kernel_name(fam), kind ? "inf" : "NaN");
        qacts_free(&a);
        free(x);
    }
    qmat_free_q8(&tm.m);
    mat_free(&tm);
}

/* Families a and b give the same bits, every width and some odd shapes, FP32 and 8-bit inputs. */
static void check_same_bits(QMatKernel a, QMatKernel b) {
    static const int vshapes[][2] = {{13, 37}, {5, 64}, {9, 100}, {3, 1030}, {17, 2100}};
    static const int vTs[] = {1, 3, 64};
    const KernelTable *ka = kernels_table(a), *kb = kernels_table(b);
    printf("  %s against %s\n", ka->name, kb->name);
    rng_seed(14);
    for (int bits = LUT_MIN_BITS; bits <= LUT_MAX_BITS; bits++)
        for (size_t si = 0; si < sizeof vshapes / sizeof vshapes[0]; si++) {
            TestMat tm = random_lut(vshapes[si][0], vshapes[si][1], bits, 4);
            QMatrix *w = &tm.m;
            qmat_prepare_q8(w);
            for (size_t ti = 0; ti < sizeof vTs / sizeof vTs[0]; ti++) {
                int T = vTs[ti];
                size_t ny = (size_t)T * (size_t)w->rows;
                float *x = gauss_matrix(T, w->cols, 1.0f), *ya = xmalloc(sizeof(float) * ny);
                float *yb = xmalloc(sizeof(float) * ny);
                QActs q = {0};
                qacts_quantize(&q, x, T, w->cols);
                ka->matmul_rows(w, x, T, ya, 0, w->rows);
                kb->matmul_rows(w, x, T, yb, 0, w->rows);
                CHECKF(!memcmp(ya, yb, sizeof(float) * ny), "%s LUT%d %dx%d T %d: FP32 differs from %s", ka->name,
                       bits, w->rows, w->cols, T, kb->name);
                ka->matmul_q8_rows(w, &q, ya, 0, w->rows);
                kb->matmul_q8_rows(w, &q, yb, 0, w->rows);
                CHECKF(!memcmp(ya, yb, sizeof(float) * ny), "%s LUT%d %dx%d T %d: q8 differs from %s", ka->name,
                       bits, w->rows, w->cols, T, kb->name);
                qacts_free(&q);
                free(x), free(ya), free(yb);
            }
            qmat_free_q8(w);
            mat_free(&tm);
        }
}

/* AVX-VNNI's vpdpbusd sums the same integers as AVX2's maddubs + madd (kernels_avx2.c, dot_u8s8)
 * and the rest is the same code: the avxvnni families, native or emulated, give AVX2's bits. */
static void test_vnni_matches_avx2(void) {
    for (QMatKernel k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++)
        if (qmat_kernel_available(k) && qmat_kernel_available(QMAT_KERNEL_AVX2) &&
            !strncmp(qmat_kernel_name(k), "avxvnni", 7))
            check_same_bits(k, QMAT_KERNEL_AVX2);
}

/* Where this CPU runs a family natively too, its emulated build gives the same bits: SIMDe's
 * emulation and x86_intrin.h's naming of it are faithful. */
static void test_emulated_matches_native(void) {
    for (QMatKernel k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++) {
        if (!kernels_table(k)->emulated || !qmat_kernel_available(k)) continue;
        const char *name = qmat_kernel_name(k);
        char native_name[32];
        snprintf(native_name, sizeof native_name, "%.*s", (int)strlen(name) - 4, name); /* less "_emu" */
        QMatKernel native;
        CHECK(qmat_kernel_parse(native_name, &native) == 0);
        if (qmat_kernel_available(native)) check_same_bits(k, native);
        else printf("  (%s not available here: %s not compared with it)\n", native_name, name);
    }
}

/* fn as the case "<name>_<family>" for every family this CPU runs, each made the active one. */
static void run_per_family(const char *name, void (*fn)(void)) {
    for (fam = QMAT_KERNEL_SCALAR; fam < QMAT_KERNEL_END; fam++) {
        if (!qmat_kernel_available(fam)) continue;
        CHECK(qmat_set_kernel(fam) == 0);
        char case_name[96];
        snprintf(case_name, sizeof case_name, "%s_%s", name, qmat_kernel_name(fam));
        check_run(case_name, fn);
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}
#define RUN_PER_FAMILY(fn) run_per_family(#fn, fn)

int main(void) {
    RUN(test_kernel_env_and_selection);
    RUN(test_emulated_families);
    RUN(test_pack_bit_order);
    RUN(test_pack_roundtrip);
    RUN_PER_FAMILY(test_matmul_lut);
    RUN_PER_FAMILY(test_matmul_palettized);
    RUN_PER_FAMILY(test_matmul_float_kinds);
    RUN_PER_FAMILY(test_matmul_row_range);
    RUN_PER_FAMILY(test_matmul_q8);
    RUN_PER_FAMILY(test_matmul_q8_batch_invariant);
    RUN_PER_FAMILY(test_matmul_q8_nonfinite);
    RUN_PER_FAMILY(test_matmul_q8_codes8_same_bits);
    RUN_PER_FAMILY(test_quantize_step);
    RUN(test_codes8_built);
    RUN(test_vnni_matches_avx2);
    RUN(test_emulated_matches_native);
    CHECK_EXIT();
}
