/*
 * api_metadata.c - GET /fhir/metadata: the CapabilityStatement.
 *
 * Built from the same tables the code runs on, so it cannot claim more than
 * is implemented: the types are those the record stores (domain/category.h
 * gives them a category), the search parameters those fhir/search.c parses,
 * the interactions those api.c registers.  Served without a token, as SMART
 * clients and FHIR tools read it before they authenticate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "fhir/api.h"
#include "fhir/api_int.h"
#include "domain/category.h"
#include "fhir/search.h"
#include "fhir/searchparam.h"
#include "fhir/shape.h"

static const char *const candidate_types[] = {
    "AllergyIntolerance",
    "Appointment",
    "Binary",
    "CarePlan",
    "Composition",
    "Condition",
    "Consent",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Endpoint",
    "EpisodeOfCare",
    "Flag",
    "Goal",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationRecommendation",
    "Location",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "QuestionnaireResponse",
    "RelatedPerson",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "ServiceRequest",
    "Specimen",
    NULL,
};

/* Does the record keep resources of this type (category from type alone, or
 * decided per resource)?  A resource carrying only its type is enough for
 * category.c to say whether the type is in the record at all. */
static bool type_is_stored(const char *type)
{
    json_t *probe = json_pack("{s:s}", "resourceType", type);
    const char *cat = category_of(probe);
    json_decref(probe);
    return cat != NULL;
}

static json_t *search_param(const char *name, const char *type, const char *doc)
{
    json_t *p = json_pack("{s:s,s:s}", "name", name, "type", type);
    if (doc)
        json_object_set_new(p, "documentation", json_string(doc));
    return p;
}

static const char *param_doc(const char *name)
{
    if (strcmp(name, "_record-category") == 0)
        return "Weft's record category (e.g. results, medications, encounters), which access "
               "rules are written in; comma for OR. The specification's category parameter is "
               "category";
    if (strcmp(name, "code") == 0)
        return "the resource's main code: system|code, |code or code; indexed across patients";
    if (strcmp(name, "date") == 0)
        return "clinically relevant date (a period's start), indexed; prefixes eq ge gt le lt "
               "there, ne sa eb ap matched on the item's own dates; partial dates are ranges";
    if (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)
        return "Patient/ID: items of that patient's person, from every organisation; "
               "comma for OR (at most 16 patients, each under its own access scope)";
    if (strcmp(name, "_count") == 0)
        return "page size, default 50, maximum 1000; 0 returns only the total";
    if (strcmp(name, "_sort") == 0)
        return "one key: date, _lastUpdated, _id or any parameter of the type, '-' first for "
               "descending (default: -date within a patient, else store order)";
    if (strcmp(name, "identifier") == 0)
        return "system|value or value";
    if (strcmp(name, "birthdate") == 0)
        return "exact date or partial date (YYYY, YYYY-MM); no prefixes";
    return NULL;
}

/* What a specification parameter takes: its modifiers and, for a
 * reference, its chains. */
static char *spec_doc(const struct fhir_sp *sp, const char *store_doc)
{
    struct buf b = BUF_INIT;
    if (store_doc)
        buf_addf(&b, "%s. ", store_doc);
    buf_addf(&b, "FHIR R4 %s parameter", fhir_sp_type_name(sp->kind));
    const char *mods = fhir_sp_modifiers(sp->kind);
    if (mods[0])
        buf_addf(&b, "; modifiers: %s", mods);
    if (sp->kind == FHIR_SP_DATE || sp->kind == FHIR_SP_QUANTITY || sp->kind == FHIR_SP_NUMBER)
        buf_adds(&b, "; prefixes: eq ne gt lt ge le sa eb ap");
    if (sp->kind == FHIR_SP_COMPOSITE)
        buf_addf(&b, "; components (joined by $): %s", sp->components);
    if (sp->kind == FHIR_SP_REFERENCE && sp->targets) {
        if (strchr(sp->targets, ','))
            buf_addf(&b, "; chains: %s:TYPE.PARAM for a target type (one level)", sp->code);
        else
            buf_addf(&b, "; chains: %s.PARAM, a parameter of %s (one level)", sp->code,
                     sp->targets);
    }
    buf_adds(&b, "; comma = OR, repeated = AND");
    return buf_detach(&b, NULL);
}

/* Every parameter a search of type takes: those the store answers (with
 * Weft's documentation), then the specification's from the generated table
 * (fhir/searchparam.h), each once; the same tables fhir/search.c parses by. */
