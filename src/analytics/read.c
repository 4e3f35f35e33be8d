/*
 * read.c - assembling persons from the record (read.h).
 *
 * Workload: a region of a million people is ten to thirty million current
 * items, read once in person order by one streamed scan.  Only the types
 * analytics uses are read.  JSON is parsed where the index columns do not
 * hold what is needed (Patients: birth date, death, practice; Encounters and
 * episodes: class and period end; coded items whose first coding is not
 * SNOMED CT: the other codings).  One person's items are held until the
 * scan moves to the next person; memory does not grow with the region.
 */
#include "analytics/read.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analytics/day.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/analytics.h"

#define SCT_PREFIX "http://snomed.info/sct|"
#define ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"

static const char *const read_types[] = {"Patient",
                                         "Condition",
                                         "Observation",
                                         "Procedure",
                                         "MedicationStatement",
                                         "MedicationRequest",
                                         "Encounter",
                                         "EpisodeOfCare",
                                         "Flag",
                                         "RelatedPerson",
                                         "QuestionnaireResponse",
                                         "Appointment",
                                         "ServiceRequest",
                                         NULL};

struct item_store {
    struct analytics_item it;
    char *strs[16 + ANALYTICS_MAX_CODES]; /* owned copies */
    int nstrs;
};

struct acc {
    int (*fn)(const struct analytics_person *, void *);
    void *ctx;
    char *person_id, *nhs, *gp, *gp_patient, *name;
    bool gp_own; /* gp came from the practice's own Patient */
    int64_t birth;
    bool deceased;
    struct item_store *items;
    int n, cap;
};

static const char *keep(struct item_store *is, const char *s)
{
    if (!s || is->nstrs >= (int)(sizeof is->strs / sizeof is->strs[0]))
        return NULL;
    return is->strs[is->nstrs++] = xstrdup(s);
}

static void acc_reset(struct acc *a)
{
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < a->items[i].nstrs; k++)
            free(a->items[i].strs[k]);
    a->n = 0;
    free(a->person_id);
    free(a->nhs);
    free(a->gp);
    free(a->gp_patient);
    free(a->name);
    a->person_id = a->nhs = a->gp = a->gp_patient = a->name = NULL;
    a->gp_own = false;
    a->birth = ANALYTICS_NO_BIRTH;
    a->deceased = false;
}

static int flush(struct acc *a)
{
    if (!a->person_id)
        return 0;
    struct analytics_item *items = xmalloc((size_t)(a->n ? a->n : 1) * sizeof *items);
    for (int i = 0; i < a->n; i++)
        items[i] = a->items[i].it;
    struct analytics_person p = {.person_id = a->person_id,
                                 .nhs = a->nhs,
                                 .birth = a->birth,
                                 .deceased = a->deceased,
                                 .gp = a->gp,
                                 .gp_patient = a->gp_patient,
                                 .name = a->name,
                                 .items = items,
                                 .nitems = a->n};
    int rc = a->fn(&p, a->ctx);
    free(items);
    acc_reset(a);
    return rc;
}

static void patient(struct acc *a, const struct store_analytics_item *si, const json_t *r)
{
    int64_t day;
    const char *bd = json_string_value(json_object_get(r, "birthDate"));
    if (bd && day_parse(bd, &day) && a->birth == ANALYTICS_NO_BIRTH)
        a->birth = day;
    if (json_is_true(json_object_get(r, "deceasedBoolean")) ||
        json_is_string(json_object_get(r, "deceasedDateTime")))
        a->deceased = true;
    const json_t *gps = json_object_get(r, "generalPractitioner");
    bool from_practice = false;
    for (size_t i = 0; i < json_array_size(gps); i++) {
        const json_t *idf = json_object_get(json_array_get(gps, i), "identifier");
        const char *sys = json_string_value(json_object_get(idf, "system"));
        const char *val = json_string_value(json_object_get(idf, "value"));
        if (!val || !sys || strcmp(sys, ODS_SYSTEM) != 0)
            continue;
        /* the practice's own record of its patient wins over what other
         * senders say the practice is */
        bool own = si->source_org && strcmp(si->source_org, val) == 0;
        if (!a->gp || (own && !a->gp_own)) {
            free(a->gp);
            free(a->gp_patient);
            a->gp = xstrdup(val);
            a->gp_patient = own ? xstrdup(si->id) : NULL;
            a->gp_own = own;
        }
        from_practice = own;
        break;
    }
    const json_t *nm = json_array_get(json_object_get(r, "name"), 0);
    const char *fam = json_string_value(json_object_get(nm, "family"));
    const char *giv = json_string_value(json_array_get(json_object_get(nm, "given"), 0));
    if ((fam || giv) && (!a->name || from_practice)) {
        struct buf b = BUF_INIT;
        for (const char *c = fam; c && *c; c++)
            buf_addc(&b, *c >= 'a' && *c <= 'z' ? (char)(*c - 32) : *c);
        if (giv)
            buf_addf(&b, "%s%s", fam ? ", " : "", giv);
        free(a->name);
        a->name = buf_detach(&b, NULL);
    }
}

