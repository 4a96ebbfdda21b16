#include "util/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum { AVX, AVX2, FMA, F16C, AVX512F, AVX512BW, AVX512VL, AVX512DQ, AVX512_VNNI, AVX_VNNI, AVX512_VBMI, AVX512_BF16, N_X86 };
enum { R_EAX, R_EBX, R_ECX, R_EDX };
/* XCR0 bits the OS must set for a feature's registers: SSE+AVX (YMM); also opmask and ZMM. */
#define YMM_STATE 0x06u
#define ZMM_STATE 0xe6u

static const struct {
    const char *name;
    unsigned leaf, subleaf;
    int reg, bit;
    unsigned state;
} x86[N_X86] = {
    [AVX] = {"avx", 1, 0, R_ECX, 28, YMM_STATE},
    [AVX2] = {"avx2", 7, 0, R_EBX, 5, YMM_STATE},
    [FMA] = {"fma", 1, 0, R_ECX, 12, YMM_STATE},
    [F16C] = {"f16c", 1, 0, R_ECX, 29, YMM_STATE},
    [AVX512F] = {"avx512f", 7, 0, R_EBX, 16, ZMM_STATE},
    [AVX512BW] = {"avx512bw", 7, 0, R_EBX, 30, ZMM_STATE},
    [AVX512VL] = {"avx512vl", 7, 0, R_EBX, 31, ZMM_STATE},
    [AVX512DQ] = {"avx512dq", 7, 0, R_EBX, 17, ZMM_STATE},
    [AVX512_VNNI] = {"avx512_vnni", 7, 0, R_ECX, 11, ZMM_STATE},
    [AVX_VNNI] = {"avx_vnni", 7, 1, R_EAX, 4, YMM_STATE},
    [AVX512_VBMI] = {"avx512_vbmi", 7, 0, R_ECX, 1, ZMM_STATE},
    [AVX512_BF16] = {"avx512_bf16", 7, 1, R_EAX, 5, ZMM_STATE},
};

/* The register state the OS saves (XCR0), 0 when it does not say (no OSXSAVE). */
static unsigned os_state(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    /* the instruction can be present while the OS does not save its registers: check XCR0 */
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    return xcr0_lo;
}

static int x86_has(int f) {
    unsigned r[4];
    /* subleaves above the last one the leaf announces (in EAX of subleaf 0) are undefined */
    if (x86[f].subleaf && (!__get_cpuid_count(x86[f].leaf, 0, &r[0], &r[1], &r[2], &r[3]) || r[0] < x86[f].subleaf))
        return 0;
    if (!__get_cpuid_count(x86[f].leaf, x86[f].subleaf, &r[0], &r[1], &r[2], &r[3])) return 0;
    return ((r[x86[f].reg] >> x86[f].bit) & 1) && (os_state() & x86[f].state) == x86[f].state;
}

int cpu_has_avx2_fma_f16c(void) { return x86_has(AVX) && x86_has(AVX2) && x86_has(FMA) && x86_has(F16C); }

int cpu_has_avx_vnni(void) { return cpu_has_avx2_fma_f16c() && x86_has(AVX_VNNI); }

int cpu_has_avx512_vnni_vbmi(void) {
    return cpu_has_avx2_fma_f16c() && x86_has(AVX512F) && x86_has(AVX512BW) && x86_has(AVX512VL) &&
           x86_has(AVX512DQ) && x86_has(AVX512_VNNI) && x86_has(AVX512_VBMI);
}

_Static_assert(N_X86 <= CPU_MAX_FEATURES, "CPU_MAX_FEATURES too small");

int cpu_features(CpuFeature out[CPU_MAX_FEATURES]) {
    for (int f = 0; f < N_X86; f++) out[f] = (CpuFeature){x86[f].name, x86_has(f)};
    return N_X86;
}
#else
int cpu_has_avx2_fma_f16c(void) { return 0; }
int cpu_has_avx_vnni(void) { return 0; }
int cpu_has_avx512_vnni_vbmi(void) { return 0; }
#endif

int cpu_has_neon(void) {
#if defined(__aarch64__)
    return 1; /* Advanced SIMD is mandatory in AArch64 */
#else
    return 0;
#endif
}

#if defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#endif

int cpu_features(CpuFeature out[CPU_MAX_FEATURES]) {
    int dotprod = 0;
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
    out[0] = (CpuFeature){"neon", cpu_has_neon()};
    out[1] = (CpuFeature){"dotprod", dotprod};
    return 2;
}
#elif !defined(__x86_64__) && !defined(__i386__)
int cpu_features(CpuFeature out[CPU_MAX_FEATURES]) {
    (void)out;
    return 0;
}
#endif
