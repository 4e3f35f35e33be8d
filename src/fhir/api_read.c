/*
 * api_read.c - read, vread and _history (instance and type).
 *
 * The hot path is read: one store lookup by (type, id) and the stored JSON
 * sent as it is, without parsing, so a read costs a B-tree probe and a copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "access/read.h"
#include "audit/audit.h"
#include "fhir/api_int.h"
#include "fhir/search.h"
#include "store/records.h"
#include "store/store.h"

/* Reply 500 for an unexpected store error (logged with the request id). */
static void store_failed(struct http_req *req, struct store *s, int rc)
{
    log_error("fhir", "store error request=%s: %s (%s)", req->request_id, weft_strerror(rc),
              store_errmsg(s));
    if (rc == WEFT_EBUSY)
        api_outcome(req, 503, "transient", "the record store is busy; try again");
    else
        api_outcome(req, 500, "exception", "the record store reported an error");
}

static void reply_row(struct http_req *req, const struct store_row *row)
{
    char etag[32], lm[64];
    snprintf(etag, sizeof etag, "W/\"%d\"", row->version);
    http_reply_header(req, "ETag", etag);
    api_http_date(row->last_updated, lm, sizeof lm);
    if (lm[0])
        http_reply_header(req, "Last-Modified", lm);
    /* a client holding this version already: 304, no body */
    const char *inm = http_req_header(req, "If-None-Match");
    if (inm && (strstr(inm, etag) || strstr(inm, etag + 2))) {
        http_reply(req, 304, NULL, "", 0);
        return;
    }
    http_reply(req, 200, FHIR_JSON, row->json, row->json_len);
}

/* The answer for an id the caller may not know about: the same whether the
 * store has no such item or holds one the caller may not see. */
static void reply_unknown(struct http_req *req, const char *type, const char *id, int version)
{
    if (version > 0)
        api_outcome(req, 404, "not-found", "%s/%s has no version %d known or available to you",
                    type, id, version);
    else
        api_outcome(req, 404, "not-found", "%s/%s is not known or not available to you", type, id);
}

/* Fetch type/id (version 0: current) for a read-like request through the
 * scoped-read path (decided and audited there), replying when it cannot be
 * shown.  Returns 0 with *row filled, or non-zero after a reply. */
static int fetch(struct http_req *req, struct store *s, struct access_read *r, const char *type,
                 const char *id, int version, struct store_row *row)
{
    memset(row, 0, sizeof *row);
    if (!api_check_type(req, type))
        return WEFT_EINVAL;
    if (!api_valid_id(id)) {
        api_outcome(req, 400, "invalid",
                    "'%.80s' is not a valid resource id (1-64 of A-Z a-z 0-9 - .)", id);
        return WEFT_EINVAL;
    }
    enum access_row_verdict v;
    const char *why = NULL;
    int rc = access_read_get(r, type, id, version, row, &v, &why);
    if (rc != 0) {
        api_read_failed(req, s, rc);
        return rc;
    }
    if (v == ACCESS_ROW_UNKNOWN) {
        /* no such item, or one the caller may not see: the same answer,
         * which never says the item is absent */
        reply_unknown(req, type, id, version);
        return WEFT_ENOTFOUND;
    }
    if (v == ACCESS_ROW_REFUSED) {
        api_refused(req, r, type, why);
        return WEFT_EDENIED;
    }
    return WEFT_OK;
}

int api_read(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type"), *id = http_req_param(req, "id");
    struct store_row row;
    struct access_read r;
    access_read_begin(&r, s, &req->principal, AUDIT_READ);
    if (fetch(req, s, &r, type, id, 0, &row) == 0) {
        if (row.deleted)
            api_outcome(req, 410, "deleted", "%s/%s was deleted (entered in error)", type, id);
        else
            reply_row(req, &row);
    }
    store_row_clear(&row);
    access_read_close(&r);
    return 0;
}

