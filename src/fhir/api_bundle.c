/*
 * api_bundle.c - POST /fhir with a transaction or batch Bundle: the same
 * loading path as `weft load` (fhir/load.h), attributed to the client's
 * organisation.  Every write is kept in the inbox verbatim before anything
 * else (the write hook the feeds supply, fhir/api.h), refused without an agreement in force, and
 * audited (action "write", naming the inbox row).
 *
 * Checks, in order, each with its own status: may write (403), content type
 * (415), body present and within the limit (400; 413 is the server's), JSON
 * well-formed (400 with line and column), a Bundle of type transaction or
 * batch (400).  Then the loader runs; its per-entry outcome becomes the
 * transaction-response / batch-response.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "access/authz.h"
#include "audit/audit.h"
#include "core/log.h"
#include "fhir/api.h"
#include "fhir/api_int.h"
#include "fhir/load.h"
#include "fhir/outcome.h"
#include "store/store.h"

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

/* The number of elements of the top-level object's "entry" array in the
 * JSON text p[0..n), counted without building anything, stopping once past
 * stop.  Text that is not JSON is counted as far as it goes: json_loadb
 * reports what is wrong with it. */
static long count_entries(const char *p, size_t n, long stop)
{
    long count = 0;
    int depth = 0;
    bool in_str = false, esc = false, key_is_entry = false, in_entry = false, expect = false;
    size_t str_start = 0;
    for (size_t i = 0; i < n && count <= stop; i++) {
        char c = p[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"') {
                in_str = false;
                if (depth == 1)
                    key_is_entry = i - str_start == 5 && memcmp(p + str_start, "entry", 5) == 0;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (in_entry && depth == 2 && expect && c != ']' && c != ',') {
            count++;
            expect = false;
        }
        switch (c) {
        case '"':
            in_str = true;
            str_start = i + 1;
            break;
        case '{':
        case '[':
            depth++;
            if (c == '[' && depth == 2 && key_is_entry) {
                in_entry = true;
                expect = true;
            }
            break;
        case '}':
        case ']':
            if (depth == 2)
                in_entry = false;
            depth--;
            break;
        case ',':
            if (depth == 1)
                key_is_entry = false;
            else if (depth == 2 && in_entry)
                expect = true;
            break;
        default:
            break;
        }
    }
    return count;
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
    long entries = count_entries(req->body.data, req->body.len, FHIR_BUNDLE_MAX_ENTRIES);
    if (entries > FHIR_BUNDLE_MAX_ENTRIES) {
        api_outcome(req, 413, "too-costly",
                    "the Bundle has more than %d entries, the most one request may carry: "
                    "split it into several Bundles",
                    FHIR_BUNDLE_MAX_ENTRIES);
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

/* Audit one write through the access module (action "write"): what was
 * sent and what became of it.  The entry names the inbox row holding the
 * Bundle as it arrived. */
static void audit_write(struct http_req *req, struct store *s, int64_t inbox_id,
                        const char *outcome, const char *btype, const struct load_report *rep,
                        const char *reason)
{
    struct buf what = BUF_INIT;
    if (inbox_id > 0)
        buf_addf(&what, "inbox %lld ", (long long)inbox_id);
    buf_addf(&what, "Bundle %s", btype ? btype : "(not read)");
    long resources = 0;
    if (rep) {
        struct load_type_count sum;
        load_report_total(rep, &sum);
        buf_addf(&what,
                 ": entries %ld stored %ld updated %ld unchanged %ld deleted %ld rejected %ld",
                 rep->entries, sum.stored, sum.updated, sum.unchanged, sum.deleted, rep->rejected);
        resources = sum.stored + sum.updated + sum.deleted;
    }
    authz_audit_write(s, &req->principal, outcome, what.data, resources, reason);
    buf_release(&what);
}

int api_bundle_post(struct http_req *req, void *ctx)
{
    const struct fhir_write_hook *hook = ((const struct api_ctx *)ctx)->write_hook;
    assert(hook && hook->begin && hook->bundle && hook->end); /* fhir_api_register checked */
    if (!api_negotiate(req))
        return 0;
    struct store *s = http_req_store(req);
    const char *refused = authz_write_refusal(&req->principal);
    if (refused) {
        api_outcome(req, 403, "forbidden", "%s", refused);
        if (s)
            audit_write(req, s, 0, AUDIT_DENIED, NULL, NULL, refused);
        return 0;
    }
    if (!s) {
        api_outcome(req, 503, "transient", "the record store is not available; try again");
        return 0;
    }
    /* every write is kept in the inbox first (a feed's under its feed, any
     * other client's under no feed), and refused without an agreement */
    struct fhir_write w = {0};
    if (hook->begin(req, s, &w)) {
        if (req->status == 403)
            audit_write(req, s, 0, AUDIT_DENIED, NULL, NULL,
                        "the organisation has no data sharing agreement in force");
        return 0;
    }
    int64_t inbox_id = w.inbox_id;
    const char *btype = NULL;
    json_t *bundle = read_bundle(req, &btype);
    if (!bundle) {
        audit_write(req, s, inbox_id, AUDIT_FAILED, NULL, NULL, "the body is not a usable Bundle");
        hook->end(req, &w, 0, NULL);
        return 0;
    }
    hook->bundle(&w, bundle);
    struct load_ctx lc = {.org = req->principal.org, .feed = w.feed ? w.feed : "api"};
    struct load_report rep;
    load_report_init(&rep);
    json_t *response = NULL;
    uint64_t t0 = http_now_ns();
    int rc = fhir_load_bundle(s, bundle, &lc, &rep, &response);
    struct load_type_count sum;
    load_report_total(&rep, &sum);
    log_info("fhir",
             "bundle request=%s type=%s entries=%ld stored=%ld updated=%ld "
             "unchanged=%ld deleted=%ld rejected=%ld not_shareable=%ld ms=%.1f rc=%d",
             req->request_id, btype, rep.entries, sum.stored, sum.updated, sum.unchanged,
             sum.deleted, rep.rejected, sum.not_shareable, (double)(http_now_ns() - t0) / 1e6, rc);
    if (rc == 0 && response) {
        char *text = json_dumps(response, JSON_COMPACT);
        http_reply(req, 200, FHIR_JSON, text, strlen(text));
        free(text);
    } else if (rc == WEFT_EINVAL) {
        /* the bundle as a whole was refused, or a transaction rolled back */
        json_t *oo = fhir_outcome_new();
        for (int i = 0; i < rep.nrejections; i++) {
            const struct load_rejection *rj = &rep.rejections[i];
            char where[64];
            snprintf(where, sizeof where, "Bundle.entry[%ld]", rj->entry);
            fhir_outcome_add(oo, "error", "processing", rj->reason, rj->entry >= 0 ? where : NULL);
        }
        if (rep.nrejections == 0)
            fhir_outcome_add(oo, "error", "invalid", "the bundle was refused", NULL);
        fhir_outcome_add(oo, "information", "informational",
                         strcmp(btype, "transaction") == 0
                             ? "transaction rolled back: nothing from this bundle was stored"
                             : "nothing from this bundle was stored",
                         NULL);
        char *text = json_dumps(oo, JSON_COMPACT);
        json_decref(oo);
        http_reply(req, 400, FHIR_JSON, text, strlen(text));
        free(text);
    } else if (rc == WEFT_EBUSY) {
        api_outcome(req, 503, "transient",
                    "the record store is busy: nothing from this bundle was stored; try again");
    } else {
        log_error("fhir", "bundle load failed request=%s: %s (%s)", req->request_id,
                  weft_strerror(rc), store_errmsg(s));
        api_outcome(req, 500, "exception",
                    "the bundle could not be stored: nothing from it was stored");
    }
    audit_write(req, s, inbox_id, rc == 0 ? AUDIT_OK : AUDIT_FAILED, btype, &rep,
                rc == 0 ? NULL : "nothing from the bundle was stored");
    hook->end(req, &w, rc, &rep);
    json_decref(response);
    load_report_free(&rep);
    json_decref(bundle);
    return 0;
}
