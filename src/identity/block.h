/*
 * block.h - blocking keys: which records are compared at all.
 *
 * Comparing every pair is quadratic; instead two records are candidates
 * when they share at least one of BLOCK_NKEYS keys, each built so that the
 * faults the others miss are still caught:
 *   0 "D" date of birth                      (survives name typos, moves)
 *   1 "N" Soundex(family) + year of birth    (survives dob day/month errors)
 *   2 "P" postcode + first initial           (survives dob errors, name typos)
 *   3 "G" Soundex(given), Soundex(family)    (survives dob and postcode errors;
 *         the two codes in sorted order, so it survives swapped names too)
 * Batch runs (estimate, relink: every record in memory) add two keys the
 * feed path does not store, for records whose names and date of birth are
 * both damaged or missing:
 *   4 "F" postcode + Soundex(family)          (survives given name and dob
 *         errors, a missing date of birth)
 *   5 "A" house number + first street word + city (or postcode)
 *                                              (survives names replaced and
 *         dob errors: the same address)
 * A key is "" when its parts are missing.  Over-large blocks are skipped,
 * as MPIs do with keys too common to tell anyone apart: on the feed path a
 * key whose block holds more than BLOCK_FEED_CAP records is not read at all
 * (a degenerate block - one date of birth or name code shared by thousands -
 * must not make each new record cost thousands of comparisons; sampling it
 * would find the true match by chance only); the other keys, and the
 * term-frequency weights of whatever is compared, still apply.  Batch runs
 * (estimate, relink) skip blocks of more than BLOCK_CAP records the same way
 * (they compared a window of BLOCK_CAP within them before: a sample as
 * arbitrary as the feed path's was).
 * Work and memory are bounded by block sizes.
 */
#ifndef WEFT_IDENTITY_BLOCK_H
#define WEFT_IDENTITY_BLOCK_H

#include "identity/demog.h"

#define BLOCK_NKEYS 4
#define BLOCK_BATCH_NKEYS 6
#define BLOCK_KEYLEN 24
#define BLOCK_CAP 400     /* batch: larger blocks are skipped */
#define BLOCK_FEED_CAP 50 /* feed path: larger blocks are not read */

/* The blocking keys of d into keys. */
void block_keys(const struct demog *d, char keys[BLOCK_NKEYS][BLOCK_KEYLEN]);
/* The batch keys of d (the BLOCK_NKEYS above, then the batch-only ones). */
void block_keys_batch(const struct demog *d, char keys[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN]);

#endif
