/*
 * sqlite_search.c - store_search() for SQLite: one SELECT built from the
 * query, run against a snapshot, with keyset paging.
 *
 * Snapshots, keyset cursors, page sizes and term values follow the rules
 * every backend shares (store/paging.h, store_paging.c); here they become
 * SQL: the snapshot predicate is seq <= S AND (next_seq IS NULL OR
 * next_seq > S) over the version rows (sqlite_migrate.c).
 *
 * Codes match the main code column (the first coding): "system|code"
 * exactly, "|code" as a code without system, "code" as that code in any
 * system; the concept's other codings match through "code" / "code-any"
 * terms written by the loader.
 *
 * The workload this is tuned for is the FHIR API's patient-scoped type
 * search (GET /fhir/Observation?patient=P&_count=10, tens of thousands a
 * second): one short walk of the (person_id, type, date) index that reads
 * the page's rows as it goes (page_streamed), each row's strings in one
 * allocation (row_fill_packed), and Bundle.total counted from indexes only
 * (count_simple) or not at all when the first page holds everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/paging.h"
#include "store/sqlite/sqlite_core.h"

/*
 * search-1: the indexes this file's queries are built for.
 *
 * resource_type becomes (type) over the versions that are not deletions: in
 * SQLite that is (type, seq), and seq only grows, so every insert appends at
 * the end of its type's range instead of at a random place (the old
 * (type, id), keyed by hash ids, cost the loader a random B-tree insert per
 * row).  It serves unscoped type searches in store order (STORE_SORT_SEQ,
 * their default): a page is a range of it.  Partial (WHERE deleted = 0), so
 * that only queries saying deleted = 0 - this file's - can use it: a full
 * (type) index looks to SQLite's planner (no statistics) as good as
 * resource_id for "id = ? AND type = ?", and it picked the type, walking
 * every item of the type to read one by id.
 *
 * resource_gone holds only the versions that are not visible at the newest
 * snapshot (replaced: next_seq set; or deletions).  A new version is not in
 * it, so inserting costs it nothing but the test of the WHERE; replacing a
 * version adds one entry.  It lets a patient's total be counted from indexes
 * alone (count_simple).
 */
const struct store_migration sqlite_migration_search_1 = {
    "search-1",
    "DROP INDEX resource_type;"
    "CREATE INDEX resource_type ON resource (type) WHERE deleted = 0;"
    "CREATE INDEX resource_gone ON resource (person_id, type)"
    " WHERE next_seq IS NOT NULL OR deleted <> 0;",
};

/*
 * search-index-1: the search index (fhir/searchparam.h fhir_sp_index_rows):
 * one row per (type, parameter, normalised value) of each version written
 * by the loader, keyed as resource_term is by the version's seq, so the
 * snapshot rules of resource decide what a row's item is at a snapshot and
 * nothing is ever updated in place.  Clustered on its key (WITHOUT ROWID):
 * a search across patients reads the seqs of one (type, param, value range)
 * as one b-tree range.  A database that holds items already when this runs
 * has no rows for them: the meta key search-index says "pending" until
 * `weft reindex` has built them (fhir/search_run.c does not use the index
 * meanwhile).
 */
const struct store_migration sqlite_migration_search_index_1 = {
    "search-index-1",
    "CREATE TABLE search_index (type TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY (type, param, value, seq)) WITHOUT ROWID;"
    "INSERT OR REPLACE INTO meta (key, value) SELECT '" STORE_SEARCH_INDEX_META "', 'pending'"
    " WHERE EXISTS (SELECT 1 FROM resource);",
};

/*
 * search-index-2: the rows keyed by an integer for (type, parameter)
 * (store/paging.h store_ix_param_id) instead of the two texts, and fewer
 * of them (fhir/searchparam.h: no coarse tokens, no references to a
 * patient's own items).  Each row's key was about 20 bytes of text longer
 * and every b-tree comparison walked it.  The old table's rows are not
 * converted (the new rule leaves rows out that SQL cannot tell apart): the
 * index is emptied and, when the database holds items, marked "pending"
 * until `weft reindex` builds it again.
 */
const struct store_migration sqlite_migration_search_index_2 = {
    "search-index-2",
    "DROP TABLE search_index;"
    "CREATE TABLE search_index (param INTEGER NOT NULL, value TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY (param, value, seq)) WITHOUT ROWID;"
    "INSERT OR REPLACE INTO meta (key, value) SELECT '" STORE_SEARCH_INDEX_META "', 'pending'"
    " WHERE EXISTS (SELECT 1 FROM resource);",
};

/*
 * search-index-3: posting lists.  One row per (param, value) of a load
 * batch instead of one per version: the batch's seqs that have the value,
 * the first in first_seq (part of the key: two batches never share a first
 * seq) and the rest as varint differences (store/paging.h
 * store_ixpost_encode) in seqs.  A Synthea bundle of ~300 items has a
 * handful of categories and days and tens of codes, so the rows are a
 * fraction of one per item, and each row costs a b-tree insert (about
 * 7,000 instructions) where a seq in a list costs one or two bytes.  A
 * search reads the lists of its conditions and hands their seqs to the
 * resource query (weft_ixseqs + json_each, add_filters); a seq stays a
 * version, so the snapshot rules of resource still decide what it is at a
 * snapshot (a replaced version's seq in a list matches nothing current).
 * The rows of search-index-2 are converted, one list per (param, value)
 * (weft_ixpost), so an upgraded database keeps answering; "pending"/"ready"
 * is kept as it was.
 */