static json_t *search_params(const char *type)
{
    json_t *params = json_array();
    for (const char *const *p = fhir_search_params(type); *p; p++) {
        const struct fhir_sp *sp = fhir_sp_find(type, *p);
        if (sp && strcmp(*p, "_id") != 0 && strcmp(*p, "_lastUpdated") != 0) {
            char *doc = spec_doc(sp, param_doc(*p));
            json_array_append_new(params, search_param(*p, fhir_sp_type_name(sp->kind), doc));
            free(doc);
        } else {
            json_array_append_new(params,
                                  search_param(*p, fhir_search_param_type(*p), param_doc(*p)));
        }
    }
    int n = 0;
    const struct fhir_sp *rows = fhir_sp_of_type(type, &n);
    const char *const *store = fhir_search_params(type);
    for (int i = 0; i < n; i++) {
        bool listed = false;
        for (const char *const *p = store; *p && !listed; p++)
            listed = strcmp(*p, rows[i].code) == 0;
        if (listed)
            continue;
        char *doc = spec_doc(&rows[i], NULL);
        json_array_append_new(params,
                              search_param(rows[i].code, fhir_sp_type_name(rows[i].kind), doc));
        free(doc);
    }
    json_array_append_new(
        params, search_param("_has", "special",
                             "reverse chaining, _has:TYPE:REFERENCE:PARAM=value (one level): "
                             "items a TYPE matching PARAM points at through REFERENCE; the "
                             "TYPE search is filtered by the caller's access like any other"));
    return params;
}

#define EXPORT_COMMON                                                                              \
    "; kick-off with Prefer: respond-async (202 and Content-Location), poll the status URL "       \
    "(202 with X-Progress, then 200 with the manifest), DELETE it to cancel; _type, _since, "      \
    "_outputFormat=application/fhir+ndjson; for API clients registered with weft client add "      \
    "(SMART Backend Services, client_credentials with a signed client_assertion); a direct "       \
    "client gets the records its organisation may see, a secondary client only people cleared "    \
    "by the national data opt-out list in force, de-identified; every export audited"

static const char export_system_doc[] = "every resource the client may see" EXPORT_COMMON;
static const char export_patient_doc[] =
    "every person's resources the client may see" EXPORT_COMMON;
static const char export_group_doc[] = "the resources of the group's members" EXPORT_COMMON;

/* One of the Bulk Data IG's (v2) operations, by its OperationDefinition id. */
static json_t *bulk_operation(const char *def, const char *doc)
{
    char url[128];
    snprintf(url, sizeof url, "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/%s", def);
    return json_pack("{s:s,s:s,s:s}", "name", "export", "definition", url, "documentation", doc);
}

