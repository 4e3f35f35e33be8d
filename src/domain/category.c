/*
 * category.c - resource -> record category (see category.h).
 *
 * A type table decides most resources outright; a handful of types look at
 * their codings.  Keyword tests run on lower-cased code, display and text of
 * the named elements only, so a long narrative never costs much.
 */
#include <assert.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "domain/category.h"
#include "domain/systems.h"

const char *const category_names[CATEGORY_COUNT + 1] = {
    "demographics",
    "contacts",
    "social-care-assessment",
    "services",
    "safeguarding",
    "legal-status",
    "conditions",
    "procedures",
    "medications",
    "allergies",
    "alerts",
    "history",
    "birth",
    "encounters",
    "appointments",
    "documents",
    "results",
    "imaging-reports",
    "observations",
    "immunisations",
    "research",
    "mental-health-act",
    "end-of-life",
    "service-summaries",
    NULL,
};

bool category_valid(const char *name)
{
    if (!name)
        return false;
    for (int i = 0; category_names[i]; i++)
        if (strcmp(category_names[i], name) == 0)
            return true;
    return false;
}

bool category_restricted(const char *name)
{
    return name && (strcmp(name, "safeguarding") == 0 || strcmp(name, "legal-status") == 0 ||
                    strcmp(name, "mental-health-act") == 0);
}

/* A static category string equal to name (so callers may keep it). */
static const char *canonical(const char *name)
{
    for (int i = 0; category_names[i]; i++)
        if (strcmp(category_names[i], name) == 0)
            return category_names[i];
    return NULL;
}

/* Case-insensitive substring test. */
static bool has_word(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* Calls test(str, arg) on the code, display and text of a CodeableConcept,
 * a Coding, or an array of either; true as soon as one matches. */
typedef bool (*str_test)(const char *s, const void *arg);

static bool concept_any(const json_t *v, str_test test, const void *arg)
{
    if (!v)
        return false;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (concept_any(e, test, arg)) return true;
        return false;
    }
    if (!json_is_object(v))
        return false;
    const char *keys[] = {"code", "display", "text"};
    for (int k = 0; k < 3; k++) {
        const char *s = json_string_value(json_object_get(v, keys[k]));
        if (s && test(s, arg))
            return true;
    }
    json_t *coding = json_object_get(v, "coding");
    return coding && concept_any(coding, test, arg);
}

static bool test_words(const char *s, const void *arg)
{
    for (const char *const *w = arg; *w; w++)
        if (has_word(s, *w))
            return true;
    return false;
}

static bool test_exact(const char *s, const void *arg)
{
    for (const char *const *w = arg; *w; w++)
        if (strcasecmp(s, *w) == 0)
            return true;
    return false;
}

/* True when any of the named elements of r mentions one of the words. */
static bool mentions(const json_t *r, const char *const *elements, const char *const *words)
{
    for (const char *const *e = elements; *e; e++)
        if (concept_any(json_object_get(r, *e), test_words, words))
            return true;
    return false;
}

static bool coded(const json_t *r, const char *element, const char *const *codes)
{
    return concept_any(json_object_get(r, element), test_exact, codes);
}

/* True when element (a CodeableConcept, a Coding, or an array of either)
 * holds a Coding of system whose code is code (any code when code is NULL). */
static bool coded_in(const json_t *v, const char *system, const char *code)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (coded_in(e, system, code)) return true;
        return false;
    }
    if (!json_is_object(v))
        return false;
    json_t *coding = json_object_get(v, "coding");
    if (coding)
        return coded_in(coding, system, code);
    const char *sys = json_string_value(json_object_get(v, "system"));
    const char *c = json_string_value(json_object_get(v, "code"));
    return sys && c && strcmp(sys, system) == 0 && (!code || strcmp(c, code) == 0);
}

static const char *const W_SAFEGUARDING[] = {"safeguard",
                                             "child protection",
                                             "adult at risk",
                                             "protection plan",
                                             "looked after child",
                                             "domestic abuse",
                                             NULL};
static const char *const W_MHA[] = {
    "mental health act",         "section 2 ", "section 3 ", "section 136", "section 135",
    "community treatment order", NULL};
