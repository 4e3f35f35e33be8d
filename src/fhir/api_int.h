/*
 * api_int.h - what the files of the FHIR API (api*.c) share: replies,
 * negotiation, resource type names and the replies for the scoped-read path.  Not for use
 * outside src/fhir/api*.c.
 */
#ifndef WEFT_FHIR_API_INT_H
#define WEFT_FHIR_API_INT_H

#include <stdbool.h>

#include "access/authz.h"
#include "core/buf.h"
#include "http/server.h"
#include "store/records.h"

#define FHIR_JSON "application/fhir+json; charset=utf-8"

struct fhir_write_hook;

struct api_ctx {
    char *base_url;                           /* configured base URL or NULL */
    const struct fhir_write_hook *write_hook; /* never NULL once registered */
    bool bulk_export;                         /* $export is served (declared in metadata) */
};

/* Reply an OperationOutcome with one issue (severity error). */
void api_outcome(struct http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The http_error_fn for /fhir. */
void api_error_renderer(struct http_req *req, int status, const char *message);

/* Content negotiation alone: false after replying 406. */
bool api_negotiate(struct http_req *req);
/* Common start of every FHIR handler: negotiation (406 unless the client
 * accepts JSON) and the store of this thread (503 when unavailable).  Returns
 * the store, or NULL after replying. */
struct store *api_begin(struct http_req *req);

/* The base URL ("http://host/fhir"), request-owned. */
const char *api_base_url(struct http_req *req, const struct api_ctx *ctx);
/* True when name is a FHIR R4 resource type. */
bool api_is_resource_type(const char *name);
/* Validate the {type} route parameter; replies 400/404 and returns false when
 * it is not a resource type this API serves. */
bool api_check_type(struct http_req *req, const char *type);
/* True when s is a syntactically valid FHIR id. */
bool api_valid_id(const char *s);
/* Lenient handling asked for (Prefer: handling=lenient). */
bool api_lenient(struct http_req *req);

/* Write "Wed, 21 Oct 2015 07:28:00 GMT" for an ISO 8601 UTC timestamp into
 * out (at least 40 bytes); "" when it cannot be parsed. */
void api_http_date(const char *iso, char *out, size_t cap);
/* Current time as FHIR instant (UTC, milliseconds) into out (32 bytes). */
void api_now_instant(char out[32]);

/* ---- replies for the scoped-read path (access/read.h) ----------------------------------- */

struct access_read;
/* Reply 403 for a refusal the scoped-read path gave: naming type when r was
 * refused by resource type (type NULL: $everything), else reason. */
void api_refused(struct http_req *req, const struct access_read *r, const char *type,
                 const char *reason);
/* Reply 503 (busy) or 500 for a read or decision that failed with rc. */
void api_read_failed(struct http_req *req, struct store *s, int rc);

/* The handlers, by file. */
int api_metadata(struct http_req *req, void *ctx);
int api_read(struct http_req *req, void *ctx);
int api_vread(struct http_req *req, void *ctx);
int api_history_instance(struct http_req *req, void *ctx);
int api_history_type(struct http_req *req, void *ctx);
int api_search(struct http_req *req, void *ctx);
int api_search_post(struct http_req *req, void *ctx);
int api_everything(struct http_req *req, void *ctx);
int api_bundle_post(struct http_req *req, void *ctx);
int api_match(struct http_req *req, void *ctx); /* api_match.c: POST Patient/$match */

/* The resource types the record stores (for the CapabilityStatement), NULL
 * terminated. */
extern const char *const api_stored_types[];

#endif
