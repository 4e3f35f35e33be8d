/*
 * api.c - the FHIR R4 REST API: route registration, OperationOutcome replies,
 * content negotiation and the authorisation calls shared by the handlers in
 * api_read.c, api_search.c, api_bundle.c and api_metadata.c (see api.h).
 *
 * The API makes no authorisation decision and writes no audit entry of its
 * own: every read goes through the one scoped-read path (access/read.h:
 * access_read_get / _open_type / _search / _decide / _audit), and writes are
 * decided and audited by the access module (authz_write_refusal,
 * authz_audit_write).  Here are only the replies for its verdicts.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/api.h"
#include "access/read.h"
#include "fhir/api_int.h"
#include "fhir/outcome.h"
#include "store/records.h"
#include "store/store.h"

/* ---- replies --------------------------------------------------------------------------- */

static void reply_outcome(struct http_req *req, int status, const char *code, const char *msg)
{
    if (status >= 400)
        http_req_reason(req, msg);
    json_t *oo = fhir_outcome_make(status >= 500 ? "fatal" : "error", code, msg);
    char *text = json_dumps(oo, JSON_COMPACT);
    json_decref(oo);
    http_reply(req, status, FHIR_JSON, text, strlen(text));
    free(text);
}

void api_outcome(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    reply_outcome(req, status, code ? code : fhir_outcome_code_for_status(status), b.data);
    buf_release(&b);
}

void api_error_renderer(struct http_req *req, int status, const char *message)
{
    reply_outcome(req, status, fhir_outcome_code_for_status(status), message);
}

/* ---- negotiation and common checks ---------------------------------------------------------- */

/* Does the Accept header admit JSON?  Absent, any json type, * / *,
 * application/ *: yes.  Entries with q=0 are refusals. */
static bool accepts_json(const char *accept)
{
    if (!accept || !*accept)
        return true;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        char item[128];
        if (n >= sizeof item)
            n = sizeof item - 1;
        memcpy(item, p, n);
        item[n] = 0;
        char *semi = strchr(item, ';');
        bool refused = false;
        if (semi) {
            const char *q = strstr(semi, "q=");
            if (q && atof(q + 2) <= 0.0)
                refused = true;
            *semi = 0;
        }
        for (char *c = item; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *end = item + strlen(item);
        while (end > item && end[-1] == ' ')
            *--end = 0;
        if (!refused && (strstr(item, "json") || strcmp(item, "*/*") == 0 ||
                         strcmp(item, "application/*") == 0))
            return true;
        p = e;
    }
    return false;
}

bool api_negotiate(struct http_req *req)
{
    if (!accepts_json(http_req_header(req, "Accept"))) {
        api_outcome(req, 406, "not-supported",
                    "this server answers only in JSON (application/fhir+json); the Accept header "
                    "does not allow it");
        return false;
    }
    const char *fmt = http_req_arg(req, "_format");
    if (fmt && !strstr(fmt, "json")) {
        api_outcome(req, 406, "not-supported", "_format '%.40s' is not supported: only JSON", fmt);
        return false;
    }
    return true;
}

struct store *api_begin(struct http_req *req)
{
    /* Every handler that may answer with patient data comes through here:
     * such replies are never stored by browsers or proxies, and never
     * sniffed into another content type. */
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    if (!api_negotiate(req))
        return NULL;
    struct store *s = http_req_store(req);
    if (!s)
        api_outcome(req, 503, "transient", "the record store is not available; try again");
    return s;
}

const char *api_base_url(struct http_req *req, const struct api_ctx *ctx)
{
    if (ctx && ctx->base_url)
        return ctx->base_url;
    const char *host = http_req_header(req, "Host");
    struct buf b = BUF_INIT;
    buf_adds(&b, http_server_is_tls(req->server) ? "https://" : "http://");
    bool ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("-.:[]_", *p)))
            ok = false;
    if (ok)
        buf_adds(&b, host);
    else
        buf_addf(&b, "localhost:%d", http_server_port(req->server));
    buf_adds(&b, "/fhir");
    char *r = http_req_strdup(req, b.data);
    buf_release(&b);
    return r;
}

