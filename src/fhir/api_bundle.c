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
 *
 * The load is one unit of work (store_txn_run, store/txn.h): a Bundle that
 * met another writer (PostgreSQL, whose writers overlap: a deadlock, a
 * unique violation because two writers made the same row, a version
 * replaced meanwhile) is rolled back whole and loaded again once from the
 * body as received, before anything is answered - a transaction stays all
 * or nothing, a batch's entries get the second attempt's outcomes, and the
 * inbox row, the feed's counters and the audit entry, written outside the
 * unit, are written once.  A second race answers 503 with Retry-After,
 * nothing of the Bundle stored.
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
#include "store/txn.h"

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

static int key_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
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
    /* not bt itself: a retried load drops this copy of the Bundle */
    *type_out = strcmp(bt, "transaction") == 0 ? "transaction" : "batch";
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

/* What a Bundle is about, as store_lock_keys keys (store.h): each entry's
 * item (the sender's organisation, type and id) and each Patient's NHS
 * number (the key the MLLP writer takes for it: the number and "NHS").
 * Taken, in one order, at the start of each attempt, they make two writers
 * of the same item or patient take turns - the second waits for the first
 * to commit - rather than race (a version replaced meanwhile, one person
 * made twice) and meet again on the retry.  Keys of ids and numbers the
 * loader later refuses are harmless. */
static int bundle_lock(struct store *s, const json_t *bundle, const char *org)
{
    const json_t *entries = json_object_get(bundle, "entry");
    size_t n = json_array_size(entries), nk = 0;
    uint32_t *keys = xcalloc(2 * n + 1, sizeof *keys);
    struct buf who = BUF_INIT;
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        const json_t *r = json_object_get(e, "resource");
        const char *type = json_string_value(json_object_get(r, "resourceType"));
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!type)
            continue;
        if (id) {
            buf_reset(&who);
            buf_addf(&who, "%s/%s", org ? org : "", type);
            keys[nk++] = store_lock_key(id, strlen(id), who.data, who.len);
        }
        if (strcmp(type, "Patient") != 0)
            continue;
        size_t j;
        const json_t *ident;
        json_array_foreach(json_object_get(r, "identifier"), j, ident)
        {
            const char *sys = json_string_value(json_object_get(ident, "system"));
            const char *v = json_string_value(json_object_get(ident, "value"));
            if (sys && v && strcmp(sys, "https://fhir.nhs.uk/Id/nhs-number") == 0) {
                keys[nk++] = store_lock_key(v, strlen(v), "NHS", 3);
                break; /* one number a Patient: at most two keys an entry */
            }
        }
    }
    buf_release(&who);
    qsort(keys, nk, sizeof *keys, key_cmp);
    size_t u = 0;
    for (size_t k = 0; k < nk; k++)
        if (u == 0 || keys[k] != keys[u - 1])
            keys[u++] = keys[k];
    int rc = u ? store_lock_keys(s, keys, (int)u) : 0;
    free(keys);
    return rc;
}

/* The load of one Bundle as a unit of work (store_txn_run): attempt 0 loads
 * the Bundle read_bundle parsed; a second attempt starts again from the
 * request's body, the first's report and response dropped (the loader
 * rewrote the first copy in place). */
struct bundle_unit {
    struct http_req *req;
    json_t *bundle; /* owned */
    struct load_ctx lc;
    struct load_report rep;
    json_t *response;
};

static int bundle_unit_work(struct store *s, void *arg, int attempt)
{
    struct bundle_unit *u = arg;
    if (attempt > 0) {
        json_decref(u->response);
        u->response = NULL;
        load_report_free(&u->rep);
        load_report_init(&u->rep);
        json_decref(u->bundle);
        u->bundle = json_loadb(u->req->body.data, u->req->body.len, JSON_REJECT_DUPLICATES, NULL);
        if (!u->bundle) /* it parsed the first time */
            return WEFT_ENOMEM;
    }
    int rc = bundle_lock(s, u->bundle, u->lc.org);
    if (rc != 0)
        return rc;
    return fhir_load_bundle(s, u->bundle, &u->lc, &u->rep, &u->response);
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
    /* the load nested in the unit's transaction (one retry rule: txn.h) */
    struct bundle_unit u = {
        .req = req,
        .bundle = bundle,
        .lc = {.org = req->principal.org, .feed = w.feed ? w.feed : "api", .nested = true}};
    load_report_init(&u.rep);
    uint64_t t0 = http_now_ns();
    int rc = store_txn_run(s, "api", bundle_unit_work, &u);
    bundle = u.bundle;
    json_t *response = u.response;
    struct load_report rep = u.rep;
    if (rc != 0 && rc != WEFT_EINVAL) { /* rolled back: nothing of it stored */
        long entries = rep.entries;
        load_report_free(&rep);
        load_report_init(&rep);
        rep.entries = entries;
    }
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
        /* the store busy, or the Bundle met another writer twice */
        http_reply_header(req, "Retry-After", "1");
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