const struct store_migration sqlite_migration_search_index_3 = {
    "search-index-3",
    "CREATE TABLE search_posting (param INTEGER NOT NULL, value TEXT NOT NULL,"
    " first_seq INTEGER NOT NULL, seqs BLOB NOT NULL, PRIMARY KEY (param, value, first_seq))"
    " WITHOUT ROWID;"
    "INSERT INTO search_posting (param, value, first_seq, seqs)"
    " SELECT param, value, min(seq), weft_ixpost(seq) FROM search_index GROUP BY param, value;"
    "DROP TABLE search_index;"
    "ALTER TABLE search_posting RENAME TO search_index;",
};

/* ---- SQL functions ---- */

/* weft_ixseqs(first_seq, seqs): the list's seqs as a JSON array (for
 * json_each); an error when the bytes are not a list. */
static void ixseqs_sql(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int64_t first = sqlite3_value_int64(argv[0]);
    const unsigned char *p = sqlite3_value_blob(argv[1]);
    size_t len = (size_t)sqlite3_value_bytes(argv[1]);
    int n = store_ixpost_count(p, len);
    if (n < 0) {
        sqlite3_result_error(cx, "weft_ixseqs: a search-index posting list is damaged", -1);
        return;
    }
    int64_t one, *seqs = n > 1 ? malloc(sizeof *seqs * (size_t)n) : &one;
    char *out = malloc((size_t)n * 21 + 2);
    if (!seqs || !out) {
        if (seqs != &one)
            free(seqs);
        free(out);
        sqlite3_result_error_nomem(cx);
        return;
    }
    store_ixpost_decode(first, p, len, seqs);
    size_t at = 0;
    out[at++] = '[';
    for (int i = 0; i < n; i++) {
        if (i)
            out[at++] = ',';
        at += (size_t)snprintf(out + at, 21, "%lld", (long long)seqs[i]);
    }
    out[at++] = ']';
    if (seqs != &one)
        free(seqs);
    sqlite3_result_text(cx, out, (int)at, free);
}

/* weft_ixpost(seq): the aggregate of a group's seqs as a posting list's
 * bytes after its smallest seq (min(seq) is its first_seq). */
struct ixpost_agg {
    int64_t *v;
    int n, cap;
    bool nomem;
};

static void ixpost_step(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct ixpost_agg *a = sqlite3_aggregate_context(cx, sizeof *a);
    if (!a || a->nomem)
        return;
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        int64_t *v = realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) {
            a->nomem = true;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = sqlite3_value_int64(argv[0]);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static void ixpost_final(sqlite3_context *cx)
{
    struct ixpost_agg *a = sqlite3_aggregate_context(cx, 0);
    if (!a || a->n == 0) {
        sqlite3_result_zeroblob(cx, 0);
        return;
    }
    unsigned char *out = a->nomem ? NULL : malloc((size_t)a->n * STORE_IXPOST_MAXLEN + 1);
    if (!out) {
        free(a->v);
        sqlite3_result_error_nomem(cx);
        return;
    }
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_i64);
    int k = 0;
    for (int i = 0; i < a->n; i++)
        if (k == 0 || a->v[i] != a->v[k - 1])
            a->v[k++] = a->v[i];
    size_t len = store_ixpost_encode(a->v, k, out);
    free(a->v);
    sqlite3_result_blob(cx, out, (int)len, free);
}

int sqlite_search_functions(sqlite3 *db)
{
    int f = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function(db, "weft_ixseqs", 2, f, NULL, ixseqs_sql, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_create_function(db, "weft_ixpost", 1, f, NULL, NULL, ixpost_step, ixpost_final) !=
            SQLITE_OK)
        return WEFT_EDB;
    return WEFT_OK;
}

/* ---- writing the index ---- */

struct sqlite_ixrow {
    int32_t param;
    const char *value;
    int64_t seq;
};

