/*
 * pg_search.c - store_search() for PostgreSQL: one SELECT built from the
 * query, run against a snapshot, with keyset paging; the same results,
 * order, cursors and totals as sqlite_search.c (which explains the snapshot
 * rule and the cursor "KEYHEX.ID").
 *
 * The snapshot is the writers' horizon when the first page is read
 * (PG_SNAP_SQL: the highest seq below which nothing is still in flight;
 * pg_int.h, "Writers"): no version with a seq at or below it can commit
 * later, so later pages see exactly the same set of versions.  Text
 * comparisons are bytewise ("C" collation on the columns, pg_migrate.c),
 * as SQLite's BINARY, so a page boundary falls in the same place.
 *
 * A search is one statement, so one round trip and one database snapshot
 * (a statement sees one MVCC snapshot even outside a transaction): when the
 * query has no store snapshot yet (a first page), the statement reads the
 * horizon (PG_SNAP_SQL: no seq at or below it is still uncommitted) and
 * the filters use it; the page is
 * the rows whole, ORDER BY key, id LIMIT n + 1 (the extra row says whether
 * there is a next page) - the planner's top-N sort over the person's index
 * does what sqlite_search.c's streamed page does by hand; and the total,
 * when asked for, is a scalar subquery of the same statement with the same
 * filters.  The page is LEFT JOINed to the one row of the snapshot, so an
 * empty page still returns the snapshot and the total.  pg_search explains
 * the statement's two forms.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "store/paging.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

struct pq {
    struct buf sql;
    struct pg_params p;
    bool overflow;
};

/* Add a parameter; its $n placeholder into the SQL. */
static void arg_text(struct pq *q, const char *t)
{
    if (q->p.n >= PG_MAXP) {
        q->overflow = true;
        buf_adds(&q->sql, "NULL");
        return;
    }
    pg_p_text(&q->p, t);
    buf_addf(&q->sql, "$%d", q->p.n);
}

static void arg_int(struct pq *q, int64_t v)
{
    if (q->p.n >= PG_MAXP) {
        q->overflow = true;
        buf_adds(&q->sql, "NULL");
        return;
    }
    pg_p_int(&q->p, v);
    buf_addf(&q->sql, "$%d::bigint", q->p.n);
}

static void in_list(struct pq *q, const char *col, const char *const *vals, int n)
{
    if (!vals || n <= 0)
        return;
    buf_addf(&q->sql, " AND %s IN (", col);
    for (int i = 0; i < n; i++) {
        if (i)
            buf_addc(&q->sql, ',');
        arg_text(q, vals[i]);
    }
    buf_addc(&q->sql, ')');
}

static const char *sort_expr(enum store_sort s)
{
    switch (s) {
    case STORE_SORT_DATE:
    case STORE_SORT_DATE_DESC:
        return "COALESCE(r.effective, '')";
    case STORE_SORT_LASTUPDATED:
    case STORE_SORT_LASTUPDATED_DESC:
        return "r.last_updated";
    case STORE_SORT_ID:
    case STORE_SORT_SEQ:
        break;
    }
    return NULL;
}

static bool sort_desc(enum store_sort s)
{
    return s == STORE_SORT_DATE_DESC || s == STORE_SORT_LASTUPDATED_DESC;
}

static char *text_hex(const char *s)
{
    size_t n = strlen(s);
    char *o = xmalloc(2 * n + 1);
    hex_encode(s, n, o);
    return o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Split cursor "KEYHEX.ID" into key and id (malloc'd); false when malformed. */
static bool cursor_parse(const char *c, char **key, char **id)
{
    const char *dot = strchr(c, '.');
    if (!dot || (dot - c) % 2 != 0 || strlen(dot + 1) == 0 || strlen(dot + 1) > 64)
        return false;
    size_t n = (size_t)(dot - c) / 2;
    char *k = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(c[2 * i]), lo = hexval(c[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(k);
            return false;
        }
        k[i] = (char)(hi << 4 | lo);
    }
    k[n] = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-' || *p == '.')) {
            free(k);
            return false;
        }
    }
    *key = k;
    *id = xstrdup(dot + 1);
    return true;
}