int api_vread(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type"), *id = http_req_param(req, "id");
    const char *vid = http_req_param(req, "vid");
    char *end = NULL;
    errno = 0;
    long v = strtol(vid, &end, 10);
    if (errno || end == vid || *end || v < 1 || v > 1000000000) {
        api_outcome(req, 400, "invalid", "'%.40s' is not a version id (a positive number)", vid);
        return 0;
    }
    struct store_row row;
    struct access_read r;
    access_read_begin(&r, s, &req->principal, AUDIT_READ);
    if (fetch(req, s, &r, type, id, (int)v, &row) == 0) {
        if (row.deleted)
            api_outcome(req, 410, "deleted", "%s/%s version %ld is a deletion", type, id, v);
        else
            reply_row(req, &row);
    }
    store_row_clear(&row);
    access_read_close(&r);
    return 0;
}

/* Parse the parameters of a _history interaction: _count only (and _format). */
static int history_params(struct http_req *req, int *count, char **warning)
{
    *count = FHIR_COUNT_DEFAULT;
    *warning = NULL;
    bool lenient = api_lenient(req);
    for (int i = 0; i < req->nargs; i++) {
        const char *n = req->args[i].name, *v = req->args[i].value;
        if (strcmp(n, "_count") == 0) {
            char *end = NULL;
            errno = 0;
            long c = strtol(v, &end, 10);
            if (errno || end == v || *end || c < 1) {
                api_outcome(req, 400, "invalid",
                            "parameter '_count': '%.40s' is not a positive integer", v);
                return WEFT_EINVAL;
            }
            *count = c > FHIR_COUNT_MAX ? FHIR_COUNT_MAX : (int)c;
        } else if (strcmp(n, "_format") == 0) {
            continue; /* checked by api_begin */
        } else if (lenient) {
            if (!*warning) {
                struct buf b = BUF_INIT;
                buf_addf(&b, "parameter '%.60s' is not supported by _history and was ignored", n);
                *warning = http_req_strdup(req, b.data);
                buf_release(&b);
            }
        } else {
            api_outcome(req, 400, "not-supported",
                        "unknown parameter '%.60s' for _history (supported: _count)", n);
            return WEFT_EINVAL;
        }
    }
    return WEFT_OK;
}

/* Write a history Bundle for rows (newest first). */
static void reply_history(struct http_req *req, struct access_read *rd, const char *base,
                          struct store_result *res, bool with_total, const char *warning,
                          const bool *hidden)
{
    access_read_audit_rows(rd, res->rows, res->nrows, hidden); /* what is shown */
    struct buf b = BUF_INIT;
    char now[32];
    api_now_instant(now);
    buf_addf(&b,
             "{\"resourceType\":\"Bundle\",\"id\":\"%s\",\"meta\":{\"lastUpdated\":\"%s\"},"
             "\"type\":\"history\"",
             req->request_id, now);
    int shown = 0;
    for (int i = 0; i < res->nrows; i++)
        shown += !hidden[i];
    if (with_total)
        buf_addf(&b, ",\"total\":%d", shown);
    buf_adds(&b, ",\"link\":[{\"relation\":\"self\",\"url\":\"");
    struct buf self = BUF_INIT;
    buf_adds(&self, base);
    buf_adds(&self, req->path + strlen("/fhir"));
    if (req->query[0]) {
        buf_addc(&self, '?');
        buf_adds(&self, req->query);
    }
    buf_add_json_str(&b, self.data, self.len);
    buf_release(&self);
    buf_adds(&b, "\"}],\"entry\":[");
    bool first = true;
    for (int i = 0; i < res->nrows; i++) {
        const struct store_row *r = &res->rows[i];
        if (hidden[i])
            continue;
        if (!first)
            buf_addc(&b, ',');
        first = false;
        buf_adds(&b, "{\"fullUrl\":\"");
        buf_add_json_str(&b, base, strlen(base));
        buf_addf(&b, "/%s/%s\"", r->type, r->id);
        if (!r->deleted) {
            buf_adds(&b, ",\"resource\":");
            buf_add(&b, r->json, r->json_len);
        }
        const char *method = r->deleted ? "DELETE" : r->version == 1 ? "POST" : "PUT";
        if (r->version == 1)
            buf_addf(&b, ",\"request\":{\"method\":\"%s\",\"url\":\"%s\"}", method, r->type);
        else
            buf_addf(&b, ",\"request\":{\"method\":\"%s\",\"url\":\"%s/%s\"}", method, r->type,
                     r->id);
        buf_addf(&b,
                 ",\"response\":{\"status\":\"%s\",\"etag\":\"W/\\\"%d\\\"\","
                 "\"lastModified\":\"%s\"}}",
                 r->deleted        ? "204 No Content"
                 : r->version == 1 ? "201 Created"
                                   : "200 OK",
                 r->version, r->last_updated ? r->last_updated : "");
    }
    if (warning) {
        if (!first)
            buf_addc(&b, ',');
        buf_adds(&b, "{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[{"
                     "\"severity\":\"warning\",\"code\":\"not-supported\",\"diagnostics\":\"");
        buf_add_json_str(&b, warning, strlen(warning));
        buf_adds(&b, "\"}]}}");
    }
    buf_adds(&b, "]}");
    http_reply_buf(req, 200, FHIR_JSON, &b);
}