int api_metadata(struct http_req *req, void *ctx)
{
    const struct api_ctx *actx = ctx;
    if (!api_negotiate(req))
        return 0;
    char now[32];
    api_now_instant(now);
    const char *base = api_base_url(req, ctx);
    json_t *cs =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s},s:s,s:[s,s]}", "resourceType",
                  "CapabilityStatement", "status", "active", "date", now, "publisher", "Weft",
                  "kind", "instance", "name", "WeftSharedCareRecord", "software", "name", "Weft",
                  "version", http_server_version(req->server), "implementation", "description",
                  "Weft regional shared care record FHIR R4 API", "url", base, "fhirVersion",
                  "4.0.1", "format", "application/fhir+json", "json");

    json_t *rest = json_pack("{s:s,s:s}", "mode", "server", "documentation",
                             "Every request except metadata needs Authorization: Bearer TOKEN. "
                             "Every caller (API client, launched user, SMART app) is decided "
                             "by the same access rules: a client of an organisation reads and "
                             "writes only while the organisation has a data sharing agreement "
                             "in force; an item the caller may not see answers exactly as an "
                             "unknown id (404, or an empty search without a total); when a "
                             "person's objection is upheld, callers see only the items from "
                             "their own organisation (a client without one sees none) and the "
                             "Bundle carries an OperationOutcome warning saying so. Withheld "
                             "items are never counted in a total. Every read and search, "
                             "counts included, and every write is audited. A search takes at "
                             "most 64 parameters and 32 identifier, family, given and "
                             "birthdate values (400 beyond). Paging uses the next link "
                             "(opaque _cursor). Search parameters are the FHIR R4 "
                             "specification's for each type, matched item by item: within "
                             "one patient over the person's items; across patients after "
                             "the search index has narrowed the candidates (token, "
                             "reference, string and date parameters without modifiers other "
                             "than :exact and :Type; not status; not references to a "
                             "Patient), when at most 20000 items are left to read (400 "
                             "too-costly beyond). patient=a,b searches several patients, "
                             "each under its own access scope. _revinclude of resources "
                             "linked to no person (Medication, Organization ...) finds "
                             "their referrers across people through the index. "
                             "Chained and _has parameters go one level deep; an unsupported "
                             "parameter or modifier answers 400 naming it (ignored under "
                             "Prefer: handling=lenient).");
    json_object_set_new(rest, "security",
                        json_pack("{s:[{s:[{s:s,s:s}]}],s:s}", "service", "coding", "system",
                                  "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                  "code", "OAuth", "description",
                                  "Bearer tokens issued with `weft client add`"));
    json_t *resources = json_array();
    for (const char *const *t = candidate_types; *t; t++) {
        if (!type_is_stored(*t))
            continue;
        json_t *r = json_pack("{s:s,s:[{s:s},{s:s},{s:s},{s:s},{s:s}],s:s,s:b,s:b}", "type", *t,
                              "interaction", "code", "read", "code", "vread", "code",
                              "history-instance", "code", "history-type", "code", "search-type",
                              "versioning", "versioned", "readHistory", 1, "updateCreate", 0);
        json_object_set_new(r, "searchParam", search_params(*t));
        fhir_shape_capability(r, *t, type_is_stored); /* _include, _revinclude */
        if (strcmp(*t, "Patient") == 0)
            json_object_set_new(
                r, "operation",
                json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "name", "everything", "definition",
                          "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                          "documentation",
                          "every item linked to the patient's person, from every "
                          "organisation; _count (default 100), _since, start and end "
                          "(clinical date), _type (comma-separated types); paged",
                          "name", "match", "definition",
                          "http://hl7.org/fhir/OperationDefinition/Patient-match", "documentation",
                          "POST a Parameters (resource: a Patient; onlyCertainMatches; count, "
                          "default 10, at most 50): the persons it may be, one Patient each, "
                          "with search.score and the match-grade extension; for staff whose "
                          "role has the policy capability patient-match and clients with the "
                          "scope system/Patient.$match; audited"));
        if (strcmp(*t, "Patient") == 0 && actx->bulk_export)
            json_array_append_new(json_object_get(r, "operation"),
                                  bulk_operation("patient-export", export_patient_doc));
        json_object_set_new(r, "conditionalRead", json_string("not-match"));
        json_array_append_new(resources, r);
    }
    if (actx->bulk_export) {
        /* the Bulk Data IG's server CapabilityStatement: $export at the
         * system level, on Patient and on Group (whose read serves the
         * groups an export can name) */
        json_object_set_new(cs, "instantiates",
                            json_pack("[s]", "http://hl7.org/fhir/uv/bulkdata/"
                                             "CapabilityStatement/bulk-data"));
        json_array_append_new(
            resources,
            json_pack("{s:s,s:s,s:[{s:s,s:s}],s:[o]}", "type", "Group", "documentation",
                      "the groups a Bulk Data export can name: practice-ODS (a GP "
                      "practice's registered patients), efi-fit, efi-mild, efi-moderate, "
                      "efi-severe (people aged 65 and over by electronic Frailty Index band)",
                      "interaction", "code", "read", "documentation",
                      "GET /fhir/Group/ID: the group's definition (no member list)", "operation",
                      bulk_operation("group-export", export_group_doc)));
        json_object_set_new(rest, "operation",
                            json_pack("[o]", bulk_operation("export", export_system_doc)));
    }
    json_object_set_new(rest, "resource", resources);
    char bundle_doc[256];
    snprintf(bundle_doc, sizeof bundle_doc,
             "POST /fhir: kept in the inbox as sent, then loaded as the client's organisation "
             "(agreement in force required); audited; at most %d entries per Bundle (413 past "
             "it)",
             FHIR_BUNDLE_MAX_ENTRIES);
    json_object_set_new(rest, "interaction",
                        json_pack("[{s:s,s:s},{s:s,s:s}]", "code", "transaction", "documentation",
                                  bundle_doc, "code", "batch", "documentation", bundle_doc));
    json_object_set_new(cs, "rest", json_pack("[o]", rest));
    char *text = json_dumps(cs, JSON_COMPACT);
    json_decref(cs);
    http_reply_header(req, "Cache-Control", "no-cache");
    http_reply(req, 200, FHIR_JSON, text, strlen(text));
    free(text);
    return 0;
}
