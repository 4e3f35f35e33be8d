/*
 * analytics.h - the store operations of analytics (src/analytics/): the
 * national data opt-out lists, the record of every secondary output that was
 * produced (for the compliance report), and the one scan of the record that
 * the analytics engine reads.
 *
 * Its own table of operations (store/analytics_int.h, struct
 * store_analytics_ops) reached from the backend's main table, so that the
 * rest of the store API does not grow with it.  Functions return 0 or a
 * negative enum weft_err; "not found" is WEFT_ENOTFOUND.
 *
 * The opt-out list is kept as lists, never as a flag on anyone's record: a
 * list is the set of NHS numbers the national "Check for National Data
 * Opt-outs" service returned as cleared (no opt-out) on its check date.
 */
#ifndef WEFT_STORE_ANALYTICS_H
#define WEFT_STORE_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* One loaded opt-out list (strings owned; release with
 * store_optout_list_clear). */
struct store_optout_list {
    int64_t id;
    char *checked;  /* YYYY-MM-DD the national service was asked */
    char *expires;  /* YYYY-MM-DD: the last day it may be used */
    char *imported; /* ISO 8601 UTC */
    char *imported_by;
    char *sha256; /* of the file as given */
    int64_t count;
};
void store_optout_list_clear(struct store_optout_list *l);
void store_optout_lists_free(struct store_optout_list *l, int n);

/* Store a list and its n NHS numbers (10 digits each, validated by the
 * caller, duplicates allowed: kept once) in one transaction.  in->id and
 * in->count are ignored; *id_out gets the new id. */
int store_optout_list_add(struct store *s, const struct store_optout_list *in,
                          const char *const *nhs, int64_t n, int64_t *id_out);
/* The list in force: the newest check date (then the newest import).
 * WEFT_ENOTFOUND when none was loaded. */
int store_optout_list_current(struct store *s, struct store_optout_list *out);
/* A list by id; WEFT_ENOTFOUND. */
int store_optout_list_get(struct store *s, int64_t id, struct store_optout_list *out);
/* Every list, newest first. */
int store_optout_list_all(struct store *s, struct store_optout_list **out, int *n);
/* The NHS numbers of list id in ascending order, streamed to fn (borrowed
 * for the call; fn non-zero stops and is returned). */
int store_optout_cleared_scan(struct store *s, int64_t id, int (*fn)(const char *nhs, void *),
                              void *ctx);

/* A secondary output that was produced (strings borrowed on add, owned on
 * read; release with store_analytics_output_clear). */
struct store_analytics_output {
    int64_t id;
    char *name;     /* e.g. "population", "frailty" */
    char *computed; /* ISO 8601 UTC */
    char *params;   /* the output's parameters as given (as-of date ...) */
    char *by;       /* who asked */
    int64_t list_id;
    int64_t counted;  /* persons counted */
    int64_t excluded; /* persons in the record not counted (not cleared) */
    /* The NHS numbers counted, ascending, as a delta-varint blob
     * (analytics/optout.h encodes and decodes it). */
    unsigned char *counted_set;
    size_t counted_set_len;
};
void store_analytics_output_clear(struct store_analytics_output *o);
void store_analytics_outputs_free(struct store_analytics_output *o, int n);
int store_analytics_output_add(struct store *s, const struct store_analytics_output *in,
                               int64_t *id_out);
/* Outputs newest first, at most limit (0: 1000), with their counted sets. */
int store_analytics_output_list(struct store *s, int limit, struct store_analytics_output **out,
                                int *n);

/* The stored figures of a secondary output for one window (table
 * analytics_result, migration analytics-results-1): what the pages show
 * instead of computing on each view.  Written by `weft analytics refresh`
 * (and by a page that found none for its window); one row per (name,
 * params), a newer one replacing it.  Strings borrowed on put, owned on read
 * (store_analytics_result_clear). */
struct store_analytics_result {
    char *name;     /* the output, e.g. "flow" */
    char *params;   /* its window: "from=D as-of=D", "as-of=D", "at=YYYY-MM-DDTHH:MM" or
                       "at=now" (inpatients at the time it was computed) */
    char *at;       /* inpatients: the minute the figures are for (YYYY-MM-DDTHH:MM); else NULL */
    char *computed; /* ISO 8601 UTC */
    int64_t output_id; /* the analytics_output row that recorded whom it counted */
    int64_t list_id;   /* the opt-out list it used */
    int64_t counted, excluded;
    char *csv; /* the output's CSV as `weft analytics secondary` prints it (NULL in keys) */
};
void store_analytics_result_clear(struct store_analytics_result *r);
void store_analytics_results_free(struct store_analytics_result *r, int n);
/* Store r, replacing the row of the same name and params. */
int store_analytics_result_put(struct store *s, const struct store_analytics_result *r);
/* The row of name and params; WEFT_ENOTFOUND. */
int store_analytics_result_get(struct store *s, const char *name, const char *params,
                               struct store_analytics_result *out);
/* Every stored row without its csv, by name then params (what a refresh
 * recomputes). */