static uint32_t ixrow_hash(const struct sqlite_ixrow *r)
{
    uint32_t h = 2166136261u ^ (uint32_t)r->param;
    for (const unsigned char *p = (const unsigned char *)r->value; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Write the gathered rows, one posting list per (param, value): the rows
 * grouped by a hash table (sorting the batch's rows cost 36 M instructions
 * on the Synthea set, this 8 M), each group's seqs in the order added -
 * ascending, as the puts and reindex's pages come; sorted when not. */
static int index_flush(struct sqlite_store *ss)
{
    struct sqlite_ixacc *x = &ss->ixacc;
    int n = x->n;
    x->n = 0;
    if (n == 0)
        return WEFT_OK;
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap <<= 1;
    int *slot = xmalloc(sizeof *slot * cap);
    for (size_t k = 0; k < cap; k++)
        slot[k] = -1;
    /* per group: its first and last row and hash; per row: the next row of its group */
    int *head = xmalloc(sizeof *head * (size_t)n), *tail = xmalloc(sizeof *tail * (size_t)n);
    uint32_t *gh = xmalloc(sizeof *gh * (size_t)n);
    int *next = xmalloc(sizeof *next * (size_t)n);
    int ng = 0;
    for (int i = 0; i < n; i++) {
        const struct sqlite_ixrow *r = &x->v[i];
        uint32_t h = ixrow_hash(r);
        size_t k = h & (cap - 1);
        int g;
        for (;; k = (k + 1) & (cap - 1)) {
            g = slot[k];
            if (g < 0 || (gh[g] == h && x->v[head[g]].param == r->param &&
                          strcmp(x->v[head[g]].value, r->value) == 0))
                break;
        }
        next[i] = -1;
        if (g < 0) {
            g = slot[k] = ng++;
            head[g] = tail[g] = i;
            gh[g] = h;
        } else {
            next[tail[g]] = i;
            tail[g] = i;
        }
    }
    int64_t *seqs = xmalloc(sizeof *seqs * (size_t)n);
    unsigned char *bytes = xmalloc((size_t)n * STORE_IXPOST_MAXLEN + 1);
    int rc = WEFT_OK;
    for (int g = 0; g < ng && rc == 0; g++) {
        int k = 0;
        bool sorted = true;
        for (int i = head[g]; i >= 0; i = next[i]) {
            if (k > 0 && seqs[k - 1] == x->v[i].seq)
                continue; /* a value twice in one version */
            sorted &= k == 0 || seqs[k - 1] < x->v[i].seq;
            seqs[k++] = x->v[i].seq;
        }
        if (!sorted) {
            qsort(seqs, (size_t)k, sizeof *seqs, cmp_i64);
            int m = 0;
            for (int i = 0; i < k; i++)
                if (m == 0 || seqs[m - 1] != seqs[i])
                    seqs[m++] = seqs[i];
            k = m;
        }
        size_t len = store_ixpost_encode(seqs, k, bytes);
        sqlite3_stmt *st = sqlite_stmt(ss, "INSERT OR IGNORE INTO search_index (param, value,"
                                           " first_seq, seqs) VALUES (?, ?, ?, ?)");
        if (!st) {
            rc = WEFT_EDB;
            break;
        }
        sqlite3_bind_int(st, 1, x->v[head[g]].param);
        sqlite_bind_text(st, 2, x->v[head[g]].value);
        sqlite3_bind_int64(st, 3, seqs[0]);
        sqlite3_bind_blob(st, 4, bytes, (int)len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite_fail(ss, "writing the search index");
        sqlite3_reset(st);
    }
    free(slot);
    free(head);
    free(tail);
    free(gh);
    free(next);
    free(seqs);
    free(bytes);
    return rc;
}

int sqlite_index_add(struct sqlite_store *ss, int64_t seq, const char *type,
                     const char *const *pairs, int n)
{
    struct sqlite_ixacc *x = &ss->ixacc;
    for (int i = 0; i < n; i++) {
        if (!pairs[2 * i] || !pairs[2 * i + 1])
            continue;
        if (x->n == x->cap) {
            x->cap = x->cap ? 2 * x->cap : 1024;
            x->v = xrealloc(x->v, sizeof *x->v * (size_t)x->cap);
        }
        x->v[x->n++] =
            (struct sqlite_ixrow){store_ix_param_id(type, pairs[2 * i]), pairs[2 * i + 1], seq};
    }
    return x->batch ? WEFT_OK : index_flush(ss);
}

void sqlite_index_batch_begin(struct sqlite_store *ss)
{
    ss->ixacc.batch = true;
    ss->ixacc.n = 0;
}

int sqlite_index_batch_end(struct sqlite_store *ss, bool ok)
{
    ss->ixacc.batch = false;
    if (!ok) {
        ss->ixacc.n = 0;
        return WEFT_OK;
    }
    return index_flush(ss);
}

void sqlite_index_free(struct sqlite_store *ss)
{
    free(ss->ixacc.v);
    ss->ixacc = (struct sqlite_ixacc){0};
}

int sqlite_search_index_clear(struct store *s)
{
    return sqlite_exec(sqlite_of(s), "DELETE FROM search_index");
}

int sqlite_search_index_add(struct store *s, const struct store_ixitem *items, int n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite_index_batch_begin(ss);
    for (int i = 0; i < n; i++)
        sqlite_index_add(ss, items[i].seq, items[i].type, items[i].pairs, items[i].n);
    return sqlite_index_batch_end(ss, true);
}

enum bind_kind { BIND_TEXT, BIND_INT };
struct bind {
    enum bind_kind kind;
    const char *text;
    int64_t i;
};

struct sqlq {
    struct buf sql;
    struct bind b[256];
    int nb;
    bool overflow;
};

static void bind_text(struct sqlq *q, const char *t)
{
    if (q->nb >= (int)(sizeof q->b / sizeof q->b[0])) {
        q->overflow = true;
        return;
    }
    q->b[q->nb++] = (struct bind){BIND_TEXT, t, 0};
}

static void bind_int(struct sqlq *q, int64_t v)
{
    if (q->nb >= (int)(sizeof q->b / sizeof q->b[0])) {
        q->overflow = true;
        return;
    }
    q->b[q->nb++] = (struct bind){BIND_INT, NULL, v};
}

static void in_list(struct sqlq *q, const char *col, const char *const *vals, int n)
{
    if (!vals || n <= 0)
        return;
    buf_addf(&q->sql, " AND %s IN (", col);
    for (int i = 0; i < n; i++) {
        buf_adds(&q->sql, i ? ",?" : "?");
        bind_text(q, vals[i]);
    }
    buf_addc(&q->sql, ')');
}

/* The sort expression for the keyset comparison and ORDER BY. */
static const char *sort_expr(enum store_sort s)
{
    switch (s) {
    case STORE_SORT_DATE:
    case STORE_SORT_DATE_DESC:
        return "COALESCE(r.effective,'')";
    case STORE_SORT_LASTUPDATED:
    case STORE_SORT_LASTUPDATED_DESC:
        return "r.last_updated";
    case STORE_SORT_ID:
    case STORE_SORT_SEQ:
        break;
    }
    return NULL;
}

/* Everything after FROM that filters (shared by the page and the total).
 * The lower-cased term values it binds are appended to owned (room for
 * q->nterms more; the caller frees them after the statement ran). */
static void add_filters(struct sqlq *w, const struct store_query *q, int64_t snap, char **owned,
                        int *nowned)
{
    /* Within one person, always the person's index: without statistics the
     * planner may prefer the (type) index and its seq range, which walks
     * every item of the type (search-1). */
    buf_adds(&w->sql, q->person_id || (q->person_ids && q->nperson_ids > 0)
                          ? " FROM resource r INDEXED BY resource_person"
                          : " FROM resource r");
    buf_adds(&w->sql, " WHERE r.seq <= ? AND (r.next_seq IS NULL OR r.next_seq > ?)"
                      " AND r.deleted = 0");
    bind_int(w, snap);
    bind_int(w, snap);
    if (q->type) {
        /* With search terms, the unary + keeps SQLite from walking every row
         * of the type in the (type) index and testing each against the
         * terms: the terms' own index finds the few rows (seq IN ...). */
        buf_adds(&w->sql, q->nterms > 0 || q->nix > 0 ? " AND +r.type = ?" : " AND r.type = ?");
        bind_text(w, q->type);
    }
    if (q->person_id) {
        buf_adds(&w->sql, " AND r.person_id = ?");
        bind_text(w, q->person_id);
    } else {
        in_list(w, "r.person_id", q->person_ids, q->nperson_ids);
    }
    if (!q->type)
        in_list(w, "r.type", q->types, q->ntypes);
    in_list(w, "r.category", q->categories, q->ncategories);
    in_list(w, "r.source_org", q->source_orgs, q->nsource_orgs);
    if (q->objections) {
        /* one probe of the objection table's primary key per candidate row */
        buf_adds(&w->sql, " AND (r.person_id IS NULL OR");
        if (q->objection_org) {
            buf_adds(&w->sql, " r.source_org = ? OR");
            bind_text(w, q->objection_org);
        }
        buf_adds(&w->sql, " NOT EXISTS (SELECT 1 FROM objection o WHERE o.person_id = r.person_id"
                          " AND o.status = 'upheld'))");
    }
    if (q->codes && q->ncodes > 0) {
        buf_adds(&w->sql, " AND (");
        for (int i = 0; i < q->ncodes; i++) {
            if (i)
                buf_adds(&w->sql, " OR ");
            /* the code column holds the first coding; the concept's other
             * codings are "code" / "code-any" terms (lower-cased) */
            if (strchr(q->codes[i], '|')) {
                buf_adds(&w->sql, "(r.code = ? OR r.seq IN (SELECT seq FROM resource_term"
                                  " WHERE param = 'code' AND value = lower(?)))");
            } else {
                buf_adds(&w->sql, "(substr(r.code, instr(r.code, '|') + 1) = ? OR r.seq IN"
                                  " (SELECT seq FROM resource_term WHERE param = 'code-any'"
                                  " AND value = lower(?)))");
            }
            bind_text(w, q->codes[i]);
            bind_text(w, q->codes[i]);
        }
        buf_addc(&w->sql, ')');
    }
    if (q->date_ge) {
        buf_adds(&w->sql, " AND r.effective >= ?");
        bind_text(w, q->date_ge);
    }
    if (q->date_lt) {
        buf_adds(&w->sql, " AND r.effective < ?");
        bind_text(w, q->date_lt);
    }
    if (q->lastupd_ge) {
        buf_adds(&w->sql, " AND r.last_updated >= ?");
        bind_text(w, q->lastupd_ge);
    }
    if (q->lastupd_lt) {
        buf_adds(&w->sql, " AND r.last_updated < ?");
        bind_text(w, q->lastupd_lt);
    }
    /* search-index conditions: the seqs of each as a union of b-tree
     * ranges of (param id, value), each row a posting list (search-index-3) */
    for (int i = 0; i < q->nix && q->type; i++) {
        const struct store_ixcond *c = &q->ix[i];
        buf_adds(&w->sql, " AND r.seq IN (");
        for (int k = 0; k < c->nvals; k++) {
            const struct store_ixval *v = &c->vals[k];
            buf_adds(&w->sql, k ? " UNION ALL " : "");
            buf_adds(&w->sql, "SELECT j.value FROM search_index x, json_each(weft_ixseqs("
                              "x.first_seq, x.seqs)) j WHERE x.param = ?");
            bind_int(w, store_ix_param_id(q->type, c->param));
            if (v->op == STORE_IX_EQ) {
                buf_adds(&w->sql, " AND x.value = ?");
                bind_text(w, v->a);
            } else if (v->op == STORE_IX_PREFIX) {
                buf_adds(&w->sql, " AND x.value >= ? AND x.value < ? || char(1114111)");
                bind_text(w, v->a);
                bind_text(w, v->a);
            } else {
                if (v->a) {
                    buf_adds(&w->sql, " AND x.value >= ?");
                    bind_text(w, v->a);
                }
                if (v->b) {
                    buf_adds(&w->sql, " AND x.value <= ?");
                    bind_text(w, v->b);
                }
            }
        }
        buf_addc(&w->sql, ')');
    }
    for (int i = 0; i < q->nterms; i++) {
        const struct store_term *t = &q->terms[i];
        char *v = store_term_value(t->value ? t->value : "");
        owned[(*nowned)++] = v;
        if (t->prefix) {
            /* value >= p AND value < p + U+10FFFF: every string with prefix p */
            buf_adds(&w->sql, " AND r.seq IN (SELECT seq FROM resource_term WHERE param = ?"
                              " AND value >= ? AND value < ? || char(1114111))");
            bind_text(w, t->param);
            bind_text(w, v);
            bind_text(w, v);
        } else {
            buf_adds(&w->sql,
                     " AND r.seq IN (SELECT seq FROM resource_term WHERE param = ? AND value = ?)");
            bind_text(w, t->param);
            bind_text(w, v);
        }
    }
}

static void apply_binds(sqlite3_stmt *st, const struct sqlq *w)
{
    for (int i = 0; i < w->nb; i++) {
        if (w->b[i].kind == BIND_INT)
            sqlite3_bind_int64(st, i + 1, w->b[i].i);
        else
            sqlite_bind_text(st, i + 1, w->b[i].text);
    }
}

static int current_snapshot(struct sqlite_store *ss, int64_t *snap)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT COALESCE(max(seq), 0) FROM resource");
    if (!st)
        return WEFT_EDB;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqlite_fail(ss, "reading snapshot");
    *snap = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return WEFT_OK;
}

/* store_snapshot_since: the snapshot is taken holding the write lock, so no
 * writer is in flight; every later writer takes the lock after it is given
 * back, and its transaction's time (lastUpdated) after that. */
int sqlite_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32])
{
    struct sqlite_store *ss = sqlite_of(s);
    if (s->txn_depth > 0)
        return store_fail(s, WEFT_EINVAL, "an export's snapshot is taken outside a transaction");
    int rc = sqlite_exec(ss, "BEGIN IMMEDIATE");
    if (rc != 0)
        return rc;
    rc = current_snapshot(ss, snapshot);
    sqlite_now(time_out);
    if (rc == 0)
        rc = sqlite_exec(ss, "COMMIT");
    if (rc != 0)
        sqlite_exec(ss, "ROLLBACK");
    return rc;
}

