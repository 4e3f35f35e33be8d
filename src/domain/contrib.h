/*
 * contrib.h - what a person adds to their own record (issue 17, "my own
 * contributions"): home readings (blood pressure, weight, blood glucose),
 * what matters to them and their care preferences, validated and shaped as
 * FHIR R4 resources here, stored through the one write path (fhir/load.h)
 * by the citizen's pages (web/my_contrib.c) with the person as the source.
 *
 * The shapes (docs/ACCESS.md "The person's own contributions"):
 *   blood pressure  Observation, LOINC 85354-9 with components 8480-6
 *                   (systolic) and 8462-4 (diastolic), mm[Hg]
 *   weight          Observation, LOINC 29463-7, kg
 *   blood glucose   Observation, LOINC 15074-8 (Glucose [Moles/volume] in
 *                   Blood), mmol/L
 *   care preference Observation, code CONTRIB_PREFERENCE_CODE, valueString
 *   what matters    Goal, lifecycleStatus active, description.text,
 *                   expressedBy the person
 * Every one: subject (and performer / expressedBy) the person's Patient,
 * Observation.category and meta.tag CONTRIB_TAG_SYSTEM|CONTRIB_TAG_CODE
 * ("Entered by the patient"), readings also observation-category
 * vital-signs (blood pressure, weight); quantities in UCUM.  Pages recognise
 * the items by their source, CONTRIB_SOURCE, which is not an ODS code (lower
 * case), so no registered organisation or feed can send under it.
 *
 * Plausible ranges (a typing slip is refused, not stored): systolic 50-300
 * and diastolic 30-200 mm[Hg] with systolic above diastolic; weight 2-400
 * kg; glucose 1.0-40.0 mmol/L.  Times: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"
 * (taken as UTC), not in the future and not before 1900.  Texts 1-1000
 * characters.
 */
#ifndef WEFT_DOMAIN_CONTRIB_H
#define WEFT_DOMAIN_CONTRIB_H

#include <stdbool.h>

#include <jansson.h>

#include "domain/systems.h"

#define CONTRIB_SOURCE "patient" /* the source of what the person enters */
#define CONTRIB_FEED "my"        /* meta.source urn:weft:feed:patient:my */
#define CONTRIB_TAG_SYSTEM WEFT_CODE_SYSTEM_PREFIX "information-source"
#define CONTRIB_TAG_CODE "patient-entered"
#define CONTRIB_LABEL "Entered by the patient"
#define CONTRIB_PREFERENCE_SYSTEM WEFT_CODE_SYSTEM_PREFIX "patient-entered"
#define CONTRIB_PREFERENCE_CODE "care-preference"
#define CONTRIB_TEXT_MAX 1000

enum contrib_kind {
    CONTRIB_BP,
    CONTRIB_WEIGHT,
    CONTRIB_GLUCOSE,
    CONTRIB_PREFERENCE,
    CONTRIB_MATTERS,
    CONTRIB_NKINDS
};

/* "bp", "weight", "glucose", "preference", "matters" -> kind; -1 when none. */
int contrib_kind_parse(const char *name);

/* What the form gave, as text (any may be NULL). */
struct contrib_input {
    enum contrib_kind kind;
    const char *value;  /* bp: systolic; weight; glucose */
    const char *value2; /* bp: diastolic */
    const char *when;   /* readings: when measured */
    const char *text;   /* preference, matters */
};

/*
 * Validate in and build the resource: id (the sender's id, [A-Za-z0-9-]),
 * patient_ref ("Patient/{weft id}"), now (ISO 8601 UTC, for "not in the
 * future" and the Goal's start).  Returns the new resource (caller
 * json_decref's it), or NULL with *why a static sentence naming the field
 * and the rule ("the systolic pressure must be between 50 and 300 mmHg").
 */
json_t *contrib_build(const struct contrib_input *in, const char *id, const char *patient_ref,
                      const char *now, const char **why);

/* True when res carries the patient-entered mark (meta.tag or category). */
bool contrib_is_patient_entered(const json_t *res);

#endif
