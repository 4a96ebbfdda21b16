/* A small seeded generator for the unit tests (xorshift64*): the same numbers on every machine. */
#ifndef ANEMLL_TESTS_RNG_H
#define ANEMLL_TESTS_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 1; }
static inline uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
/* uniform in [0, 1) */
static inline double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }
/* uniform in [lo, hi) */
static inline float rng_range(double lo, double hi) { return (float)(lo + (hi - lo) * rng_unit()); }
/* standard normal (Box-Muller) */
static inline float rng_gauss(void) {
    double u = rng_unit(), v = rng_unit();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

#endif
