/*
 * dq_serve.h - the data-quality parts of `weft serve`: the daily run
 * (dq_serve.c) - options --dq-interval HOURS (default 24, 0 off) and
 * --dq-rules FILE.
 */
#ifndef WEFT_DQ_DQ_SERVE_H
#define WEFT_DQ_DQ_SERVE_H

struct serve_ctx;

int dq_serve_start(const struct serve_ctx *ctx, void **state);
void dq_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
