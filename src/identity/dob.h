/*
 * dob.h - date of birth comparison with typing-error tolerance.  Dates are
 * "YYYYMMDD" (demog.h normalises FHIR's YYYY-MM-DD and FEBRL's YYYYMMDD).
 */
#ifndef WEFT_IDENTITY_DOB_H
#define WEFT_IDENTITY_DOB_H

enum dob_level {
    DOB_EXACT = 0,   /* the same date */
    DOB_SWAPPED = 1, /* day and month transposed (03/07 for 07/03) */
    DOB_TYPO = 2,    /* one digit different, or the year off by 1 or 10 with day and month equal,
                        or two adjacent digits transposed */
    DOB_DIFFER = 3,
};

/* Compare two 8-digit dates; DOB_DIFFER when they differ otherwise.
 * Either not 8 digits: DOB_DIFFER (callers treat empty as missing first). */
enum dob_level dob_compare(const char *a, const char *b);

/* True when s is 8 digits. */
int dob_valid(const char *s);

#endif
