/*
 * model.h - the Fellegi-Sunter matching model: for each field of the
 * comparison vector (compare.h) and each agreement level, m = P(level | the
 * same person) and u = P(level | different people); a pair's match weight is
 * the sum over its non-missing fields of log2(m/u), in bits.  u comes from
 * random pairs of records, m (and the share of matches among candidate
 * pairs, lambda) by expectation-maximisation over the candidate pairs that
 * blocking gives (idmodel_estimate).  Exact agreement on a given or family
 * name is term-frequency adjusted: its u is the name's own frequency, so
 * "SMITH" = "SMITH" counts for less than "OKAFOR" = "OKAFOR".
 *
 * Outcomes by posterior: the match weight plus the prior log2 odds that two
 * records are the same person (prior_bits, from the estimate: lambda times
 * the candidate pairs over all pairs, so a bigger population needs more
 * evidence) is the posterior log2 odds; >= link_bits link, >= review_bits
 * review, else a new person.  link_weight and review_weight are the same
 * thresholds on the match weight alone (bits - prior_bits), what the
 * matcher compares.  A model has a version (1, 2, ...: one per estimate) and a
 * random id; it is stored as JSON (idmodel_to_json) with the store's meta
 * (identity/link.c).  Version 0 is the built-in default below, used until
 * the first `weft person estimate`.
 */
#ifndef WEFT_IDENTITY_MODEL_H
#define WEFT_IDENTITY_MODEL_H

#include <stddef.h>

#include <jansson.h>

#include "identity/compare.h"

/* Documented defaults (docs/ARCHITECTURE.md, Identity): link at posterior
 * odds 2^5 (probability 0.97), review from even odds; the default model's
 * prior is 2^-14 (about one true pair in 16,000 pairs: a region of 20,000
 * records), so link at match weight 19, review at 14. */
#define IDMODEL_LINK_BITS 5.0
#define IDMODEL_REVIEW_BITS 0.0
#define IDMODEL_PRIOR_BITS (-14.0)

struct idmodel_tf {
    int n;
    char **name; /* sorted, malloc'd */
    double *freq;
};

struct idmodel {
    int version;
    char id[33];
    char created[32];
    double lambda;
    double m[CF_N][COMPARE_MAXLEVELS], u[CF_N][COMPARE_MAXLEVELS];
    double prior_bits, link_bits, review_bits;
    double link_weight, review_weight; /* derived: idmodel_thresholds() */
    struct idmodel_tf tf[2];           /* 0: given, 1: family */
    double tf_floor;                   /* frequency of a name not in the table */
    long records, pairs;
};

/* The built-in model (version 0): priors for m and u, no term frequencies. */
void idmodel_init_default(struct idmodel *m);
void idmodel_free(struct idmodel *m);

/* Set link_weight and review_weight from the bits and the prior. */
void idmodel_thresholds(struct idmodel *m);

/* Match weight of a pair with comparison vector g (a and b give the names
 * for the term-frequency adjustment; either may be NULL for none).  When fw
 * is not NULL it receives each field's weight (0 for a missing field). */
double idmodel_weight(const struct idmodel *m, const signed char g[CF_N], const struct demog *a,
                      double fw[CF_N]);

/*
 * Estimate the model from data: u from nrand comparison vectors of random
 * pairs (Laplace-smoothed counts), then m and lambda by EM over ncand
 * vectors of candidate pairs (u held fixed), starting from m's current
 * values, at most iters rounds or until no m moves by 1e-6.  Vectors are
 * CF_N bytes each, back to back.  Returns the rounds run.
 */
int idmodel_estimate(struct idmodel *m, const signed char *cand, size_t ncand,
                     const signed char *rand, size_t nrand, int iters);

/* Replace the term-frequency table of field (0 given, 1 family) with names
 * (any order, n of them) and their counts among total records; names seen
 * once are left out (they get tf_floor = 1/total). */
void idmodel_tf_set(struct idmodel *m, int field, char **names, const long *counts, int n,
                    long total);
/* Frequency of name in field's table (tf_floor when absent). */
double idmodel_tf(const struct idmodel *m, int field, const char *name);

/* JSON form (new reference) and back; idmodel_from_json returns 0 or
 * WEFT_EINVAL (m then holds the default). */
json_t *idmodel_to_json(const struct idmodel *m);
int idmodel_from_json(const json_t *j, struct idmodel *m);

#endif
