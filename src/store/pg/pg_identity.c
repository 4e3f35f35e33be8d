/*
 * pg_identity.c - the master person index's tables for PostgreSQL (the
 * model is sqlite_identity.c's: records with four blocking keys, append-only
 * decisions, the review queue, non-matches in both directions).
 *
 * Not built yet here: person_split and person_merge_of_local (identity
 * review's split and the merge lookup); they answer "not implemented on
 * PostgreSQL yet".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

static void p_double(struct pg_params *p, double d)
{
    pg_p_text(p, NULL);
    int i = p->n - 1;
    snprintf(p->num[i], sizeof p->num[i], "%.17g", d);
    p->v[i] = p->num[i];
}

int pg_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4])
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, r->org);
    pg_p_text(&p, r->source_id);
    pg_p_text(&p, r->demog);
    pg_p_text(&p, nz(r->nhs));
    pg_p_text(&p, nz(r->locals));
    for (int i = 0; i < 4; i++)
        pg_p_text(&p, nz(keys[i]));
    pg_p_text(&p, now);
    /* nothing waits for it: sent with the next statement (the bundle's put) */
    return pg_cmd_deferred(
        pg_of(s),
        "INSERT INTO identity_record AS x (org, source_id, demog, nhs, locals, k0, k1,"
        " k2, k3, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (org, source_id) DO UPDATE SET demog = excluded.demog,"
        " nhs = excluded.nhs, locals = excluded.locals, k0 = excluded.k0,"
        " k1 = excluded.k1, k2 = excluded.k2, k3 = excluded.k3,"
        " updated = excluded.updated WHERE x.demog IS DISTINCT FROM excluded.demog"
        " OR x.nhs IS DISTINCT FROM excluded.nhs"
        " OR x.locals IS DISTINCT FROM excluded.locals",
        &p);
}

#define REC_COLS "r.org, r.source_id, r.demog, r.nhs, r.locals, pl.person_id, p.nhs"
#define REC_JOIN                                                                                   \
    " FROM identity_record r LEFT JOIN person_local pl ON pl.org = r.org AND pl.system = $1"       \
    " AND pl.value = r.source_id LEFT JOIN person p ON p.id = pl.person_id"

static void rec_fill(const PGresult *res, int i, struct store_idrec *r)
{
    memset(r, 0, sizeof *r);
    r->org = pg_strdup(res, i, 0);
    r->source_id = pg_strdup(res, i, 1);
    r->demog = pg_strdup(res, i, 2);
    r->nhs = pg_strdup(res, i, 3);
    r->locals = pg_strdup(res, i, 4);
    r->person_id = pg_strdup(res, i, 5);
    r->person_nhs = pg_strdup(res, i, 6);
}

/* Every row of the statement appended to *out. */
static int collect(struct pg_store *ps, const char *sql, const struct pg_params *p,
                   struct store_idrec **out, int *n)
{
    int rc;
    PGresult *r = pg_run(ps, sql, p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows) {
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
        for (int i = 0; i < rows; i++)
            rec_fill(r, i, &(*out)[(*n)++]);
    }
    PQclear(r);
    return WEFT_OK;
}

/* pg_idrec_candidates' statement (without NHS numbers) for record ($6, $7,
 * $8) only when it is new: nothing when (org, link system, source id) is
 * in person_local (an uncorrelated test: the planner's one-time filter,
 * the blocks not read).  For pg_person_nhs_link's pipeline. */
#define KEY(k)                                                                                     \
    "(SELECT org, source_id, demog, nhs, locals FROM identity_record WHERE " k " AND nhs IS NULL"  \
    " AND (SELECT count(*) FROM (SELECT 1 FROM identity_record WHERE " k " AND nhs IS NULL"        \
    " LIMIT $5 + 1) c) <= $5 LIMIT $5)"
// clang-format off
const char pg_candidates_if_new_sql[] =
    "SELECT org, source_id, demog, nhs, locals FROM ("
    KEY("k0 = $1") " UNION " KEY("k1 = $2") " UNION " KEY("k2 = $3") " UNION " KEY("k3 = $4")
    ") u WHERE NOT EXISTS (SELECT 1 FROM person_local WHERE org = $6 AND system = $7"
    " AND value = $8) ORDER BY org, source_id";
// clang-format on
#undef KEY

