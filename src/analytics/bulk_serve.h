/*
 * bulk_serve.h - FHIR Bulk Data Access (v2) in `weft serve` (the "bulk"
 * part; bulk_serve.c):
 *
 *   GET    /fhir/$export                      kick-off: every type
 *   GET    /fhir/Patient/$export              kick-off: people's records
 *   GET    /fhir/Group/{id}/$export           kick-off: a group's records
 *   GET    /fhir/Group/{id}                   the Group (analytics/bulk.h)
 *   GET    /fhir/$export-status/{job}         202 + X-Progress, then 200 + manifest
 *   DELETE /fhir/$export-status/{job}         cancel, files removed (202)
 *   GET    /fhir/$export-file/{job}/{file}    one NDJSON file
 *
 * Every route needs a registered API client's bearer token; a job is only
 * ever seen by the client that started it.  Jobs run one at a time on one
 * thread; a client may have one export queued or running, and at most
 * BULK_QUEUE_MAX wait in all (429 with Retry-After beyond).  Options:
 * --export-dir DIR (default: the folder "exports" beside a SQLite
 * database, ./weft-exports for PostgreSQL), --export-hours N (files removed
 * N hours after the export finished; default 24).
 */
#ifndef WEFT_ANALYTICS_BULK_SERVE_H
#define WEFT_ANALYTICS_BULK_SERVE_H

#define BULK_QUEUE_MAX 8
#define BULK_EXPORT_HOURS_DEFAULT 24

struct serve_ctx;

int bulk_serve_start(const struct serve_ctx *ctx, void **state);
void bulk_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
