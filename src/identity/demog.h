/*
 * demog.h - the demographics of one source Patient, normalised for
 * matching: what the comparators (compare.h) and blocking (block.h) read.
 *
 * Names are upper-case ASCII letters only ("O'Brien" -> "OBRIEN"); the date
 * of birth is "YYYYMMDD"; sex is 'M', 'F' or 0 (unknown/other); postcode
 * as postcode_norm; the address line upper-case letters, digits and single
 * spaces; phone the last 10 digits; email lower case.  An empty string is
 * a missing value: it neither agrees nor disagrees.
 */
#ifndef WEFT_IDENTITY_DEMOG_H
#define WEFT_IDENTITY_DEMOG_H

#include <jansson.h>

struct demog {
    char given[32], given2[32], family[48];
    char dob[9];
    char sex;
    char postcode[12];
    char addr[64], city[40];
    char phone[16], email[64];
    char nhs[11]; /* a valid NHS number, "" when none */
};

/* Fill d from a FHIR Patient: the first name not marked old (family, first
 * and second given), birthDate, gender, the first address not marked old
 * (line joined, city, postalCode), the first phone and email in telecom,
 * and a valid NHS number among the identifiers. */
void demog_from_patient(const json_t *patient, struct demog *d);

/* Pack d into out (cap bytes) as one line "given|given2|family|dob|sex|
 * postcode|addr|city|phone|email" (no field holds '|': the normalisers drop
 * it), the form the store keeps; demog_unpack reads it back (0, or -1 on a
 * malformed line, d then zeroed). */
void demog_pack(const struct demog *d, char *out, size_t cap);
int demog_unpack(const char *s, struct demog *d);

/* Normalise a name into out (cap bytes): upper-case letters only. */
void demog_norm_name(const char *in, char *out, size_t cap);

#endif
