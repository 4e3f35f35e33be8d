/*
 * mpi.h - the master person index: the one place that decides which person
 * a source Patient without a valid NHS number belongs to, and every manual
 * change to that (link, unlink, merge, unmerge, review decisions).
 *
 * Feed path (identity/link.c calls it for each source Patient it sees for
 * the first time): candidates by blocking (block.h), each scored by the
 * current model (model.h), the best person per score:
 *   - record without a valid NHS number: best person >= link weight -> link
 *     to it (unless another person above the link weight holds a different
 *     NHS number: then review, never a guess between twins); >= review
 *     weight -> a new person and the pair queued for review; else a new
 *     person;
 *   - record with a valid NHS number (its person is the NHS number's):
 *     persons without an NHS number scoring >= link weight are merged into
 *     it, so the outcome does not depend on whether the record with the
 *     number came first.
 * Never: linking two different valid NHS numbers; joining a record to a
 * person holding a record it was decided "not the same person" as; moving
 * a record that already has a person (one source record, one person).
 * Used only by identity/ (identity.h is the API) and `weft person`.
 * Every decision is written to identity_decision (who, score, model version)
 * and the audit log; every one can be undone (merge <-> unmerge, link <->
 * unlink).
 */
#ifndef WEFT_IDENTITY_MPI_H
#define WEFT_IDENTITY_MPI_H

#include <stdint.h>
#include <stdio.h>

#include "identity/block.h"
#include "identity/demog.h"
#include "identity/model.h"

struct store;

#define MPI_AUTO "auto"

/* The current model (the store's newest estimate, else the default),
 * shared and cached by model id; never NULL.  Release when done. */
const struct idmodel *mpi_model_acquire(struct store *s);
void mpi_model_release(const struct idmodel *m);
/* Store m as the next version (sets m->version, id, created). */
int mpi_model_save(struct store *s, struct idmodel *m);

/* Pairs queued for review per record at most: its best-scoring ones.  A
 * reviewer decides the best few candidates of a record, not every faint
 * resemblance; without the cap relink queued 14.9 million reviews for
 * 1,000,000 records (docs/BENCHMARKS.md, identity). */
#define MPI_REVIEWS_PER_RECORD 3

/* What matching a new record decided (mpi_match_record). */
struct mpi_match {
    char *link_to;                 /* person to link the record to, NULL: its own person */
    char *via_org, *via_source_id; /* the best candidate record */
    double score;
    int model_version;
    struct mpi_other {
        char *person_id, *org, *source_id;
        double score;
    } * merge, *review; /* persons to merge in; pairs to queue */
    int nmerge, nreview;
};
void mpi_match_free(struct mpi_match *m);

/* Match new record (org, source_id) with demographics d and their blocking
 * keys (block_keys(d), computed once by the caller for this and
 * mpi_record_put); nhs_person is the person its valid NHS number names
 * (NULL when it has none). */
int mpi_match_record(struct store *s, const char *org, const char *source_id, const struct demog *d,
                     const char keys[BLOCK_NKEYS][BLOCK_KEYLEN], const char *nhs_person,
                     struct mpi_match *out);
/* As mpi_match_record, on candidates c (nc; taken and freed) already read as
 * it reads them (store_idrec_candidates with BLOCK_FEED_CAP, without_nhs =
 * nhs_person != NULL), e.g. by store_person_nhs_link. */
struct store_idrec;
int mpi_match_candidates(struct store *s, const char *org, const char *source_id,
                         const struct demog *d, const char *nhs_person, struct store_idrec *c,
                         int nc, struct mpi_match *out);
/* Carry out m once the record belongs to person_id: decisions, reviews,
 * merges, audit entries. */
int mpi_match_apply(struct store *s, const char *org, const char *source_id, const char *person_id,
                    const struct mpi_match *m);
/* Keep (org, source_id)'s demographics and their blocking keys
 * (block_keys(d)) for later matching; locals are its local identifiers
 * ("org\tsystem\tvalue" lines, may be NULL). */
int mpi_record_put(struct store *s, const char *org, const char *source_id, const struct demog *d,
                   const char keys[BLOCK_NKEYS][BLOCK_KEYLEN], const char *locals);

/* Manual changes (identity_link, _unlink, _merge, _unmerge,
 * _review_decide) are declared in identity/identity.h, the API the rest of
 * Weft calls; they live in mpi.c. */
/* A merge a source system asked for (HL7 A40 from org, inbox message
 * inbox_id), inside the caller's transaction: the same as store_person_merge
 * plus the decision (by, e.g. "hl7:rvv-pas") and its audit entry.  A source
 * system's merge is its own decision, so "not the same person" pairs do not
 * stop it (they stop automatic matching only). */
int mpi_merge_source(struct store *s, const char *survivor, const char *retired, const char *org,
                     int64_t inbox_id, const char *by, int64_t *merge_id_out);
/* Undo, inside the caller's transaction, the merge a source system now
 * says was wrong (HL7 A37): the newest active merge that moved local
 * identifier (org, system, value).  WEFT_ENOTFOUND when there is none. */
int mpi_unmerge_source(struct store *s, const char *org, const char *system, const char *value,
                       const char *by, int64_t *merge_id_out);
/* The comparison of two records (for review pages and `review show`):
 * gamma and per-field weights; total returned. */
double mpi_compare(const struct idmodel *m, const struct demog *a, const struct demog *b,
                   signed char gamma[CF_N], double fw[CF_N]);
/* The weight an automatic decision may act on: w, except that a pair whose
 * given names and family names both disagree outright (the comparators' last
 * level: not a typo, nickname, initial or sound-alike; and not the two names
 * swapped) is held just below the link weight, so it can go to review but is
 * never linked or merged unattended.  Two different people of one household
 * share date of birth or sex, address, postcode and phone; only their names
 * tell them apart, and the shared fields alone can outweigh that (27 bits on
 * the default model).  Twins (one family name, different given names) are
 * not held by this rule: FEBRL's duplicates with a replaced given name look
 * the same; see docs/BENCHMARKS.md "Identity". */
double mpi_auto_weight(const struct idmodel *m, const struct demog *a, const struct demog *b,
                       const signed char gamma[CF_N], double w);

/* An automatic merge of retired into survivor (feed path; relink decides in
 * memory and writes with store_person_merge_many):
 * refused (*done = 0, returns 0) when they hold two different NHS numbers
 * or a "not the same person" decision stands between them; else merged
 * and the decision recorded (by: "auto" or "relink"; org/source_id: the
 * record whose match caused it). */
int mpi_merge_auto(struct store *s, const char *survivor, const char *retired, const char *org,
                   const char *source_id, double score, int model_version, const char *by,
                   int *done);

/* n decisions written at once with their audit entries (as n single
 * decisions would be): relink's bulk path. */
struct store_iddecision;
int mpi_decisions_record_many(struct store *s, const struct store_iddecision *d, size_t n);

/* Batch: re-estimate the model from every record (EM, prior, term
 * frequencies), store it as the next version; the link and review
 * thresholds (posterior log2 odds) are kept unless given (non-NULL).  The
 * model is written to report. */
int mpi_estimate(struct store *s, const double *link_bits, const double *review_bits, FILE *report);
/* Batch: re-run matching over every record with the current model; merges
 * the persons it joins (decided_by "relink"), queues reviews (a pair only
 * while one of its records has fewer than MPI_REVIEWS_PER_RECORD queued,
 * best pairs first), keeps every manual decision; writes what changed to
 * report. */
int mpi_relink(struct store *s, FILE *report);

#endif
