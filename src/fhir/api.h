/*
 * api.h - the FHIR R4 REST API of `weft serve`, mounted under /fhir.
 *
 *   GET  /fhir/metadata                       CapabilityStatement (no token needed)
 *   GET  /fhir/{type}/{id}                    read
 *   GET  /fhir/{type}/{id}/_history/{vid}     vread
 *   GET  /fhir/{type}/{id}/_history           instance history
 *   GET  /fhir/{type}/_history                type history
 *   GET  /fhir/{type}?params                  search (fhir/search.h)
 *   POST /fhir/{type}/_search                 search, form-encoded parameters
 *   GET  /fhir/Patient/{id}/$everything       the person's whole record, paged
 *   POST /fhir                                transaction or batch Bundle
 *
 * Every route but metadata needs a bearer token (http/auth.c).  Every read of
 * patient data goes through the one scoped-read path (access/read.h), which
 * decides, applies the scope inside the store query and audits.
 * Errors are OperationOutcomes (fhir/outcome.h) with the matching status.
 * Responses are application/fhir+json; requests may send application/json.
 */
#ifndef WEFT_FHIR_API_H
#define WEFT_FHIR_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http/server.h"

struct store;
struct load_report;

/* Entries in one POSTed transaction or batch Bundle, at most: counted before
 * the body is parsed, refused with 413 past it (the CapabilityStatement says
 * so).  Bounds the work and the size of the response, which has one entry
 * per request entry. */
#define FHIR_BUNDLE_MAX_ENTRIES 10000

/* One POST /fhir as the write hook sees it. */
struct fhir_write {
    int64_t inbox_id; /* the inbox row the body was kept in (audited with the write) */
    const char *feed; /* the feed's name for load_ctx.feed; NULL: "api" */
    void *state;      /* the hook's own, released by end */
};

/*
 * What happens around every POST /fhir before and after the loader, supplied
 * by the feeds (feeds/feeds_http.h feeds_fhir_write_hook): the body is kept
 * in the inbox verbatim before anything else, the sender's agreement is
 * checked, and the outcome is recorded against the inbox row.  The API calls
 * it and never includes the feeds, which sit above it (they load through
 * fhir/load.h).
 */
struct fhir_write_hook {
    /* Before the body is parsed: 0 to go on (w filled); 1 when a reply
     * (403 no agreement, 503 inbox unavailable) was sent: stop, w is empty. */
    int (*begin)(struct http_req *req, struct store *s, struct fhir_write *w);
    /* The parsed bundle, before the loader rewrites it. */
    void (*bundle)(struct fhir_write *w, const json_t *bundle);
    /* After the reply (req->status): record the outcome, release w.  rep
     * NULL: refused before loading; load_rc the loader's result. */
    void (*end)(struct http_req *req, struct fhir_write *w, int load_rc,
                const struct load_report *rep);
};

struct fhir_api_config {
    /* Base URL the API is reached at, e.g. "https://weft.example.org/fhir",
     * used in fullUrl and paging links.  NULL: "http://" + the request's Host
     * header + "/fhir". */
    const char *base_url;
    /* Required: every write goes through it (the API takes no write it
     * cannot keep in the inbox first).  Not copied: must outlive the server. */
    const struct fhir_write_hook *write_hook;
    /* The server answers FHIR Bulk Data $export (analytics/bulk_serve.h):
     * the CapabilityStatement declares the operations. */
    bool bulk_export;
};

/* Register the routes above on srv.  cfg is copied (write_hook by pointer).
 * WEFT_EINVAL when cfg or cfg->write_hook is NULL. */
int fhir_api_register(struct http_server *srv, const struct fhir_api_config *cfg);

#endif
