/*
 * risklist.h - direct-care risk lists: a GP practice's registered patients
 * ranked by electronic Frailty Index band and unplanned care in the last 12
 * months (A&E attendances, emergency admissions, ambulance incidents), for
 * the practice's own clinicians.
 *
 * Direct care: identifiable, not subject to the national data opt-out.
 * This module does not decide who may see a list: the caller asks the
 * authorisation point (authz_risk_list) first and audits the view.
 */
#ifndef WEFT_ANALYTICS_RISKLIST_H
#define WEFT_ANALYTICS_RISKLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "analytics/efi.h"

struct analytics_person;
struct store;

struct risk_row {
    char *person_id, *name, *nhs;
    int age;       /* -1 when the birth date is unknown */
    bool assessed; /* aged 65+: eFI computed */
    int efi_count;
    enum efi_band band;
    int ae, admissions, ambulance; /* in the 12 months up to the day */
    char *deficits; /* "label: triggers\n" per deficit found (malloc'd), NULL when none */
};

struct risk_list {
    struct risk_row *rows;
    int n;
    char computed[32]; /* ISO 8601 UTC */
    char as_of[11];
};

/*
 * The list of practice (ODS) on day as_of: every living person whose
 * registered practice (analytics/read.h) is practice, ranked by eFI band
 * (severe first; people under 65, not assessed, last), then unplanned care
 * in the 12 months up to as_of, then deficits, then name.  0 or a store
 * error.
 */
int risk_list_build(struct store *s, const struct efi_codes *efi, const char *practice,
                    int64_t as_of, struct risk_list *out);
void risk_list_free(struct risk_list *l);

/* The row of person p on day as_of when p is alive and registered with a
 * practice (p->gp): false otherwise.  r owns its strings (risk_row_clear). */
bool risk_row_of(const struct efi_codes *efi, const struct analytics_person *p, int64_t as_of,
                 struct risk_row *r);
void risk_row_clear(struct risk_row *r);
/* Rank l's rows as risk_list_build does. */
void risk_list_sort(struct risk_list *l);

/* The stored list of practice for day as_of (table analytics_risk, written by
 * `weft analytics refresh`: analytics/incr.c), ranked, with the time the
 * rows were computed: WEFT_ENOTFOUND when none is stored for that day (the
 * caller computes it: risk_list_build). */
int risk_list_stored(struct store *s, const char *practice, int64_t as_of, struct risk_list *out);

/* Unplanned care of p in the 365 days up to as_of (exposed for tests). */
void risk_unplanned(const struct analytics_person *p, int64_t as_of, int *ae, int *admissions,
                    int *ambulance);

#endif
