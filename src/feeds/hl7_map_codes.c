/*
 * hl7_map_codes.c - coding systems and coded values: HL7 coding-system names →
 * FHIR system URIs; CE/CWE/CNE → Coding and CodeableConcept.
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

/* ---- codes ------------------------------------------------------------ */

const char *hl7_map_code_system(const char *name, size_t len)
{
    static const struct {
        const char *name, *uri;
    } t[] = {
        {"SCT", SNOMED_SYSTEM},
        {"SNOMED", SNOMED_SYSTEM},
        {"SNOMEDCT", SNOMED_SYSTEM},
        {"SNOMED-CT", SNOMED_SYSTEM},
        {"SNM", SNOMED_SYSTEM},
        {"SNM3", SNOMED_SYSTEM},
        {"LN", LOINC_SYSTEM},
        {"LOINC", LOINC_SYSTEM},
        {"I10", "http://hl7.org/fhir/sid/icd-10"},
        {"ICD10", "http://hl7.org/fhir/sid/icd-10"},
        {"ICD-10", "http://hl7.org/fhir/sid/icd-10"},
        {"I10C", "http://hl7.org/fhir/sid/icd-10-cm"},
        {"ICD10CM", "http://hl7.org/fhir/sid/icd-10-cm"},
        {"I9", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"I9C", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"ICD9", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"UCUM", UCUM_SYSTEM},
        {"CVX", "http://hl7.org/fhir/sid/cvx"},
        {"RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"},
        {"RXN", "http://www.nlm.nih.gov/research/umls/rxnorm"},
        {"NDC", "http://hl7.org/fhir/sid/ndc"},
        {"C4", "http://www.ama-assn.org/go/cpt"},
        {"CPT", "http://www.ama-assn.org/go/cpt"},
        {"READ", "http://read.info/readv2"},
        {"RD2", "http://read.info/readv2"},
        {"CTV3", "http://read.info/ctv3"},
        {"DMD", "https://dmd.nhs.uk"},
    };
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct hl7_span s = {name, len};
        if (span_eq_ci(s, t[i].name))
            return t[i].uri;
    }
    if (len >= 6 && len <= 8 && !memcmp(name, "HL7", 3)) {
        int ok = 1;
        for (size_t i = 3; i < len; i++)
            ok &= name[i] >= '0' && name[i] <= '9';
        if (ok) {
            static __thread char uri[64];
            snprintf(uri, sizeof uri, HL7_V2_TABLE_SYSTEM_PREFIX "%.*s", (int)(len - 3), name + 3);
            return uri;
        }
    }
    return NULL;
}

/* One Coding from code/text/system at components base, base+1, base+2. */
static json_t *coding_at(struct mctx *c, struct hl7_span v, size_t base, const char *dflt_system)
{
    struct hl7_span code = hl7_span_part(v, c->d->comp, base);
    struct hl7_span text = hl7_span_part(v, c->d->comp, base + 1);
    struct hl7_span sys = hl7_span_part(v, c->d->comp, base + 2);
    json_t *system = NULL;
    if (hm_dec(c, sys)) {
        const char *uri = hl7_map_code_system(c->t.data, c->t.len);
        system = uri ? json_string(uri) : json_stringn(c->t.data, c->t.len);
    } else if (dflt_system) {
        system = json_string(dflt_system);
    }
    json_t *jcode = hm_jspan(c, code);
    return fhir_coding_j(system, jcode, hm_jspan(c, text));
}

/* CodeableConcept from a CE/CWE/CNE span (first repetition given). */
json_t *hm_concept_span(struct mctx *c, struct hl7_span v, const char *dflt_system)
{
    json_t *codings = json_array();
    append_if(codings, coding_at(c, v, 1, dflt_system));
    append_if(codings, coding_at(c, v, 4, NULL));
    json_t *txt = hm_jspan(c, hl7_span_part(v, c->d->comp, 2));
    if (!txt && hl7_span_count(v, c->d->comp) >= 9)
        txt = hm_jspan(c, hl7_span_part(v, c->d->comp, 9)); /* CWE-9 original text */
    return fhir_concept(codings, txt);
}

json_t *hm_concept(struct mctx *c, long seg, size_t f, size_t r, const char *dflt_system)
{
    struct hl7_span v;
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, r ? r : 1, 0, 0, &v) || v.len == 0)
        return NULL;
    return hm_concept_span(c, v, dflt_system);
}
