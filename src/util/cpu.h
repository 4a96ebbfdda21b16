/* Run-time CPU feature detection for picking SIMD kernels. */
#ifndef ANEMLL_CPU_H
#define ANEMLL_CPU_H

/* x86-64: AVX2, FMA and F16C all present and the OS saves YMM state.  0 elsewhere. */
int cpu_has_avx2_fma_f16c(void);
/* x86-64: that, plus AVX-VNNI (the VEX-encoded 256-bit vpdpbusd).  0 elsewhere. */
int cpu_has_avx_vnni(void);
/* x86-64: that of cpu_has_avx2_fma_f16c, plus AVX-512 F, BW, VL, DQ, VNNI and VBMI with the OS
 * saving the opmask and ZMM state.  0 elsewhere. */
int cpu_has_avx512_vnni_vbmi(void);
/* aarch64: Advanced SIMD (always present there).  0 elsewhere. */
int cpu_has_neon(void);

/* One SIMD feature and whether this machine can use it (the CPU has it and, on x86, the OS saves
 * the registers it needs). */
typedef struct {
    const char *name;
    int present;
} CpuFeature;
#define CPU_MAX_FEATURES 16
/* The features this architecture's kernels could use, present or not (x86-64: avx avx2 fma f16c
 * avx512f avx512bw avx512vl avx512dq avx512_vnni avx_vnni avx512_vbmi avx512_bf16; aarch64: neon dotprod); returns the count. */
int cpu_features(CpuFeature out[CPU_MAX_FEATURES]);

#endif