static bool seq_parse(const char *k, int64_t *seq)
{
    size_t n = strlen(k);
    if (n == 0 || n > 18 || strspn(k, "0123456789") != n)
        return false;
    *seq = strtoll(k, NULL, 10);
    return true;
}

static char *lower_dup(const char *s)
{
    char *o = xstrdup(s);
    for (char *p = o; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return o;
}

/* Everything after FROM that filters (shared by the page and the total);
 * snap is the SQL of the snapshot seq (a parameter or the CTE's value).
 * Lower-cased term values are appended to owned (freed by the caller after
 * the statement ran). */
static void add_filters(struct pq *w, const struct store_query *q, const char *snap, char **owned,
                        int *nowned)
{
    /* r.seq + 0: the snapshot bound passes all but the newest rows, so it
     * must not be an index condition; as one, the planner ANDed a bitmap of
     * the whole primary key (every seq below the snapshot) with the
     * person's index rows for the total: 1.7-2.0 ms a count on a
     * 15,000-resource store, growing with it, against 0.3 ms as a filter */
    buf_addf(&w->sql,
             " FROM resource r WHERE r.seq + 0 <= %s AND (r.next_seq IS NULL OR r.next_seq > %s)"
             " AND NOT r.deleted",
             snap, snap);
    if (q->type) {
        buf_adds(&w->sql, " AND r.type = ");
        arg_text(w, q->type);
    }
    if (q->person_id) {
        buf_adds(&w->sql, " AND r.person_id = ");
        arg_text(w, q->person_id);
    } else {
        in_list(w, "r.person_id", q->person_ids, q->nperson_ids);
    }
    if (!q->type)
        in_list(w, "r.type", q->types, q->ntypes);
    in_list(w, "r.category", q->categories, q->ncategories);
    in_list(w, "r.source_org", q->source_orgs, q->nsource_orgs);
    if (q->objections) {
        buf_adds(&w->sql, " AND (r.person_id IS NULL OR");
        if (q->objection_org) {
            buf_adds(&w->sql, " r.source_org = ");
            arg_text(w, q->objection_org);
            buf_adds(&w->sql, " OR");
        }
        buf_adds(&w->sql, " NOT EXISTS (SELECT 1 FROM objection o WHERE o.person_id = r.person_id"
                          " AND o.status = 'upheld'))");
    }
    if (q->codes && q->ncodes > 0) {
        buf_adds(&w->sql, " AND (");
        for (int i = 0; i < q->ncodes; i++) {
            if (i)
                buf_adds(&w->sql, " OR ");
            if (strchr(q->codes[i], '|')) {
                buf_adds(&w->sql, "(r.code = ");
                arg_text(w, q->codes[i]);
                buf_adds(&w->sql, " OR r.seq IN (SELECT seq FROM resource_term"
                                  " WHERE param = 'code' AND value = lower(");
            } else {
                buf_adds(&w->sql, "(substring(r.code from position('|' in r.code) + 1) = ");
                arg_text(w, q->codes[i]);
                buf_adds(&w->sql, " OR r.seq IN (SELECT seq FROM resource_term"
                                  " WHERE param = 'code-any' AND value = lower(");
            }
            arg_text(w, q->codes[i]);
            buf_adds(&w->sql, "::text)))");
        }
        buf_addc(&w->sql, ')');
    }
    static const struct {
        size_t off;
        const char *sql;
    } ranges[] = {
        {offsetof(struct store_query, date_ge), " AND r.effective >= "},
        {offsetof(struct store_query, date_lt), " AND r.effective < "},
        {offsetof(struct store_query, lastupd_ge), " AND r.last_updated >= "},
        {offsetof(struct store_query, lastupd_lt), " AND r.last_updated < "},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const char *v = *(const char *const *)((const char *)q + ranges[i].off);
        if (v) {
            buf_adds(&w->sql, ranges[i].sql);
            arg_text(w, v);
        }
    }
    /* search-index conditions (search-index-3, pg_migrate.c: each row a
     * posting list, its seqs a bigint[]) */
    for (int i = 0; i < q->nix && q->type; i++) {
        const struct store_ixcond *c = &q->ix[i];
        buf_adds(&w->sql, " AND r.seq IN (");
        for (int k = 0; k < c->nvals; k++) {
            const struct store_ixval *v = &c->vals[k];
            buf_adds(&w->sql, k ? " UNION ALL SELECT unnest(x.seqs) FROM search_index x"
                                  " WHERE x.param = "
                                : "SELECT unnest(x.seqs) FROM search_index x WHERE x.param = ");
            arg_int(w, store_ix_param_id(q->type, c->param));
            if (v->op == STORE_IX_EQ) {
                buf_adds(&w->sql, " AND x.value = ");
                arg_text(w, v->a);
            } else if (v->op == STORE_IX_PREFIX) {
                buf_adds(&w->sql, " AND x.value >= ");
                arg_text(w, v->a);
                buf_addf(&w->sql, " AND x.value < $%d::text || chr(1114111)", w->p.n);
            } else {
                if (v->a) {
                    buf_adds(&w->sql, " AND x.value >= ");
                    arg_text(w, v->a);
                }
                if (v->b) {
                    buf_adds(&w->sql, " AND x.value <= ");
                    arg_text(w, v->b);
                }
            }
        }
        buf_addc(&w->sql, ')');
    }
    for (int i = 0; i < q->nterms; i++) {
        const struct store_term *t = &q->terms[i];
        char *v = lower_dup(t->value ? t->value : "");
        owned[(*nowned)++] = v;
        buf_adds(&w->sql, " AND r.seq IN (SELECT seq FROM resource_term WHERE param = ");
        arg_text(w, t->param);
        if (t->prefix) {
            /* value >= p AND value < p || U+10FFFF: every string with prefix p */
            buf_adds(&w->sql, " AND value >= ");
            arg_text(w, v);
            buf_addf(&w->sql, " AND value < $%d::text || chr(1114111))", w->p.n);
        } else {
            buf_adds(&w->sql, " AND value = ");
            arg_text(w, v);
            buf_addc(&w->sql, ')');
        }
    }
}

/* Whether q's filters (as add_filters wrote them: filters) are only the
 * snapshot read by the statement, a type ($1) and a person ($2): the same
 * text as those of a query with nothing else set.  Any other condition (a
 * scope's categories or organisations, objections, codes, dates, terms, the
 * search index) makes the text differ. */
static bool only_person_type(const struct store_query *q, const char *snap_sql, const char *filters)
{
    if (q->snapshot > 0 || !q->type || !q->person_id)
        return false;
    struct store_query plain;
    memset(&plain, 0, sizeof plain);
    plain.type = q->type;
    plain.person_id = q->person_id;
    struct pq ref = {.sql = BUF_INIT};
    add_filters(&ref, &plain, snap_sql, NULL, NULL);
    bool same = !ref.overflow && strcmp(ref.sql.data, filters) == 0 && ref.p.n == 2;
    buf_release(&ref.sql);
    return same;
}

/* Whether s is well-formed UTF-8 (shortest forms, no surrogates). */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xe0) == 0xc0 ? 1
                : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3
                                      : -1;
        if (n < 0 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return false;
        unsigned cp = n == 0 ? *p : *p & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += n + 1;
    }
    return true;
}

