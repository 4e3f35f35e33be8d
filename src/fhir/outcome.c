/*
 * outcome.c - OperationOutcome building (see outcome.h).  Small jansson
 * objects: errors are rare next to reads, so clarity beats speed here.
 */
#include <string.h>

#include "fhir/outcome.h"

json_t *fhir_outcome_new(void)
{
    json_t *oo = json_object();
    json_object_set_new(oo, "resourceType", json_string("OperationOutcome"));
    json_object_set_new(oo, "issue", json_array());
    return oo;
}

void fhir_outcome_add(json_t *oo, const char *severity, const char *code, const char *diagnostics,
                      const char *expression)
{
    json_t *issues = json_object_get(oo, "issue");
    if (!issues) {
        issues = json_array();
        json_object_set_new(oo, "issue", issues);
    }
    json_t *issue = json_object();
    json_object_set_new(issue, "severity", json_string(severity ? severity : "error"));
    json_object_set_new(issue, "code", json_string(code ? code : "processing"));
    if (diagnostics) {
        /* jansson refuses invalid UTF-8; diagnostics may quote what a client
         * sent, so fall back to a lossy copy rather than dropping the text. */
        json_t *d = json_string(diagnostics);
        if (!d) {
            size_t n = strlen(diagnostics);
            char tmp[512];
            size_t o = 0;
            for (size_t i = 0; i < n && o + 1 < sizeof tmp; i++)
                tmp[o++] = (diagnostics[i] & 0x80) ? '?' : diagnostics[i];
            tmp[o] = 0;
            d = json_string(tmp);
        }
        json_object_set_new(issue, "diagnostics", d);
    }
    if (expression) {
        json_t *ex = json_array();
        json_array_append_new(ex, json_string(expression));
        json_object_set_new(issue, "expression", ex);
    }
    json_array_append_new(issues, issue);
}

json_t *fhir_outcome_make(const char *severity, const char *code, const char *diagnostics)
{
    json_t *oo = fhir_outcome_new();
    fhir_outcome_add(oo, severity, code, diagnostics, NULL);
    return oo;
}

const char *fhir_outcome_code_for_status(int status)
{
    switch (status) {
    case 400:
        return "invalid";
    case 401:
        return "login";
    case 403:
        return "forbidden";
    case 404:
        return "not-found";
    case 405:
    case 406:
    case 415:
        return "not-supported";
    case 409:
    case 412:
        return "conflict";
    case 413:
        return "too-costly";
    case 422:
        return "processing";
    case 429:
        return "throttled";
    }
    if (status >= 500)
        return "exception";
    if (status >= 400)
        return "processing";
    return "informational";
}

int fhir_outcome_errors(const json_t *oo)
{
    int n = 0;
    size_t i;
    json_t *issue;
    json_array_foreach(json_object_get(oo, "issue"), i, issue)
    {
        const char *sev = json_string_value(json_object_get(issue, "severity"));
        if (sev && (strcmp(sev, "error") == 0 || strcmp(sev, "fatal") == 0))
            n++;
    }
    return n;
}
