/*
 * read.c - the one scoped-read path (see read.h): decide, scope the store
 * query, audit.  The scope -> query translation is written once here and
 * used by the FHIR API, the web pages, the citizen's pages and the subject
 * access export.
 */
#include <stdlib.h>
#include <string.h>

#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/metrics.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"

void access_qbuf_clear(struct access_qbuf *b)
{
    free(b->cats);
    free(b->orgs);
    memset(b, 0, sizeof *b);
}

static const char **qbuf_cats(struct access_qbuf *b, int n)
{
    if (n > b->cap) {
        b->cats = xrealloc(b->cats, sizeof *b->cats * (size_t)n);
        b->cap = n;
    }
    return b->cats;
}

static bool scope_has_org(const struct authz_scope *sc, const char *org)
{
    if (sc->norgs < 0)
        return true;
    for (int i = 0; i < sc->norgs; i++)
        if (org && strcmp(sc->orgs[i], org) == 0)
            return true;
    return false;
}

bool access_scope_query(const struct authz_scope *sc, struct store_query *q,
                        struct access_qbuf *buf)
{
    if (!sc->allowed)
        return false;
    bool any = true;
    if (sc->ncategories >= 0) {
        /* the categories asked for, within those allowed */
        int n = 0;
        if (q->ncategories > 0) {
            const char **cats = qbuf_cats(buf, q->ncategories);
            for (int i = 0; i < q->ncategories; i++)
                for (int j = 0; j < sc->ncategories; j++)
                    if (strcmp(q->categories[i], sc->categories[j]) == 0) {
                        cats[n++] = q->categories[i];
                        break;
                    }
            q->categories = cats;
        } else {
            const char **cats = qbuf_cats(buf, sc->ncategories + 1);
            for (int j = 0; j < sc->ncategories; j++)
                cats[n++] = sc->categories[j];
            q->categories = cats;
        }
        q->ncategories = n;
        if (n == 0)
            any = false;
    }
    if (q->nsource_orgs > 0) {
        /* the organisations asked for, within those allowed */
        if (q->nsource_orgs > buf->ocap) {
            buf->orgs = xrealloc(buf->orgs, sizeof *buf->orgs * (size_t)q->nsource_orgs);
            buf->ocap = q->nsource_orgs;
        }
        int n = 0;
        for (int i = 0; i < q->nsource_orgs; i++)
            if (scope_has_org(sc, q->source_orgs[i]))
                buf->orgs[n++] = q->source_orgs[i];
        q->source_orgs = buf->orgs;
        q->nsource_orgs = n;
        if (n == 0)
            any = false;
    } else if (sc->norgs >= 0) {
        if (sc->norgs == 0)
            any = false;
        q->source_orgs = (const char *const *)sc->orgs;
        q->nsource_orgs = sc->norgs;
    }
    if (sc->objections_apply) {
        q->objections = true;
        q->objection_org = sc->objection_org;
    }
    return any;
}

int access_read_open(struct access_read *r, struct store *s, const struct principal *p,
                     const char *purpose, const char *person_id)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->p = p;
    r->purpose = purpose;
    r->person_id = person_id;
    r->decided = true;
    int rc = authz_scope_for_person(s, p, person_id, &r->scope);
    if (rc < 0)
        r->scope.allowed = false;
    return rc;
}

int access_read_open_type(struct access_read *r, struct store *s, const struct principal *p,
                          const char *purpose, const char *type, const char *person_id)
{
    if (!authz_type_allowed(p, type)) {
        access_read_begin(r, s, p, purpose);
        r->person_id = person_id;
        r->decided = true;
        r->type_refused = true;
        r->scope.reason = "the access does not include this resource type";
        return authz_audit_denial(s, p, NULL, person_id, r->scope.reason);
    }
    return access_read_open(r, s, p, purpose, person_id);
}

void access_read_begin(struct access_read *r, struct store *s, const struct principal *p,
                       const char *purpose)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->p = p;
    r->purpose = purpose;
    r->scope.ncategories = -1;
    r->scope.norgs = -1;
}