/* PostgreSQL refuses text that is not UTF-8, where SQLite compares the
 * bytes and finds nothing: a query with such a value cannot match a stored
 * (valid) value, so it is answered as SQLite answers it - no rows - instead
 * of failing.  (A prefix ending in a cut multi-byte sequence is the one case
 * SQLite could match; the FHIR layer sends whole characters.) */
static bool query_utf8_ok(const struct store_query *q)
{
    const char *one[] = {q->type,       q->person_id,  q->date_ge,      q->date_lt,
                         q->lastupd_ge, q->lastupd_lt, q->objection_org};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (one[i] && !utf8_ok(one[i]))
            return false;
    for (int i = 0; i < q->ncategories; i++)
        if (q->categories[i] && !utf8_ok(q->categories[i]))
            return false;
    for (int i = 0; i < q->ntypes; i++)
        if (q->types[i] && !utf8_ok(q->types[i]))
            return false;
    for (int i = 0; i < q->ncodes; i++)
        if (q->codes[i] && !utf8_ok(q->codes[i]))
            return false;
    for (int i = 0; i < q->nsource_orgs; i++)
        if (q->source_orgs[i] && !utf8_ok(q->source_orgs[i]))
            return false;
    for (int i = 0; i < q->nterms; i++)
        if ((q->terms[i].param && !utf8_ok(q->terms[i].param)) ||
            (q->terms[i].value && !utf8_ok(q->terms[i].value)))
            return false;
    return true;
}

