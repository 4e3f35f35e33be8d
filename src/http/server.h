/*
 * server.h - the HTTP server of `weft serve`: libmicrohttpd underneath, a
 * router on top, one request context per request.
 *
 * Threads: one libmicrohttpd epoll daemon per worker thread (one per core by
 * default), an acceptor thread handing new connections to them in turn.  A
 * handler runs on a worker thread and may block (store queries).  Each
 * worker opens its own store handle on first use (store handles are
 * single-threaded); http_req_store() returns it.  All handles are closed
 * when the server is closed.
 *
 * Plug-in point: every part of `weft serve` registers its URLs with
 * http_route_add() before http_server_start():
 *
 *     http_route_add(srv, "GET", "/fhir/{type}/{id}", handler, ctx, HTTP_ROUTE_AUTH);
 *     http_static_route(srv, "/assets", "/usr/share/weft/assets");   (http/static.h)
 *
 * Patterns are absolute paths.  A segment "{name}" matches one non-empty
 * path segment (read it with http_req_param(req, "name")); a final "*"
 * matches the rest of the path, possibly empty (http_req_param(req, "*")).
 * When several routes match, the most specific wins: literal segments beat
 * "{param}" segments beat "*", compared left to right; ties go to the route
 * registered first.  Path segments are percent-decoded before matching.
 * A path that matches a route for another method gets 405 with Allow.
 *
 * Authentication happens in one place (http/auth.c) before the handler runs
 * for every route; req->principal says who is asking (kind PRINCIPAL_NONE
 * when nobody).  With HTTP_ROUTE_AUTH, an unauthenticated request is answered
 * 401 (WWW-Authenticate: Bearer) without calling the handler.
 *
 * Error bodies: errors the server itself produces (404 no route, 405, 401,
 * 413, 400 bad request line) are rendered by the error renderer registered for
 * the longest matching path prefix (http_server_error_renderer), else as a
 * small JSON object {"error": "..."}.  The FHIR API registers one for /fhir
 * that renders an OperationOutcome.
 *
 * Limits: a request is routed and authenticated as soon as its headers are
 * in, before any of its body is read: a 404, 405 or 401 is answered without
 * reading the body.  Request bodies above http_server_config.max_body
 * (default HTTP_MAX_BODY_DEFAULT, 32 MiB; HTTP_ANON_MAX_BODY for anonymous
 * requests) are refused with 413 before they are read when Content-Length
 * says so.  A chunked body is kept only up to the limit; past it the rest is
 * read and discarded (so the client still hears the 413) up to twice the
 * limit, where the connection is answered and closed.  All bodies in memory
 * together are kept under body_memory (503 past it).
 *
 * Connections: at most HTTP_MAX_CONNECTIONS open, and max_per_address from
 * one client address; more are answered 503 and closed by the acceptor.  A
 * connection that has not sent a whole request line and headers within
 * header_timeout_s is closed; after its first request the idle timeout is
 * timeout_s.
 */
#ifndef WEFT_HTTP_SERVER_H
#define WEFT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/principal.h"
#include "core/buf.h"
#include "core/url.h"

#define HTTP_MAX_BODY_DEFAULT (32u * 1024u * 1024u)
/* Request bodies held in memory by all requests together (raised to
 * max_body when that is larger): past it a body being received is answered
 * 503 and its connection closed. */
#define HTTP_BODY_MEMORY_DEFAULT (256u * 1024u * 1024u)
/* Largest body of an anonymous request (only open routes take one: the
 * /launch form, /oauth/token). */
#define HTTP_ANON_MAX_BODY (64u * 1024u)
/* Connections open at once, all workers together; more are refused (503). */
#define HTTP_MAX_CONNECTIONS 1000
/* Connections open at once from one client address (default). */
#define HTTP_PER_ADDRESS_DEFAULT 64
/* Seconds a new connection has to send its request line and headers. */
#define HTTP_HEADER_TIMEOUT_DEFAULT 10

/* Memory per connection for the request line and headers (libmicrohttpd's
 * pool): long search URLs fit; beyond it MHD answers 414/431 itself. */
#define HTTP_HEADER_MEMORY (128u * 1024u)
#define HTTP_MAX_HEADERS 16 /* extra response headers per request */

struct http_server;
struct store;