int access_read_check(struct access_read *r, const char *type, const char **reason)
{
    *reason = NULL;
    if (type && !authz_type_allowed(r->p, type)) {
        r->type_refused = true;
        *reason = "the access does not include this resource type";
        return authz_audit_denial(r->s, r->p, NULL, NULL, *reason);
    }
    return authz_check_principal(r->s, r->p, reason);
}

static bool same_person(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

int access_read_row(struct access_read *r, const struct store_row *row,
                    enum access_row_verdict *verdict, const char **reason)
{
    *verdict = ACCESS_ROW_UNKNOWN;
    *reason = NULL;
    if (!authz_type_allowed(r->p, row->type)) {
        r->type_refused = true;
        *verdict = ACCESS_ROW_REFUSED;
        *reason = "the access does not include this resource type";
        return authz_audit_denial(r->s, r->p, NULL, row->person_id, *reason);
    }
    if (!r->decided || !same_person(r->person_id, row->person_id)) {
        /* decided for the row's person (a copy: r outlives the row) */
        authz_scope_clear(&r->scope);
        free(r->own_person);
        r->own_person = row->person_id ? xstrdup(row->person_id) : NULL;
        r->person_id = r->own_person;
        r->decided = true;
        int rc = authz_scope_for_person(r->s, r->p, row->person_id, &r->scope);
        if (rc < 0) {
            r->scope.allowed = false;
            return rc;
        }
    }
    if (!r->scope.allowed && r->scope.person_refused) {
        /* another person's item answers like an unknown id (the refusal is
         * audited by the decision): ids are computable, and a refusal would
         * tell that someone has a record here */
        return WEFT_OK;
    }
    if (!r->scope.allowed) {
        *verdict = ACCESS_ROW_REFUSED;
        *reason = r->scope.reason ? r->scope.reason : "your access does not include this record";
        return WEFT_OK;
    }
    if (!authz_scope_allows(&r->scope, row->category, row->source_org)) {
        /* a withheld item answers like an unknown one (its existence does
         * not leak); the refusal is audited */
        return authz_audit_denial(r->s, r->p, r->purpose, row->person_id,
                                  "item withheld by access rules");
    }
    *verdict = ACCESS_ROW_SHOWN;
    return access_read_audit_rows(r, row, 1, NULL);
}

int access_read_get(struct access_read *r, const char *type, const char *id, int version,
                    struct store_row *row, enum access_row_verdict *verdict, const char **reason)
{
    *verdict = ACCESS_ROW_UNKNOWN;
    *reason = NULL;
    memset(row, 0, sizeof *row);
    int rc = store_resource_get(r->s, type, id, version, row);
    if (rc == WEFT_ENOTFOUND) {
        store_row_clear(row);
        /* refusals that do not depend on the item answer as they would for
         * an existing one; otherwise as for one the caller may not see */
        rc = access_read_check(r, type, reason);
        if (rc == 0 && *reason)
            *verdict = ACCESS_ROW_REFUSED;
        return rc;
    }
    if (rc == 0)
        rc = access_read_row(r, row, verdict, reason);
    if (rc != 0 || *verdict != ACCESS_ROW_SHOWN)
        store_row_clear(row);
    return rc;
}

/* The scope of person (not r's): decided once per run of rows of one person. */
static const struct authz_scope *other_scope(struct access_read *r, const char *person)
{
    if (!r->other_valid || !same_person(r->other_person, person)) {
        authz_scope_clear(&r->other);
        free(r->other_person);
        r->other_person = person ? xstrdup(person) : NULL;
        r->other_valid = true;
        r->other_ok = authz_scope_for_person(r->s, r->p, person, &r->other) == 0;
    }
    return r->other_ok ? &r->other : NULL;
}

int access_read_decide(struct access_read *r, const struct store_row *rows, int nrows, bool *hidden)
{
    int shown = 0;
    for (int i = 0; i < nrows; i++) {
        const struct store_row *row = &rows[i];
        const struct authz_scope *sc;
        if (r->decided && r->person_id && same_person(r->person_id, row->person_id)) {
            sc = &r->scope;
        } else if (r->decided && !r->person_id) {
            /* across people: the scope for no person first; a client's
             * reads then apply each person's objection (the store does it
             * for searches; history is read whole) */
            sc = &r->scope;
            if (authz_scope_allows(sc, row->category, row->source_org) && sc->objections_apply &&
                row->person_id)
                sc = other_scope(r, row->person_id);
        } else {
            sc = other_scope(r, row->person_id);
        }
        hidden[i] = !sc || !authz_scope_allows(sc, row->category, row->source_org);
        if (hidden[i])
            continue;
        shown++;
        r->rows_restricted = r->rows_restricted || sc->restricted;
        if (sc->objection && !r->rows_objection) {
            r->rows_objection = true;
            r->rows_objection_orgs = sc->norgs;
        }
    }
    return shown;
}

int access_read_history(struct access_read *r, const char *type, const char *id, int limit,
                        struct store_result *out, bool **hidden)
{
    memset(out, 0, sizeof *out);
    *hidden = NULL;
    int rc = store_history(r->s, type, id, limit, out);
    if (rc != 0)
        return rc;
    *hidden = xcalloc((size_t)out->nrows + 1, sizeof **hidden);
    access_read_decide(r, out->rows, out->nrows, *hidden);
    return WEFT_OK;
}

int access_read_ids(struct access_read *r, const char *type, const char *const *ids, int nids,
                    struct store_result *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    out->rows = xcalloc((size_t)nids + 1, sizeof *out->rows);
    int n = 0;
    for (int i = 0; i < nids; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = strcmp(ids[i], ids[j]) == 0;
        if (dup)
            continue;
        struct store_row *row = &out->rows[n];
        int rc = store_resource_get(r->s, type, ids[i], 0, row);
        if (rc != 0 || row->deleted) {
            store_row_clear(row);
            if (rc != 0 && rc != WEFT_ENOTFOUND) {
                out->nrows = n;
                store_result_clear(out);
                return rc;
            }
            continue;
        }
        n++;
    }
    bool *hidden = xcalloc((size_t)n + 1, sizeof *hidden);
    access_read_decide(r, out->rows, n, hidden);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (hidden[i]) {
            store_row_clear(&out->rows[i]);
            continue;
        }
        if (k != i)
            out->rows[k] = out->rows[i];
        k++;
    }
    out->nrows = k;
    free(hidden);
    return WEFT_OK;
}

