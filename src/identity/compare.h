/*
 * compare.h - the comparison vector of a pair of records: for each field,
 * the agreement level the comparators give (0 = agree exactly, higher =
 * weaker agreement, the last level = disagree) or COMPARE_MISSING when
 * either side lacks the field.  Fellegi-Sunter (model.h) weighs each level.
 */
#ifndef WEFT_IDENTITY_COMPARE_H
#define WEFT_IDENTITY_COMPARE_H

#include "identity/demog.h"

enum compare_field {
    CF_GIVEN,    /* exact | nickname, second given name or JW>=0.92 | initial or JW>=0.8 | differ */
    CF_FAMILY,   /* exact | JW>=0.92 | Soundex equal or JW>=0.8 | differ */
    CF_DOB,      /* exact | day/month swapped | one digit, year +-1/10 | differ (dob.h) */
    CF_SEX,      /* agree | differ */
    CF_POSTCODE, /* full | sector | district | differ (postcode.h) */
    CF_ADDR,     /* exact | JW>=0.9 | differ */
    CF_CITY,     /* exact | JW>=0.9 | differ */
    CF_PHONE,    /* exact | differ */
    CF_EMAIL,    /* exact | same local part or JW>=0.9 | differ */
    CF_N
};

#define COMPARE_MISSING (-1)
#define COMPARE_MAXLEVELS 4

/* Number of levels of field f. */
int compare_levels(enum compare_field f);
/* Field name ("given", "family", ...) as stored in the model. */
const char *compare_field_name(enum compare_field f);
/* Human-readable name of level l of field f ("nickname", "sector", ...). */
const char *compare_level_name(enum compare_field f, int l);

/* Compare a and b into gamma[CF_N]. */
void compare_pair(const struct demog *a, const struct demog *b, signed char gamma[CF_N]);

#endif
