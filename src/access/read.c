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
    int rc = authz_scope_for_person(s, p, person_id, &r->scope);
    if (rc < 0)
        r->scope.allowed = false;
    return rc;
}

int access_read_search(struct access_read *r, const struct store_query *q, struct store_result *out)
{
    memset(out, 0, sizeof *out);
    out->total = q->want_total ? 0 : -1;
    struct store_query sq = *q;
    if (r->person_id)
        sq.person_id = r->person_id;
    struct access_qbuf qb = {0};
    if (!access_scope_query(&r->scope, &sq, &qb)) {
        access_qbuf_clear(&qb);
        out->snapshot = q->snapshot;
        return WEFT_OK;
    }
    int rc = store_search(r->s, &sq, out);
    access_qbuf_clear(&qb);
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