static const char *const r4_types[] = {
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool api_is_resource_type(const char *name)
{
    return bsearch(&name, r4_types, sizeof r4_types / sizeof r4_types[0], sizeof r4_types[0],
                   cmp_str) != NULL;
}

bool api_check_type(struct http_req *req, const char *type)
{
    if (!type || !api_is_resource_type(type)) {
        char safe[80];
        size_t o = 0;
        for (const char *p = type ? type : ""; *p && o + 1 < sizeof safe; p++)
            safe[o++] = isprint((unsigned char)*p) ? *p : '?';
        safe[o] = 0;
        api_outcome(req, 404, "not-supported", "'%s' is not a FHIR R4 resource type", safe);
        return false;
    }
    return true;
}

bool api_valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

bool api_lenient(struct http_req *req)
{
    const char *prefer = http_req_header(req, "Prefer");
    return prefer && strstr(prefer, "handling=lenient") != NULL;
}

void api_http_date(const char *iso, char *out, size_t cap)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    out[0] = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    struct tm g;
    gmtime_r(&t, &g);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &g);
}

void api_now_instant(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* ---- replies for the scoped-read path ----------------------------------------------------- */

void api_refused(struct http_req *req, const struct access_read *r, const char *type,
                 const char *reason)
{
    if (r->type_refused && type)
        api_outcome(req, 403, "forbidden", "your access does not include %s resources", type);
    else if (r->type_refused) /* $everything: every type at once needs access to every type */
        api_outcome(req, 403, "forbidden",
                    "your access covers only some resource types: search them one type at a "
                    "time instead of $everything");
    else
        api_outcome(req, 403, "forbidden", "%s",
                    reason ? reason : "your access does not include this record");
}

void api_read_failed(struct http_req *req, struct store *s, int rc)
{
    log_error("fhir", "read failed request=%s: %s (%s)", req->request_id, weft_strerror(rc),
              s ? store_errmsg(s) : "-");
    if (rc == WEFT_EBUSY)
        api_outcome(req, 503, "transient", "the record store is busy; try again");
    else if (rc == WEFT_EDB && s && store_ping(s) != 0) /* the database server is unreachable */
        api_outcome(req, 503, "transient", "the record store cannot be reached; try again");
    else
        api_outcome(req, 500, "exception",
                    "the record could not be read or the access "
                    "decision could not be made");
}

/* ---- registration -----------------------------------------------------------------------------
 */

static struct api_ctx *registered_ctx;

static void ctx_free(void)
{
    if (registered_ctx) {
        free(registered_ctx->base_url);
        free(registered_ctx);
        registered_ctx = NULL;
    }
}

int fhir_api_register(struct http_server *srv, const struct fhir_api_config *cfg)
{
    if (!cfg || !cfg->write_hook)
        return WEFT_EINVAL;
    struct api_ctx *ctx = registered_ctx;
    if (!ctx) {
        ctx = xcalloc(1, sizeof *ctx);
        registered_ctx = ctx;
        atexit(ctx_free);
    }
    free(ctx->base_url);
    ctx->base_url = NULL;
    ctx->write_hook = cfg->write_hook;
    ctx->bulk_export = cfg->bulk_export;
    if (cfg->base_url && *cfg->base_url) {
        ctx->base_url = xstrdup(cfg->base_url);
        size_t n = strlen(ctx->base_url);
        while (n > 0 && ctx->base_url[n - 1] == '/')
            ctx->base_url[--n] = 0;
    }
    http_server_error_renderer(srv, "/fhir", api_error_renderer);
    static const struct http_route_def routes[] = {
        {"GET", "/fhir/metadata", api_metadata, 0},
        {"POST", "/fhir", api_bundle_post, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/{type}", api_search, HTTP_ROUTE_AUTH},
        {"POST", "/fhir/{type}/_search", api_search_post, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/{type}/_history", api_history_type, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/{type}/{id}", api_read, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/{type}/{id}/_history", api_history_instance, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/{type}/{id}/_history/{vid}", api_vread, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/Patient/{id}/$everything", api_everything, HTTP_ROUTE_AUTH},
        {"POST", "/fhir/Patient/$match", api_match, HTTP_ROUTE_AUTH},
    };
    int rc = http_routes_add(srv, routes, sizeof routes / sizeof routes[0], ctx);
    if (rc != 0)
        return rc;
    return WEFT_OK;
}
