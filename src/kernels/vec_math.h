/* Internal to src/kernels: the constants of the vector loops' formulas (ops/vec.h), shared by
 * the scalar reference and the SIMD families (see kernels_avx2.c for the derivation). */
#ifndef ANEMLL_VEC_MATH_H
#define ANEMLL_VEC_MATH_H

/* sqrt(2/pi) and PyTorch's cubic coefficient */
#define VEC_GELU_K 0.7978845608028654
#define VEC_GELU_A 0.044715
/* Below this GELU is under half the smallest denormal (gelu(-12) ~ -1e-61): the result is -0.
 * Clamping here keeps the exponent finite, so -inf gives -0 rather than -inf/inf = NaN. */
#define VEC_GELU_XMIN (-12.0f)

/* ln 2 split for Cody-Waite range reduction with FMA: HI is the nearest float (double), LO the
 * rest, so d - k*HI is exact for the k that occur and the reduced argument carries LO's error
 * only. */
#define VEC_LN2_HI_F 0.693147182464599609375f
#define VEC_LN2_LO_F (-1.904654323148236e-09f)
#define VEC_LN2_HI_D 0.6931471805599453
#define VEC_LN2_LO_D 2.3190468138462996e-17
#define VEC_LOG2E 1.4426950408889634

/* exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2.
 * Float: P of degree 4, a near-minimax Chebyshev fit (relative error of exp ~1.1e-8, 0.1 ulp
 * with these float coefficients).  Double (GELU's exponent): P of degree 5 (2.2e-10). */
#define VEC_EXPF_P0 0.5f
#define VEC_EXPF_P1 0.16666576266288757f
#define VEC_EXPF_P2 0.041666556149721146f
#define VEC_EXPF_P3 0.008363190107047558f
#define VEC_EXPF_P4 0.0013926198007538915f
#define VEC_EXPD_P0 0.5000000013481058
#define VEC_EXPD_P1 0.16666666681640166
#define VEC_EXPD_P2 0.041666464772966816
#define VEC_EXPD_P3 0.008333310908565454
#define VEC_EXPD_P4 0.0013933666900006931
#define VEC_EXPD_P5 0.00019891009596308316

/* expf's argument is clamped to [EXPF_MIN, EXPF_MAX]: exp(-110) rounds to 0 and exp(89) to inf,
 * and in between 2^k (|k| <= 159) is applied as two factors that are normal floats, so
 * denormal results round once, correctly. */
#define VEC_EXPF_MIN (-110.0f)
#define VEC_EXPF_MAX 89.0f

#endif