/* One read transaction for the snapshot, the page and the total: one read
 * lock instead of one per statement, and all three see the same database.
 * Not when the caller has a transaction open (it is then part of that one). */
static bool read_begin(struct sqlite_store *ss)
{
    if (ss->base.txn_depth > 0 || !sqlite3_get_autocommit(ss->db))
        return false;
    sqlite3_stmt *st = sqlite_stmt(ss, "BEGIN");
    if (!st)
        return false;
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    return ok;
}

static void read_end(struct sqlite_store *ss)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "COMMIT");
    bool ok = st && sqlite3_step(st) == SQLITE_DONE;
    if (st)
        sqlite3_reset(st);
    if (!ok && !sqlite3_get_autocommit(ss->db))
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Can count_simple answer this query?  Only one type within one person:
 * other filters (categories, orgs, codes, dates, terms) are not in its
 * indexes.  (Unscoped, the (type) index has no deleted column, so counting
 * there reads the table either way: the plain count does.) */
static bool count_simple_applies(const struct store_query *q)
{
    return q->type && q->person_id && !(q->categories && q->ncategories > 0) &&
           !(q->source_orgs && q->nsource_orgs > 0) && !(q->codes && q->ncodes > 0) &&
           !q->date_ge && !q->date_lt && !q->lastupd_ge && !q->lastupd_lt && q->nterms == 0 &&
           q->nix == 0 && !q->objections;
}

