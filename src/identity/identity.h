/*
 * identity.h - "who is this": the one API through which every other module
 * finds, creates, links and merges persons.  The loader (fhir/load.c) links
 * each source Patient here and names the person of a reference's
 * identifier; ingest (feeds/ingest.c) resolves the patients of HL7 merge and
 * unlink messages here and applies them; launch and break-glass find the
 * person of an NHS number here (never creating one); objections hold a
 * person for an NHS number here.  No other module calls the store's
 * person-creating or person-linking operations (tests/e2e/identity_seam.sh
 * checks it).  Matching itself (blocking, scoring, the model, relink) is
 * identity/mpi.h, used only from this folder and `weft person`.
 *
 * How a source Patient is linked (identity_resolve_patient):
 *   1. a valid NHS number (identifier system https://fhir.nhs.uk/Id/nhs-number,
 *      modulus 11 checked) -> the person with that number (created if new);
 *   2. else its organisation-local identifiers (org, system, value) -> the
 *      person already holding one of them, else the master person index
 *      (mpi.h) matches it on demographics, else a new person;
 *   3. else its own source id, as the local identifier
 *      (org, "urn:weft:source-id:Patient", id), so every Patient has a person.
 * Every local identifier of the Patient is then attached to that person
 * (an identifier already held by another person stays with it: one source
 * record never belongs to two people).
 *
 * The organisation of a local identifier is the one named in a Weft local
 * system (urn:weft:id:{ODS}:{kind}), else the sending organisation.
 *
 * An NHS number that fails the check is kept in the resource as sent, never
 * used to link, and flagged: the Patient gets the meta.tag
 *   {"system": "urn:weft:data-quality", "code": "invalid-nhs-number", ...}
 * (LINK_TAG_SYSTEM / LINK_TAG_INVALID_NHS) and the identifier itself an
 * extension {"url": "urn:weft:data-quality", "valueCode": "invalid-nhs-number"}
 * so data-quality reports and viewers can show it.
 *
 * A person held for an NHS number before any record of them arrived (an
 * objection lodged first: identity_person_for_nhs) is the person that
 * number's records link to when they come, so what was lodged applies to
 * them from their first record.  Until then Weft holds no record of them:
 * identity_find_nhs says so (*has_record false).
 *
 * Errors are the store's (core/err.h); "not found" is WEFT_ENOTFOUND.  Every
 * person id returned is malloc'd; the caller frees it.
 */
#ifndef WEFT_IDENTITY_IDENTITY_H
#define WEFT_IDENTITY_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/systems.h"
#include "identity/compare.h"

struct store;

#define LINK_TAG_SYSTEM "urn:weft:data-quality"
#define LINK_TAG_INVALID_NHS "invalid-nhs-number"
#define LINK_SOURCE_ID_SYSTEM SOURCE_ID_SYSTEM ":Patient"

struct identity_outcome {
    char *person_id; /* malloc'd, caller frees; never NULL on success */
    char nhs[11];    /* the valid NHS number used, "" when none */
    int invalid_nhs; /* NHS numbers that failed the check (flagged) */
    int conflicts;   /* local identifiers already held by another person */
    int merged;      /* other persons the master person index merged into this one:
                        person ids the caller holds for other records may be stale */
};

/* Flag the Patient's NHS numbers that fail the check (a meta tag and an
 * identifier extension), as identity_resolve_patient does; no store, any
 * thread, and identity_resolve_patient leaves a flagged Patient unchanged. */
void identity_mark_invalid(json_t *patient);

/*
 * Link a Patient (modified in place only to flag invalid NHS numbers) sent by
 * org with the sender's id source_id.  Returns 0 and fills *out, or a store
 * error.
 */
int identity_resolve_patient(struct store *s, const char *org, const char *source_id,
                             json_t *patient, struct identity_outcome *out);

/* The person source record (org, source_id) belongs to now (after any
 * merge); WEFT_ENOTFOUND when it has none.  *person_id_out is malloc'd. */
int identity_record_person(struct store *s, const char *org, const char *source_id,
                           char **person_id_out);

