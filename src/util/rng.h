/* The engine's two seeded generators, so every use draws the same numbers on every machine:
 * splitmix64 (sampling, synthetic weights) and a 64-bit LCG (Knuth's MMIX constants; calibration
 * ids, benchmark prompts). */
#ifndef ANEMLL_RNG_H
#define ANEMLL_RNG_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t lcg64(uint64_t *s) { return *s = *s * 6364136223846793005ull + 1442695040888963407ull; }

#endif
