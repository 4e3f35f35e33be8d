/*
 * identity.h - the master person index as stored (src/identity/ decides,
 * the store keeps): source records with their blocking keys, identity
 * decisions, the review queue, not-the-same pairs, and splitting a record
 * off a person.
 */
#ifndef WEFT_STORE_IDENTITY_H
#define WEFT_STORE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- the master person index (src/store/store_identity.c;
 * sqlite/sqlite_identity.c; src/identity/ decides, the store keeps) ------------ */

/* One source Patient as matching sees it: (org, source_id) is the record;
 * demog its normalised demographics (identity/demog.h, packed), nhs its valid
 * NHS number or NULL, locals its organisation-local identifiers
 * ("org\tsystem\tvalue" lines).  Reads also fill person_id/person_nhs: the
 * person holding the record now, through person_local (org, link_system,
 * source_id).  Strings are malloc'd by reads (store_idrecs_free). */
struct store_idrec {
    char *org, *source_id, *demog, *nhs, *locals;
    char *person_id, *person_nhs;
};
void store_idrec_clear(struct store_idrec *r);
void store_idrecs_free(struct store_idrec *r, int n);
/* Insert or replace the record, with its BLOCK_NKEYS (4) blocking keys ("" or
 * NULL: none). */
int store_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4]);
/* Records sharing a blocking key with keys; only records without an NHS
 * number when without_nhs; *out is an array of *n.  Their persons are not
 * read (person_id, person_nhs NULL): most candidates score too low to
 * matter, and the person look-up cost as much as the rest of the read -
 * store_idrec_person fills the few that do.  A key
 * whose block holds more than cap (such) records is skipped whole: an
 * over-large block (a date of birth or name code shared by thousands) tells
 * records apart no better than chance, and reading it would make each new
 * record cost thousands of comparisons; the other keys still find them. */
int store_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                           int cap, bool without_nhs, struct store_idrec **out, int *n);
/* A source Patient with a valid NHS number, linked in one call (the load's
 * identity_resolve_patient; on PostgreSQL one round trip instead of about
 * five).  In: the record (org, link_system, source_id), its NHS number (10
 * digits), its blocking keys and cap (as store_idrec_candidates), and the
 * identifiers to attach to the NHS number's person (attach_org/system/value,
 * nattach; the record's own source id first).  Out, as this sequence of
 * calls would give:
 *   store_person_find_local(org, link_system, source_id) -> source_known;
 *   store_person_by_nhs(nhs) -> person_id (found or created);
 *   only when !source_known: store_idrec_candidates(..., without_nhs true)
 *     -> cands/ncands (persons not read);
 *   store_person_by_local(attach_*[i], person_id) -> attached[i] for each i.
 * Release with store_person_nhs_link_clear. */
struct store_person_nhs_link {
    const char *org, *link_system, *source_id, *nhs;
    const char *const *keys; /* [4] */
    int cap;
    int nattach;
    const char *const *attach_org, *const *attach_system, *const *attach_value;
    bool source_known;
    char *person_id;
    struct store_idrec *cands;
    int ncands;
    char **attached; /* [nattach] */
};
int store_person_nhs_link(struct store *s, struct store_person_nhs_link *l);
void store_person_nhs_link_clear(struct store_person_nhs_link *l);
/* Fill r->person_id and r->person_nhs (replacing what they held) for record
 * (r->org, r->source_id): the person holding it now, through person_local;
 * both NULL when none does. */
int store_idrec_person(struct store *s, const char *link_system, struct store_idrec *r);
/* One record; WEFT_ENOTFOUND when absent. */
int store_idrec_get(struct store *s, const char *link_system, const char *org,
                    const char *source_id, struct store_idrec *out);
/* Every record the person holds now. */
int store_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                          struct store_idrec **out, int *n);
/* Every record, by (org, source_id), to fn (borrowed strings; fn must not use
 * the store; nonzero from fn stops and is returned). */
int store_idrec_scan(struct store *s, const char *link_system,
                     int (*fn)(const struct store_idrec *, void *), void *ctx);

/* One identity decision, as recorded (never changed afterwards):
 * action link | review | merge | unmerge | unlink | not-same; by whom
 * ("auto" or the operator), score and model version when a model decided. */
struct store_iddecision {
    int64_t id;
    char *created, *action, *org, *source_id, *person_id, *other_person, *other_org,
        *other_source_id, *decided_by, *note;
    double score;
    int model_version;
    int64_t merge_id; /* merge/unmerge: the person_merge id */
};
void store_iddecisions_free(struct store_iddecision *d, int n);
int store_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out);
/* n decisions at once, in order (relink): as n calls of store_iddecision_add,
 * in fewer round trips. */
int store_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n);
/* Decisions about record (org, source_id), or all (org NULL), newest first. */
int store_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                          struct store_iddecision **out, int *n);

/* A pair in the review queue: status open | same | not-same. */
struct store_idreview {
    int64_t id, decision_id;
    char *created, *org, *source_id, *other_org, *other_source_id, *status, *decided_by, *decided;
    double score;
    int model_version;
};
void store_idreviews_free(struct store_idreview *r, int n);
/* Queue a pair (a pair already queued, in either order, is left as it is:
 * *id_out 0). */
int store_idreview_add(struct store *s, const struct store_idreview *r, int64_t *id_out);
/* n pairs at once, in order (relink): as n calls of store_idreview_add (the
 * pairs must differ from each other); *added gets how many were queued. */
int store_idreview_add_many(struct store *s, const struct store_idreview *r, size_t n, long *added);
/* Pairs with status (NULL: any), oldest first. */
int store_idreview_list(struct store *s, const char *status, int limit, struct store_idreview **out,
                        int *n);
/* Whether an open pair has one of person_id's records (linked under
 * link_system) on either side: indexed probes on the person's few records,
 * whatever the length of the queue. */
int store_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                   bool *out);
/* How many pairs have status (NULL: any). */
int store_idreview_count(struct store *s, const char *status, int64_t *out);
int store_idreview_get(struct store *s, int64_t id, struct store_idreview *out);
/* Close an open pair: WEFT_ECONFLICT when already decided. */
int store_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                          int64_t decision_id);
/* Record that two records are not the same person (both directions). */
int store_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                         const char *other_org, const char *other_source_id, int64_t decision_id);
/* Every person holding a record with a "not the same person" decision, to fn
 * (each once; borrowed string; fn must not use the store; nonzero from fn
 * stops and is returned). */
int store_idnonmatch_persons(struct store *s, const char *link_system,
                             int (*fn)(const char *person_id, void *), void *ctx);
/* The records said not to be the same person as (org, source_id) (only org
 * and source_id filled). */
int store_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                          struct store_idrec **out, int *n);
/* Split record (org, source_id) off person_id into a new person: its local
 * identifiers (the record's locals and its source id) and the resources of
 * person_id sent by org move.  WEFT_ECONFLICT when person_id holds another
 * record from org (the resources could not be told apart) or holds only this
 * record; WEFT_ENOTFOUND when the record is not the person's. */
int store_person_split(struct store *s, const char *person_id, const char *link_system,
                       const char *org, const char *source_id, char **new_person_out);
/* The newest active merge that moved local identifier (org, system, value),
 * or WEFT_ENOTFOUND. */
int store_person_merge_of_local(struct store *s, const char *org, const char *system,
                                const char *value, int64_t *merge_id_out);

#endif
