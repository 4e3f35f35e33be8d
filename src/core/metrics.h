/*
 * metrics.h - the numbers an operator watches, in one process-wide registry,
 * rendered in the Prometheus text format (served by `weft serve --metrics`,
 * src/http/metrics_http.c).
 *
 * A series is a metric name plus a label set, given as the text between the
 * braces ("feed=\"rvv-hl7v2\",outcome=\"applied\"", or "" for none).  Label
 * values must not hold patient data (the same rule as the operational log):
 * feed names, route classes, status codes, outcomes.  Every metric is
 * declared with its type and help: Weft's own in the catalog in metrics.c,
 * others with metrics_define(); updates of an undeclared name are ignored.
 *
 * Thread-safe: one mutex around a small hash table; an update is a hash, a
 * short chain walk and an add (the hot paths - an HTTP request, an MLLP
 * message - make one or two).
 */
#ifndef WEFT_CORE_METRICS_H
#define WEFT_CORE_METRICS_H

#include <stddef.h>

struct buf;

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Declare a metric (idempotent).  For a histogram, bounds are the upper
 * bounds of its buckets, ascending (copied; at most 16); +Inf is implied. */
void metrics_define(const char *name, enum metric_type type, const char *help, const double *bounds,
                    int nbounds);

void metrics_add(const char *name, const char *labels, double v);     /* counter += v */
void metrics_set(const char *name, const char *labels, double v);     /* gauge = v */
void metrics_observe(const char *name, const char *labels, double v); /* histogram */

/* A function called at every render, before the series are written, to set
 * gauges that are read rather than counted (file sizes, cache sizes).
 * ctx lives until metrics_collectors_clear(). */
void metrics_collector_add(void (*fn)(void *ctx), void *ctx);
void metrics_collectors_clear(void);

/* Append every metric in the Prometheus text exposition format (0.0.4). */
void metrics_render(struct buf *out);

/* Quote v as a label value into out (escapes \ " and newlines). */
void metrics_label_value(char *out, size_t cap, const char *v);

#endif