int pg_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                        int cap, bool without_nhs, struct store_idrec **out, int *n)
{
    struct pg_params p = {0};
    for (int i = 0; i < 4; i++)
        pg_p_text(&p, nz(keys[i]));
    pg_p_int(&p, cap);
    /* A key's block only when it holds at most cap records (sqlite_identity.c):
     * the count is an uncorrelated subquery, so PostgreSQL runs it once and
     * skips the block whole (a one-time filter), never walking it.  Each
     * branch reads its rows itself, with LIMIT cap: with an all-alike block
     * the planner otherwise costs the branch as the whole block (and the
     * join back to the table as a scan of all of it), and above
     * jit_above_cost compiles the query on every call - 141 ms of 216 ms a
     * call on a 200,000-record block, 0.4 ms with the limit. */
#define KEY(k, cond)                                                                               \
    "(SELECT org, source_id, demog, nhs, locals FROM identity_record WHERE " k cond                \
    " AND (SELECT count(*) FROM (SELECT 1 FROM identity_record WHERE " k cond " LIMIT $5 + 1) c)"  \
    " <= $5 LIMIT $5)"
#define CANDIDATES(cond)                                                                           \
    "SELECT org, source_id, demog, nhs, locals, NULL, NULL FROM (" KEY(                            \
        "k0 = $1",                                                                                 \
        cond) " UNION " KEY("k1 = $2",                                                             \
                            cond) " UNION " KEY("k2 = $3",                                         \
                                                cond) " UNION " KEY("k3 = $4",                     \
                                                                    cond) ") u ORDER BY org, "     \
                                                                          "source_id"
    return without_nhs ? collect(pg_of(s), CANDIDATES(" AND nhs IS NULL"), &p, out, n)
                       : collect(pg_of(s), CANDIDATES(""), &p, out, n);
#undef CANDIDATES
#undef KEY
}

int pg_idrec_person(struct store *s, const char *link_system, struct store_idrec *r)
{
    struct pg_params p = {0};
    pg_p_text(&p, r->org);
    pg_p_text(&p, link_system);
    pg_p_text(&p, r->source_id);
    int rc;
    PGresult *res = pg_run(pg_of(s),
                           "SELECT pl.person_id, p.nhs FROM person_local pl LEFT JOIN person p"
                           " ON p.id = pl.person_id WHERE pl.org = $1 AND pl.system = $2"
                           " AND pl.value = $3",
                           &p, &rc);
    if (!res)
        return rc;
    if (PQntuples(res) > 0) {
        r->person_id = PQgetisnull(res, 0, 0) ? NULL : xstrdup(PQgetvalue(res, 0, 0));
        r->person_nhs = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return WEFT_OK;
}

int pg_idrec_get(struct store *s, const char *link_system, const char *org, const char *source_id,
                 struct store_idrec *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, link_system);
    pg_p_text(&p, org);
    pg_p_text(&p, source_id);
    struct store_idrec *rows = NULL;
    int n = 0;
    int rc = collect(pg_of(s), "SELECT " REC_COLS REC_JOIN " WHERE r.org = $2 AND r.source_id = $3",
                     &p, &rows, &n);
    if (rc == 0 && n == 0)
        rc = store_fail(s, WEFT_ENOTFOUND, "no such source record");
    if (rc == 0)
        *out = rows[0];
    free(rows);
    return rc;
}

int pg_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                       struct store_idrec **out, int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, link_system);
    pg_p_text(&p, person_id);
    return collect(pg_of(s),
                   "SELECT r.org, r.source_id, r.demog, r.nhs, r.locals, pl.person_id, p.nhs"
                   " FROM person_local pl JOIN identity_record r ON r.org = pl.org"
                   " AND r.source_id = pl.value LEFT JOIN person p ON p.id = pl.person_id"
                   " WHERE pl.person_id = $2 AND pl.system = $1 ORDER BY r.org, r.source_id",
                   &p, out, n);
}

int pg_idnonmatch_persons(struct store *s, const char *link_system,
                          int (*fn)(const char *person_id, void *), void *ctx)
{
    struct pg_params p = {0};
    pg_p_text(&p, link_system);
    int rc;
    PGresult *r =
        pg_run(pg_of(s),
               "SELECT DISTINCT pl.person_id FROM identity_nonmatch n JOIN person_local pl"
               " ON pl.org = n.org AND pl.system = $1 AND pl.value = n.source_id"
               " ORDER BY 1",
               &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && rc == 0; i++)
        rc = fn(PQgetvalue(r, i, 0), ctx);
    PQclear(r);
    return rc;
}

