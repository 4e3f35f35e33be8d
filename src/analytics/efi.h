/*
 * efi.h - the electronic Frailty Index (Clegg et al., Age and Ageing 2016):
 * 36 deficits, each found from a SNOMED CT code set kept as data
 * (policy/efi.codes) or from the record's structure (polypharmacy: 5 or
 * more distinct current medicines; requirement for care: an open social
 * care service or a carer; social vulnerability: a safeguarding flag).
 * score = deficits / 36, for people aged 65 and over; bands fit <= 0.12,
 * mild <= 0.24, moderate <= 0.36, severe > 0.36.  For each deficit found,
 * the record items that showed it.
 */
#ifndef WEFT_ANALYTICS_EFI_H
#define WEFT_ANALYTICS_EFI_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/read.h"

#define EFI_NDEFICITS 36
#define EFI_MIN_AGE 65

enum efi_band { EFI_FIT = 0, EFI_MILD, EFI_MODERATE, EFI_SEVERE };

/* The band of a count of deficits out of 36 (integer arithmetic: 0-4 fit,
 * 5-8 mild, 9-12 moderate, 13+ severe, the thresholds exactly). */
enum efi_band efi_band_of(int ndeficits);
/* "fit", "mild", "moderate", "severe". */
const char *efi_band_name(enum efi_band b);

/* Parsed code sets (opaque, immutable once loaded). */
struct efi_codes;
/* Parse the text of an efi.codes file.  Exactly 36 deficits; unknown
 * statements, rules, non-numeric codes and a code in two deficits are
 * errors naming the line.  0 or WEFT_EPARSE with err. */
int efi_codes_parse(const char *text, size_t len, struct efi_codes **out, char *err, size_t errlen);
/* Load path, or (NULL) $WEFT_EFI_CODES, then policy/efi.codes beside the
 * binary and its parents, then ./policy/efi.codes. */
int efi_codes_load(const char *path, struct efi_codes **out, char *err, size_t errlen);
void efi_codes_free(struct efi_codes *c);
/* The i-th deficit's id and label (0 <= i < EFI_NDEFICITS), borrowed. */
const char *efi_deficit_id(const struct efi_codes *c, int i);
const char *efi_deficit_label(const struct efi_codes *c, int i);

struct efi_result {
    int age;
    int count;
    double score;
    enum efi_band band;
    /* per deficit: NULL when absent, else the items that showed it,
     * "Type/id display (code)" joined by "; " (malloc'd) */
    char *triggers[EFI_NDEFICITS];
};
/*
 * Assess p on day as_of.  0 and *r (release with efi_result_free) for a
 * person aged 65 or over; WEFT_ENOTFOUND (nothing to free) when younger or
 * the birth date is unknown.  Items dated after as_of are not counted.
 */
int efi_assess(const struct efi_codes *c, const struct analytics_person *p, int64_t as_of,
               struct efi_result *r);
void efi_result_free(struct efi_result *r);

#endif
