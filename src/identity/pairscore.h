/*
 * pairscore.h - scoring candidate pairs in batch runs (mpi_batch.c: relink
 * compares tens of millions of pairs, most of which fall far below the
 * review weight).
 *
 * A pairscore holds a model's field weights log2(m/u) as a table, so a
 * pair's match weight is a sum of look-ups (pairscore_weight: the very sum
 * idmodel_weight makes, bit for bit, given each record's exact-name weights
 * from pairscore_names, computed once a record instead of once a pair).
 *
 * pairscore_bound is an upper bound on that weight from the cheap fields
 * alone: the names are only tested for equality (no Jaro-Winkler, no
 * phonetic code, no nickname look-up), a name that differs counting as the
 * best level short of exact.  A pair whose bound is below the review weight
 * cannot reach it, so relink skips its full comparison; every other pair
 * is compared in full (compare_pair), so outcomes are unchanged.
 *
 * block_chunks splits a pass's blocks into chunks of about equal work
 * (candidate pairs) for the scoring threads to take one at a time.
 */
#ifndef WEFT_IDENTITY_PAIRSCORE_H
#define WEFT_IDENTITY_PAIRSCORE_H

#include "identity/compare.h"
#include "identity/demog.h"
#include "identity/model.h"

struct pairscore {
    double w[CF_N][COMPARE_MAXLEVELS]; /* log2(m/u) of each field and level */
    double best_inexact[CF_N];         /* the highest weight of a level other than exact */
    double best[CF_N];                 /* the highest weight of any level */
    int tf;                            /* the model has term frequencies */
};

/* A record's exact-agreement weights of its given and family names (the
 * term-frequency adjusted weight idmodel_weight gives an exact name). */
struct pairscore_names {
    double given, family;
};

void pairscore_init(struct pairscore *ps, const struct idmodel *m);
void pairscore_names(const struct pairscore *ps, const struct idmodel *m, const struct demog *d,
                     struct pairscore_names *out);

/* The match weight of comparison vector g, a's names weighed by an (the
 * same as idmodel_weight(m, g, a, NULL)). */
double pairscore_weight(const struct pairscore *ps, const signed char g[CF_N],
                        const struct pairscore_names *an);

/* An upper bound on pairscore_weight (and so on the weight after
 * mpi_auto_weight, which only lowers it) for the pair a, b. */
double pairscore_bound(const struct pairscore *ps, const struct demog *a,
                       const struct pairscore_names *an, const struct demog *b);

/* Split n blocks, sizes[i] records each, into consecutive chunks of at
 * least target candidate pairs each (a block of s records has s(s-1)/2;
 * the last chunk may hold fewer): bounds[0] = 0 < bounds[1] < ... <
 * bounds[c] = n, chunk k being blocks bounds[k] to bounds[k+1] - 1.
 * bounds has room for n + 1 entries; returns c (0 when n is 0). */
int block_chunks(const int *sizes, int n, long target, int *bounds);

#endif
