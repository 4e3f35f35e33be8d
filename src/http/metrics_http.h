/*
 * metrics_http.h - `weft serve --metrics HOST:PORT`: a separate listener
 * (loopback by default) that serves GET /metrics in the Prometheus text
 * format from the registry in core/metrics.h, and the HTTP server's own
 * request metrics.
 */
#ifndef WEFT_HTTP_METRICS_HTTP_H
#define WEFT_HTTP_METRICS_HTTP_H

struct serve_ctx;

/* The serve part: options metrics, metrics-port-file (cmd_serve.c). */
int metrics_serve_start(const struct serve_ctx *ctx, void **state);
void metrics_serve_stop(const struct serve_ctx *ctx, void *state);

/* Count one answered request: route class from its path (fhir, patient,
 * launch, assets, admin, health, other), status, seconds taken. */
void metrics_http_request(const char *path, int status, double seconds);

#endif