struct http_server_config {
    const char *host;      /* address to bind, e.g. "127.0.0.1", "0.0.0.0", "::" */
    int port;              /* 0: pick a free port (see http_server_port) */
    int threads;           /* worker threads, 0: number of online cores */
    size_t max_body;       /* 0: HTTP_MAX_BODY_DEFAULT */
    const char *store_url; /* opened once per worker thread; NULL: no store */
    const char *read_url;  /* a hot standby for reads that may lag (weft serve --db-read): also
                              opened per worker thread, on first use; NULL: none */
    int timeout_s;         /* idle connection timeout, 0: 60 s */
    int header_timeout_s;  /* a new connection's time to send a request, 0: default */
    int max_per_address;   /* connections from one address, 0: HTTP_PER_ADDRESS_DEFAULT */
    size_t body_memory;    /* bodies in memory, all requests; 0: HTTP_BODY_MEMORY_DEFAULT */
    const char *version;   /* reported by /health, may be NULL */
    /* TLS (HTTPS): PEM text of the certificate chain and its private key;
     * both NULL: plain HTTP.  TLS 1.2 and 1.3 only; every reply then carries
     * Strict-Transport-Security. */
    const char *tls_cert_pem, *tls_key_pem;
    /* HTTPS: ask every client for a TLS certificate (optional for the
     * handshake; browsers without one are not troubled).  Needed by API
     * clients bound to a certificate (weft client add --client-cert-sha256):
     * a connection that presents none is refused their token. */
    bool request_client_cert;
};

/*
 * One request.  Fields are read-only for handlers; everything hanging off it
 * (strings, params, the body) lives until the response has been sent.
 */
struct http_req {
    struct http_server *server;
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* raw path (still percent-encoded), no query */
    const char *query;      /* raw query string after '?', "" when none */
    const char *request_id; /* unique per request, also sent as X-Request-Id */
    /* query parameters in order, percent- and '+'-decoded; duplicates kept */
    struct url_kv *args;
    int nargs;
    /* route parameters ({name} segments, "*") */
    struct url_kv params[8];
    int nparams;
    struct buf body; /* request body (NUL-terminated) */
    struct principal principal;
    void *auth_data; /* owned by http/auth.c, freed with the request */
    /* why a presented credential was refused, when the sign-in chain says
     * more than "unknown or revoked" (a static sentence for the client) */
    const char *auth_refusal;
    uint64_t start_ns;

    /* response being built (use the http_reply_* functions) */
    int status;
    const char *content_type;
    struct buf out;
    int nheaders;
    struct {
        char *name, *value;
    } headers[HTTP_MAX_HEADERS];
    int fd; /* >= 0: reply with this file (http_reply_file) */
    uint64_t fd_size;
    void *mhd_connection; /* struct MHD_Connection * */
    /* why a 4xx/5xx reply was given, for the request's log line (which is
     * written at WARN for 4xx, ERROR for 5xx): set with http_req_reason() */
    char reason[200];
};

/* Record why req is refused (an error reply's message), for its log line.
 * The text is made safe for the operational log on the way in: values a
 * client sent, quoted ("parameter 'birthdate': '1970-13-01' is not a date",
 * "'X' is not a resource type"), become '...' (a parameter's name after
 * "parameter " is kept), and every run of 6 or more digits and every
 * YYYY-MM-DD date is masked with '#', so no NHS number, date of birth or name
 * echoed back to the client reaches the log.  Later calls replace it.
 * (src/http/reason.c) */
void http_req_reason(struct http_req *req, const char *text);

/* Handlers reply with one of the http_reply_* functions and return 0; a
 * handler that returns a negative code without replying gets a 500. */
typedef int (*http_handler_fn)(struct http_req *req, void *ctx);

/* Renders an error the server produced (status, message in plain words) as
 * the reply of req. */
typedef void (*http_error_fn)(struct http_req *req, int status, const char *message);

enum http_route_flags {
    HTTP_ROUTE_AUTH = 1, /* 401 unless a credential was accepted */
};

/* Create a server (not yet listening).  cfg strings are copied. */
int http_server_init(struct http_server **out, const struct http_server_config *cfg);
/* Register a route; pattern and method are copied.  method "*" matches any
 * method.  Returns WEFT_EINVAL for a malformed pattern.  Call before start. */
int http_route_add(struct http_server *srv, const char *method, const char *pattern,
                   http_handler_fn fn, void *ctx, unsigned flags);