#define ROW_COLS_R                                                                                 \
    "r.seq, r.id, r.type, r.version, r.deleted, r.person_id, r.category, r.source_org,"            \
    " r.source_id, r.feed, r.effective, r.code, r.status, r.last_updated, r.json"
#define ROW_NCOLS 15

/* Columns of the statement after the row's: the sort key, the snapshot, the
 * total (NULL when not asked for), and with q->patient_check the Patient's
 * person. */
#define COL_KEY ROW_NCOLS
#define COL_SNAP (ROW_NCOLS + 1)
#define COL_TOTAL (ROW_NCOLS + 2)
#define COL_CHECK (ROW_NCOLS + 3) /* the Patient's person, with patient_check */

/* The order of a page: by seq, or by the sort key then id, or by id alone
 * (desc: the other way); text bytewise, as the "C" collation compares. */
struct page_sort {
    bool by_seq, by_key, desc;
};

static int page_cmp(const PGresult *r, int a, int b, const struct page_sort *o)
{
    int c = 0;
    if (o->by_seq) {
        int64_t x = pg_int(r, a, 0), y = pg_int(r, b, 0);
        c = x < y ? -1 : x > y;
    } else {
        if (o->by_key)
            c = strcmp(PQgetvalue(r, a, COL_KEY), PQgetvalue(r, b, COL_KEY));
        if (c == 0)
            c = strcmp(PQgetvalue(r, a, 1), PQgetvalue(r, b, 1));
        if (o->desc)
            c = -c;
    }
    return c;
}

/* The rows of r (n) in the page's order, as indexes (malloc'd): an
 * insertion sort, one comparison a row when the server sent them in order
 * (as it does: the page's ORDER BY ... LIMIT is read by a join with one
 * row), correct whatever order it chose. */
static int *page_order(const PGresult *r, int n, const struct page_sort *o)
{
    int *ord = xcalloc((size_t)n + 1, sizeof *ord);
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && page_cmp(r, ord[j - 1], i, o) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    return ord;
}

