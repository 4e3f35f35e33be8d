/*
 * postcode.h - UK postcodes: normalisation and comparison at three levels.
 *
 * A postcode is outward code (area + district, "ME14") and inward code
 * (sector digit + unit, "1AB").  People who move nearby keep the district or
 * the sector; a typo in the unit keeps the sector.  Non-UK codes (FEBRL's
 * four-digit Australian postcodes) compare as whole strings.  Two postcodes
 * that differ only by two neighbouring characters swapped ("2450" and
 * "2405", "ME14 1AB" and "EM14 1AB") - a keying slip, not a move - are
 * taken as "district" when they would otherwise differ.
 */
#ifndef WEFT_IDENTITY_POSTCODE_H
#define WEFT_IDENTITY_POSTCODE_H

#include <stddef.h>

enum postcode_level {
    POSTCODE_FULL = 0,     /* the same postcode */
    POSTCODE_SECTOR = 1,   /* same outward code and sector digit ("ME14 1") */
    POSTCODE_DISTRICT = 2, /* same outward code ("ME14") */
    POSTCODE_DIFFER = 3,
};

/* Normalise: upper case, letters and digits only ("me14 1ab" -> "ME141AB")
 * into out (cap bytes, truncated). */
void postcode_norm(const char *in, char *out, size_t cap);

/* Compare two normalised postcodes. */
enum postcode_level postcode_compare(const char *a, const char *b);

/* The outward code of normalised postcode pc into out (8 bytes): pc without
 * its last 3 characters when pc looks like a UK postcode (5-7 characters,
 * inward code digit letter letter), else pc itself. */
void postcode_outward(const char *pc, char out[8]);

#endif