int store_analytics_result_keys(struct store *s, struct store_analytics_result **out, int *n);

/* One current item as the analytics engine reads it; every pointer borrowed
 * for the callback only.  nhs is the person's NHS number (NULL when the
 * person has none).  code is "system|code" of the main concept. */
struct store_analytics_item {
    const char *person_id, *nhs, *type, *id, *source_org, *category;
    const char *effective, *code, *status;
    const char *json;
    size_t json_len;
};
/* Every current, undeleted item that belongs to a person, of the types
 * listed (NULL-terminated; NULL: every type), in person order (person_id,
 * type, effective), streamed inside one read transaction (one snapshot).
 * With person_ids (n of them, ascending), only those persons.  fn non-zero
 * stops the scan and is returned. */
int store_analytics_scan(struct store *s, const char *const *types, const char *const *person_ids,
                         int n, int (*fn)(const struct store_analytics_item *, void *), void *ctx);

/* The persons organisation org holds a source record of (its person_local
 * rows: a GP practice's are its registered patients, past and present), in
 * ascending order, to fn (borrowed; fn non-zero stops and is returned). */
int store_analytics_org_persons(struct store *s, const char *org,
                                int (*fn)(const char *person_id, void *), void *ctx);
/* *yes when org holds a source record of person_id (one indexed read). */
int store_analytics_org_has_person(struct store *s, const char *org, const char *person_id,
                                   bool *yes);

/*
 * The incremental refresh's working state (analytics/incr.h; migration
 * analytics-incremental-1).  Opaque blobs to the store:
 *   analytics_state    one row: the raw (unsuppressed) figures of every
 *                      output and window kept up to date, and the marks of
 *                      the record it has seen (the last resource seq, the
 *                      last analytics_moved id);
 *   analytics_contrib  per person: what that person added to those figures
 *                      (subtracted again when the person's items change);
 *   analytics_moved    persons whose items were moved to or from them in
 *                      place (a merge, a split, a corrected NHS number):
 *                      written by triggers, since such a move makes no new
 *                      resource version.
 */
/* *blob (malloc'd, *len bytes), the marks it was made at and its generation
 * (one more at every put: a writer checks, inside its transaction, that the
 * state is still the one it started from); blob NULL reads only the
 * numbers.  WEFT_ENOTFOUND. */
int store_analytics_state_get(struct store *s, unsigned char **blob, size_t *len, int64_t *seq,
                              int64_t *moved, int64_t *generation);
int store_analytics_state_put(struct store *s, const unsigned char *blob, size_t len, int64_t seq,
                              int64_t moved, int64_t generation);
/* The stored contributions of the n persons (ascending or not), each found
 * to fn (blob borrowed for the call); persons without one are skipped. */
int store_analytics_contrib_get(struct store *s, const char *const *person_ids, int n,
                                int (*fn)(const char *person_id, const unsigned char *blob,
                                          size_t len, void *),
                                void *ctx);
/* Store n persons' contributions, replacing theirs; a length 0 deletes. */
int store_analytics_contrib_put(struct store *s, const char *const *person_ids,
                                const unsigned char *const *blobs, const size_t *lens, int n);
/* Delete every contribution (a full refresh rewrites them all). */
int store_analytics_contrib_clear(struct store *s);
/* The marks of the record now: the newest resource seq and analytics_moved
 * id (0 when none). */
int store_analytics_marks(struct store *s, int64_t *seq, int64_t *moved);
/* Every person whose current items may differ from what they were at marks
 * (seq, moved): a resource version written since seq (its person, and its
 * predecessor's), or a move recorded since moved; each once, ascending, to
 * fn (borrowed).  Indexed reads: resource's key seq, resource_id, and
 * analytics_moved's key. */
int store_analytics_changed(struct store *s, int64_t seq, int64_t moved,
                            int (*fn)(const char *person_id, void *), void *ctx);

/* The direct-care risk list's rows as the refresh computed them (table
 * analytics_risk; analytics/risklist.h): one per living person registered
 * with a practice, for the day analytics_risk_day says.  Strings borrowed on
 * put and in scan callbacks. */
struct store_analytics_risk {
    const char *person_id, *practice; /* practice NULL on put: delete the person's row */
    const char *name, *nhs, *deficits;
    int age, efi_count, band, ae, admissions, ambulance;
    bool assessed;
};
int store_analytics_risk_put(struct store *s, const struct store_analytics_risk *rows, int n);
int store_analytics_risk_clear(struct store *s);
/* The rows of practice (an indexed read), to fn (non-zero stops and is returned). */
int store_analytics_risk_scan(struct store *s, const char *practice,
                              int (*fn)(const struct store_analytics_risk *, void *), void *ctx);
/* The day (day number) the rows are for and when they were computed;
 * WEFT_ENOTFOUND when none are stored.  put with day < 0 removes it. */
int store_analytics_risk_day_get(struct store *s, int64_t *day, char computed[32]);
int store_analytics_risk_day_put(struct store *s, int64_t day, const char *computed);

#endif
