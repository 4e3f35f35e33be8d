/*
 * nickname.h - UK given-name nicknames and diminutives (Bill/William,
 * Peggy/Margaret, Tom/Thomas): a receptionist writes down the name a person
 * gives, and that is often not the one on their birth certificate.
 *
 * Source: the table in nickname.c was written for Weft from common British
 * English usage (each group is a formal name and the short and pet forms in
 * everyday use for it); it covers the frequent names of the England and
 * Wales birth registrations of the last century, not every name.  A name may
 * be in several groups (Chris: Christopher, Christine, Christina).
 */
#ifndef WEFT_IDENTITY_NICKNAME_H
#define WEFT_IDENTITY_NICKNAME_H

#include <stdbool.h>

/* True when a and b (upper-case ASCII, as demog.h normalises) are the same
 * name by the table: one is a diminutive of the other, or both are
 * diminutives of one formal name.  Equal names are not asked here. */
bool nickname_same(const char *a, const char *b);

/* Number of groups in the table (tests). */
int nickname_groups(void);

#endif
