/*
 * date.h - civil dates as day numbers for the synthetic region.  A day is
 * counted from 1970-01-01 (day 0); a moment is a day plus minutes.  The
 * generator never reads the clock: every date is relative to the fixed
 * "as of" day of the run (weft synth --as-of), so output is reproducible.
 */
#ifndef WEFT_SYNTH_DATE_H
#define WEFT_SYNTH_DATE_H

#include <stdbool.h>
#include <stddef.h>

/* Day number of y-m-d (proleptic Gregorian). */
int synth_days_from_civil(int y, int m, int d);
void synth_civil_from_days(int days, int *y, int *m, int *d);
/* Parse "YYYY-MM-DD"; false when malformed or out of range. */
bool synth_date_parse(const char *s, int *days);
/* Formats into out (>= 11 / 9 / 13 / 26 bytes). */
void synth_date_iso(int days, char *out, size_t len);            /* 2026-11-24 */
void synth_date_hl7(int days, char *out, size_t len);            /* 20261124 */
void synth_dtm_hl7(int days, int minute, char *out, size_t len); /* 202611241430 */
void synth_dtm_iso(int days, int minute, char *out, size_t len); /* 2026-11-24T14:30:00Z */

#endif
