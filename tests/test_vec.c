/* src/ops/vec: every path this CPU runs (scalar and each SIMD family, emulated ones included in
 * the emu build) against long-double references
 * computed here with libm, and against each other; odd lengths, unaligned pointers, guards
 * around every buffer, and the special values (±0, denormals, huge, ±inf, NaN). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "kernels/kernels.h"
#include "ops/vec.h"
#include "util/cpu.h"
#include "util/util.h"

/* Every family, the scalar reference first; each test runs those this CPU runs. */
#define NKERNELS (QMAT_KERNEL_END - QMAT_KERNEL_SCALAR)
static QMatKernel family(int i) { return (QMatKernel)(QMAT_KERNEL_SCALAR + i); }
static const int lengths[] = {0, 1, 3, 7, 8, 9, 15, 31, 33, 257, 1000};
#define NLENGTHS (int)(sizeof lengths / sizeof lengths[0])

/* Tolerances (the contract in vec.h). */
#define GELU_REL 2e-7
#define GELU_ABS 1e-37
#define EXP_ULPS 2.0
#define EXP_ABS_DENORMAL 1e-38

/* ---- helpers ---- */

/* Forces kernel k for what follows; 0 if this CPU lacks it. */
static int use_kernel(QMatKernel k) {
    if (!qmat_kernel_available(k)) return 0;
    CHECK(qmat_set_kernel(k) == 0);
    return qmat_active_kernel() == k;
}

/* n floats starting `off` floats into their own allocation, which ends right after them (so
 * AddressSanitizer sees any access past the end); the floats before get a guard value. */
#define GUARD 12345.678f
typedef struct {
    float *base, *p;
    int off;
} Buf;
static Buf buf_new(int n, int off) {
    Buf b;
    b.off = off;
    b.base = xmalloc(sizeof(float) * (size_t)(n + off > 0 ? n + off : 1));
    for (int i = 0; i < off; i++) b.base[i] = GUARD;
    b.p = b.base + off;
    return b;
}
static int buf_guard_ok(const Buf *b) {
    for (int i = 0; i < b->off; i++)
        if (b->base[i] != GUARD) return 0;
    return 1;
}
static void buf_free(Buf *b) { free(b->base); }

/* Size of one float ulp at |v| (the denormal spacing below FLT_MIN). */
static long double ulp_of(long double v) {
    v = fabsl(v);
    if (v < FLT_MIN) return ldexpl(1.0L, -149);
    return ldexpl(1.0L, ilogbl(v) - 23);
}

static long double pi_l(void) { return acosl(-1.0L); }

/* gelu, tanh form, in long double: x / (1 + exp(-2u)) (same value as 0.5 x (1 + tanh u), but
 * without the cancellation of 1 + tanh(u) for x << 0; test_gelu_reference_identity checks the
 * two agree where tanh is usable). */
static long double gelu_ld(float x) {
    if (isinf(x)) return x > 0 ? (long double)x : 0.0L;
    long double xl = x, k = sqrtl(2.0L / pi_l());
    long double u = k * (xl + 0.044715L * xl * xl * xl);
    return xl / (1.0L + expl(-2.0L * u));
}

/* Error of got against the long-double reference, within tolerance? Updates *max_ulp for
 * normal results (what the report prints). */
static int gelu_ok(float got, long double ref, double *max_ulp) {
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == ref;
    long double err = fabsl((long double)got - ref);
    if (max_ulp && fabsl(ref) >= FLT_MIN && err / ulp_of(ref) > *max_ulp)
        *max_ulp = (double)(err / ulp_of(ref));
    return err <= GELU_REL * fabsl(ref) + GELU_ABS;
}

/* exp(d) for the float d the implementation sees */
static int exp_ok(float got, long double ref, double *max_ulp) {
    if (isnan(ref)) return isnan(got);
    if (ref > FLT_MAX) return isinf(got) && got > 0;
    long double err = fabsl((long double)got - ref);
    if (ref < FLT_MIN) return err <= EXP_ABS_DENORMAL && got >= 0;
    if (max_ulp && err / ulp_of(ref) > *max_ulp) *max_ulp = (double)(err / ulp_of(ref));
    return err <= EXP_ULPS * ulp_of(ref);
}

/* ---- vec_dot ---- */