/*
 * The person named by a logical identifier (a reference's identifier):
 * a valid NHS number -> that person (created if new); another system ->
 * the person holding (org, system, value), WEFT_ENOTFOUND when none; an
 * invalid NHS number -> WEFT_EINVAL.  *person_id_out is malloc'd.
 */
int identity_of_identifier(struct store *s, const char *org, const char *system, const char *value,
                           char **person_id_out);

/* ---- finding a person (never creates one) ------------------------------------------------ */

/*
 * The person NHS number nhs names (separators allowed; WEFT_EINVAL when it
 * fails the check).  WEFT_ENOTFOUND when Weft has no person for it.  When
 * has_record is not NULL it is set to whether any record of the person is
 * held (a current item): false for a person held only for an objection.
 */
int identity_find_nhs(struct store *s, const char *nhs, char **person_id_out, bool *has_record);

/* The person holding local identifier (system, value) sent by org (the
 * organisation is the one a urn:weft:id:{ODS}: system names, else org).
 * WEFT_ENOTFOUND when none. */
int identity_find_local(struct store *s, const char *org, const char *system, const char *value,
                        char **person_id_out);

/*
 * The person one of ids (a FHIR Identifier array, as sent by org) names:
 * the first identifier that names a known person (valid NHS numbers, then
 * local identifiers, in array order).  create: when none does, make the
 * person from the first usable identifier (a valid NHS number or a local
 * one).  WEFT_ENOTFOUND when none (and !create, or nothing usable).
 */
int identity_of_identifiers(struct store *s, const char *org, const json_t *ids, bool create,
                            char **person_id_out);

/* ---- looking a Patient up without linking it (FHIR Patient/$match) ----------------------- */

/*
 * The persons a Patient's demographics point at, graded as the FHIR
 * match-grade extension grades them; nothing is linked or stored.
 *   certain       the Patient's valid NHS number is the person's (a person
 *                 held with no record yet is not a candidate), or the
 *                 current model would link it unattended (match weight at
 *                 or above the link weight, after the household guard, and
 *                 no other person at that weight holding a different NHS
 *                 number: twins are probable, as the feed path queues them
 *                 for review);
 *   probable      at or above the review weight (matching would queue the
 *                 pair for review);
 *   possible      at or above the review weight less IDENTITY_POSSIBLE_BITS;
 *   certainly-not the demographics reach "possible" but the person holds a
 *                 different valid NHS number from the Patient's.
 * Candidates come from the blocking keys (block.h), as on the feed path.
 * probability is the posterior probability of the same person (match weight
 * plus the model's prior, as odds); 1 for an NHS number, 0 for
 * certainly-not.  Sorted certain first, then by probability, then person
 * id; at most max.  *out (free with identity_candidates_free) may be NULL
 * when *n is 0.
 */
#define IDENTITY_POSSIBLE_BITS 5.0
enum identity_grade {
    IDENTITY_CERTAIN,
    IDENTITY_PROBABLE,
    IDENTITY_POSSIBLE,
    IDENTITY_CERTAINLY_NOT,
};
struct identity_candidate {
    char *person_id;
    char *org, *source_id; /* the best-matching source record; NULL for an NHS number match */
    char *nhs;             /* the person's valid NHS number, NULL when none */
    double weight;         /* match weight in bits (demographics; 0 for an NHS number alone) */
    double probability;
    enum identity_grade grade;
};
int identity_match(struct store *s, const json_t *patient, int max, struct identity_candidate **out,
                   int *n);
void identity_candidates_free(struct identity_candidate *c, int n);
/* "certain", "probable", "possible", "certainly-not". */
const char *identity_grade_code(enum identity_grade g);

/* ---- holding a person before their records ----------------------------------------------- */

/* The person of valid NHS number nhs, created (with no records) when Weft
 * has none yet: for what is recorded about a person before any record of
 * them arrives (an objection).  WEFT_EINVAL when nhs fails the check. */
int identity_person_for_nhs(struct store *s, const char *nhs, char **person_id_out);

/* ---- what a source system decides (HL7 A40 merge, A37 unlink) ---------------------------- */