/* The main concept's codings and text, as fhir/load.c picks it. */
static void concept(struct item_store *is, const json_t *r)
{
    static const char *const keys[] = {"code", "medicationCodeableConcept", "vaccineCode", "type",
                                       "relationship"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const json_t *c = json_object_get(r, keys[k]);
        if (!c)
            continue;
        /* EpisodeOfCare.type and friends are arrays: every concept counts */
        size_t nc = json_is_array(c) ? json_array_size(c) : 1;
        for (size_t j = 0; j < nc; j++) {
            const json_t *cc = json_is_array(c) ? json_array_get(c, j) : c;
            const json_t *cds = json_object_get(cc, "coding");
            if (!is->it.display) {
                const char *t = json_string_value(json_object_get(cc, "text"));
                if (!t)
                    t = json_string_value(json_object_get(json_array_get(cds, 0), "display"));
                is->it.display = keep(is, t);
            }
            for (size_t i = 0; i < json_array_size(cds) && is->it.ncodes < ANALYTICS_MAX_CODES;
                 i++) {
                const json_t *cd = json_array_get(cds, i);
                const char *sys = json_string_value(json_object_get(cd, "system"));
                const char *code = json_string_value(json_object_get(cd, "code"));
                if (!code)
                    continue;
                char tmp[512];
                struct buf b = BUF_INIT;
                buf_addf(&b, "%s|%s", sys ? sys : "", code);
                snprintf(tmp, sizeof tmp, "%s", b.data);
                buf_release(&b);
                if (!analytics_item_has(&is->it, tmp)) {
                    const char *kept = keep(is, tmp);
                    if (kept)
                        is->it.codes[is->it.ncodes++] = kept;
                }
            }
        }
        return;
    }
}

/* A concept's name: its text, else its first coding's display (never a bare code). */
static const char *concept_name(const json_t *cc)
{
    if (json_is_array(cc))
        cc = json_array_get(cc, 0);
    const char *t = json_string_value(json_object_get(cc, "text"));
    if (!t)
        t = json_string_value(
            json_object_get(json_array_get(json_object_get(cc, "coding"), 0), "display"));
    return t;
}

/* The ODS code of a Reference by identifier (or NULL). */
static const char *ref_ods(const json_t *ref)
{
    const json_t *idf = json_object_get(ref, "identifier");
    const char *sys = json_string_value(json_object_get(idf, "system"));
    if (!sys || strcmp(sys, ODS_SYSTEM) != 0)
        return NULL;
    return json_string_value(json_object_get(idf, "value"));
}

static void service_fields(struct item_store *is, const json_t *r)
{
    const char *type = is->it.type;
    if (!strcmp(type, "Encounter") || !strcmp(type, "Appointment")) {
        const char *name = concept_name(json_object_get(r, "serviceType"));
        if (!name)
            name = concept_name(json_object_get(r, "specialty"));
        if (!name && !strcmp(type, "Appointment")) {
            const json_t *parts = json_object_get(r, "participant");
            for (size_t i = 0; i < json_array_size(parts) && !name; i++) {
                const json_t *actor = json_object_get(json_array_get(parts, i), "actor");
                if (!json_object_get(actor, "reference") && !json_object_get(actor, "identifier"))
                    name = json_string_value(json_object_get(actor, "display"));
            }
            if (name) { /* the clinic of "CLINIC, SITE": its first part */
                const char *e = strstr(name, ", ");
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.*s", e ? (int)(e - name) : (int)strlen(name), name);
                is->it.service = keep(is, tmp);
                return;
            }
        }
        is->it.service = keep(is, name);
    } else if (!strcmp(type, "EpisodeOfCare")) {
        is->it.org = keep(is, ref_ods(json_object_get(r, "managingOrganization")));
    } else if (!strcmp(type, "ServiceRequest")) {
        is->it.org = keep(is, ref_ods(json_object_get(r, "requester")));
        is->it.to_org = keep(is, ref_ods(json_array_get(json_object_get(r, "performer"), 0)));
    }
}