/* Within float rounding of the exact sum (relative to sum |a b|), on every path, length and
 * alignment; each SIMD path within the same bound of the scalar one. */
static void test_dot(void) {
    for (int ki = 0; ki < NKERNELS; ki++) {
        double worst = 0; /* max error / (sum|ab| * sqrt(n) * 1e-6) */
        for (int li = 0; li < NLENGTHS; li++)
            for (int off = 0; off < 4; off++) {
                int n = lengths[li];
                rng_seed((uint64_t)(n * 4 + off));
                Buf a = buf_new(n, off & 1), b = buf_new(n, off >> 1);
                int positive = off == 3; /* one case without cancellation */
                for (int i = 0; i < n; i++) {
                    a.p[i] = positive ? rng_range(0, 2) : rng_gauss();
                    b.p[i] = positive ? rng_range(0, 2) : 3.0f * rng_gauss();
                }
                long double ref = 0, mag = 0;
                for (int i = 0; i < n; i++) {
                    ref += (long double)a.p[i] * b.p[i];
                    mag += fabsl((long double)a.p[i] * b.p[i]);
                }
                CHECK(use_kernel(QMAT_KERNEL_SCALAR));
                float scalar = vec_dot(a.p, b.p, n);
                if (!use_kernel(family(ki))) {
                    buf_free(&a), buf_free(&b);
                    continue;
                }
                float got = vec_dot(a.p, b.p, n);
                long double tol = 1e-6L * sqrtl((long double)n) * mag;
                long double err = fabsl((long double)got - ref);
                CHECKF(err <= tol, "%s n=%d off=%d: %.9g vs %.12Lg",
                       qmat_kernel_name(family(ki)), n, off, got, ref);
                CHECKF(fabsf(got - scalar) <= tol, "%s n=%d off=%d: %.9g vs scalar %.9g",
                       qmat_kernel_name(family(ki)), n, off, got, scalar);
                if (n == 0) CHECK(got == 0.0f);
                if (tol > 0 && (double)(err / tol) > worst) worst = (double)(err / tol);
                CHECK(buf_guard_ok(&a) && buf_guard_ok(&b));
                buf_free(&a), buf_free(&b);
            }
        if (qmat_kernel_available(family(ki)))
            printf("  %-6s vec_dot: max error %.3g of the bound 1e-6 sqrt(n) sum|ab|\n",
                   qmat_kernel_name(family(ki)), worst);
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* ---- vec_axpy ---- */

/* Each y[i] within two roundings (2^-23 (|y| + |a x|)) of the exact y + a x; nothing written
 * outside y[0..n); a = 0 leaves y unchanged. */
static void test_axpy(void) {
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!qmat_kernel_available(family(ki))) continue;
        double worst = 0; /* in units of 2^-24 (|y| + |a x|) */
        for (int li = 0; li < NLENGTHS; li++)
            for (int off = 0; off < 4; off++) {
                int n = lengths[li];
                rng_seed((uint64_t)(1000 + n * 4 + off));
                Buf y = buf_new(n, off & 1), x = buf_new(n, off >> 1), y0 = buf_new(n, 0),
                    ys = buf_new(n, 0);
                for (int i = 0; i < n; i++) {
                    y0.p[i] = y.p[i] = ys.p[i] = rng_gauss();
                    x.p[i] = 10.0f * rng_gauss();
                }
                float a = off == 2 ? 0.0f : rng_range(-2, 2);
                CHECK(use_kernel(QMAT_KERNEL_SCALAR));
                vec_axpy(ys.p, a, x.p, n);
                CHECK(use_kernel(family(ki)));
                vec_axpy(y.p, a, x.p, n);
                int bad = 0, bad_scalar = 0;
                for (int i = 0; i < n; i++) {
                    long double ax = (long double)a * x.p[i];
                    long double ref = (long double)y0.p[i] + ax;
                    long double unit = ldexpl(fabsl((long double)y0.p[i]) + fabsl(ax), -24);
                    long double err = fabsl((long double)y.p[i] - ref);
                    if (unit > 0 && (double)(err / unit) > worst) worst = (double)(err / unit);
                    bad += !(err <= 2 * unit);
                    bad_scalar += !(fabsl((long double)y.p[i] - ys.p[i]) <= 2 * unit);
                    if (a == 0.0f) bad += y.p[i] != y0.p[i];
                }
                CHECKF(bad == 0 && bad_scalar == 0, "%s n=%d off=%d: %d wrong, %d off scalar",
                       qmat_kernel_name(family(ki)), n, off, bad, bad_scalar);
                CHECK(buf_guard_ok(&y) && buf_guard_ok(&x));
                buf_free(&y), buf_free(&x), buf_free(&y0), buf_free(&ys);
            }
        printf("  %-6s vec_axpy: max error %.3f x 2^-24 (|y| + |a x|)\n",
               qmat_kernel_name(family(ki)), worst);
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* ---- vec_dot_rows, vec_axpy_rows ---- */

/* Each family's many-row forms give its single forms' bits: row counts odd and even, lengths off
 * every vector width, rows strided as attention's keys and values are. */
static void test_rows_forms(void) {
    static const int ns[] = {0, 1, 7, 8, 31, 32, 37, 64, 100, 256};
    static const int rowss[] = {1, 2, 3, 16, 33};
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ri = 0; ri < sizeof rowss / sizeof rowss[0]; ri++) {
                int n = ns[ni], rows = rowss[ri];
                size_t ld = (size_t)n + 5;
                rng_seed((uint64_t)(n * 64 + rows));
                float *q = malloc(sizeof(float) * (size_t)(n + 1)), *k = malloc(sizeof(float) * ld * (size_t)rows);
                float *a = malloc(sizeof(float) * (size_t)rows), *out = malloc(sizeof(float) * (size_t)rows);
                float *y1 = malloc(sizeof(float) * (size_t)(n + 1)), *y2 = malloc(sizeof(float) * (size_t)(n + 1));
                for (int i = 0; i < n; i++) q[i] = rng_gauss(), y1[i] = y2[i] = rng_gauss();
                for (size_t i = 0; i < ld * (size_t)rows; i++) k[i] = rng_gauss();
                for (int j = 0; j < rows; j++) a[j] = rng_range(-1, 1);
                vec_dot_rows(q, k, ld, rows, n, out);
                int same = 1;
                for (int j = 0; j < rows; j++) {
                    float one = vec_dot(q, k + (size_t)j * ld, n);
                    same &= !memcmp(&one, &out[j], sizeof one);
                }
                vec_axpy_rows(y1, a, k, ld, rows, n);
                for (int j = 0; j < rows; j++) vec_axpy(y2, a[j], k + (size_t)j * ld, n);
                same &= n == 0 || !memcmp(y1, y2, sizeof(float) * (size_t)n);
                CHECKF(same, "%s n=%d rows=%d: the many-row forms differ from the single ones",
                       qmat_kernel_name(family(ki)), n, rows);
                free(q), free(k), free(a), free(out), free(y1), free(y2);
            }
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* ---- vec_gelu_tanh ---- */

/* The long-double reference (exp form) equals the textbook tanh form where the latter keeps 13
 * digits in long double (x >= -4; below, 1 + tanh(u) cancels), so the tests below check the
 * function PyTorch defines. */
static void test_gelu_reference_identity(void) {
    long double k = sqrtl(2.0L / pi_l());
    int bad = 0;
    for (float x = -4.0f; x <= 20.0f; x += 1.0f / 64) {
        long double xl = x, u = k * (xl + 0.044715L * xl * xl * xl);
        long double t = 0.5L * xl * (1.0L + tanhl(u)), e = gelu_ld(x);
        bad += !(fabsl(t - e) <= 1e-13L * fabsl(e));
    }
    CHECKF(bad == 0, "%d points", bad);
    CHECK(fabsl(gelu_ld(1.0f) - 0.8411919906082768L) < 1e-15L); /* torch, float64 */
}

/* A dense sweep of [-20, 20] (step 2^-12, covering the whole range where the result is neither
 * ~x nor ~0), random floats of every magnitude, both through one long call of an odd length, so
 * the vector body and the tail both see all of them. */
static void test_gelu_sweep(void) {
    const int dense = 40 * 4096 + 1, nrand = 100000, n = dense + nrand;
    float *in = xmalloc(sizeof(float) * (size_t)n), *out = xmalloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < dense; i++) in[i] = -20.0f + (float)i / 4096.0f;
    rng_seed(77);
    for (int i = dense; i < n; i++) { /* random sign, exponent 2^-140..2^100, mantissa */
        uint32_t r = (uint32_t)(rng_next() >> 32);
        uint32_t bits =
            (r & 0x807fffffu) | ((uint32_t)(-140 + 127 + (int)((rng_next() >> 40) % 241)) << 23);
        memcpy(&in[i], &bits, 4);
    }
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        memcpy(out, in, sizeof(float) * (size_t)n);
        vec_gelu_tanh(out, (size_t)n);
        double max_ulp = 0, max_rel = 0, max_ulp_neg = 0;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            long double ref = gelu_ld(in[i]);
            double mu = 0;
            int ok = gelu_ok(out[i], ref, &mu);
            if (!ok && bad++ < 5)
                fprintf(stderr, "  %s gelu(%.9g) = %.9g, want %.12Lg\n",
                        qmat_kernel_name(family(ki)), in[i], out[i], ref);
            if (mu > max_ulp) max_ulp = mu;
            if (in[i] < -3 && mu > max_ulp_neg) max_ulp_neg = mu;
            if (fabsl(ref) >= FLT_MIN) {
                double rel = (double)(fabsl((long double)out[i] - ref) / fabsl(ref));
                if (rel > max_rel) max_rel = rel;
            }
        }
        CHECKF(bad == 0, "%s: %d of %d wrong", qmat_kernel_name(family(ki)), bad, n);
        printf("  %-6s vec_gelu_tanh: max %.3f ulp (rel %.3g), x < -3: %.3f ulp\n",
               qmat_kernel_name(family(ki)), max_ulp, max_rel, max_ulp_neg);
    }
    free(in);
    free(out);
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* Special values, each in every lane position and in the tail. */
static void test_gelu_special(void) {
    const float nan = nanf("");
    const float sp[] = {0.0f,      -0.0f,        1e-30f, -1e-30f, 1e-40f,  -1e-40f,  FLT_MIN,
                        -FLT_MIN,  FLT_TRUE_MIN, 1e30f,  -1e30f,  FLT_MAX, -FLT_MAX, INFINITY,
                        -INFINITY, nan,          -nan,   -10.0f,  -12.0f,  -12.5f,   12.0f};
    const int nsp = (int)(sizeof sp / sizeof sp[0]);
    float buf[8 + sizeof sp / sizeof sp[0]];
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        const char *kn = qmat_kernel_name(family(ki));
        for (int lead = 0; lead < 8; lead++) {
            for (int i = 0; i < lead; i++) buf[i] = 1.0f;
            memcpy(buf + lead, sp, sizeof sp);
            vec_gelu_tanh(buf, (size_t)(lead + nsp));
            for (int i = 0; i < nsp; i++) {
                float x = sp[i], g = buf[lead + i];
                CHECKF(gelu_ok(g, gelu_ld(x), NULL), "%s lead %d: gelu(%g) = %g", kn, lead, x, g);
                if (x == 0.0f)
                    CHECKF(g == 0.0f && signbit(g) == signbit(x), "%s: gelu(%g) = %g", kn, x, g);
                if (isinf(x) && x > 0) CHECK(isinf(g) && g > 0);
                if (isinf(x) && x < 0) CHECKF(g == 0.0f, "%s: gelu(-inf) = %g", kn, g);
                if (x == -1e30f || x == -FLT_MAX) CHECKF(g == 0.0f, "%s: gelu(%g) = %g", kn, x, g);
                if (x == 1e30f || x == FLT_MAX || x == 12.0f)
                    CHECKF(g == x, "%s: gelu(%g) = %g", kn, x, g);
                if (isnan(x)) CHECKF(isnan(g), "%s: gelu(nan) = %g", kn, g);
            }
            for (int i = 0; i < lead; i++) CHECK(fabsf(buf[i] - 0.841191992f) < 1e-7f);
        }
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* Every length and alignment: within tolerance of the reference and of the scalar path, guards
 * intact. */
static void test_gelu_lengths(void) {
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!qmat_kernel_available(family(ki))) continue;
        for (int li = 0; li < NLENGTHS; li++)
            for (int off = 0; off < 2; off++) {
                int n = lengths[li];
                rng_seed((uint64_t)(2000 + n * 2 + off));
                Buf x = buf_new(n, off), s = buf_new(n, 0), in = buf_new(n, 0);
                for (int i = 0; i < n; i++) x.p[i] = s.p[i] = in.p[i] = rng_range(-12, 12);
                CHECK(use_kernel(QMAT_KERNEL_SCALAR));
                vec_gelu_tanh(s.p, (size_t)n);
                CHECK(use_kernel(family(ki)));
                vec_gelu_tanh(x.p, (size_t)n);
                int bad = 0;
                for (int i = 0; i < n; i++) {
                    long double ref = gelu_ld(in.p[i]);
                    bad += !gelu_ok(x.p[i], ref, NULL);
                    bad += !gelu_ok(x.p[i], s.p[i], NULL);
                }
                CHECKF(bad == 0, "%s n=%d off=%d: %d wrong", qmat_kernel_name(family(ki)), n,
                       off, bad);
                CHECK(buf_guard_ok(&x));
                buf_free(&x), buf_free(&s), buf_free(&in);
            }
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* ---- vec_exp_shift ---- */

/* A dense sweep of x - shift over [-104, 0] (step 2^-10) and (0, 88.7], for several shifts,
 * against expl of the float difference; the sum is that of the stored values. */
static void test_exp_sweep(void) {
    const float shifts[] = {0.0f, 1.5f, -3.25f, 37.0f};
    const int nneg = 104 * 1024 + 1, npos = 887 * 16, n = nneg + npos;
    float *in = xmalloc(sizeof(float) * (size_t)n), *out = xmalloc(sizeof(float) * (size_t)n);
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        double max_ulp = 0, max_rel = 0;
        int bad = 0;
        for (int si = 0; si < (int)(sizeof shifts / sizeof shifts[0]); si++) {
            float shift = shifts[si];
            for (int i = 0; i < nneg; i++) in[i] = -104.0f + (float)i / 1024.0f + shift;
            for (int i = 0; i < npos; i++) in[nneg + i] = (float)(i + 1) / 160.0f + shift;
            memcpy(out, in, sizeof(float) * (size_t)n);
            double sum = vec_exp_shift(out, shift, n);
            long double stored = 0;
            for (int i = 0; i < n; i++) {
                float d = in[i] - shift; /* the difference the function exponentiates */
                long double ref = expl((long double)d);
                double mu = 0;
                if (!exp_ok(out[i], ref, &mu) && bad++ < 5)
                    fprintf(stderr, "  %s exp(%.9g) = %.9g, want %.12Lg\n",
                            qmat_kernel_name(family(ki)), d, out[i], ref);
                if (mu > max_ulp) max_ulp = mu;
                if (ref >= FLT_MIN && ref <= FLT_MAX) {
                    double rel = (double)(fabsl((long double)out[i] - ref) / ref);
                    if (rel > max_rel) max_rel = rel;
                }
                stored += out[i];
            }
            CHECKF(fabsl((long double)sum - stored) <= 1e-15L * n * stored,
                   "%s: sum %.17g vs %.17Lg", qmat_kernel_name(family(ki)), sum, stored);
        }
        CHECKF(bad == 0, "%s: %d wrong", qmat_kernel_name(family(ki)), bad);
        printf("  %-6s vec_exp_shift: max %.3f ulp (rel %.3g)\n", qmat_kernel_name(family(ki)),
               max_ulp, max_rel);
    }
    free(in);
    free(out);
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* Special values, each in every lane position and in the tail. */
static void test_exp_special(void) {
    const float nan = nanf("");
    /* x values, with shift 2 */
    const float sp[] = {2.0f,          -INFINITY,     INFINITY,      nan,     2.0f + 89.0f,
                        2.0f + 100.0f, 1e30f,         -1e30f,        -200.0f, 2.0f - 87.5f,
                        2.0f - 100.0f, 2.0f - 88.72f, 2.0f + 88.72f, -FLT_MAX};
    const int nsp = (int)(sizeof sp / sizeof sp[0]);
    float buf[8 + sizeof sp / sizeof sp[0]];
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        const char *kn = qmat_kernel_name(family(ki));
        for (int lead = 0; lead < 8; lead++) {
            for (int i = 0; i < lead; i++) buf[i] = 2.0f;
            memcpy(buf + lead, sp, sizeof sp);
            double sum = vec_exp_shift(buf, 2.0f, lead + nsp);
            CHECK(isnan(sum)); /* the NaN, and inf + ... */
            for (int i = 0; i < nsp; i++) {
                float x = sp[i], e = buf[lead + i], d = x - 2.0f;
                CHECKF(exp_ok(e, expl((long double)d), NULL), "%s lead %d: exp(%g) = %g", kn, lead,
                       d, e);
                if (d == 0.0f) CHECKF(e == 1.0f, "%s: exp(0) = %.9g", kn, e);
                if (d < -104.0f) CHECKF(e == 0.0f && !signbit(e), "%s: exp(%g) = %g", kn, d, e);
                if (d > 88.73f) CHECKF(isinf(e) && e > 0, "%s: exp(%g) = %g", kn, d, e);
                if (isnan(d)) CHECKF(isnan(e), "%s: exp(nan) = %g", kn, e);
            }
            for (int i = 0; i < lead; i++) CHECK(buf[i] == 1.0f);
        }
        /* a masked row: -inf scores contribute 0 */
        float row[11] = {1,         -INFINITY, 0.5f,      -INFINITY, -INFINITY, 1,
                         -INFINITY, -INFINITY, -INFINITY, 0.25f,     -INFINITY};
        double s = vec_exp_shift(row, 1.0f, 11);
        CHECKF(fabsl(s - (2.0L + expl(-0.5L) + expl(-0.75L))) < 1e-6L, "%s: %.9g", kn, s);
        CHECK(row[1] == 0.0f && row[10] == 0.0f && row[0] == 1.0f);
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* Softmax numerators (shift = max) for every length and alignment: each value within EXP_ULPS
 * of the reference and of the scalar path, the sum right, guards intact. */
static void test_exp_lengths(void) {
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!qmat_kernel_available(family(ki))) continue;
        for (int li = 0; li < NLENGTHS; li++)
            for (int off = 0; off < 2; off++) {
                int n = lengths[li];
                rng_seed((uint64_t)(3000 + n * 2 + off));
                Buf x = buf_new(n, off), s = buf_new(n, 0), in = buf_new(n, 0);
                float maxv = -INFINITY;
                for (int i = 0; i < n; i++) {
                    x.p[i] = s.p[i] = in.p[i] = 8.0f * rng_gauss();
                    if (in.p[i] > maxv) maxv = in.p[i];
                }
                CHECK(use_kernel(QMAT_KERNEL_SCALAR));
                double sum_s = vec_exp_shift(s.p, maxv, n);
                CHECK(use_kernel(family(ki)));
                double sum = vec_exp_shift(x.p, maxv, n);
                int bad = 0;
                long double ref_sum = 0;
                for (int i = 0; i < n; i++) {
                    long double ref = expl((long double)(float)(in.p[i] - maxv));
                    ref_sum += ref;
                    bad += !exp_ok(x.p[i], ref, NULL);
                    bad += !exp_ok(x.p[i], s.p[i], NULL);
                }
                CHECKF(bad == 0, "%s n=%d off=%d: %d wrong", qmat_kernel_name(family(ki)), n,
                       off, bad);
                CHECKF(fabsl((long double)sum - ref_sum) <= 2.4e-7L * ref_sum,
                       "%s n=%d: sum %.17g vs %.17Lg", qmat_kernel_name(family(ki)), n, sum,
                       ref_sum);
                CHECKF(fabs(sum - sum_s) <= 2.4e-7 * sum_s, "%s n=%d: sum %.17g vs scalar %.17g",
                       qmat_kernel_name(family(ki)), n, sum, sum_s);
                if (n > 0)
                    CHECK(sum >= 1.0); /* exp(0) = 1 exactly at the max */
                else
                    CHECK(sum == 0.0);
                CHECK(buf_guard_ok(&x));
                buf_free(&x), buf_free(&s), buf_free(&in);
            }
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* ---- FP16 rounding ---- */

static float f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Every path equals the scalar reference (round_f16: util's software conversion) bit for bit, on
 * random bit patterns, every FP16 boundary (max, overflow threshold, subnormals, ties) and every
 * tail length, and flags a non-finite result exactly when there is one. */
static void test_round_f16(void) {
    enum { N = 1 << 16 };
    static float in[N + 7], ref[N + 7], got[N + 7];
    static const float special[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e30f,
                                    5.9604645e-08f /* 2^-24 */, 2.9802322e-08f /* tie to 0 */,
                                    8.940697e-08f /* 1.5 * 2^-24: tie to even */, 6.1035156e-05f /* 2^-14 */,
                                    1.0004883f /* 1 + 2^-11: tie */, 1.0014648f /* 1 + 3 * 2^-11: tie */};
    rng_seed(4242);
    for (int i = 0; i < N + 7; i++) {
        uint32_t u = (uint32_t)rng_next();
        /* mostly values FP16 can hold or round, some of everything else */
        if (i % 4) u = (u & 0x807fffffu) | (uint32_t)(100 + (u >> 23) % 60) << 23;
        in[i] = f32_bits(u);
    }
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) in[i] = special[i];
    for (int ki = 0; ki < NKERNELS; ki++) {
        if (!use_kernel(family(ki))) continue;
        const char *kn = qmat_kernel_name(family(ki));
        for (int len = N; len <= N + 7; len++) {
            memcpy(ref, in, sizeof(float) * (size_t)len);
            memcpy(got, in, sizeof(float) * (size_t)len);
            int rbad = kernels_table(QMAT_KERNEL_SCALAR)->round_f16(ref, (size_t)len), gbad = vec_round_f16(got, (size_t)len);
            int same = rbad == gbad;
            for (int i = 0; i < len; i++)
                same &= isnan(ref[i]) ? isnan(got[i]) != 0 : memcmp(&ref[i], &got[i], sizeof(float)) == 0;
            CHECKF(same, "%s: vec_round_f16 differs from the reference (n %d)", kn, len);
        }
        /* the flag: finite input that stays finite, then one value that overflows at the end */
        float v[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        CHECKF(vec_round_f16(v, 9) == 0, "%s: finite values flagged", kn);
        v[8] = 70000.0f;
        CHECKF(vec_round_f16(v, 9) == 1 && isinf(v[8]), "%s: overflow in the tail not flagged", kn);
        CHECKF(vec_round_f16(v, 0) == 0, "%s: empty input flagged", kn);
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
}

/* `anemll version`'s CPU features agree with the kernel choice: a SIMD path is available exactly
 * when it is built in and the features it needs are present. */
static void test_kernel_features(void) {
    CpuFeature f[CPU_MAX_FEATURES];
    int n = cpu_features(f), avx2_needs = 0, avx_vnni = 0, neon = 0;
    static const char *avx2_path[] = {"avx", "avx2", "fma", "f16c"};
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) avx2_needs += f[i].present && !strcmp(f[i].name, avx2_path[k]);
        avx_vnni |= f[i].present && !strcmp(f[i].name, "avx_vnni");
        neon |= f[i].present && !strcmp(f[i].name, "neon");
    }
    CHECK(qmat_kernel_compiled(QMAT_KERNEL_SCALAR) && qmat_kernel_available(QMAT_KERNEL_SCALAR));
    CHECK(qmat_kernel_available(QMAT_KERNEL_AVX2) == (qmat_kernel_compiled(QMAT_KERNEL_AVX2) && avx2_needs == 4));
    CHECK(qmat_kernel_available(QMAT_KERNEL_AVXVNNI) ==
          (qmat_kernel_compiled(QMAT_KERNEL_AVXVNNI) && avx2_needs == 4 && avx_vnni));
    CHECK(qmat_kernel_available(QMAT_KERNEL_NEON) == (qmat_kernel_compiled(QMAT_KERNEL_NEON) && neon));
    /* an emulated family needs AVX2 only */
    for (int ki = 0; ki < NKERNELS; ki++)
        if (kernels_table(family(ki))->emulated)
            CHECKF(qmat_kernel_available(family(ki)) == (avx2_needs == 4), "%s", qmat_kernel_name(family(ki)));
}

int main(void) {
    for (int ki = 0; ki < NKERNELS; ki++)
        if (!qmat_kernel_available(family(ki)))
            printf("  (%s not available here: not tested)\n", qmat_kernel_name(family(ki)));
    RUN(test_dot);
    RUN(test_axpy);
    RUN(test_rows_forms);
    RUN(test_gelu_reference_identity);
    RUN(test_gelu_sweep);
    RUN(test_gelu_special);
    RUN(test_gelu_lengths);
    RUN(test_exp_sweep);
    RUN(test_exp_special);
    RUN(test_exp_lengths);
    RUN(test_round_f16);
    RUN(test_kernel_features);
    CHECK_EXIT();
}