int pg_idrec_scan(struct store *s, const char *link_system,
                  int (*fn)(const struct store_idrec *, void *), void *ctx)
{
    /* in pages of (org, source_id), so a region's records are never all in
     * memory at once */
    struct pg_store *ps = pg_of(s);
    char *last_org = xstrdup(""), *last_id = xstrdup("");
    int rc = WEFT_OK;
    for (;;) {
        struct pg_params p = {0};
        pg_p_text(&p, link_system);
        pg_p_text(&p, last_org);
        pg_p_text(&p, last_id);
        PGresult *r = pg_run(ps,
                             "SELECT " REC_COLS REC_JOIN " WHERE (r.org, r.source_id) > ($2, $3)"
                             " ORDER BY r.org, r.source_id LIMIT 2000",
                             &p, &rc);
        if (!r)
            break;
        int rows = PQntuples(r);
        for (int i = 0; i < rows && rc == 0; i++) {
            struct store_idrec x;
            char **f[] = {&x.org,    &x.source_id, &x.demog,     &x.nhs,
                          &x.locals, &x.person_id, &x.person_nhs};
            for (int k = 0; k < 7; k++)
                *f[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
            rc = fn(&x, ctx);
        }
        if (rows > 0) {
            free(last_org);
            free(last_id);
            last_org = pg_strdup(r, rows - 1, 0);
            last_id = pg_strdup(r, rows - 1, 1);
        }
        PQclear(r);
        if (rc != 0 || rows < 2000)
            break;
    }
    free(last_org);
    free(last_id);
    return rc;
}

int pg_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    const char *v[] = {now,          d->action,       d->org,       d->source_id,
                       d->person_id, d->other_person, d->other_org, d->other_source_id};
    for (int i = 0; i < 8; i++)
        pg_p_text(&p, v[i]);
    p_double(&p, d->score);
    pg_p_int(&p, d->model_version);
    pg_p_text(&p, d->decided_by);
    if (d->merge_id)
        pg_p_int(&p, d->merge_id);
    else
        pg_p_text(&p, NULL);
    pg_p_text(&p, d->note);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO identity_decision (created, action, org, source_id,"
                         " person_id, other_person, other_org, other_source_id, score,"
                         " model_version, decided_by, merge_id, note) VALUES ($1, $2, $3, $4, $5,"
                         " $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    if (id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                       struct store_iddecision **out, int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, org);
    pg_p_text(&p, source_id);
    pg_p_int(&p, limit > 0 ? limit : 100);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, created, action, org, source_id, person_id, other_person,"
                         " other_org, other_source_id, score, model_version, decided_by, merge_id,"
                         " note FROM identity_decision WHERE $1::text IS NULL OR (org = $1 AND"
                         " source_id = $2) OR (other_org = $1 AND other_source_id = $2)"
                         " ORDER BY id DESC LIMIT $3",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++) {
        struct store_iddecision *d = &(*out)[(*n)++];
        memset(d, 0, sizeof *d);
        d->id = pg_int(r, i, 0);
        d->created = pg_strdup(r, i, 1);
        d->action = pg_strdup(r, i, 2);
        d->org = pg_strdup(r, i, 3);
        d->source_id = pg_strdup(r, i, 4);
        d->person_id = pg_strdup(r, i, 5);
        d->other_person = pg_strdup(r, i, 6);
        d->other_org = pg_strdup(r, i, 7);
        d->other_source_id = pg_strdup(r, i, 8);
        d->score = PQgetisnull(r, i, 9) ? 0 : strtod(PQgetvalue(r, i, 9), NULL);
        d->model_version = (int)pg_int(r, i, 10);
        d->decided_by = pg_strdup(r, i, 11);
        d->merge_id = pg_int(r, i, 12);
        d->note = pg_strdup(r, i, 13);
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_idreview_add(struct store *s, const struct store_idreview *rv, int64_t *id_out)
{
    if (id_out)
        *id_out = 0;
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, rv->org);
    pg_p_text(&p, rv->source_id);
    pg_p_text(&p, rv->other_org);
    pg_p_text(&p, rv->other_source_id);
    p_double(&p, rv->score);
    pg_p_int(&p, rv->model_version);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO identity_review (created, org, source_id, other_org,"
                         " other_source_id, score, model_version, status) SELECT $1, $2, $3, $4,"
                         " $5, $6::double precision, $7::integer, 'open' WHERE NOT EXISTS (SELECT 1"
                         " FROM identity_review WHERE (org = $2 AND source_id = $3 AND"
                         " other_org = $4 AND other_source_id = $5) OR (org = $4 AND source_id = $5"
                         " AND other_org = $2 AND other_source_id = $3))"
                         " ON CONFLICT DO NOTHING RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    if (PQntuples(r) && id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

#define REVIEW_COLS                                                                                \
    "id, created, org, source_id, other_org, other_source_id, score, model_version, status,"       \
    " decided_by, decided, decision_id"

static void review_fill(const PGresult *r, int i, struct store_idreview *v)
{
    memset(v, 0, sizeof *v);
    v->id = pg_int(r, i, 0);
    v->created = pg_strdup(r, i, 1);
    v->org = pg_strdup(r, i, 2);
    v->source_id = pg_strdup(r, i, 3);
    v->other_org = pg_strdup(r, i, 4);
    v->other_source_id = pg_strdup(r, i, 5);
    v->score = PQgetisnull(r, i, 6) ? 0 : strtod(PQgetvalue(r, i, 6), NULL);
    v->model_version = (int)pg_int(r, i, 7);
    v->status = pg_strdup(r, i, 8);
    v->decided_by = pg_strdup(r, i, 9);
    v->decided = pg_strdup(r, i, 10);
    v->decision_id = pg_int(r, i, 11);
}

int pg_idreview_list(struct store *s, const char *status, int limit, struct store_idreview **out,
                     int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, status);
    pg_p_int(&p, limit > 0 ? limit : 100);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " REVIEW_COLS " FROM identity_review WHERE $1::text IS NULL"
                         " OR status = $1 ORDER BY id LIMIT $2",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++)
        review_fill(r, i, &(*out)[(*n)++]);
    PQclear(r);
    return WEFT_OK;
}

int pg_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                bool *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, link_system);
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT EXISTS (SELECT 1 FROM person_local pl JOIN identity_review v"
                         " ON v.org = pl.org AND v.source_id = pl.value WHERE pl.person_id = $2"
                         " AND pl.system = $1 AND v.status = 'open') OR EXISTS (SELECT 1 FROM"
                         " person_local pl JOIN identity_review v ON v.other_org = pl.org AND"
                         " v.other_source_id = pl.value WHERE pl.person_id = $2"
                         " AND pl.system = $1 AND v.status = 'open')",
                         &p, &rc);
    if (!r)
        return rc;
    *out = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return WEFT_OK;
}