/*
 * The number of items of q->type of q->person_id visible at snapshot snap,
 * from indexes only: every version with seq <= snap in the person's
 * (person_id, type, date) index - each entry carries its seq - less those of
 * them no longer visible at snap, which are all in the small resource_gone
 * index (replaced or deleted versions) and are the only rows read from the
 * table.  The plain count(*) reads every one of the patient's rows of the
 * type from the table for next_seq and deleted: for 106 Observations that
 * was a fifth of the search's time.  Equal to it by construction: a version
 * with seq <= S is visible at S unless next_seq <= S or it is a deletion, and
 * either puts it in resource_gone.  fresh: snap was taken in this
 * transaction (it is the highest seq).  Returns 0, an error, or 1 when the
 * database lacks the index (schema older than search-1; serve does not
 * migrate): the caller then counts the plain way.
 */
static int count_simple(struct sqlite_store *ss, const struct store_query *q, int64_t snap,
                        bool fresh, int64_t *total)
{
    /* At a snapshot taken in this transaction (the first page), every row
     * has seq <= snap: the person index's entries are counted without
     * reading their seq, a third less work. */
#define GONE                                                                                       \
    " - (SELECT count(*) FROM resource INDEXED BY resource_gone"                                   \
    " WHERE person_id = ?1 AND type = ?2"                                                          \
    " AND (next_seq IS NOT NULL OR deleted <> 0) AND seq <= ?3"                                    \
    " AND (next_seq <= ?3 OR deleted <> 0))"
    sqlite3_stmt *st =
        fresh ? sqlite_stmt(ss, "SELECT (SELECT count(*) FROM resource INDEXED BY resource_person"
                                " WHERE person_id = ?1 AND type = ?2)" GONE)
              : sqlite_stmt(ss, "SELECT (SELECT count(*) FROM resource INDEXED BY resource_person"
                                " WHERE person_id = ?1 AND type = ?2 AND seq <= ?3)" GONE);
#undef GONE
    if (!st)
        return 1;
    sqlite_bind_text(st, 1, q->person_id);
    sqlite_bind_text(st, 2, q->type);
    sqlite3_bind_int64(st, 3, snap);
    int rc = WEFT_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        rc = sqlite_fail(ss, "counting");
    sqlite3_reset(st);
    return rc;
}