/* One row of a module's table of routes (http_routes_add). */
struct http_route_def {
    const char *method, *pattern;
    http_handler_fn fn;
    unsigned flags; /* enum http_route_flags */
};
/* Register the n routes of defs, each with ctx.  On a failure the route is
 * named on standard error and its code returned; the ones before it stay
 * registered (the server is not started after a failure). */
int http_routes_add(struct http_server *srv, const struct http_route_def *defs, size_t n,
                    void *ctx);
/* Errors under path prefix (e.g. "/fhir") are rendered by fn. */
void http_server_error_renderer(struct http_server *srv, const char *prefix, http_error_fn fn);
/* Bind and start serving.  On failure a message is in *errmsg (malloc'd,
 * caller frees). */
int http_server_start(struct http_server *srv, char **errmsg);
/* The port actually bound (after start). */
int http_server_port(const struct http_server *srv);
/* True when srv serves HTTPS (its own links then start https://). */
bool http_server_is_tls(const struct http_server *srv);
/* Stop accepting connections, wait up to grace_ms for requests in flight to
 * finish, then stop the workers.  Safe to call twice. */
void http_server_stop(struct http_server *srv, int grace_ms);
/* Stop (if running), close the per-thread store handles, free everything. */
void http_server_free(struct http_server *srv);
/* Worker threads (after defaults are applied). */
int http_server_threads(const struct http_server *srv);
/* Seconds since start. */
int64_t http_server_uptime(const struct http_server *srv);
const char *http_server_version(const struct http_server *srv);
/* The store URL the server opens per thread (NULL when none). */
const char *http_server_store_url(const struct http_server *srv);

/* ---- request accessors ---------------------------------------------------- */

/* The store handle of the calling pool thread, opened on first use; NULL
 * when the server has no store or it cannot be opened (logged). */
struct store *http_req_store(struct http_req *req);
/* The calling pool thread's handle on the read standby (config read_url),
 * for reads that may lag (docs/OPERATIONS.md, "A hot standby for reads"):
 * NULL when there is none or it did not answer lately - read from
 * http_req_store() then.  The caller decides which reads may lag. */
struct store *http_req_store_read(struct http_req *req);
/* A read on that handle failed: ask it again before the next read. */
void http_req_store_read_failed(struct http_req *req);
/* A request header (case-insensitive name), NULL when absent. */
const char *http_req_header(struct http_req *req, const char *name);
/* First query parameter with this name, NULL when absent. */
const char *http_req_arg(const struct http_req *req, const char *name);
/* The SHA-256 fingerprint (64 lower-case hex digits) of the TLS client
 * certificate req's connection presented: true with out filled, false (out
 * "") over plain HTTP or when the client presented none. */
bool http_req_tls_client_sha256(struct http_req *req, char out[65]);
/* Route parameter ("{name}" or "*"), NULL when absent. */
const char *http_req_param(const struct http_req *req, const char *name);
/* The request's own allocations, freed with the request. */
void *http_req_alloc(struct http_req *req, size_t n);
char *http_req_strdup(struct http_req *req, const char *s);

/* ---- replies ----------------------------------------------------------------- */

/* Reply with a copy of data. */
void http_reply(struct http_req *req, int status, const char *content_type, const void *data,
                size_t len);
/* Reply with the contents of b; takes the memory (b is reset). */
void http_reply_buf(struct http_req *req, int status, const char *content_type, struct buf *b);
/* Reply with an open file (taken: closed after sending). */
void http_reply_file(struct http_req *req, int status, const char *content_type, int fd,
                     uint64_t size);
/* Add a response header (copied).  Silently ignored beyond HTTP_MAX_HEADERS. */
void http_reply_header(struct http_req *req, const char *name, const char *value);
/* Reply with an error through the error renderer for req's path. */
void http_reply_error(struct http_req *req, int status, const char *message);

/* ---- helpers shared with the FHIR API and tests -------------------------------- */

/* Route method and path (raw, percent-encoded) as a request would be: 0 with
 * the matching route's pattern in *pattern, or the status the server would
 * answer (400 malformed path, 404, 405).  For tests and fuzzing. */
int http_route_lookup(struct http_server *srv, const char *method, const char *path,
                      const char **pattern);
/* Monotonic nanoseconds. */
uint64_t http_now_ns(void);

#endif
