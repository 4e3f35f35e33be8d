/*
 * read.h - the one scoped-read path to patient data.
 *
 * Every reader of the record - the FHIR API, the clinician's pages, the
 * citizen's pages, the subject access export, and every reader to come
 * (governance and data-quality reports, analytics, bulk export) - reads
 * through this family, so that deciding, scoping and auditing happen in one
 * place:
 *
 *     struct access_read r;
 *     rc = access_read_open(&r, store, principal, AUDIT_READ, person_id);
 *         decides (authz_scope_for_person; a refusal is audited there).
 *         rc < 0: no decision could be made, deny.  !r.scope.allowed:
 *         refused, r.scope.reason says why (patient-free), nothing may be read.
 *     rc = access_read_search(&r, &q, &rows);        as often as needed
 *         intersects q with the scope inside the store query (categories,
 *         source organisations, upheld objections), so a withheld item is
 *         never fetched and cannot show in a total, count or paging link.
 *         q is the caller's: it is not changed.  Refused or empty scope:
 *         0 rows, no store query.
 *     rc = access_read_hidden(&r, snapshot, &hidden);
 *         what the scope hid from the person's record, per reason (never the
 *         items): "none recorded" is not "none you may see".
 *     rc = access_read_audit(&r, what, count);        or access_read_audit_rows
 *         audits what was returned under the purpose given at open.
 *     access_read_close(&r);
 *
 * or, for one query, access_read(), which does all of it and always audits.
 *
 * purpose is the audit action the read is made for (AUDIT_READ,
 * AUDIT_SEARCH, AUDIT_EXPORT from audit/audit.h); the principal carries who
 * is asking and their purpose of use.  A reader that pages (the API's
 * Bundles, a web page made of several queries) audits once for what it
 * finally shows, with access_read_audit/_rows: every read of patient data
 * is audited, once per reply.
 *
 * A reader that has a scope already and only needs it applied to a query
 * (e.g. the API, which must also answer type and paging rules of its own)
 * uses access_scope_query().
 */
#ifndef WEFT_ACCESS_READ_H
#define WEFT_ACCESS_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "access/authz.h"

struct store;
struct store_query;
struct store_result;
struct store_row;

/* Buffers a scoped query borrows (the intersected category and
 * organisation lists). */
struct access_qbuf {
    const char **cats, **orgs;
    int cap, ocap;
};
void access_qbuf_clear(struct access_qbuf *b);

/*
 * Apply scope sc (allowed) to q inside the query: categories become the
 * ones asked for that the scope allows (every allowed one when none were
 * asked for), organisations the scope's (or those asked for that the scope
 * allows), and upheld objections across people are applied per
 * row by the store.  q then borrows from sc and buf (release buf with
 * access_qbuf_clear after the query).  Returns true when the scoped query
 * can match something, false when the scope leaves nothing to ask for (the
 * caller then does not query: the answer is empty).
 */
bool access_scope_query(const struct authz_scope *sc, struct store_query *q,
                        struct access_qbuf *buf);

struct access_read {
    struct store *s;
    const struct principal *p;
    const char *purpose;   /* audit action */
    const char *person_id; /* NULL: across people */
    struct authz_scope scope;
    int64_t snapshot; /* of the last query (0 before one) */
    bool audited;
};

/* Decide (see above).  r is always initialised: access_read_close it. */
int access_read_open(struct access_read *r, struct store *s, const struct principal *p,
                     const char *purpose, const char *person_id);
/* Run q under the scope; out gets only rows the scope allows (deleted rows
 * as the store gives them); r->snapshot the snapshot used.  Returns 0 or a
 * negative store error. */
int access_read_search(struct access_read *r, const struct store_query *q,
                       struct store_result *out);
/* What the scope hid of r's person at snapshot (0: r's last snapshot). */
int access_read_hidden(struct access_read *r, int64_t snapshot, struct authz_hidden *out);
/* Audit the read: what / count as authz_audit_access, or per returned row
 * (hidden[i]: row i was not shown; may be NULL) as authz_audit_rows. */
int access_read_audit(struct access_read *r, const char *what, int64_t count);
int access_read_audit_rows(struct access_read *r, const struct store_row *rows, int nrows,
                           const bool *hidden);
void access_read_close(struct access_read *r);

/* The outcome of a one-query read. */
struct access_read_result {
    bool refused;               /* the principal may not read this person (or across people) */
    const char *reason;         /* static, patient-free, when refused */
    struct authz_hidden hidden; /* what the scope left out, per reason (person reads) */
};

/*
 * One query in one call: decide for (p, person_id), run q scoped, audit the
 * rows returned under purpose (a refusal is audited as a denial), and say
 * what was hidden.  rows gets nothing when refused.  Returns 0 (the
 * decision is in res->refused) or a negative error (deny; nothing returned).
 */
int access_read(struct store *s, const struct principal *p, const char *purpose,
                const char *person_id, const struct store_query *q, struct store_result *rows,
                struct access_read_result *res);

#endif