/* The row columns (SQLITE_ROW_COLS, in its order) of alias r, then the sort
 * key at column ROW_NCOLS. */
#define ROW_COLS_R                                                                                 \
    "r.seq,r.id,r.type,r.version,r.deleted,r.person_id,r.category,r.source_org,r.source_id,"       \
    "r.feed,r.effective,r.code,r.status,r.last_updated,r.json"
#define ROW_NCOLS 15

/*
 * Fill out from the current row of st (ROW_COLS_R), every string in one
 * allocation (out->block; store_row_clear frees it): the JSON with its meta
 * spliced in, and the ten short columns.  A search row is otherwise a dozen
 * mallocs and frees, which with ten or more rows per page showed as a tenth
 * of a patient search's time.  Same values as sqlite_row_fill.
 */
static void row_fill_packed(sqlite3_stmt *st, struct store_row *out)
{
    /* the string fields, in the order of their columns */
    char **field[] = {&out->id,         &out->type,      &out->person_id,   &out->category,
                      &out->source_org, &out->source_id, &out->feed,        &out->effective,
                      &out->code,       &out->status,    &out->last_updated};
    static const int col[] = {1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    enum { NF = sizeof col / sizeof col[0] };
    const char *t[NF];
    size_t n[NF], total = 0;
    memset(out, 0, sizeof *out);
    out->seq = sqlite3_column_int64(st, 0);
    out->version = sqlite3_column_int(st, 3);
    out->deleted = sqlite3_column_int(st, 4) != 0;
    for (int i = 0; i < NF; i++) {
        t[i] = (const char *)sqlite3_column_text(st, col[i]);
        n[i] = t[i] ? (size_t)sqlite3_column_bytes(st, col[i]) : 0;
        total += t[i] ? n[i] + 1 : 0;
    }
    const char *j = (const char *)sqlite3_column_text(st, 14);
    size_t jl = j ? (size_t)sqlite3_column_bytes(st, 14) : 2;
    if (!j)
        j = "{}";
    const char *lu = t[NF - 1];
    char *b = xmalloc(total + jl + STORE_META_ADD_MAX(lu ? n[NF - 1] : 0) + 1);
    size_t at = 0;
    for (int i = 0; i < NF; i++) {
        if (!t[i])
            continue;
        *field[i] = b + at;
        memcpy(b + at, t[i], n[i]);
        b[at + n[i]] = 0;
        at += n[i] + 1;
    }
    out->json = b + at;
    out->json_len = store_json_with_meta_into(out->json, j, jl, out->version, out->last_updated);
    out->block = b;
}

/*
 * Page, two-phase: st yields seq[,key] in page order, at most limit + 1 rows;
 * each of the first limit is then read whole by seq.  Fills out->rows,
 * *more, and *last_key (malloc'd: the key of the page's last row, NULL
 * without key).
 */
static int page_by_seq(struct sqlite_store *ss, sqlite3_stmt *st, int limit, bool keyed,
                       struct store_result *out, bool *more, char **last_key)
{
    int step, nseq = 0, cap = 0;
    int64_t *seqs = NULL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (nseq == limit) {
            *more = true; /* a further row: the last one kept starts the next page */
            break;
        }
        if (nseq == cap) {
            cap = cap ? cap * 2 : 32;
            seqs = xrealloc(seqs, sizeof *seqs * (size_t)cap);
        }
        seqs[nseq++] = sqlite3_column_int64(st, 0);
        if (keyed) {
            free(*last_key);
            *last_key = sqlite_col_strdup(st, 1);
            if (!*last_key)
                *last_key = xstrdup("");
        }
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        free(seqs);
        return sqlite_fail(ss, "searching");
    }
    int rc = WEFT_OK;
    if (nseq > 0) {
        out->rows = xcalloc((size_t)nseq, sizeof *out->rows);
        sqlite3_stmt *rs = sqlite_stmt(ss, "SELECT " ROW_COLS_R " FROM resource r WHERE r.seq = ?");
        if (!rs)
            rc = WEFT_EDB;
        for (int i = 0; rc == 0 && i < nseq; i++) {
            sqlite3_reset(rs);
            sqlite3_bind_int64(rs, 1, seqs[i]);
            if ((step = sqlite3_step(rs)) == SQLITE_ROW)
                row_fill_packed(rs, &out->rows[out->nrows++]);
            else /* cannot be: the page was chosen in this transaction */
                rc = sqlite_fail(ss, "reading a search result");
        }
        if (rs)
            sqlite3_reset(rs);
    }
    free(seqs);
    return rc;
}

struct cand {
    char *key; /* sort key (malloc'd), NULL in store order */
    char *id;  /* row.id when filled, else malloc'd (own_id) */
    int64_t seq;
    bool filled; /* row read (and not yet moved to the page) */
    bool own_id;
    bool desc;
    struct store_row row;
};

