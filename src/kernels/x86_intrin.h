/* Internal to src/kernels: the x86 intrinsics, for the family files to include instead of
 * <immintrin.h>.  Natively that is all: the file is compiled with its ISA's flags (Makefile).
 *
 * With ANEMLL_SIMDE (the emu build's emulated families, kernels.h), the same file is compiled with
 * the AVX2 flags alone: AVX2, FMA and F16C stay native, and the AVX-512 and VNNI intrinsics become
 * SIMDe's portable functions under their Intel names (SIMDE_ENABLE_NATIVE_ALIASES).  <immintrin.h>
 * comes first so that SIMDe adopts GCC's own __m512i and friends as its vector types
 * (simde/x86/avx512/types.h): its alias typedefs then repeat them instead of clashing.
 * An intrinsic SIMDe lacks (0.7.4 has no masked loads, no _mm512_reduce_*, ...) stays GCC's, which
 * fails the emulated build with "inlining failed ... target specific option mismatch": give it a
 * portable definition below, or the family file an ANEMLL_SIMDE alternative. */
#ifndef ANEMLL_X86_INTRIN_H
#define ANEMLL_X86_INTRIN_H

#include <immintrin.h>

#ifdef ANEMLL_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
/* SIMDe 0.7.4 has the AVX512VL+VNNI name of the 256-bit vpdpbusd only; AVX-VNNI's is the same
 * operation. */
#define _mm256_dpbusd_avx_epi32(src, a, b) simde_mm256_dpbusd_epi32(src, a, b)
#endif

#endif