/* Run the scoped query sq on the standby when r offers one and the read may
 * lag there (struct access_read, data), else on r->s. */
static int search_on(struct access_read *r, const struct store_query *sq, struct store_result *out)
{
    if (!r->data || r->data == r->s || !r->person_id)
        return store_search(r->s, sq, out);
    /* a later page reads at the snapshot of its first: the standby must have
     * replayed it, or the page would miss rows the first page counted */
    if (sq->snapshot > r->data_seen) {
        int64_t max_seq = 0, count = 0, now = 0;
        if (store_person_version(r->data, r->person_id, 0, &max_seq, &count, &now) != 0 ||
            now < sq->snapshot) {
            metrics_add("weft_db_reads_total", "db=\"primary\",why=\"behind\"", 1);
            return store_search(r->s, sq, out);
        }
        r->data_seen = now;
    }
    int rc = store_search(r->data, sq, out);
    if (rc == WEFT_ECONFLICT && sq->patient_check)
        return rc; /* the kept person is stale there: the caller asks again */
    if (rc == 0) {
        metrics_add("weft_db_reads_total", "db=\"standby\"", 1);
        if (out->snapshot > r->data_seen)
            r->data_seen = out->snapshot;
        return rc;
    }
    store_result_clear(out);
    memset(out, 0, sizeof *out);
    out->total = sq->want_total ? 0 : -1;
    r->data = NULL;
    r->data_failed = true;
    metrics_add("weft_db_reads_total", "db=\"primary\",why=\"failed\"", 1);
    return store_search(r->s, sq, out);
}