/* Page order among rows: key, then id, both as SQLite's BINARY collation
 * compares text (memcmp, then length: strcmp for text without NUL). */
static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c == 0)
        c = strcmp(a->id, b->id);
    return a->desc ? -c : c;
}

/* Read row seq whole into out (the page's row that streaming passed over). */
static int row_by_seq(struct sqlite_store *ss, int64_t seq, struct store_row *out)
{
    sqlite3_stmt *rs = sqlite_stmt(ss, "SELECT " ROW_COLS_R " FROM resource r WHERE r.seq = ?");
    if (!rs)
        return WEFT_EDB;
    sqlite3_bind_int64(rs, 1, seq);
    int rc = WEFT_OK;
    if (sqlite3_step(rs) == SQLITE_ROW)
        row_fill_packed(rs, out);
    else /* cannot be: the page was chosen in this transaction */
        rc = sqlite_fail(ss, "reading a search result");
    sqlite3_reset(rs);
    return rc;
}

/*
 * Page, streamed: st yields whole rows (ROW_COLS_R, key at ROW_NCOLS when
 * keyed) in key order, ties in no particular order.  Reads rows until it has
 * limit + 1 and the key changes after the (limit + 1)th - every row that
 * can be among the first limit + 1 once ties are ordered by id - orders
 * them by (key, id) and keeps limit.  Only the first limit rows met are read
 * whole as they stream by; the rest of the last key's ties (a few
 * Observations of one encounter: 7 or 11 share a time in the Synthea data)
 * are kept as (seq, key, id), and any of them that the id order puts in the
 * page is read by seq afterwards.  What this saves over page_by_seq is a
 * sorter and one statement per row.  Same results as page_by_seq.
 */
static int page_streamed(struct sqlite_store *ss, sqlite3_stmt *st, int limit, bool keyed,
                         bool desc, struct store_result *out, bool *more, char **last_key)
{
    struct cand *c = NULL;
    int n = 0, cap = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n > limit) {
            /* limit + 1 rows read: only more of the (limit + 1)th key can
             * still be among the first limit + 1 */
            const char *k = (const char *)sqlite3_column_text(st, ROW_NCOLS);
            if (!keyed || strcmp(k ? k : "", c[limit].key) != 0)
                break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : limit + 2;
            c = xrealloc(c, sizeof *c * (size_t)cap);
        }
        struct cand *x = &c[n++];
        memset(x, 0, sizeof *x);
        x->desc = desc;
        x->seq = sqlite3_column_int64(st, 0);
        if (keyed) {
            x->key = sqlite_col_strdup(st, ROW_NCOLS);
            if (!x->key)
                x->key = xstrdup("");
        }
        if (n <= limit) {
            row_fill_packed(st, &x->row);
            x->filled = true;
            x->id = x->row.id;
        } else {
            x->id = sqlite_col_strdup(st, 1);
            if (!x->id)
                x->id = xstrdup("");
            x->own_id = true;
        }
    }
    sqlite3_reset(st);
    int rc = WEFT_OK;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "searching");
    if (rc == 0 && keyed && n > 1)
        qsort(c, (size_t)n, sizeof *c, cand_cmp);
    int keep = rc == 0 ? (n > limit ? limit : n) : 0;
    *more = rc == 0 && n > limit;
    if (keep > 0) {
        out->rows = xcalloc((size_t)keep, sizeof *out->rows);
        for (int i = 0; i < keep; i++) {
            if (c[i].filled) {
                out->rows[i] = c[i].row;
                c[i].filled = false; /* moved */
            } else if (rc == 0) {
                rc = row_by_seq(ss, c[i].seq, &out->rows[i]);
            }
        }
        out->nrows = keep;
        if (keyed)
            *last_key = xstrdup(c[keep - 1].key);
    }
    for (int i = 0; i < n; i++) {
        if (c[i].filled) /* read but not in the page */
            store_row_clear(&c[i].row);
        if (c[i].own_id)
            free(c[i].id);
        free(c[i].key);
    }
    free(c);
    return rc;
}

static int search_in(struct sqlite_store *ss, const struct store_query *q,
                     struct store_result *out);

int sqlite_search(struct store *s, const struct store_query *q, struct store_result *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    bool own = read_begin(ss);
    int rc = search_in(ss, q, out);
    if (own)
        read_end(ss);
    return rc;
}

