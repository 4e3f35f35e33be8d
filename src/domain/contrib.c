/*
 * contrib.c - a person's own contributions as FHIR resources (contrib.h).
 * Pure: no store, no I/O; the pages store what this returns.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/contrib.h"

static const char *const kind_names[CONTRIB_NKINDS] = {"bp", "weight", "glucose", "preference",
                                                       "matters"};

int contrib_kind_parse(const char *name)
{
    for (int i = 0; name && i < CONTRIB_NKINDS; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

/* A decimal number, spaces around allowed, nothing else. */
static bool number(const char *s, double *out)
{
    if (!s)
        return false;
    while (*s == ' ')
        s++;
    if (!*s || !(isdigit((unsigned char)*s) || *s == '.'))
        return false;
    char *end = NULL;
    double v = strtod(s, &end);
    while (end && *end == ' ')
        end++;
    if (!end || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM" -> FHIR dateTime into out (with ":00Z"
 * for a time); false when malformed, impossible, before 1900 or after now. */
static bool when_ok(const char *w, const char *now, char out[32])
{
    size_t n = w ? strlen(w) : 0;
    if (!(n == 10 || n == 16) || !digits(w, 4) || w[4] != '-' || !digits(w + 5, 2) || w[7] != '-' ||
        !digits(w + 8, 2))
        return false;
    int y = atoi(w), m = atoi(w + 5), d = atoi(w + 8);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    if (n == 16) {
        if (w[10] != 'T' || !digits(w + 11, 2) || w[13] != ':' || !digits(w + 14, 2) ||
            atoi(w + 11) > 23 || atoi(w + 14) > 59)
            return false;
        snprintf(out, 32, "%.16s:00Z", w);
    } else {
        snprintf(out, 32, "%.10s", w);
    }
    /* not in the future: compare as far as the input goes */
    return strncmp(out, now, n) <= 0;
}

static bool text_ok(const char *t)
{
    if (!t)
        return false;
    size_t n = strlen(t);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= !isspace((unsigned char)t[i]);
    return any && n <= CONTRIB_TEXT_MAX;
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    return json_pack("{s:s, s:s, s:s}", "system", system, "code", code, "display", display);
}

static json_t *concept(const char *system, const char *code, const char *display, const char *text)
{
    return json_pack("{s:[o], s:s}", "coding", coding(system, code, display), "text", text);
}

static json_t *quantity(double v, const char *ucum, const char *unit)
{
    return json_pack("{s:f, s:s, s:s, s:s}", "value", v, "unit", unit, "system", UCUM_SYSTEM,
                     "code", ucum);
}

static json_t *mark_concept(void)
{
    return concept(CONTRIB_TAG_SYSTEM, CONTRIB_TAG_CODE, CONTRIB_LABEL, CONTRIB_LABEL);
}

static json_t *base(const char *type, const char *id, const char *patient_ref)
{
    json_t *r = json_pack("{s:s, s:s, s:{s:[o]}, s:{s:s}}", "resourceType", type, "id", id, "meta",
                          "tag", coding(CONTRIB_TAG_SYSTEM, CONTRIB_TAG_CODE, CONTRIB_LABEL),
                          "subject", "reference", patient_ref);
    return r;
}

static json_t *observation(const char *id, const char *patient_ref, bool vital)
{
    json_t *r = base("Observation", id, patient_ref);
    json_object_set_new(r, "status", json_string("final"));
    json_t *cats = json_array();
    if (vital)
        json_array_append_new(cats,
                              concept("http://terminology.hl7.org/CodeSystem/observation-category",
                                      "vital-signs", "Vital Signs", "Vital signs"));
    json_array_append_new(cats, mark_concept());
    json_object_set_new(r, "category", cats);
    json_object_set_new(r, "performer", json_pack("[{s:s}]", "reference", patient_ref));
    return r;
}

static double round1(double v)
{
    return round(v * 10.0) / 10.0;
}

json_t *contrib_build(const struct contrib_input *in, const char *id, const char *patient_ref,
                      const char *now, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    char when[32];
    double a = 0, b = 0;
    json_t *r = NULL;
    switch (in->kind) {
    case CONTRIB_BP:
        if (!number(in->value, &a) || a != floor(a) || a < 50 || a > 300) {
            *why = "the systolic (upper) pressure must be a whole number between 50 and 300 mmHg";
            return NULL;
        }
        if (!number(in->value2, &b) || b != floor(b) || b < 30 || b > 200) {
            *why = "the diastolic (lower) pressure must be a whole number between 30 and 200 mmHg";
            return NULL;
        }
        if (a <= b) {
            *why = "the systolic (upper) pressure must be higher than the diastolic (lower) one";
            return NULL;
        }
        break;
    case CONTRIB_WEIGHT:
        if (!number(in->value, &a) || a < 2 || a > 400) {
            *why = "the weight must be a number of kilograms between 2 and 400";
            return NULL;
        }
        break;
    case CONTRIB_GLUCOSE:
        if (!number(in->value, &a) || a < 1.0 || a > 40.0) {
            *why = "the blood glucose must be a number of mmol/L between 1.0 and 40.0";
            return NULL;
        }
        break;
    case CONTRIB_PREFERENCE:
    case CONTRIB_MATTERS:
        if (!text_ok(in->text)) {
            *why = "write what you want to say (at most 1000 characters)";
            return NULL;
        }
        break;
    default:
        *why = "choose what you are adding";
        return NULL;
    }
    bool reading =
        in->kind == CONTRIB_BP || in->kind == CONTRIB_WEIGHT || in->kind == CONTRIB_GLUCOSE;
    if (reading && !when_ok(in->when, now, when)) {
        *why = "give the date (and time) of the reading, YYYY-MM-DD or YYYY-MM-DDTHH:MM, not in "
               "the future";
        return NULL;
    }
    switch (in->kind) {
    case CONTRIB_BP:
        r = observation(id, patient_ref, true);
        json_object_set_new(r, "code",
                            concept(LOINC_SYSTEM, "85354-9", "Blood pressure panel",
                                    "Blood pressure (home reading)"));
        json_object_set_new(r, "component",
                            json_pack("[{s:o, s:o}, {s:o, s:o}]", "code",
                                      concept(LOINC_SYSTEM, "8480-6", "Systolic blood pressure",
                                              "Systolic blood pressure"),
                                      "valueQuantity", quantity(a, "mm[Hg]", "mmHg"), "code",
                                      concept(LOINC_SYSTEM, "8462-4", "Diastolic blood pressure",
                                              "Diastolic blood pressure"),
                                      "valueQuantity", quantity(b, "mm[Hg]", "mmHg")));
        break;
    case CONTRIB_WEIGHT:
        r = observation(id, patient_ref, true);
        json_object_set_new(
            r, "code", concept(LOINC_SYSTEM, "29463-7", "Body weight", "Weight (home reading)"));
        json_object_set_new(r, "valueQuantity", quantity(round1(a), "kg", "kg"));
        break;
    case CONTRIB_GLUCOSE:
        r = observation(id, patient_ref, false);
        json_object_set_new(r, "code",
                            concept(LOINC_SYSTEM, "15074-8", "Glucose [Moles/volume] in Blood",
                                    "Blood glucose (home reading)"));
        json_object_set_new(r, "valueQuantity", quantity(round1(a), "mmol/L", "mmol/L"));
        break;
    case CONTRIB_PREFERENCE:
        r = observation(id, patient_ref, false);
        json_object_set_new(r, "code",
                            concept(CONTRIB_PREFERENCE_SYSTEM, CONTRIB_PREFERENCE_CODE,
                                    "Care preference", "My care preference"));
        json_object_set_new(r, "valueString", json_string(in->text));
        snprintf(when, sizeof when, "%.19sZ", now);
        json_object_set_new(r, "effectiveDateTime", json_string(when));
        return r;
    case CONTRIB_MATTERS:
        r = base("Goal", id, patient_ref);
        json_object_set_new(r, "lifecycleStatus", json_string("active"));
        json_object_set_new(r, "category", json_pack("[o]", mark_concept()));
        json_object_set_new(r, "description", json_pack("{s:s}", "text", in->text));
        json_object_set_new(r, "expressedBy", json_pack("{s:s}", "reference", patient_ref));
        snprintf(when, sizeof when, "%.10s", now);
        json_object_set_new(r, "startDate", json_string(when));
        return r;
    default:
        return NULL;
    }
    json_object_set_new(r, "effectiveDateTime", json_string(when));
    return r;
}

static bool has_mark(const json_t *codings)
{
    size_t i;
    const json_t *c;
    json_array_foreach(codings, i, c)
    {
        const char *sys = json_string_value(json_object_get(c, "system"));
        const char *code = json_string_value(json_object_get(c, "code"));
        if (sys && code && strcmp(sys, CONTRIB_TAG_SYSTEM) == 0 &&
            strcmp(code, CONTRIB_TAG_CODE) == 0)
            return true;
    }
    return false;
}

bool contrib_is_patient_entered(const json_t *res)
{
    if (has_mark(json_object_get(json_object_get(res, "meta"), "tag")))
        return true;
    size_t i;
    const json_t *cat;
    json_array_foreach(json_object_get(res, "category"), i,
                       cat) if (has_mark(json_object_get(cat, "coding"))) return true;
    return false;
}