int pg_search(struct store *s, const struct store_query *q, struct store_result *out)
{
    struct pg_store *ps = pg_of(s);
    memset(out, 0, sizeof *out);
    out->total = -1;
    int limit = q->limit > 0 ? q->limit : 100;
    char **owned = xcalloc((size_t)(q->nterms > 0 ? q->nterms : 0) * 2 + 1, sizeof *owned);
    int nowned = 0;
    char *ckey = NULL, *cid = NULL;
    if (q->after && !cursor_parse(q->after, &ckey, &cid)) {
        free(owned);
        return store_fail(s, WEFT_EINVAL, "malformed paging cursor");
    }
    int rc;
    if (!query_utf8_ok(q) || (ckey && !utf8_ok(ckey))) {
        /* no rows; the snapshot still as a first page reports it (and a
         * kept person is still checked: no rows of the wrong person's
         * record is not the answer for the right one) */
        int64_t snap = q->snapshot;
        rc = WEFT_OK;
        if (q->patient_check) {
            char *now = NULL;
            rc = pg_resource_person(s, "Patient", q->patient_check, &now);
            bool same = rc == 0 && now && q->person_id && strcmp(now, q->person_id) == 0;
            free(now);
            if (rc == 0 || rc == WEFT_ENOTFOUND)
                rc = same ? WEFT_OK : WEFT_ECONFLICT;
            if (rc == WEFT_ECONFLICT) {
                pg_patient_forget(ps, q->patient_check);
                rc = store_fail(s, WEFT_ECONFLICT, "the patient's person has changed");
            }
        }
        if (rc == 0 && snap <= 0)
            rc = pg_snapshot_now(ps, &snap);
        out->snapshot = snap;
        if (q->want_total)
            out->total = 0;
        free(owned);
        free(ckey);
        free(cid);
        return rc;
    }
    const char *sk = sort_expr(q->sort);
    bool desc = sort_desc(q->sort);
    bool by_seq = q->sort == STORE_SORT_SEQ;
    struct pq w = {.sql = BUF_INIT};
    PGresult *r = NULL;
    rc = WEFT_OK;
    /* Two forms of the statement.  The plain one (a first page of one
     * person's items of one type, every later page, every search without a
     * total):
     *
     *   SELECT page.*, snap.s, snap.total [, check]
     *   FROM (SELECT snap.s, TOTAL AS total
     *         FROM (SELECT SNAPSHOT AS s OFFSET 0) snap OFFSET 0) snap
     *   LEFT JOIN LATERAL (SELECT ROW, KEY FILTERS ORDER BY .. LIMIT n) page
     *   ON true
     *
     * - no CTE: the page's rows are not materialised and the plan has about
     * half the nodes of the CTE form, whose set-up was a large share of a
     * search of a few rows (BENCHMARKS.md, pg12-search3).  Each OFFSET 0
     * keeps the planner from pulling a subquery up: the inner one keeps the
     * snapshot a value computed once, not an expression copied into every
     * filter; the outer one keeps TOTAL in the one-row subquery, evaluated
     * once - pulled up, a count that refers to the snapshot became a
     * subplan of the outer select list, run once per row of the page (a
     * $everything page of 100: 100 counts, 30 ms).  On a first page TOTAL
     * is evaluated always, so this form is used there only when the count
     * is the index-only one (only_person_type: a person's items of one type,
     * nothing else), which costs less than materialising the page.  The
     * lazy form, for every other first page with a total (a filter such as
     * a code may pass a few of a person's thousands of items: a count
     * would read them all again after the page did): the page a CTE,
     * counted only when it is full. */
    /* the filters first, alone: their text is used twice (page and total),
     * with the same parameters; the snapshot's parameter, if any, after
     * them (only_person_type: $1 and $2 are the type and the person) */
    add_filters(&w, q, "snap.s", owned, &nowned);
    char *filters = buf_detach(&w.sql, NULL); /* w.sql is empty again */
    bool index_count = q->want_total && !cid && only_person_type(q, "snap.s", filters);
    bool lazy = q->want_total && !cid && !index_count;
    if (lazy) {
        /* again, naming the CTE's snapshot: the same text and parameters */
        free(filters);
        for (int i = 0; i < nowned; i++)
            free(owned[i]);
        nowned = 0;
        w.p.n = 0;
        w.overflow = false;
        add_filters(&w, q, "(SELECT s FROM snap)", owned, &nowned);
        filters = buf_detach(&w.sql, NULL);
    }
    int snap_param = 0;
    if (q->snapshot > 0) {
        pg_p_int(&w.p, q->snapshot);
        snap_param = w.p.n;
    }
    struct buf snap_val = BUF_INIT; /* the snapshot's SQL */
    if (snap_param)
        buf_addf(&snap_val, "$%d::bigint", snap_param);
    else
        buf_adds(&snap_val, PG_SNAP_SQL);
    if (lazy)
        buf_addf(&w.sql, "WITH snap AS (SELECT %s AS s), page AS (", snap_val.data);
    buf_addf(&w.sql, "SELECT " ROW_COLS_R ", %s AS k%s", sk ? sk : "NULL::text", filters);
    const char *cmp = desc ? "<" : ">";
    if (cid && by_seq) {
        int64_t after_seq;
        if (!seq_parse(ckey, &after_seq)) {
            buf_release(&snap_val);
            rc = store_fail(s, WEFT_EINVAL, "malformed paging cursor");
            goto done;
        }
        buf_adds(&w.sql, " AND r.seq > ");
        arg_int(&w, after_seq);
    } else if (cid) {
        if (sk) {
            buf_addf(&w.sql, " AND (%s %s ", sk, cmp);
            arg_text(&w, ckey);
            buf_addf(&w.sql, " OR (%s = $%d AND r.id %s ", sk, w.p.n, cmp);
            arg_text(&w, cid);
            buf_adds(&w.sql, "))");
        } else {
            buf_addf(&w.sql, " AND r.id %s ", cmp);
            arg_text(&w, cid);
        }
    }
    const char *dir = desc ? " DESC" : "";
    struct page_sort ps_sort = {by_seq, sk != NULL, desc};
    if (by_seq)
        buf_adds(&w.sql, " ORDER BY r.seq");
    else if (sk)
        buf_addf(&w.sql, " ORDER BY %s%s, r.id%s", sk, dir, dir);
    else
        buf_addf(&w.sql, " ORDER BY r.id%s", dir);
    buf_adds(&w.sql, " LIMIT ");
    arg_int(&w, (int64_t)limit + 1);
    char *page_sql = buf_detach(&w.sql, NULL);
    if (lazy) {
        /* the first page holds every row there is, or the count */
        buf_addf(&w.sql,
                 "%s) SELECT page.*, snap.s, CASE WHEN (SELECT count(*) FROM page) <= %d"
                 " THEN (SELECT count(*) FROM page) ELSE (SELECT count(*)%s) END",
                 page_sql, limit, filters);
    } else {
        buf_adds(&w.sql, "SELECT page.*, snap.s, snap.total");
    }
    if (q->patient_check) {
        /* the Patient's current person in this statement's snapshot (the
         * caller's may be a kept one: store_patient_person_kept) */
        buf_adds(&w.sql, ", (SELECT c.person_id FROM resource c WHERE c.id = ");
        arg_text(&w, q->patient_check);
        buf_adds(&w.sql, " AND c.type = 'Patient' AND c.next_seq IS NULL AND NOT c.deleted)");
    }
    /* no ORDER BY here: the page is put in order below (page_order), which
     * costs nothing when the server's order is already that of the page's
     * own ORDER BY - a sort of the page's whole rows (their JSON) there was
     * a large share of the statement (pgbench of the median patient's
     * statement: 1.06-1.45 ms with it, 0.54-0.93 ms without, alternating,
     * on a loaded machine) */
    if (lazy) {
        buf_adds(&w.sql, " FROM snap LEFT JOIN page ON true");
    } else {
        buf_adds(&w.sql, " FROM (SELECT snap.s, ");
        if (!q->want_total) {
            buf_adds(&w.sql, "NULL::bigint");
        } else if (index_count) {
            /* a person's items of one type, on a first page (the snapshot
             * read by this statement): every version of the person's items
             * counted less those superseded or deleted, both index-only
             * scans (no heap row read where the visibility map allows).
             * Exactly the rows the filters pass when the snapshot is the
             * newest seq this statement sees (no writer in flight holds it
             * lower: pg_int.h, "Writers"): then every visible seq is <= the
             * snapshot, and a next_seq is visible only with the newer
             * version it names (one transaction), so the snapshot bounds
             * reduce to next_seq IS NULL; and no other condition applies
             * (checked by only_person_type).  When a writer in flight holds
             * the snapshot lower, versions above it are visible, and the
             * plain count at the snapshot is taken instead.  $1 and $2 are
             * the type and the person. */
            buf_addf(&w.sql,
                     "CASE WHEN snap.s < (SELECT max(seq) FROM resource) THEN (SELECT count(*)%s)"
                     " ELSE (SELECT count(*) FROM resource r WHERE r.type = $1 AND"
                     " r.person_id = $2) - (SELECT count(*) FROM resource r WHERE"
                     " r.type = $1 AND r.person_id = $2 AND (r.next_seq IS NOT NULL"
                     " OR r.deleted)) END",
                     filters);
        } else {
            buf_addf(&w.sql, "(SELECT count(*)%s)", filters);
        }
        buf_addf(&w.sql,
                 " AS total FROM (SELECT %s AS s OFFSET 0) snap OFFSET 0) snap"
                 " LEFT JOIN LATERAL (%s)"
                 " page ON true",
                 snap_val.data, page_sql);
    }
    free(page_sql);
    buf_release(&snap_val);
    if (w.overflow) {
        rc = store_fail(s, WEFT_ETOOBIG, "search has too many parameters");
        goto done;
    }
    r = pg_run_text(ps, w.sql.data, &w.p, &rc);
    if (!r)
        goto done;
    int n = PQntuples(r);
    if (n < 1) {
        rc = store_fail(s, WEFT_EDB, "search returned no snapshot row");
        goto done;
    }
    if (q->patient_check && (PQgetisnull(r, 0, COL_CHECK) || !q->person_id ||
                             strcmp(PQgetvalue(r, 0, COL_CHECK), q->person_id) != 0)) {
        pg_patient_forget(ps, q->patient_check);
        rc = store_fail(s, WEFT_ECONFLICT, "the patient's person has changed");
        goto done;
    }
    out->snapshot = pg_int(r, 0, COL_SNAP);
    if (q->want_total)
        out->total = pg_int(r, 0, COL_TOTAL);
    if (n == 1 && PQgetisnull(r, 0, 1))
        n = 0; /* the LEFT JOIN's row of an empty page */
    bool more = n > limit;
    int keep = more ? limit : n;
    int *ord = page_order(r, n, &ps_sort);
    if (keep > 0)
        out->rows = xcalloc((size_t)keep, sizeof *out->rows);
    for (int i = 0; i < keep; i++)
        pg_row_fill(r, ord[i], &out->rows[out->nrows++]);
    int last = keep > 0 ? ord[keep - 1] : 0;
    free(ord);
    if (more) {
        char ks[24];
        const char *last_key = "";
        if (by_seq) {
            snprintf(ks, sizeof ks, "%lld", (long long)out->rows[keep - 1].seq);
            last_key = ks;
        } else if (sk) {
            last_key = PQgetvalue(r, last, COL_KEY);
        }
        char *kh = text_hex(last_key);
        struct buf c = BUF_INIT;
        buf_addf(&c, "%s.%s", kh, out->rows[keep - 1].id);
        free(kh);
        out->next = buf_detach(&c, NULL);
    }
done:
    PQclear(r);
    if (rc != 0)
        store_result_clear(out);
    buf_release(&w.sql);
    free(filters);
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(ckey);
    free(cid);
    return rc;
}

