/*
 * check.h - the pure tests behind the data-quality checks: UCUM unit
 * syntax, UK postcode shape, name distance, date arithmetic.  No store, no
 * JSON: each takes text and answers, so each is unit-tested on its own
 * (tests/unit/dq/test_dq.c).
 */
#ifndef WEFT_DQ_CHECK_H
#define WEFT_DQ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when unit is a valid UCUM expression (case-sensitive form): terms
 * joined by '.' and '/', each a prefixed atom with an optional exponent, a
 * number, "10*N"/"10^N", a parenthesised term or an annotation {...}.  The
 * atoms are the base units and the common derived, clinical and customary
 * units of the UCUM tables (not the full table: an unusual valid unit is
 * reported as invalid, and the list grows when a region meets one). */
bool dq_ucum_valid(const char *unit);

/* True when pc is a UK postcode in its published shape: outward code (A9,
 * A99, AA9, AA99, A9A, AA9A), a space (optional), inward code (9AA), letters
 * in the positions the format allows; upper or lower case. */
bool dq_postcode_valid(const char *pc);

/* Levenshtein distance of two strings compared case-insensitively, capped:
 * returns cap + 1 when the distance exceeds cap. */
int dq_edit_distance(const char *a, const char *b, int cap);

/* Days since 1970-01-01 of the date at the start of s ("YYYY-MM-DD..."), or
 * false when s does not start with a valid date. */
bool dq_day_number(const char *s, int64_t *days);

/* The date s ("YYYY-MM-DD") with day and month exchanged into out[11];
 * false when the result is not a date or is the same date. */
bool dq_date_swap_day_month(const char *s, char out[11]);

#endif