static int search_in(struct sqlite_store *ss, const struct store_query *q, struct store_result *out)
{
    struct store *s = &ss->base;
    memset(out, 0, sizeof *out);
    out->total = -1;
    int limit = store_page_limit(q);
    int64_t snap = q->snapshot;
    int rc;
    if (snap <= 0 && (rc = current_snapshot(ss, &snap)) != 0)
        return rc;
    out->snapshot = snap;
    if (q->patient_check) {
        /* in the read transaction of the search: its snapshot */
        char *person = NULL;
        rc = sqlite_resource_person(s, "Patient", q->patient_check, &person);
        bool same = rc == 0 && person && q->person_id && strcmp(person, q->person_id) == 0;
        free(person);
        if (rc != 0 && rc != WEFT_ENOTFOUND)
            return rc;
        if (!same)
            return store_fail(s, WEFT_ECONFLICT, "the patient's person has changed");
    }

    /* the term values of both statements (page and total): each binds all
     * q->nterms, so a fixed array shared by the two once dropped the terms
     * past the 32nd from the total */
    char **owned = xcalloc((size_t)(q->nterms > 0 ? q->nterms : 0) * 2 + 1, sizeof *owned);
    int nowned = 0;
    char *ckey = NULL, *cid = NULL;
    if (q->after && !store_cursor_parse(q->after, &ckey, &cid)) {
        free(owned);
        return store_fail(s, WEFT_EINVAL, "malformed paging cursor");
    }

    const char *sk = sort_expr(q->sort);
    bool desc = store_sort_desc(q->sort);
    bool by_seq = q->sort == STORE_SORT_SEQ;
    /* Two ways to a page.  Streamed, when an index yields the rows in the
     * sort key's order (store order on the (type) index; date within one
     * person and type on the person's index): one statement reads the rows
     * whole in that order, ties on the key are ordered by id here (ORDER BY
     * key, id would put a sorter in the way), and it stops at the first row
     * past the page's last key.  Otherwise the page's seqs (and sort keys)
     * are chosen first, the sort seeing no JSON: SELECT r.seq[,key] ...
     * ORDER BY ... LIMIT n; then each of those rows is read by seq, in that
     * order.  Both run in one read transaction (sqlite_search), so they see
     * the same database. */
    bool stream = by_seq || (q->person_id && q->type && q->nterms == 0 && q->nix == 0 &&
                             (q->sort == STORE_SORT_DATE || q->sort == STORE_SORT_DATE_DESC));
    struct sqlq w = {.sql = BUF_INIT};
    rc = WEFT_OK;
    buf_adds(&w.sql, stream ? "SELECT " ROW_COLS_R : "SELECT r.seq");
    if (sk)
        buf_addf(&w.sql, ",%s", sk);
    add_filters(&w, q, snap, owned, &nowned);
    const char *cmp = desc ? "<" : ">";
    if (cid && by_seq) {
        int64_t after_seq;
        if (!store_cursor_seq(ckey, &after_seq)) {
            rc = store_fail(s, WEFT_EINVAL, "malformed paging cursor");
            goto done;
        }
        buf_adds(&w.sql, " AND r.seq > ?");
        bind_int(&w, after_seq);
    } else if (cid) {
        if (sk) {
            buf_addf(&w.sql, " AND (%s %s ? OR (%s = ? AND r.id %s ?))", sk, cmp, sk, cmp);
            bind_text(&w, ckey);
            bind_text(&w, ckey);
            bind_text(&w, cid);
        } else {
            buf_addf(&w.sql, " AND r.id %s ?", cmp);
            bind_text(&w, cid);
        }
    }
    const char *dir = desc ? " DESC" : "";
    if (by_seq)
        buf_adds(&w.sql, " ORDER BY r.seq");
    else if (stream)
        buf_addf(&w.sql, " ORDER BY %s%s", sk, dir); /* ties: below; no LIMIT */
    else if (sk)
        buf_addf(&w.sql, " ORDER BY %s%s, r.id%s", sk, dir, dir);
    else
        buf_addf(&w.sql, " ORDER BY r.id%s", dir);
    if (!stream || by_seq) {
        buf_adds(&w.sql, " LIMIT ?");
        bind_int(&w, (int64_t)limit + 1);
    }

    if (w.overflow) {
        rc = store_fail(s, WEFT_ETOOBIG, "search has too many parameters");
        goto done;
    }
    sqlite3_stmt *st = sqlite_stmt_text(ss, w.sql.data);
    if (!st) {
        rc = WEFT_EDB;
        goto done;
    }
    apply_binds(st, &w);
    char *last_key = NULL;
    bool more = false;
    int nseq = 0; /* rows in the page */
    int64_t last_seq = 0;
    if (stream)
        rc = page_streamed(ss, st, limit, sk != NULL, desc, out, &more, &last_key);
    else
        rc = page_by_seq(ss, st, limit, sk != NULL, out, &more, &last_key);
    if (rc != 0) {
        free(last_key);
        goto done;
    }
    nseq = out->nrows;
    if (nseq > 0)
        last_seq = out->rows[nseq - 1].seq;
    if (more)
        out->next = by_seq
                        ? store_cursor_make_seq(last_seq, out->rows[out->nrows - 1].id)
                        : store_cursor_make(last_key ? last_key : "", out->rows[out->nrows - 1].id);
    free(last_key);
    if (q->want_total && !cid && !more) {
        out->total = nseq; /* the first page holds every row there is */
    } else if (q->want_total && count_simple_applies(q) &&
               (rc = count_simple(ss, q, snap, q->snapshot <= 0, &out->total)) <= 0) {
        /* counted from indexes (or failed) */
    } else if (q->want_total) {
        rc = WEFT_OK;
        struct sqlq t = {.sql = BUF_INIT};
        buf_adds(&t.sql, "SELECT count(*)");
        add_filters(&t, q, snap, owned, &nowned);
        sqlite3_stmt *ct = sqlite_stmt_text(ss, t.sql.data);
        if (!ct) {
            buf_release(&t.sql);
            rc = WEFT_EDB;
            goto done;
        }
        apply_binds(ct, &t);
        if (sqlite3_step(ct) == SQLITE_ROW)
            out->total = sqlite3_column_int64(ct, 0);
        else
            rc = sqlite_fail(ss, "counting");
        sqlite3_reset(ct);
        buf_release(&t.sql);
    }
done:
    if (rc != 0)
        store_result_clear(out);
    buf_release(&w.sql);
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(ckey);
    free(cid);
    return rc;
}
