/* `version`: what this binary is and what it runs here: version, compiler, the kernels built in,
 * the CPU's SIMD features and the kernel this run picks. */
#include <stdio.h>
#include <stdlib.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/commands.h"

/* The Makefile passes both (VERSION, git describe); other builds, such as check-aarch64's, do not. */
#ifndef ANEMLL_VERSION
#define ANEMLL_VERSION "unknown"
#endif
#ifndef ANEMLL_GIT
#define ANEMLL_GIT ""
#endif

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown C compiler"
#endif

const CommandSpec version_spec = {
    "version",
    "version, compiler, kernels built in, CPU features and the kernel in use",
    "",
    "Prints the version (with the git revision it was built from, when built from a git checkout), the "
    "compiler, the matmul kernels this build has, the SIMD features of this CPU and the kernel a run uses "
    "here: the best the CPU runs, unless ANEMLL_KERNEL=scalar|avx2|avxvnni|avx512|neon|auto says otherwise. "
    "`anemll --version` is the same.",
    (const ArgSpec *const[]){NULL},
    "anemll --version\n"
    "ANEMLL_KERNEL=scalar anemll version",
};

static void print_features(const char *title, const anemll_cpu_feature *f, int n, int present) {
    int shown = 0;
    fputs(title, stdout);
    for (int i = 0; i < n; i++)
        if (f[i].present == present) shown += printf(" %s", f[i].name) > 0;
    if (!shown) fputs(" none", stdout);
}

int cmd_version(int argc, char **argv) {
    Args a;
    args_init(&a, &version_spec, argc, argv);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    printf("anemll %s", ANEMLL_VERSION);
    if (*ANEMLL_GIT) printf(" (git %s)", ANEMLL_GIT);
    printf("\ncompiler: %s\nkernels built in:", COMPILER);
    anemll_kernel_info k[16];
    int nk = anemll_kernel_families(k, 16);
    for (int i = 0; i < nk && i < 16; i++)
        if (k[i].compiled) printf(" %s", k[i].name);
    anemll_cpu_feature f[32];
    int n = anemll_cpu_features(f, 32);
    if (n > 32) n = 32;
    print_features("\ncpu features:", f, n, 1);
    print_features("\ncpu features missing:", f, n, 0);
    const char *env = getenv("ANEMLL_KERNEL");
    printf("\nkernel used: %s (%s%s)\n", anemll_kernel_active(), env && *env ? "ANEMLL_KERNEL=" : "auto",
           env && *env ? env : "");
    return 0;
}
