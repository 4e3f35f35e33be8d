/*
 * bulk.h - FHIR Bulk Data Access (v2) exports: what a kick-off request asks
 * for (parsed and checked here, so that a bad request is refused before a
 * job exists), the groups an export may be of, and the running of one job
 * into NDJSON files.  The HTTP side, the job queue and its thread are in
 * bulk_serve.c; the jobs are kept in the store (store/bulk.h).
 *
 * Every resource comes through the one scoped-read path (access/read.h):
 * an export holds exactly what a search by the same client would return,
 * and it is audited once per person exported, with the count of their
 * items.  A
 * `secondary` client's export (core/principal.h client_purpose) is further
 * limited to people cleared by the national data opt-out list in force
 * (analytics/optout.h; no list, or an expired one, and the export is
 * refused) and de-identified with a key made for that export alone
 * (analytics/deid.h).
 *
 * Groups (GET /fhir/Group/{id}, /fhir/Group/{id}/$export):
 *   practice-ODS   the living people whose registered GP practice is ODS
 *                  (as the practice's risk list counts them)
 *   efi-BAND       the living people aged 65 and over whose electronic
 *                  Frailty Index band is BAND (fit, mild, moderate,
 *                  severe) today (analytics/efi.h)
 * Members are worked out when the export runs, from the record as it is.
 */
#ifndef WEFT_ANALYTICS_BULK_H
#define WEFT_ANALYTICS_BULK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/principal.h"
#include "core/url.h"

struct store;
struct store_bulk_job;

#define BULK_MAX_TYPES 32

enum bulk_kind { BULK_SYSTEM = 0, BULK_PATIENT, BULK_GROUP };
const char *bulk_kind_name(enum bulk_kind k);

/* A kick-off request, checked. */
struct bulk_request {
    enum bulk_kind kind;
    char group_id[96];
    char types[BULK_MAX_TYPES][64]; /* _type, distinct, in the order asked */
    int ntypes;                     /* 0: every type */
    char since[32];                 /* _since as a UTC instant with milliseconds, or "" */
};

/*
 * Check the query parameters of a kick-off (args, nargs as the request has
 * them): _type (comma-separated R4 resource types), _since (a FHIR instant),
 * _outputFormat (application/fhir+ndjson, application/ndjson or ndjson);
 * any other parameter is refused.  0 and *out, or WEFT_EINVAL with a
 * message for the client in err.
 */
int bulk_request_parse(enum bulk_kind kind, const char *group_id, const struct url_kv *args,
                       int nargs, struct bulk_request *out, char *err, size_t errlen);

/* Whether id names a group (above): 0 with *name ("GP practice A81001's
 * registered patients"), WEFT_ENOTFOUND when it does not. */
int bulk_group_describe(const char *id, char *name, size_t cap);

/* The Group resource for id (JSON text, malloc'd, caller frees), or NULL
 * when id names no group. */
char *bulk_group_resource(const char *id);

/* One job's run. */
struct bulk_run {
    /* in */
    struct store *s;
    const struct principal *p; /* the client, as it was at kick-off */
    const struct store_bulk_job *job;
    const char *dir;      /* the job's folder (created by the caller) */
    const char *file_url; /* URL prefix of its files: file_url + "/" + name */
    atomic_bool *cancel;  /* set by another thread: stop soon, remove the files */
    void (*progress)(void *ctx, const char *text); /* every few seconds (may be NULL) */
    void *progress_ctx;
    /* out */
    char transaction_time[32]; /* when the export's snapshot was taken */
    char *output;              /* the manifest's output array, JSON text (malloc'd) */
    int64_t count;             /* resources written */
    char error[512];           /* why it failed (for the client), when bulk_run_job fails */
};

#define BULK_CANCELLED 1 /* bulk_run_job: stopped by *cancel, files removed */

/*
 * Run job (its request as kept in the store) for r->p into r->dir.
 * 0 when done (r->output, r->count); BULK_CANCELLED when *r->cancel was
 * set (the files written are removed); WEFT_EDENIED
 * when the client may not have it (r->error says why: refused access, no
 * opt-out list in force); another negative error with r->error.  Audits
 * what was exported (one entry per person, with the count of their items)
 * and the completion.
 */
int bulk_run_job(struct bulk_run *r);
void bulk_run_clear(struct bulk_run *r);

/* The check made at kick-off, before a job is made: whether p may export
 * req at all (resource types, read access, purpose; for a secondary
 * client, an opt-out list in force).  0 with *status 0 when it may; 0 with
 * *status (403, 404, 501) and why in err when it may not (refusals of
 * access are audited); a negative error when it could not be decided. */
int bulk_check(struct store *s, const struct principal *p, const struct bulk_request *req,
               int *status, char *err, size_t errlen);

#endif
