/* The AVX-VNNI kernel family (AVX2 flags + -mavxvnni; picked at run time on CPUs with AVX-VNNI):
 * the AVX2 family's source with its 8-bit dot products on the VEX-encoded vpdpbusd
 * (kernels_avx2.c, KERNELS_VNNI). */
#define KERNELS_VNNI
#include "kernels/kernels_avx2.c"