int access_read_search(struct access_read *r, const struct store_query *q, struct store_result *out)
{
    memset(out, 0, sizeof *out);
    out->total = q->want_total ? 0 : -1;
    r->scope_empty = false;
    struct store_query sq = *q;
    if (r->person_id) {
        sq.person_id = r->person_id;
        sq.patient_check = r->patient_check;
    }
    struct access_qbuf qb = {0};
    /* a type the principal's scopes do not cover (an app token's
     * patient/Type.rs, a client's system/Type.rs) is never fetched, also
     * when asked for on the way (a _revinclude) */
    if ((sq.type && !authz_type_allowed(r->p, sq.type)) ||
        !access_scope_query(&r->scope, &sq, &qb)) {
        access_qbuf_clear(&qb);
        out->snapshot = q->snapshot;
        r->scope_empty = true;
        return WEFT_OK;
    }
    int rc = search_on(r, &sq, out);
    access_qbuf_clear(&qb);
    if (rc == WEFT_ECONFLICT && sq.patient_check)
        r->person_stale = true;
    if (rc < 0)
        return rc;
    r->snapshot = out->snapshot;
    /* Defence in depth: the query applied the scope already. */
    int k = 0;
    for (int i = 0; i < out->nrows; i++) {
        if (!authz_scope_allows(&r->scope, out->rows[i].category, out->rows[i].source_org)) {
            store_row_clear(&out->rows[i]);
            continue;
        }
        if (k != i)
            out->rows[k] = out->rows[i];
        k++;
    }
    out->nrows = k;
    return WEFT_OK;
}

int access_read_hidden(struct access_read *r, int64_t snapshot, struct authz_hidden *out)
{
    return authz_scope_hidden(r->s, &r->scope, r->person_id, snapshot ? snapshot : r->snapshot,
                              out);
}

int access_read_audit(struct access_read *r, const char *what, int64_t count)
{
    r->audited = true;
    return authz_audit_access(r->s, r->p, r->purpose, r->person_id, what, count);
}

int access_read_audit_rows(struct access_read *r, const struct store_row *rows, int nrows,
                           const bool *hidden)
{
    r->audited = true;
    return authz_audit_rows(r->s, r->p, r->purpose, rows, nrows, hidden);
}

void access_read_close(struct access_read *r)
{
    authz_scope_clear(&r->scope);
    authz_scope_clear(&r->other);
    free(r->other_person);
    r->other_person = NULL;
    free(r->own_person);
    r->own_person = NULL;
}

int access_read(struct store *s, const struct principal *p, const char *purpose,
                const char *person_id, const struct store_query *q, struct store_result *rows,
                struct access_read_result *res)
{
    memset(res, 0, sizeof *res);
    memset(rows, 0, sizeof *rows);
    rows->total = -1;
    struct access_read r;
    int rc = access_read_open(&r, s, p, purpose, person_id);
    if (rc < 0) {
        access_read_close(&r);
        return rc;
    }
    if (!r.scope.allowed) {
        /* audited by the decision */
        res->refused = true;
        res->reason = r.scope.reason ? r.scope.reason : "your access does not include this record";
        access_read_close(&r);
        return WEFT_OK;
    }
    rc = access_read_search(&r, q, rows);
    if (rc == 0 && person_id)
        rc = access_read_hidden(&r, rows->snapshot, &res->hidden);
    if (rc == 0 && rows->nrows > 0)
        rc = access_read_audit_rows(&r, rows->rows, rows->nrows, NULL);
    else if (rc == 0) /* nothing returned is still a read: audited */
        rc = access_read_audit(&r, NULL, 0);
    access_read_close(&r);
    if (rc < 0)
        store_result_clear(rows);
    return rc;
}