int pg_idreview_count(struct store *s, const char *status, int64_t *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, status);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT count(*) FROM identity_review WHERE $1::text IS NULL"
                         " OR status = $1",
                         &p, &rc);
    if (!r)
        return rc;
    *out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_idreview_get(struct store *s, int64_t id, struct store_idreview *out)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    int rc;
    PGresult *r =
        pg_run(pg_of(s), "SELECT " REVIEW_COLS " FROM identity_review WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : store_fail(s, WEFT_ENOTFOUND, "no such review");
    if (rc == 0)
        review_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                       int64_t decision_id)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, status);
    pg_p_text(&p, by);
    pg_p_text(&p, now);
    pg_p_int(&p, decision_id);
    pg_p_int(&p, id);
    int64_t changed = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE identity_review SET status = $1, decided_by = $2, decided = $3,"
                    " decision_id = $4 WHERE id = $5 AND status = 'open'",
                    &p, &changed);
    if (rc == 0 && changed == 0)
        return store_fail(s, WEFT_ECONFLICT, "review %lld is not open", (long long)id);
    return rc;
}

int pg_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                      const char *other_org, const char *other_source_id, int64_t decision_id)
{
    struct pg_params p = {0};
    pg_p_text(&p, org);
    pg_p_text(&p, source_id);
    pg_p_text(&p, other_org);
    pg_p_text(&p, other_source_id);
    pg_p_int(&p, decision_id);
    return pg_cmd(pg_of(s),
                  "INSERT INTO identity_nonmatch (org, source_id, other_org, other_source_id,"
                  " decision_id) VALUES ($1, $2, $3, $4, $5), ($3, $4, $1, $2, $5)"
                  " ON CONFLICT DO NOTHING",
                  &p, NULL);
}

int pg_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                       struct store_idrec **out, int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, org);
    pg_p_text(&p, source_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT other_org, other_source_id FROM identity_nonmatch"
                         " WHERE org = $1 AND source_id = $2",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++) {
        struct store_idrec *x = &(*out)[(*n)++];
        memset(x, 0, sizeof *x);
        x->org = pg_strdup(r, i, 0);
        x->source_id = pg_strdup(r, i, 1);
    }
    PQclear(r);
    return WEFT_OK;
}

/* ---- many at once (relink): arrays of MANY_CHUNK rows a round trip ---------------- */

#define MANY_CHUNK 2000

static void arr_num(struct buf *b, const char *fmt, double d, int64_t i, bool null)
{
    char t[40];
    if (fmt[0] == 'g')
        snprintf(t, sizeof t, "%.17g", d);
    else
        snprintf(t, sizeof t, "%lld", (long long)i);
    pg_array_add(b, null ? NULL : t);
}

