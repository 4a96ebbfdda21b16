/* Kernel families: the loops the forward pass spends its time in (the matmuls of quant/matmul.h,
 * the vector loops of ops/vec.h), once per instruction set, each family one table.  quant/ and
 * ops/ call through the table of the family chosen for the run (kernels_active), so forcing the
 * scalar path forces it everywhere.
 *
 * The choice is made once, at the first use: the best family this CPU runs (on x86-64 AVX-512
 * with VNNI+VBMI, else AVX-VNNI, else AVX2+FMA+F16C; NEON on aarch64; else scalar), unless the
 * environment variable ANEMLL_KERNEL=scalar|avx2|avxvnni|avx512|neon|auto says otherwise;
 * qmat_set_kernel overrides it (tests force each family).
 *
 * Adding a family: one file, src/kernels/kernels_<name>.c, defining its table (KERNEL_TABLE below;
 * on other architectures with its name only; files named *_avx2.c / *_avxvnni.c / *_avx512.c get
 * their ISA flags from the Makefile), and one entry in KERNEL_FAMILIES.
 *
 * Emulated families, for tests only: the Makefile's emu build (x86-64) compiles each x86 family
 * file named in its EMU_FAMILIES a second time with ANEMLL_SIMDE, the instructions beyond AVX2
 * then coming from SIMDe as portable code (kernels/x86_intrin.h), into a variant of the library
 * that the kernel tests link; so a family is tested on every AVX2 machine, whatever it lacks.
 * The product's library never has them, and AUTO never picks one. */
#ifndef ANEMLL_KERNELS_H
#define ANEMLL_KERNELS_H

#include <stddef.h>

#include "quant/matrix.h"

typedef struct {
    const char *name; /* ANEMLL_KERNEL's word for the family */
    /* Whether this CPU runs the family; NULL when it is not built for this architecture, and
     * then so is every function below. */
    int (*cpu_runs)(void);
    int emulated; /* compiled against SIMDe: for tests, never picked by AUTO */
    /* quant/matmul.h's qmat_matmul_rows and qmat_matmul_q8_rows, for T >= 1 and r0 < r1; the
     * scalar family's are the reference the others are tested against */
    void (*matmul_rows)(const QMatrix *w, const float *x, int T, float *y, int r0, int r1);
    void (*matmul_q8_rows)(const QMatrix *w, const QActs *x, float *y, int r0, int r1);
    /* ops/vec.h's functions, with the contracts documented there */
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
    /* ops/vec.h's vec_dot_rows and vec_axpy_rows: bit for bit the family's dot per row and its
     * axpy row after row, in fewer passes over the vectors */
    void (*dot_rows)(const float *q, const float *k, size_t ldk, int rows, int n, float *out);
    void (*axpy_rows)(float *y, const float *a, const float *x, size_t ldx, int rows, int n);
    void (*gelu_tanh)(float *x, size_t n);
    double (*exp_shift)(float *x, float shift, int n);
    int (*round_f16)(float *x, size_t n);
    /* quant/matrix.h's qacts_quantize_step_ref, bit for bit */
    void (*quantize_step)(const float *x, int n, int8_t *q, int8_t *q_nib, float d[2], int32_t sums[2]);
    /* LUT widths (bit b: b-bit indices) whose 8-bit matmul runs faster from QMatrix.codes8, a
     * code per weight, than from the indices: the model builds codes8 for its LM head then */
    unsigned codes8_widths;
} KernelTable;

/* X(ID, name) per family, the scalar reference first; AUTO picks the last one this CPU runs that
 * is not emulated.  The emu build defines ANEMLL_EMU_<NAME> for each family it emulates. */
#define KERNEL_FAMILIES(X)                                                              \
    X(SCALAR, scalar) X(AVX2, avx2) X(AVXVNNI, avxvnni) X(AVX512, avx512) X(NEON, neon) \
    KERNEL_EMU_AVXVNNI(X) KERNEL_EMU_AVX512(X)
#ifdef ANEMLL_EMU_AVXVNNI
#define KERNEL_EMU_AVXVNNI(X) X(AVXVNNI_EMU, avxvnni_emu)
#else
#define KERNEL_EMU_AVXVNNI(X)
#endif
#ifdef ANEMLL_EMU_AVX512
#define KERNEL_EMU_AVX512(X) X(AVX512_EMU, avx512_emu)
#else
#define KERNEL_EMU_AVX512(X)
#endif

/* An x86 family file's table: const KernelTable KERNEL_TABLE(fam) = {KERNEL_TABLE_HEAD(fam, cpu_runs),
 * .matmul_rows = ..., ...} is kernels_<fam>, named "<fam>", run when cpu_runs() says so; compiled
 * with ANEMLL_SIMDE, it is kernels_<fam>_emu, named "<fam>_emu", emulated, run wherever AVX2 is
 * (the emulated code uses the CPU's own AVX2 for what is AVX2). */
#define KERNEL_PASTE(a, b) KERNEL_PASTE_(a, b)
#define KERNEL_PASTE_(a, b) a##b
#define KERNEL_STR(a) KERNEL_STR_(a)
#define KERNEL_STR_(a) #a
#ifdef ANEMLL_SIMDE
#define KERNEL_TABLE(fam) KERNEL_PASTE(kernels_, KERNEL_PASTE(fam, _emu))
#define KERNEL_TABLE_HEAD(fam, runs) .name = KERNEL_STR(fam) "_emu", .cpu_runs = cpu_has_avx2_fma_f16c, .emulated = 1
#else
#define KERNEL_TABLE(fam) KERNEL_PASTE(kernels_, fam)
#define KERNEL_TABLE_HEAD(fam, runs) .name = KERNEL_STR(fam), .cpu_runs = runs
#endif

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

/* Whether this build has k's code (x86-64 builds have the x86 families, aarch64 builds NEON). */
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
/* A family's name ("scalar", "avx2", ...) or "auto" -> kernel; -1 if unknown. */
int qmat_kernel_parse(const char *s, QMatKernel *out);

#endif
