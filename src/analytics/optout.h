/*
 * optout.h - the national data opt-out for secondary uses.
 *
 * The NHS "Check for National Data Opt-outs" service answers a list of NHS
 * numbers with the ones that may be used (no opt-out): one NHS number per
 * line.  `weft optout import` loads that answer as a list with its check
 * date; it is not stored as a flag on anyone's record.  A list may be used
 * for a configurable number of days after its check date (default 30);
 * after that every secondary output refuses to run, saying why, until a
 * newer list is loaded.  Direct care never asks (the opt-out does not apply
 * to it).
 */
#ifndef WEFT_ANALYTICS_OPTOUT_H
#define WEFT_ANALYTICS_OPTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define OPTOUT_VALID_DAYS_DEFAULT 30
#define OPTOUT_MAX_BAD_LINES 10 /* bad lines named in the error */

struct optout_import {
    const char *cleared_path; /* the service's answer: one NHS number per line */
    const char *checked;      /* YYYY-MM-DD the service was asked */
    int valid_days;           /* 0: OPTOUT_VALID_DAYS_DEFAULT */
    const char *by;           /* who loads it (audit) */
    const char *today;        /* YYYY-MM-DD; NULL: today (UTC) */
};

struct optout_import_result {
    int64_t list_id;
    int64_t count;      /* distinct NHS numbers */
    int64_t duplicates; /* lines repeating a number already read */
    char expires[11];   /* the last day the list may be used */
};

/*
 * Validate and load a list.  The whole file is refused (nothing stored,
 * err names up to OPTOUT_MAX_BAD_LINES offending lines) when a line is not a
 * valid NHS number (10 digits, spaces allowed, modulus 11); blank lines are
 * skipped.  Also refused: a check date that is not a date, is in the
 * future, or whose list would already have expired; a list checked before
 * the one in force; a file with no NHS number.  The load is audited.
 * Returns 0, WEFT_EINVAL / WEFT_EIO with err, or a store error.
 */
int optout_import(struct store *s, const struct optout_import *in, struct optout_import_result *out,
                  char *err, size_t errlen);

/* The list in force for a secondary output on day today (NULL: today). */
struct optout_gate {
    int64_t list_id, count;
    char checked[11], expires[11];
};
/*
 * 0 and *g when a list is in force and has not expired; WEFT_EDENIED with
 * why (for the person asking: which list, when it expired, what to run)
 * when none was loaded or the newest has expired; a store error otherwise.
 */
int optout_gate(struct store *s, const char *today, struct optout_gate *g, char *why,
                size_t whylen);

/* A list's NHS numbers in memory, sorted, for membership tests. */
struct optout_set {
    uint64_t *v;
    size_t n;
};
int optout_set_load(struct store *s, int64_t list_id, struct optout_set *out);
void optout_set_free(struct optout_set *set);
/* True when nhs (10 digits) is in set. */
bool optout_set_has(const struct optout_set *set, const char *nhs);
/* NHS number digits -> number (0 when not 10 digits). */
uint64_t optout_nhs_key(const char *nhs);

/* The sorted, distinct numbers v[0..n) as a delta-varint blob (malloc'd,
 * caller frees) - how a secondary output records whom it counted. */
unsigned char *optout_set_encode(const uint64_t *v, size_t n, size_t *len_out);
/* The inverse: *out malloc'd (caller frees).  WEFT_EPARSE on a bad blob. */
int optout_set_decode(const unsigned char *blob, size_t len, uint64_t **out, size_t *n);

#endif
