/*
 * names.h - UK-shaped names, nicknames, streets, Kent and Medway towns and
 * postcodes for the synthetic region, plus the name typos the fault injector
 * uses.  Fixed tables: nothing here is real people's data.
 */
#ifndef WEFT_SYNTH_NAMES_H
#define WEFT_SYNTH_NAMES_H

#include <stddef.h>

#include "synth/rng.h"

struct synth_town {
    const char *name;
    const char *districts[4]; /* postcode districts, NULL-terminated */
    unsigned weight;          /* relative population */
    int acute;                /* index of the nearest acute trust (region.h) */
    int la;                   /* 0 Kent County Council, 1 Medway Council */
};

extern const struct synth_town synth_towns[];
extern const size_t synth_ntowns;

/* Pick a given name for sex (1 male, 2 female). Static strings. */
const char *synth_name_given(struct synth_rng *r, int sex);
const char *synth_name_family(struct synth_rng *r);
const char *synth_name_street(struct synth_rng *r);
/* The usual nickname of a given name, or NULL when it has none. */
const char *synth_name_nickname(const char *given);
/* Pick a town index by population weight. */
int synth_name_town(struct synth_rng *r);
/* Write a postcode in town t ("ME14 5XY") into out (>= 9 bytes). */
void synth_name_postcode(struct synth_rng *r, int t, char *out, size_t outlen);
/* Write name with one typing error (swap, drop, double or replace one letter)
 * into out.  Always differs from name when name has >= 2 letters. */
void synth_name_typo(struct synth_rng *r, const char *name, char *out, size_t outlen);

#endif
