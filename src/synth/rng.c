/*
 * rng.c - xoshiro256** seeded by splitmix64 (see rng.h).  A few hundred
 * numbers are drawn per synthetic person, so speed matters less than being
 * identical everywhere: only fixed-width unsigned arithmetic is used.
 */
#include "synth/rng.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t synth_hash(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x2545f4914f6cdd1dULL;
    uint64_t h = splitmix(&x);
    x = h ^ (b * 0x9e3779b97f4a7c15ULL);
    h = splitmix(&x);
    x = h ^ (c * 0xd6e8feb86659fd93ULL);
    return splitmix(&x);
}

void synth_rng_init(struct synth_rng *r, uint64_t seed, uint64_t index, uint64_t stream)
{
    uint64_t x = synth_hash(seed, index, stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t synth_rng_next(struct synth_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t synth_rng_below(struct synth_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift; the tiny bias (< n / 2^32) is irrelevant here
     * and keeps the number of draws per call fixed, which keeps streams
     * aligned. */
    uint64_t x = synth_rng_next(r) >> 32;
    return (uint32_t)((x * n) >> 32);
}

int synth_rng_range(struct synth_rng *r, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)synth_rng_below(r, (uint32_t)(hi - lo + 1));
}

double synth_rng_unit(struct synth_rng *r)
{
    return (double)(synth_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

bool synth_rng_chance(struct synth_rng *r, double p)
{
    return synth_rng_unit(r) < p;
}

size_t synth_rng_weighted(struct synth_rng *r, const unsigned *weights, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    if (total == 0)
        return 0;
    uint64_t x = synth_rng_next(r) % total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}