static const char *const W_LEGAL[] = {"legal status", "immigration",     "overseas visitor",
                                      "asylum",       "right to reside", NULL};
static const char *const W_EOL[] = {"end of life",
                                    "end-of-life",
                                    "respect",
                                    "dnacpr",
                                    "do not attempt",
                                    "resuscitation",
                                    "advance care",
                                    "treatment escalation",
                                    "palliative",
                                    "supportive care",
                                    NULL};
static const char *const W_SOCIAL[] = {"social care assessment", "care act assessment",
                                       "needs assessment", "carer's assessment", NULL};
static const char *const W_SUMMARY[] = {"service summary", "end of service", "closure summary",
                                        NULL};
static const char *const W_HISTORY[] = {"history", "maternity", "obstetric", NULL};
static const char *const W_BIRTH[] = {"birth", "apgar", "neonatal", "gestation", NULL};

static const char *const E_TYPECAT[] = {"type", "category", "code", "description", NULL};
static const char *const E_CODECAT[] = {"code", "category", NULL};
static const char *const E_CAT[] = {"category", NULL};
static const char *const E_TYPE[] = {"type", NULL};

static const char *observation(const json_t *r)
{
    static const char *const lab[] = {"laboratory", NULL};
    static const char *const imaging[] = {"imaging", NULL};
    static const char *const vital[] = {"vital-signs", NULL};
    /* Codes that only ever name a birth or neonatal measurement decide before
     * the category: a maternity system or an HL7 v2 feed (whose mapping calls
     * every OBX laboratory) still means birth.  LOINC birth weight, Apgar at
     * 1/5/10 minutes, gestational age at birth; SNOMED CT birth weight, Apgar
     * at 1/5/10 minutes, length of gestation at birth.  The generic gestational
     * age codes (11884-4, 18185-9) are not here: a prenatal screening report
     * sends the pregnancy's gestational age as a laboratory result. */
    static const char *const birth_first[] = {"8339-4",    "9272-6",    "9274-2",    "9271-8",
                                              "76516-4",   "364589006", "169895004", "169909004",
                                              "169922007", "412726003", NULL};
    if (coded(r, "code", birth_first))
        return "birth";
    /* the common categories next: most observations are lab or vital signs */
    if (coded(r, "category", lab))
        return "results";
    if (coded(r, "category", vital))
        return "observations";
    if (coded(r, "category", imaging))
        return "imaging-reports";
    if (mentions(r, E_CODECAT, W_LEGAL))
        return "legal-status";
    static const char *const birth_codes[] = {"11884-4", "18185-9", NULL};
    if (coded(r, "code", birth_codes) || mentions(r, E_CODECAT, W_BIRTH))
        return "birth";
    return "observations";
}

static const char *diagnostic_report(const json_t *r)
{
    static const char *const rad[] = {"RAD", "CT",  "MR",  "US",        "NMR",     "NMS", "RUS",
                                      "VUS", "XRC", "CTH", "LP29684-5", "imaging", NULL};
    if (coded(r, "category", rad))
        return "imaging-reports";
    static const char *const words[] = {"radiology", "x-ray", "xray", "imaging", NULL};
    if (mentions(r, E_CAT, words))
        return "imaging-reports";
    return "results";
}

static const char *flag(const json_t *r)
{
    /* the HL7 v2 ZMH mapping (docs/feeds/hl7v2.md): a section code, or the
     * category coded mental-health-act; displays are optional */
    if (coded_in(json_object_get(r, "code"), MHA_SECTION_SYSTEM, NULL) ||
        coded_in(json_object_get(r, "category"), RECORD_CATEGORY_SYSTEM, "mental-health-act"))
        return "mental-health-act";
    if (mentions(r, E_CODECAT, W_SAFEGUARDING))
        return "safeguarding";
    if (mentions(r, E_CODECAT, W_MHA))
        return "mental-health-act";
    if (mentions(r, E_CODECAT, W_LEGAL))
        return "legal-status";
    return "alerts";
}

