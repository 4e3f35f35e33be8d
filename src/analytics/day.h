/*
 * day.h - calendar days for analytics: YYYY-MM-DD <-> day number (days since
 * 1970-01-01, proleptic Gregorian), checked strictly.
 */
#ifndef WEFT_ANALYTICS_DAY_H
#define WEFT_ANALYTICS_DAY_H

#include <stdbool.h>
#include <stdint.h>

/* Day number of the date at the start of s (YYYY-MM-DD, anything after the
 * tenth character ignored); false when s does not start with a real date. */
bool day_parse(const char *s, int64_t *day);
/* YYYY-MM-DD of day into out[11]; returns out. */
char *day_text(int64_t day, char out[11]);
/* Today (UTC) as a day number. */
int64_t day_today(void);
/* Completed years from birth to day (age), or -1 when birth is after day. */
int day_age(int64_t birth, int64_t day);

#endif