static bool needs_json(const struct store_analytics_item *si)
{
    if (!strcmp(si->type, "Patient") || !strcmp(si->type, "Encounter") ||
        !strcmp(si->type, "EpisodeOfCare") || !strcmp(si->type, "RelatedPerson") ||
        !strcmp(si->type, "Appointment") || !strcmp(si->type, "ServiceRequest"))
        return true;
    return !si->code || strncmp(si->code, SCT_PREFIX, strlen(SCT_PREFIX)) != 0;
}

static int item(const struct store_analytics_item *si, void *p)
{
    struct acc *a = p;
    if (!a->person_id || strcmp(a->person_id, si->person_id) != 0) {
        int rc = flush(a);
        if (rc)
            return rc;
        a->person_id = xstrdup(si->person_id);
        a->nhs = si->nhs ? xstrdup(si->nhs) : NULL;
    }
    json_t *r = NULL;
    if (needs_json(si))
        r = json_loadb(si->json, si->json_len, 0, NULL);
    if (!strcmp(si->type, "Patient")) {
        if (r)
            patient(a, si, r);
        json_decref(r);
        return 0;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->items = xrealloc(a->items, (size_t)a->cap * sizeof *a->items);
    }
    struct item_store *is = &a->items[a->n++];
    memset(is, 0, sizeof *is);
    is->it.type = keep(is, si->type);
    is->it.id = keep(is, si->id);
    is->it.source_org = keep(is, si->source_org);
    is->it.category = keep(is, si->category);
    is->it.effective = keep(is, si->effective);
    is->it.status = keep(is, si->status);
    if (si->code)
        is->it.codes[is->it.ncodes++] = keep(is, si->code);
    if (r) {
        concept(is, r);
        const json_t *cls = json_object_get(r, "class");
        if (json_is_array(cls)) /* R5 shape, tolerated */
            cls = json_object_get(json_array_get(cls, 0), "coding") ? NULL : cls;
        is->it.cls = keep(is, json_string_value(json_object_get(cls, "code")));
        const json_t *src = json_object_get(json_object_get(r, "hospitalization"), "admitSource");
        is->it.admit = keep(is, json_string_value(json_object_get(
                                    json_array_get(json_object_get(src, "coding"), 0), "code")));
        is->it.end =
            keep(is, json_string_value(json_object_get(json_object_get(r, "period"), "end")));
        const json_t *locs = json_object_get(r, "location");
        const json_t *last =
            json_array_get(locs, json_array_size(locs) ? json_array_size(locs) - 1 : 0);
        is->it.location = keep(
            is, json_string_value(json_object_get(json_object_get(last, "location"), "display")));
        service_fields(is, r);
        json_decref(r);
    }
    return 0;
}

int analytics_read_persons(struct store *s, const struct analytics_read *sel,
                           int (*fn)(const struct analytics_person *, void *), void *ctx)
{
    struct acc a = {.fn = fn, .ctx = ctx, .birth = ANALYTICS_NO_BIRTH};
    int rc = store_analytics_scan(s, read_types, sel ? sel->person_ids : NULL, sel ? sel->n : 0,
                                  item, &a);
    if (rc == 0)
        rc = flush(&a);
    acc_reset(&a);
    free(a.items);
    return rc;
}

bool analytics_item_has(const struct analytics_item *it, const char *code)
{
    for (int i = 0; i < it->ncodes; i++)
        if (it->codes[i] && strcmp(it->codes[i], code) == 0)
            return true;
    return false;
}
