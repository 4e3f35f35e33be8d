/*
 * web_serve.h - the web pages as a part of `weft serve` (http/serve.h):
 * a row {"web", web_serve_start, web_serve_stop} in cmd_serve.c's parts
 * table and an "assets" option (DIR: nhsuk-frontend's dist/nhsuk folder) in
 * its specs.  start registers the routes (web.h); page views are audited
 * through the one audit writer (audit/audit_serve.c, started before).
 */
#ifndef WEFT_WEB_WEB_SERVE_H
#define WEFT_WEB_WEB_SERVE_H

struct serve_ctx;

int web_serve_start(const struct serve_ctx *ctx, void **state);
void web_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
