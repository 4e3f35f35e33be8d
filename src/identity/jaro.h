/*
 * jaro.h - Jaro-Winkler string similarity, the name comparator of record
 * linkage (Winkler 1990): typing errors and transpositions near the end of a
 * name cost less than at the start, where people rarely err.
 */
#ifndef WEFT_IDENTITY_JARO_H
#define WEFT_IDENTITY_JARO_H

/* Jaro-Winkler similarity of a and b in [0, 1] (1: equal; 0: nothing in
 * common or either empty), prefix scale 0.1 over at most 4 characters.
 * Byte-wise: callers pass normalised (upper-case ASCII) names.  Strings
 * longer than 64 bytes are compared on their first 64. */
double jaro_winkler(const char *a, const char *b);

#endif
