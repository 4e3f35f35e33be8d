/*
 * outcome.h - FHIR R4 OperationOutcome: the one shape in which the FHIR API
 * reports errors and warnings (and the loader can report per-entry issues).
 *
 *     json_t *oo = fhir_outcome_new();
 *     fhir_outcome_add(oo, "error", "not-found", "Patient/abc is not known", NULL);
 *     ... json_dumps(oo) ..., json_decref(oo);
 *
 * Severity is one of "fatal", "error", "warning", "information"; code is an
 * IssueType code (http://hl7.org/fhir/issue-type): "invalid", "structure",
 * "required", "value", "not-found", "not-supported", "security", "login",
 * "forbidden", "processing", "too-costly", "exception", "informational", ...
 * Diagnostics are plain words for a person; they must never contain patient
 * data that the caller has not already sent (they may name a parameter or an
 * id from the request).
 */
#ifndef WEFT_FHIR_OUTCOME_H
#define WEFT_FHIR_OUTCOME_H

#include <jansson.h>

/* A new OperationOutcome with no issues (caller json_decref's it). */
json_t *fhir_outcome_new(void);
/* Append an issue; expression (a FHIRPath-ish location such as
 * "Bundle.entry[3]") may be NULL. */
void fhir_outcome_add(json_t *oo, const char *severity, const char *code, const char *diagnostics,
                      const char *expression);
/* Shorthand: an OperationOutcome with one issue (caller json_decref's it). */
json_t *fhir_outcome_make(const char *severity, const char *code, const char *diagnostics);
/* The IssueType code that fits an HTTP error status (400 invalid, 401 login,
 * 403 forbidden, 404 not-found, 405/406/415 not-supported, 409 conflict,
 * 413 too-costly, 5xx exception). */
const char *fhir_outcome_code_for_status(int status);
/* Number of issues of at least "error" severity. */
int fhir_outcome_errors(const json_t *oo);

#endif
