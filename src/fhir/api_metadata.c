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

static json_t *search_param(const char *name, const char *doc)
{
    json_t *p = json_pack("{s:s,s:s}", "name", name, "type", fhir_search_param_type(name));
    if (doc)
        json_object_set_new(p, "documentation", json_string(doc));
    return p;
}

static const char *param_doc(const char *name)
{
    if (strcmp(name, "category") == 0)
        return "Weft record category (e.g. results, medications, encounters); comma for OR";
    if (strcmp(name, "code") == 0)
        return "the resource's main code: system|code, |code or code; comma for OR";
    if (strcmp(name, "date") == 0)
        return "clinically relevant date; prefixes eq ge gt le lt; partial dates are ranges";
    if (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)
        return "Patient/ID: items of that patient's person, from every organisation";
    if (strcmp(name, "_count") == 0)
        return "page size, default 50, maximum 1000; 0 returns only the total";
    if (strcmp(name, "_sort") == 0)
        return "date, -date, _lastUpdated, -_lastUpdated, _id (default: -date within a "
               "patient, else _id)";
    if (strcmp(name, "identifier") == 0)
        return "system|value or value";
    if (strcmp(name, "birthdate") == 0)
        return "exact date or partial date (YYYY, YYYY-MM); no prefixes";
    return NULL;
}

int api_metadata(struct http_req *req, void *ctx)
{
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
                             "(opaque _cursor).");
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
        json_t *params = json_array();
        for (const char *const *p = fhir_search_params(*t); *p; p++)
            json_array_append_new(params, search_param(*p, param_doc(*p)));
        json_object_set_new(r, "searchParam", params);
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
        json_object_set_new(r, "conditionalRead", json_string("not-match"));
        json_array_append_new(resources, r);
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
