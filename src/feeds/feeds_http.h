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
 * And two calls for POST /fhir (fhir/api_bundle.c) so that bundles sent by a
 * FHIR feed's token are kept in the inbox before anything else and refused
 * (403 OperationOutcome) when the organisation has no agreement in force:
 *
 *     struct feeds_post fp;
 *     if (feeds_http_post_begin(req, s, &fp)) return 0;     // replied
 *     ... parse the body ...
 *     feeds_http_post_bundle(&fp, bundle);                   // lag, before loading
 *     ... lc.feed = fp.feed ? fp.feed : "api"; load ...
 *     feeds_http_post_end(req, &fp, rc, &rep);               // after replying
 */
#ifndef WEFT_FEEDS_FEEDS_HTTP_H
#define WEFT_FEEDS_FEEDS_HTTP_H

#include <stdint.h>

#include <jansson.h>

#include "feeds/lag.h"

struct http_req;
struct store;
struct serve_ctx;
struct load_report;
struct ingest;

struct feeds_post {
    int64_t inbox_id; /* 0: the caller is not a feed (nothing recorded) */
    int64_t feed_id;
    char *feed; /* the feed's name for load_ctx.feed (NULL: not a feed) */
    struct ingest *ig;
    struct feed_lag lag; /* the bundle's events (feeds_http_post_bundle) */
};

/* 0: go on; 1: a reply (403/503) was sent, stop (fp released). */
int feeds_http_post_begin(struct http_req *req, struct store *s, struct feeds_post *fp);
/* A feed's bundle, parsed, before it is loaded (the load rewrites meta): take
 * the lag samples of its events (feeds/lag.h).  Nothing when not a feed. */
void feeds_http_post_bundle(struct feeds_post *fp, const json_t *bundle);
/* Record the outcome (req->status is the status replied) and release fp.
 * rep NULL: the request was refused before loading. */
void feeds_http_post_end(struct http_req *req, struct feeds_post *fp, int load_rc,
                         const struct load_report *rep);

/* The `weft serve` part registering the /admin/feeds routes. */
int feeds_admin_serve_start(const struct serve_ctx *ctx, void **state);

#endif
