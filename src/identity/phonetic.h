/*
 * phonetic.h - a phonetic code for surnames and given names: American
 * Soundex (Russell and Odell, as standardised by the US National Archives),
 * so that Smith/Smyth, Okafor/Okafer, Thompson/Thomson share a code.  It is
 * a blocking key (records sharing code + birth year are compared) and one
 * comparison level of the name comparators.
 */
#ifndef WEFT_IDENTITY_PHONETIC_H
#define WEFT_IDENTITY_PHONETIC_H

#define PHONETIC_LEN 5 /* 4 characters and the terminator */

/* The Soundex code of name (letters only are read; case-insensitive) into
 * out: a letter and three digits, zero padded ("R163").  "" when name has no
 * letter. */
void phonetic_code(const char *name, char out[PHONETIC_LEN]);

#endif
