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
    struct store *s; /* decisions (every authorisation fact), audit, and reads by default */
    /* A hot standby for the person-scoped data reads of access_read_search
     * (weft serve --db-read; set by the caller after open, NULL: none).
     * Decisions never read it: only the rows of one person's record under a
     * scope decided on s.  A search across people (upheld objections are
     * applied inside that query), and a page whose snapshot the standby has
     * not replayed yet, read s instead; so does everything after a failed
     * read on it (data_failed set, data cleared). */
    struct store *data;
    bool data_failed;
    int64_t data_seen; /* a snapshot the standby is known to have replayed */
    const struct principal *p;
    const char *purpose;   /* audit action */
    const char *person_id; /* NULL: across people */
    struct authz_scope scope;
    int64_t snapshot; /* of the last query (0 before one) */
    bool audited;
    bool decided;      /* a scope was decided (open), not only begun (access_read_begin) */
    bool type_refused; /* refused by resource type (access_read_open_type) */
    bool scope_empty;  /* the last access_read_search left nothing to ask for */
    /* what the rows shown by access_read_decide were narrowed by (habit 18) */
    bool rows_restricted;    /* a shown row's scope may withhold something */
    bool rows_objection;     /* a shown row's scope was narrowed by an objection */
    int rows_objection_orgs; /* that scope's organisation count (0: none shown) */
    /* a per-person decision kept by access_read_decide (another person's) */
    char *other_person;
    struct authz_scope other;
    bool other_valid; /* other holds a decision (for other_person) */
    char *own_person; /* person_id when decided by access_read_row (owned) */
    bool other_ok;    /* other was decided without error */
    /* The Patient whose person person_id is, when the caller had it from
     * store_patient_person_kept (may be stale): access_read_search has the
     * store check the link in the search's own snapshot (store_query
     * patient_check) and, when it fails, answers WEFT_ECONFLICT with
     * person_stale set and nothing read: the caller asks for the person
     * again (store_resource_person) and decides and searches anew. */
    const char *patient_check;
    bool person_stale;
};

/* The read standby's handle when the caller of req may read rows that lag
 * (read_standby.c says who: staff, and API clients that cannot write), for
 * struct access_read's data; NULL: read everything from the primary. */
struct http_req;
struct store *access_read_standby(struct http_req *req);

/* Decide (see above).  r is always initialised: access_read_close it. */
int access_read_open(struct access_read *r, struct store *s, const struct principal *p,
                     const char *purpose, const char *person_id);
/*
 * As access_read_open for reads of one resource type (NULL: every type at
 * once, as $everything): a principal whose access does not include the type
 * (an app token's patient/Type.rs scopes, a client without a read scope) is
 * refused before the person is looked at - r->type_refused, audited as a
 * denial - so the answer is the same for every person and id.
 */
int access_read_open_type(struct access_read *r, struct store *s, const struct principal *p,
                          const char *purpose, const char *type, const char *person_id);
/*
 * Begin a read whose rows are each decided on their own (reads by id,
 * searches by _id, history): nothing is decided or audited yet.  Then
 * access_read_check for the person-independent part, access_read_decide for
 * the rows, access_read_audit_rows for what is returned.
 */
void access_read_begin(struct access_read *r, struct store *s, const struct principal *p,
                       const char *purpose);
/*
 * The part of the decision that does not depend on a person (resource type,
 * role, agreement, read scope), for ids the store does not know and for
 * searches by id: the reply for an unknown id must be the one for an item
 * the caller may not see, unless the caller would be refused whoever the
 * person was.  Returns 0 with *reason NULL (go on), 0 with *reason static
 * and patient-free after auditing the refusal (answer 403; r->type_refused
 * when the type was the reason), or a negative error (deny).
 */
int access_read_check(struct access_read *r, const char *type, const char **reason);

/* The verdict on one stored row read by id (read, vread, instance history). */
enum access_row_verdict {
    ACCESS_ROW_SHOWN,   /* may be shown: audited as read (access_read_row) */
    ACCESS_ROW_UNKNOWN, /* another person's or withheld: answer exactly as for an unknown
                           id (the refusal is audited); never "absent" */
    ACCESS_ROW_REFUSED, /* refused whoever the person is: 403 with *reason (audited) */
};
/*
 * Decide and audit a read of row (by id): type, the row's person, its
 * category and source organisation.  r: begun or opened; it is (re)opened
 * for row's person and keeps that scope.  Returns 0 with *verdict (and
 * *reason, static, for ACCESS_ROW_REFUSED), or a negative error (deny).
 */
int access_read_row(struct access_read *r, const struct store_row *row,
                    enum access_row_verdict *verdict, const char **reason);
/*
 * Read type/id (version 0: the current one) by id and decide it as
 * access_read_row does: *row is filled only for ACCESS_ROW_SHOWN (a deleted
 * current version too, row->deleted: answer 410).  An id the store does not
 * know answers ACCESS_ROW_UNKNOWN - exactly as an item the caller may not
 * see - unless access_read_check refuses the caller whoever the person is
 * (ACCESS_ROW_REFUSED).  Returns 0 or a negative store error.
 */
int access_read_get(struct access_read *r, const char *type, const char *id, int version,
                    struct store_row *row, enum access_row_verdict *verdict, const char **reason);
/*
 * Every version of type/id (id NULL: of the type, across people; r opened
 * across people), newest first, at most limit, each decided on its own
 * (access_read_decide): hidden (nrows entries, malloc'd, the caller frees)
 * marks the versions not to show.  Returns 0 or a negative store error.
 */
int access_read_history(struct access_read *r, const char *type, const char *id, int limit,
                        struct store_result *out, bool **hidden);
/*
 * The current versions of type/ids (a search by _id), each decided on its
 * own (access_read_decide): out gets only those the caller may see, in the
 * order given, once each; unknown, deleted and hidden ids are left out
 * alike.  Nothing is audited (the caller audits what it returns).  Returns
 * 0 or a negative store error (out is then empty).
 */
int access_read_ids(struct access_read *r, const char *type, const char *const *ids, int nids,
                    struct store_result *out);
/*
 * Decide rows each on its own, as a read by id would (every version of
 * history may have had another person, category or organisation): rows of
 * r's person (when r was opened) under r's scope, others under their
 * person's (a client's reads across people apply each person's objection).
 * hidden[i] is set for rows the caller may not see; nothing is audited
 * (refusals of persons are audited by the decision).  Sets
 * r->rows_restricted / rows_objection over the rows shown.  Returns the
 * number shown.
 */
int access_read_decide(struct access_read *r, const struct store_row *rows, int nrows,
                       bool *hidden);
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