/* The many forms below send a chunk of rows as one array literal a column:
 * each array started empty, then closed and made the next parameter. */
static void arrays_open(struct buf *a, int n)
{
    for (int k = 0; k < n; k++) {
        buf_reset(&a[k]);
        buf_addc(&a[k], '{');
    }
}

static void arrays_params(struct buf *a, int n, struct pg_params *p)
{
    for (int k = 0; k < n; k++) {
        buf_addc(&a[k], '}');
        pg_p_text(p, a[k].data);
    }
}

int pg_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n)
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    enum { NA = 12 };
    struct buf a[NA];
    for (int k = 0; k < NA; k++)
        buf_init(&a[k]);
    int rc = WEFT_OK;
    for (size_t i = 0; rc == 0 && i < n; i += MANY_CHUNK) {
        arrays_open(a, NA);
        for (size_t j = i; j < n && j < i + MANY_CHUNK; j++) {
            const struct store_iddecision *x = &d[j];
            const char *t[] = {x->action,       x->org,       x->source_id,      x->person_id,
                               x->other_person, x->other_org, x->other_source_id};
            for (int k = 0; k < 7; k++)
                pg_array_add(&a[k], t[k]);
            arr_num(&a[7], "g", x->score, 0, false);
            arr_num(&a[8], "d", 0, x->model_version, false);
            pg_array_add(&a[9], x->decided_by);
            arr_num(&a[10], "d", 0, x->merge_id, x->merge_id == 0);
            pg_array_add(&a[11], x->note);
        }
        struct pg_params p = {0};
        pg_p_text(&p, now);
        arrays_params(a, NA, &p);
        rc = pg_cmd(ps,
                    "INSERT INTO identity_decision (created, action, org, source_id, person_id,"
                    " other_person, other_org, other_source_id, score, model_version, decided_by,"
                    " merge_id, note) SELECT $1, t.a, t.o, t.s, t.p, t.op, t.oo, t.os, t.sc, t.mv,"
                    " t.by, t.mid, t.note FROM unnest($2::text[], $3::text[], $4::text[],"
                    " $5::text[], $6::text[], $7::text[], $8::text[], $9::double precision[],"
                    " $10::integer[], $11::text[], $12::bigint[], $13::text[]) WITH ORDINALITY"
                    " AS t(a, o, s, p, op, oo, os, sc, mv, by, mid, note, n) ORDER BY t.n",
                    &p, NULL);
    }
    for (int k = 0; k < NA; k++)
        buf_release(&a[k]);
    return rc;
}

int pg_idreview_add_many(struct store *s, const struct store_idreview *rv, size_t n, long *added)
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    enum { NA = 6 };
    struct buf a[NA];
    for (int k = 0; k < NA; k++)
        buf_init(&a[k]);
    int rc = WEFT_OK;
    for (size_t i = 0; rc == 0 && i < n; i += MANY_CHUNK) {
        arrays_open(a, NA);
        for (size_t j = i; j < n && j < i + MANY_CHUNK; j++) {
            const struct store_idreview *x = &rv[j];
            pg_array_add(&a[0], x->org);
            pg_array_add(&a[1], x->source_id);
            pg_array_add(&a[2], x->other_org);
            pg_array_add(&a[3], x->other_source_id);
            arr_num(&a[4], "g", x->score, 0, false);
            arr_num(&a[5], "d", 0, x->model_version, false);
        }
        struct pg_params p = {0};
        pg_p_text(&p, now);
        arrays_params(a, NA, &p);
        int64_t got = 0;
        rc = pg_cmd(ps,
                    "INSERT INTO identity_review (created, org, source_id, other_org,"
                    " other_source_id, score, model_version, status) SELECT $1, t.o, t.s, t.oo,"
                    " t.os, t.sc, t.mv, 'open' FROM unnest($2::text[], $3::text[], $4::text[],"
                    " $5::text[], $6::double precision[], $7::integer[]) WITH ORDINALITY AS"
                    " t(o, s, oo, os, sc, mv, n) WHERE NOT EXISTS (SELECT 1 FROM identity_review"
                    " r WHERE (r.org = t.o AND r.source_id = t.s AND r.other_org = t.oo AND"
                    " r.other_source_id = t.os) OR (r.org = t.oo AND r.source_id = t.os AND"
                    " r.other_org = t.o AND r.other_source_id = t.s)) ORDER BY t.n"
                    " ON CONFLICT DO NOTHING",
                    &p, &got);
        *added += (long)got;
    }
    for (int k = 0; k < NA; k++)
        buf_release(&a[k]);
    return rc;
}
