/*
 * feeds_http.h - the feeds' HTTP side in `weft serve`:
 *
 *   GET /admin/feeds            status of every feed (registry.h JSON)
 *   GET /admin/feeds/{name}/messages?outcome=&since=&after=&limit=
 *                               inbound messages of a feed (no bodies)
 *   GET /admin/feeds/messages/{id}
 *                               one inbound message with its verbatim body
 * Who may call them: an API client with a system-wide read scope
 * ("system/\*.rs", "system/\*.read" or "*") or the scope "admin/feeds.read",
 * or a member of staff whose role may review the audit log (information
 * governance; access/authz.h authz_may_review_audit).  Feed tokens (write
 * only) may not.  Anyone else: 403 JSON {"error": ...}; no credential: 401.
 *
 * And the write hook of POST /fhir (fhir/api.h struct fhir_write_hook), which
 * `weft serve` hands to the FHIR API, so that every bundle is kept in the
 * inbox before anything else (a FHIR feed's token under its feed, any other
 * client's under no feed), refused (403 OperationOutcome) when the
 * organisation has no agreement in force, its events' lag sampled before the
 * loader rewrites it, and its outcome recorded against the inbox row.  The
 * feeds load through fhir/load.h, so the API never includes the feeds: they
 * register with it.
 *
 * The feeds console: a browser (an Accept header naming text/html) asking
 * for any of the three GET routes is answered by the pages the web part
 * registers with feeds_console_set() (src/web/admin_feeds.c); every other
 * caller gets the JSON above, unchanged.
 */
#ifndef WEFT_FEEDS_FEEDS_HTTP_H
#define WEFT_FEEDS_FEEDS_HTTP_H

#include <stdbool.h>

#include "fhir/api.h"

struct serve_ctx;

/* The POST /fhir write hook (static, lives for the program). */
extern const struct fhir_write_hook feeds_fhir_write_hook;

/* The console's pages (see above).  Static; registered before the server
 * starts; NULL removes them. */
struct http_req;
struct feeds_console {
    int (*status)(struct http_req *req);
    int (*messages)(struct http_req *req, const char *feed);
    int (*message)(struct http_req *req, const char *id);
};
void feeds_console_set(const struct feeds_console *c);
/* True when req's Accept header names text/html (a browser). */
bool feeds_wants_html(struct http_req *req);

/* The `weft serve` part registering the /admin/feeds routes. */
int feeds_admin_serve_start(const struct serve_ctx *ctx, void **state);

#endif