/*
 * Merge the person ids_retired names into the person ids_survivor names
 * (created when new), inside the caller's transaction: A40 from org, inbox
 * message inbox_id, decided by `by` (e.g. "hl7:rvv-pas A40").  A source
 * system's merge is its own decision, so "not the same person" pairs do not
 * stop it.  *merge_id_out: the merge, 0 when there was nothing to do (the
 * retired patient was never sent here, or both are one person already).
 * WEFT_ENOTFOUND: ids_survivor has no usable identifier; WEFT_ECONFLICT:
 * refused (two different NHS numbers; identity_errmsg says why).
 */
int identity_merge_source(struct store *s, const char *org, const json_t *ids_survivor,
                          const json_t *ids_retired, int64_t inbox_id, const char *by,
                          int64_t *merge_id_out);
/*
 * Undo, inside the caller's transaction, the merge a source system now says
 * was wrong (A37 from org): the newest active merge that moved one of
 * ids_retired's local identifiers.  *merge_id_out 0: nothing to undo.
 */
int identity_unmerge_source(struct store *s, const char *org, const json_t *ids_retired,
                            const char *by, int64_t *merge_id_out);

/* ---- manual decisions (`weft person`, the identity review pages) -------------------------- */

/* Each runs in its own transaction.  by: who decides (e.g. "cli:alice" or
 * a user id); note: why (may be NULL).  Returns 0 or an error with
 * identity_errmsg() set: WEFT_ENOTFOUND (no such record, person, merge or
 * review), WEFT_ECONFLICT (two different NHS numbers, a "not the same
 * person" decision, already done or undone).  Every one is recorded (who,
 * score, model version) and audited, and can be undone. */
/* Why the last manual change of this thread failed (the identity module's
 * reason, else the store's message). */
const char *identity_errmsg(struct store *s);
/* Join source record (org, source_id) to person_id (its person merged in). */
int identity_link(struct store *s, const char *org, const char *source_id, const char *person_id,
                  const char *by, const char *note);
/* Split source record (org, source_id) off into a new person, kept apart. */
int identity_unlink(struct store *s, const char *org, const char *source_id, const char *by,
                    const char *note, char **new_person_out);
int identity_merge(struct store *s, const char *survivor, const char *retired, const char *by,
                   const char *note, int64_t *merge_id_out);
int identity_unmerge(struct store *s, int64_t merge_id, const char *by, const char *note);
/* Decide review id: same (link the two records' persons) or not-same. */
int identity_review_decide(struct store *s, int64_t id, int same, const char *by, const char *note);

/* ---- a review pair, as the reviewer sees it (review pages, `review show`) ---------------- */

struct identity_side {
    char *org, *source_id; /* the source record */
    char *person_id;       /* the person holding it now, NULL when unknown */
    char *nhs;             /* its valid NHS number, NULL when none */
    bool known;            /* false: the record is no longer held (d zeroed) */
    struct demog d;        /* its demographics, normalised as matching saw them */
};
struct identity_pair {
    int64_t id;
    char *status, *created, *decided_by, *decided; /* decided*: NULL while open */
    double queued_score;                           /* the score when it was queued */
    int queued_model;
    struct identity_side a, b;
    bool compared;                            /* both sides known: the fields below */
    signed char level[CF_N];                  /* agreement level per field */
    double weight[CF_N];                      /* its weight, current model */
    double total, link_weight, review_weight; /* now, current model */
    int model_version;
};
/* Whether any record of person_id is in an open identity review (the
 * clinician's record pages then say, neutrally, that possible other records
 * are being reviewed, and nothing about the other candidate).  Reads the
 * person's records and the open queue: cost grows with the queue. */
int identity_under_review(struct store *s, const char *person_id, bool *out);

/* Review id with both records and their comparison under the current model.
 * WEFT_ENOTFOUND when there is no such review.  Clear with
 * identity_pair_clear (also after an error). */
int identity_review_get(struct store *s, int64_t id, struct identity_pair *out);
void identity_pair_clear(struct identity_pair *p);

#endif