int api_history_instance(struct http_req *req, void *ctx)
{
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type"), *id = http_req_param(req, "id");
    int count;
    char *warning;
    if (history_params(req, &count, &warning) != 0)
        return 0;
    struct access_read r;
    access_read_begin(&r, s, &req->principal, AUDIT_READ);
    struct store_row row;
    struct store_result res;
    memset(&res, 0, sizeof res);
    bool *hidden = NULL;
    if (fetch(req, s, &r, type, id, 0, &row) != 0)
        goto out;
    /* fetch decided the current version only.  An older version may have
     * had another category, source organisation or person (recategorised,
     * relinked), so the scoped-read path decides each version on its own, as
     * vread decides it: what the caller may not see is left out, and the
     * total counts only what is shown. */
    int rc = access_read_history(&r, type, id, count, &res, &hidden);
    if (rc != 0) {
        store_failed(req, s, rc);
        goto out;
    }
    reply_history(req, &r, api_base_url(req, ctx), &res, res.nrows < count, warning, hidden);
out:
    free(hidden);
    store_result_clear(&res);
    store_row_clear(&row);
    access_read_close(&r);
    return 0;
}

int api_history_type(struct http_req *req, void *ctx)
{
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type");
    if (!api_check_type(req, type))
        return 0;
    int count;
    char *warning;
    if (history_params(req, &count, &warning) != 0)
        return 0;
    /* Across people: the scope for "no person" decides, then each row's
     * person; rows outside it are left out, and the total is then omitted
     * so nothing is revealed by it. */
    struct access_read r;
    int rc = access_read_open_type(&r, s, &req->principal, AUDIT_READ, type, NULL);
    if (rc != 0 || !r.scope.allowed) {
        if (rc < 0)
            api_read_failed(req, s, rc);
        else
            api_refused(req, &r, type, r.scope.reason);
        access_read_close(&r);
        return 0;
    }
    struct store_result res;
    memset(&res, 0, sizeof res);
    bool *hidden = NULL;
    rc = access_read_history(&r, type, NULL, count, &res, &hidden);
    if (rc != 0) {
        store_failed(req, s, rc);
    } else {
        bool any_hidden = false;
        for (int i = 0; i < res.nrows; i++)
            any_hidden = any_hidden || hidden[i];
        reply_history(req, &r, api_base_url(req, ctx), &res,
                      !r.scope.restricted && !any_hidden && res.nrows < count, warning, hidden);
    }
    free(hidden);
    store_result_clear(&res);
    access_read_close(&r);
    return 0;
}