int pg_search_index_clear(struct store *s)
{
    return pg_cmd(pg_of(s), "DELETE FROM search_index", NULL, NULL);
}

/* s as one quoted element of an array literal. */
static void ix_array_text(struct buf *b, const char *s)
{
    buf_addc(b, '"');
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_addc(b, '\\');
        buf_addc(b, *c);
    }
    buf_addc(b, '"');
}

/* The items' rows as one posting list per (param, value) (search-index-3,
 * pg_migrate.c), in one statement. */
int pg_search_index_add(struct store *s, const struct store_ixitem *items, int n)
{
    struct pg_store *ps = pg_of(s);
    struct buf params = BUF_INIT, values = BUF_INIT, seqs = BUF_INIT;
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < items[i].n; j++) {
            const char *param = items[i].pairs[2 * j], *value = items[i].pairs[2 * j + 1];
            if (!param || !value)
                continue;
            buf_addc(&params, k ? ',' : '{');
            buf_addc(&values, k ? ',' : '{');
            buf_addc(&seqs, k ? ',' : '{');
            buf_addf(&params, "%d", (int)store_ix_param_id(items[i].type, param));
            ix_array_text(&values, value);
            buf_addf(&seqs, "%lld", (long long)items[i].seq);
            k++;
        }
    int rc = WEFT_OK;
    if (k > 0) {
        buf_addc(&params, '}');
        buf_addc(&values, '}');
        buf_addc(&seqs, '}');
        struct pg_params p = {0};
        pg_p_text(&p, params.data);
        pg_p_text(&p, values.data);
        pg_p_text(&p, seqs.data);
        rc = pg_cmd(ps,
                    "INSERT INTO search_index (param, value, first_seq, seqs) SELECT t.p, t.v,"
                    " min(t.s), array_agg(DISTINCT t.s ORDER BY t.s) FROM unnest($1::integer[],"
                    " $2::text[], $3::bigint[]) AS t(p, v, s) GROUP BY t.p, t.v"
                    " ON CONFLICT DO NOTHING",
                    &p, NULL);
    }
    buf_release(&params);
    buf_release(&values);
    buf_release(&seqs);
    return rc;
}
