/* Kernel families: the loops the forward pass spends its time in (the matmuls of quant/matmul.h,
 * the vector loops of ops/vec.h), once per instruction set, each family one table.  quant/ and
 * ops/ call through the table of the family chosen for the run (kernels_active), so forcing the
 * scalar path forces it everywhere.
 *
 * The choice is made once, at the first use: the best family this CPU runs (AVX2+FMA+F16C on
 * x86-64, NEON on aarch64, else scalar), unless the environment variable
 * ANEMLL_KERNEL=scalar|avx2|neon|auto says otherwise; qmat_set_kernel overrides it (tests force
 * each family).
 *
 * Adding a family: one file, src/kernels/kernels_<name>.c, defining kernels_<name> (on other
 * architectures with its name only; files named *_avx2.c / *_avx512.c get their ISA flags from
 * the Makefile), and one entry in KERNEL_FAMILIES. */
#ifndef ANEMLL_KERNELS_H
#define ANEMLL_KERNELS_H

#include <stddef.h>

#include "quant/matrix.h"

typedef struct {
    const char *name; /* ANEMLL_KERNEL's word for the family */
    /* Whether this CPU runs the family; NULL when it is not built for this architecture, and
     * then so is every function below. */
    int (*cpu_runs)(void);
    /* quant/matmul.h's qmat_matmul_rows and qmat_matmul_q8_rows, for T >= 1 and r0 < r1; the
     * scalar family's are the reference the others are tested against */
    void (*matmul_rows)(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);
    void (*matmul_q8_rows)(const QMatrix *w, const QActs *x, float *y, int r0, int r1);
    /* ops/vec.h's functions, with the contracts documented there */
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
    void (*gelu_tanh)(float *x, size_t n);
    double (*exp_shift)(float *x, float shift, int n);
    int (*round_f16)(float *x, size_t n);
} KernelTable;

/* X(ID, name) per family, the scalar reference first; AUTO picks the last one this CPU runs. */
#define KERNEL_FAMILIES(X) X(SCALAR, scalar) X(AVX2, avx2) X(AVX512, avx512) X(NEON, neon)

#define KERNEL_TABLE_DECL(ID, name) extern const KernelTable kernels_##name;
KERNEL_FAMILIES(KERNEL_TABLE_DECL)
#undef KERNEL_TABLE_DECL

/* A family, or AUTO: the best this CPU runs. */
typedef enum {
    QMAT_KERNEL_AUTO,
#define KERNEL_ID(ID, name) QMAT_KERNEL_##ID,
    KERNEL_FAMILIES(KERNEL_ID)
#undef KERNEL_ID
    QMAT_KERNEL_END /* one past the last family */
} QMatKernel;

/* The table of the family in use (qmat_active_kernel). */
const KernelTable *kernels_active(void);
/* Family k's table (its functions NULL when k is not built in); NULL for AUTO. */
const KernelTable *kernels_table(QMatKernel k);

/* Whether this build has k's code (x86-64 builds have AVX2, aarch64 builds NEON). */
int qmat_kernel_compiled(QMatKernel k);
/* Whether k is built in and this CPU runs it. */
int qmat_kernel_available(QMatKernel k);
/* Force a family (AUTO: back to the best).  Returns 0, or -1 with err_set if unavailable. */
int qmat_set_kernel(QMatKernel k);
/* The family in use now (never AUTO). */
QMatKernel qmat_active_kernel(void);
const char *qmat_kernel_name(QMatKernel k);
/* Why $ANEMLL_KERNEL was not followed (unknown, or not for this CPU: auto is used), or NULL. */
const char *qmat_kernel_env_note(void);
/* "scalar" / "avx2" / "neon" / "auto" -> kernel; -1 if unknown. */
int qmat_kernel_parse(const char *s, QMatKernel *out);

#endif
