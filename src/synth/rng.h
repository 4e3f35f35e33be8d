/*
 * rng.h - the small deterministic pseudo-random generator of the synthetic
 * region generator (weft synth).
 *
 * Everything weft synth writes is a pure function of (seed, person index,
 * stream): a generator is seeded from those three numbers, so person i's data
 * never depends on persons before it and the population is never held in
 * memory.  The generator is xoshiro256** seeded through splitmix64; it is not
 * for cryptography.  Identical on every platform (only uint64_t arithmetic).
 */
#ifndef WEFT_SYNTH_RNG_H
#define WEFT_SYNTH_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct synth_rng {
    uint64_t s[4];
};

/* Seed r from (seed, index, stream).  Different triples give independent
 * streams. */
void synth_rng_init(struct synth_rng *r, uint64_t seed, uint64_t index, uint64_t stream);
uint64_t synth_rng_next(struct synth_rng *r);
/* Uniform integer in [0, n); n > 0. */
uint32_t synth_rng_below(struct synth_rng *r, uint32_t n);
/* Uniform integer in [lo, hi] (inclusive). */
int synth_rng_range(struct synth_rng *r, int lo, int hi);
/* Uniform double in [0, 1). */
double synth_rng_unit(struct synth_rng *r);
/* true with probability p. */
bool synth_rng_chance(struct synth_rng *r, double p);
/* Index into a table of n weights (non-negative, not all zero). */
size_t synth_rng_weighted(struct synth_rng *r, const unsigned *weights, size_t n);
/* A 64-bit mix of the arguments (for deriving stable ids). */
uint64_t synth_hash(uint64_t a, uint64_t b, uint64_t c);

#endif
