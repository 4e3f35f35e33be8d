/*
 * api_bundle.c - POST /fhir with a transaction or batch Bundle: the same
 * loading path as `weft load` (fhir/load.h), attributed to the client's
 * organisation.
 *
 * Checks, in order, each with its own status: may write (403), content type
 * (415), body present and within the limit (400; 413 is the server's), JSON
 * well-formed (400 with line and column), a Bundle of type transaction or
 * batch (400).  Then the loader runs; its per-entry outcome becomes the
 * transaction-response / batch-response.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/api_int.h"
#include "fhir/outcome.h"

static bool json_content_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    static const char *const ok[] = {"application/fhir+json", "application/json",
                                     "application/json+fhir"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' '))
            return true;
    }
    return false;
}

/* Parse and check the request body; replies and returns NULL when unusable. */
static json_t *read_bundle(struct http_req *req, const char **type_out)
{
    if (!json_content_type(http_req_header(req, "Content-Type"))) {
        const char *ct = http_req_header(req, "Content-Type");
        api_outcome(req, 415, "not-supported",
                    "Content-Type '%.60s' is not supported: send application/fhir+json",
                    ct ? ct : "(none)");
        return NULL;
    }
    if (req->body.len == 0) {
        api_outcome(req, 400, "required", "the request has no body: send a Bundle");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        api_outcome(req, 400, "structure", "the body is not valid JSON: %s at line %d, column %d",
                    jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    const char *rt = json_string_value(json_object_get(root, "resourceType"));
    if (!json_is_object(root) || !rt) {
        api_outcome(req, 400, "required", "the body has no resourceType: send a Bundle");
        json_decref(root);
        return NULL;
    }
    if (strcmp(rt, "Bundle") != 0) {
        api_outcome(req, 400, "not-supported",
                    "POST /fhir takes a Bundle, not a %.60s (create and update of single "
                    "resources are not supported: wrap them in a transaction Bundle)",
                    rt);
        json_decref(root);
        return NULL;
    }
    const char *bt = json_string_value(json_object_get(root, "type"));
    if (!bt || (strcmp(bt, "transaction") != 0 && strcmp(bt, "batch") != 0)) {
        api_outcome(req, 400, "invalid", "Bundle.type must be transaction or batch, not '%.40s'",
                    bt ? bt : "(none)");
        json_decref(root);
        return NULL;
    }
    if (!json_is_array(json_object_get(root, "entry"))) {
        api_outcome(req, 400, "required", "the Bundle has no entry array");
        json_decref(root);
        return NULL;
    }
    *type_out = bt;
    return root;
}

int api_bundle_post(struct http_req *req, void *ctx)
{
    (void)ctx;
    if (!api_negotiate(req))
        return 0;
    if (api_authz_write(req) != 0)
        return 0;
    const char *btype = NULL;
    json_t *bundle = read_bundle(req, &btype);
    if (!bundle)
        return 0;
    api_outcome(req, 501, "not-supported", "loading bundles over the API is being wired in");
    json_decref(bundle);
    return 0;
}
