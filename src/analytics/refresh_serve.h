/*
 * refresh_serve.h - the analytics refresh inside `weft serve` (the
 * "analytics-refresh" part, refresh_serve.c): option
 * --analytics-refresh SECONDS (default 0, off).
 */
#ifndef WEFT_ANALYTICS_REFRESH_SERVE_H
#define WEFT_ANALYTICS_REFRESH_SERVE_H

struct serve_ctx;

int analytics_refresh_serve_start(const struct serve_ctx *ctx, void **state);
void analytics_refresh_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