static const char *document(const json_t *r)
{
    if (mentions(r, E_TYPECAT, W_SAFEGUARDING))
        return "safeguarding";
    if (mentions(r, E_TYPECAT, W_EOL))
        return "end-of-life";
    if (mentions(r, E_TYPECAT, W_SOCIAL))
        return "social-care-assessment";
    if (mentions(r, E_TYPECAT, W_SUMMARY))
        return "service-summaries";
    return "documents";
}

static const char *condition(const json_t *r)
{
    if (mentions(r, E_CAT, W_HISTORY))
        return "history";
    return "conditions";
}

static const char *care_plan(const json_t *r)
{
    static const char *const el[] = {"category", "title", "description", NULL};
    for (const char *const *e = el; *e; e++) {
        json_t *v = json_object_get(r, *e);
        if (json_is_string(v) ? test_words(json_string_value(v), W_EOL)
                              : concept_any(v, test_words, W_EOL))
            return "end-of-life";
    }
    return "documents";
}

static const char *composition(const json_t *r)
{
    if (mentions(r, E_TYPECAT, W_EOL))
        return "end-of-life";
    json_t *t = json_object_get(r, "title");
    if (json_is_string(t) && test_words(json_string_value(t), W_EOL))
        return "end-of-life";
    return "service-summaries";
}

static const char *episode(const json_t *r)
{
    if (mentions(r, E_TYPE, W_MHA))
        return "mental-health-act";
    return "services";
}

static const struct {
    const char *type;
    const char *category;              /* fixed category, or NULL: use fn */
    const char *(*fn)(const json_t *); /* decides from content */
} table[] = {
    {"AllergyIntolerance", "allergies", NULL},
    {"Appointment", "appointments", NULL},
    {"Binary", "documents", NULL},
    {"CarePlan", NULL, care_plan},
    {"Composition", NULL, composition},
    {"Condition", NULL, condition},
    {"Consent", "end-of-life", NULL},
    {"DiagnosticReport", NULL, diagnostic_report},
    {"DocumentReference", NULL, document},
    {"Encounter", "encounters", NULL},
    {"Endpoint", "services", NULL},
    {"EpisodeOfCare", NULL, episode},
    {"Flag", NULL, flag},
    {"Goal", "documents", NULL},
    {"HealthcareService", "services", NULL},
    {"ImagingStudy", "imaging-reports", NULL},
    {"Immunization", "immunisations", NULL},
    {"ImmunizationRecommendation", "immunisations", NULL},
    {"Location", "services", NULL},
    {"Media", "documents", NULL},
    {"Medication", "medications", NULL},
    {"MedicationAdministration", "medications", NULL},
    {"MedicationDispense", "medications", NULL},
    {"MedicationRequest", "medications", NULL},
    {"MedicationStatement", "medications", NULL},
    {"Observation", NULL, observation},
    {"Organization", "services", NULL},
    {"Patient", "demographics", NULL},
    {"Practitioner", "services", NULL},
    {"PractitionerRole", "services", NULL},
    {"Procedure", "procedures", NULL},
    {"QuestionnaireResponse", "social-care-assessment", NULL},
    {"RelatedPerson", "contacts", NULL},
    {"ResearchStudy", "research", NULL},
    {"ResearchSubject", "research", NULL},
    {"RiskAssessment", "alerts", NULL},
    {"ServiceRequest", "documents", NULL},
    {"Specimen", "results", NULL},
};

const char *category_of(const json_t *resource)
{
    const char *type = json_string_value(json_object_get(resource, "resourceType"));
    if (!type)
        return NULL;
    /* an explicit, valid category tag wins */
    json_t *tags = json_object_get(json_object_get(resource, "meta"), "tag");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *sys = json_string_value(json_object_get(t, "system"));
        const char *code = json_string_value(json_object_get(t, "code"));
        if (sys && code && strcmp(sys, CATEGORY_TAG_SYSTEM) == 0 && canonical(code))
            return canonical(code);
    }
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(type, table[mid].type);
        if (c == 0) {
            const char *cat = table[mid].category ? table[mid].category : table[mid].fn(resource);
            /* a name every user of categories knows (policy, store, pages) */
            assert(!cat || category_valid(cat));
            return cat;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
