/*
 * bulk.h - what the store keeps of FHIR Bulk Data exports (analytics/bulk.h):
 * one row per export job, so that a job survives a restart of `weft serve`
 * (a finished export keeps its manifest and files until it expires; one
 * that was running is marked failed, saying so).  The NDJSON files
 * themselves live in the export folder, not in the store.
 *
 * Workload: a handful of jobs per client per day; read on every status poll
 * (by id: the primary key) and by the serve part's sweeper (by status).
 * Functions return 0 or a negative enum weft_err; "not found" is
 * WEFT_ENOTFOUND.
 */
#ifndef WEFT_STORE_BULK_H
#define WEFT_STORE_BULK_H

#include <stdint.h>

struct store;

/* One export job.  Strings borrowed on add/update, owned (malloc'd) when
 * read: release with store_bulk_job_clear. */
struct store_bulk_job {
    char *id;          /* 32 lower-case hex digits (random; the status URL's last segment) */
    int64_t client_id; /* the API client that asked (only it may poll, download, cancel) */
    char *client_name;
    char *org;              /* the client's organisation, or NULL */
    char *purpose;          /* "direct" or "secondary" */
    char *kind;             /* "system", "patient" or "group" */
    char *group_id;         /* kind group: the Group id, else NULL */
    char *types;            /* _type as asked ("Patient,Observation"), or NULL: every type */
    char *since;            /* _since as asked, or NULL */
    char *request;          /* the kick-off URL (manifest "request") */
    char *status;           /* queued, running, done, failed, cancelled, expired */
    char *created;          /* ISO 8601 UTC */
    char *transaction_time; /* manifest transactionTime: when the snapshot was taken */
    char *finished;         /* ISO 8601 UTC, or NULL */
    char *expires;          /* when the files are removed (ISO 8601 UTC), or NULL */
    char *progress;         /* running: what is done so far (X-Progress), or NULL */
    char *output;           /* done: the manifest's output array as JSON text, or NULL */
    char *error;            /* failed: why (safe to show the client), or NULL */
    int64_t count;          /* resources written */
};
void store_bulk_job_clear(struct store_bulk_job *j);
void store_bulk_jobs_free(struct store_bulk_job *j, int n);

/* Keep a new job (every field of in; id must be new). */
int store_bulk_job_add(struct store *s, const struct store_bulk_job *in);
/* Read job id: 0 and *out, or WEFT_ENOTFOUND. */
int store_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out);
/* Replace the mutable fields of job in->id (status, transaction_time,
 * finished, expires, progress, output, error, count).  WEFT_ENOTFOUND when
 * there is no such job. */
int store_bulk_job_update(struct store *s, const struct store_bulk_job *in);
/* Jobs with this status (NULL: every job), oldest first, into *out
 * (malloc'd; store_bulk_jobs_free). */
int store_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n);

#endif
