/*
 * org.h - organisations taking part in the shared record and their data
 * sharing agreements (BRIEF §5: only organisations that signed the Joint
 * Controllers Agreement (jca) or a Data Processing Agreement (dpa) may send
 * or see data; an agreement has a first day and may have a last day).
 *
 * For feeds and the authorisation point: org_agreement_in_force() is the one
 * question "may this organisation take part at this moment?".  It costs one
 * indexed lookup (agreement (ods, valid_from)); call it per message/request,
 * there is no need to cache it.
 */
#ifndef WEFT_ACCESS_ORG_H
#define WEFT_ACCESS_ORG_H

#include <stdbool.h>
#include <time.h>

struct store;

/*
 * Whether ods has an agreement covering the UTC day of `when` (dates are
 * whole days, both ends inclusive).  Returns true/false; on a store error
 * returns false (fail closed) and, when err is not NULL, sets *err to the
 * negative code (0 otherwise).
 */
bool org_agreement_in_force(struct store *s, const char *ods, time_t when, int *err);

/* Organisation types accepted by `weft org add`. */
bool org_type_valid(const char *type);
/* ODS codes: 3 to 12 upper-case letters and digits (e.g. RVV, G82001, KENTCC). */
bool org_ods_valid(const char *ods);
/* Agreement kinds: jca | dpa. */
bool org_agreement_kind_valid(const char *kind);
/* A calendar date YYYY-MM-DD that exists (leap years checked). */
bool org_date_valid(const char *date);
/* date (a valid YYYY-MM-DD) plus months calendar months into out (11
 * bytes), the day clamped to the end of a shorter month (31 Jan + 1 month =
 * 28/29 Feb).  Returns false when date is not valid. */
bool org_date_add_months(const char *date, int months, char out[11]);
/* The UTC day of t as YYYY-MM-DD into out (11 bytes). */
void org_day(time_t t, char out[11]);

#endif
