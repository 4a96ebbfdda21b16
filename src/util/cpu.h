/* Run-time CPU feature detection for picking SIMD kernels. */
#ifndef ANEMLL_CPU_H
#define ANEMLL_CPU_H

/* x86-64: AVX2, FMA and F16C all present and the OS saves YMM state.  0 elsewhere. */
int cpu_has_avx2_fma_f16c(void);
/* aarch64: Advanced SIMD (always present there).  0 elsewhere. */
int cpu_has_neon(void);

#endif
