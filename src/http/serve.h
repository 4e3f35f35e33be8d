/*
 * serve.h - the contract between `weft serve` (src/cmd/cmd_serve.c) and the
 * parts it runs: the FHIR API, web pages, launch, admin, the MLLP listener,
 * drop-folder watchers.
 *
 * A part is a row in the `parts` table of cmd_serve.c:
 *
 *     {"mllp", mllp_serve_start, mllp_serve_stop},
 *
 * start() runs before the HTTP server starts listening: register routes with
 * http_route_add(ctx->http, ...), open listeners, start threads; keep
 * anything to release in *state.  Return 0, or a negative code after printing
 * what went wrong to stderr (then serve exits 1, stopping the parts already
 * started).  stop() runs after SIGTERM/SIGINT, in reverse order, after the
 * HTTP server has stopped accepting and finished its requests: stop accepting,
 * finish work in flight, free *state.  Threads a part starts must block
 * SIGTERM/SIGINT (they inherit the mask serve sets before calling start, so
 * leaving it alone is enough): only the main thread waits for signals.
 *
 * Options: a part's options are rows in the `specs` table of cmd_serve.c
 * (they can then also be set in weft.conf); read them from ctx->opts.
 */
#ifndef WEFT_HTTP_SERVE_H
#define WEFT_HTTP_SERVE_H

struct http_server;
struct opts;

struct serve_ctx {
    struct http_server *http; /* register routes here (before it starts) */
    const struct opts *opts;  /* every option of weft serve, flags over config */
    const char *db;           /* the store URL (open your own handle per thread) */
    const char *version;      /* Weft version string */
};

struct serve_part {
    const char *name;
    int (*start)(const struct serve_ctx *ctx, void **state);
    void (*stop)(const struct serve_ctx *ctx, void *state);
};

#endif
