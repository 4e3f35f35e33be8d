/*
 * pg_feeds.c - the feed registry, its day counters and the inbound message
 * store (inbox) for PostgreSQL; the model is sqlite_feeds.c's.
 *
 * Several nodes receive at once: a message resent to another node is applied
 * once because inbox_claim inserts its (feed, control id) key with ON
 * CONFLICT DO NOTHING - a second node's insert waits for the first node's
 * transaction and then sees its key - and the day counters are upserts that
 * add, so counts from every node sum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

static void p_id_or_null(struct pg_params *p, int64_t v)
{
    if (v > 0)
        pg_p_int(p, v);
    else
        pg_p_text(p, NULL);
}

int pg_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    const char *v[] = {in->name, in->org, in->kind, in->facility, in->from_address, in->folder};
    for (int i = 0; i < 6; i++)
        pg_p_text(&p, v[i]);
    p_id_or_null(&p, in->client_id);
    pg_p_text(&p, in->token_hash);
    pg_p_text(&p, now);
    pg_p_text(&p, in->client_cert_sha256);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO feed (name, org, kind, facility, from_address, folder,"
                         " client_id, token_hash, created, client_cert_sha256) VALUES ($1, $2,"
                         " $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r)
             ? WEFT_OK
             : store_fail(s, WEFT_EEXIST, "writing feed (name or facility taken): already exists");
    if (rc == 0 && id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

#define FEED_COLS                                                                                  \
    "id, name, org, kind, facility, from_address, folder, client_id, token_hash, created,"         \
    " disabled, last_received, last_error, last_error_at, client_cert_sha256"

static void feed_fill(const PGresult *r, int i, struct store_feed *f)
{
    memset(f, 0, sizeof *f);
    f->id = pg_int(r, i, 0);
    char **const s1[] = {&f->name, &f->org, &f->kind, &f->facility, &f->from_address, &f->folder};
    for (int k = 0; k < 6; k++)
        *s1[k] = pg_strdup(r, i, 1 + k);
    f->client_id = pg_int(r, i, 7);
    char **const s2[] = {&f->token_hash,    &f->created,    &f->disabled,
                         &f->last_received, &f->last_error, &f->last_error_at};
    for (int k = 0; k < 6; k++)
        *s2[k] = pg_strdup(r, i, 8 + k);
    f->client_cert_sha256 = pg_strdup(r, i, 14);
}

static int feed_get(struct store *s, int64_t id, const char *name, const char *facility,
                    int64_t client_id, struct store_feed *out)
{
    memset(out, 0, sizeof *out);
    struct pg_params p = {0};
    int rc;
    PGresult *r;
    if (name) {
        pg_p_text(&p, name);
        r = pg_run(pg_of(s), "SELECT " FEED_COLS " FROM feed WHERE name = $1", &p, &rc);
    } else if (facility) {
        pg_p_text(&p, facility);
        r = pg_run(pg_of(s),
                   "SELECT " FEED_COLS " FROM feed WHERE facility = $1 AND kind = 'hl7v2'", &p,
                   &rc);
    } else if (client_id > 0) {
        pg_p_int(&p, client_id);
        r = pg_run(pg_of(s),
                   "SELECT " FEED_COLS " FROM feed WHERE client_id = $1 AND kind = 'fhir'"
                   " ORDER BY id LIMIT 1",
                   &p, &rc);
    } else {
        pg_p_int(&p, id);
        r = pg_run(pg_of(s), "SELECT " FEED_COLS " FROM feed WHERE id = $1", &p, &rc);
    }
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        feed_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_feed_get(struct store *s, int64_t id, struct store_feed *out)
{
    return feed_get(s, id, NULL, NULL, 0, out);
}

int pg_feed_by_name(struct store *s, const char *name, struct store_feed *out)
{
    return feed_get(s, 0, name, NULL, 0, out);
}

int pg_feed_by_facility(struct store *s, const char *facility, struct store_feed *out)
{
    return feed_get(s, 0, NULL, facility, 0, out);
}

int pg_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out)
{
    return feed_get(s, 0, NULL, NULL, client_id, out);
}

int pg_feed_list(struct store *s, struct store_feed **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " FEED_COLS " FROM feed ORDER BY name", NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        feed_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_feed_set_disabled(struct store *s, int64_t id, bool disabled)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_int(&p, id);
    pg_p_text(&p, disabled ? now : NULL);
    int64_t changed = 0;
    int rc = pg_cmd(pg_of(s), "UPDATE feed SET disabled = $2 WHERE id = $1", &p, &changed);
    if (rc == 0 && changed == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no feed %lld", (long long)id);
    return rc;
}

int pg_feed_count(struct store *s, int64_t feed_id, const char *day,
                  const struct store_feed_counts *add, const char *last_received,
                  const char *last_error)
{
    struct pg_store *ps = pg_of(s);
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    pg_p_text(&p, day);
    const int64_t v[] = {add->received,          add->applied,      add->rejected,
                         add->duplicate,         add->lag_n,        add->lag_sum_ms,
                         add->lag_max_ms,        add->lag_recent_n, add->lag_recent_sum_ms,
                         add->lag_recent_max_ms, add->rows_loaded,  add->rows_rejected};
    for (int i = 0; i < 12; i++)
        pg_p_int(&p, v[i]);
    int rc = pg_cmd(
        ps,
        "INSERT INTO feed_day AS d (feed_id, day, received, applied, rejected, duplicate, lag_n,"
        " lag_sum_ms, lag_max_ms, lag_recent_n, lag_recent_sum_ms, lag_recent_max_ms,"
        " rows_loaded, rows_rejected)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (feed_id, day) DO UPDATE SET received = d.received + excluded.received,"
        " applied = d.applied + excluded.applied, rejected = d.rejected + excluded.rejected,"
        " duplicate = d.duplicate + excluded.duplicate, lag_n = d.lag_n + excluded.lag_n,"
        " lag_sum_ms = d.lag_sum_ms + excluded.lag_sum_ms,"
        " lag_max_ms = greatest(d.lag_max_ms, excluded.lag_max_ms),"
        " lag_recent_n = d.lag_recent_n + excluded.lag_recent_n,"
        " lag_recent_sum_ms = d.lag_recent_sum_ms + excluded.lag_recent_sum_ms,"
        " lag_recent_max_ms = greatest(d.lag_recent_max_ms, excluded.lag_recent_max_ms),"
        " rows_loaded = d.rows_loaded + excluded.rows_loaded,"
        " rows_rejected = d.rows_rejected + excluded.rows_rejected",
        &p, NULL);
    if (rc != 0 || (!last_received && !last_error))
        return rc;
    char now[32];
    pg_now(now);
    struct pg_params u = {0};
    pg_p_int(&u, feed_id);
    pg_p_text(&u, last_received);
    pg_p_text(&u, last_error);
    pg_p_text(&u, now);
    return pg_cmd(ps,
                  "UPDATE feed SET last_received = CASE WHEN $2::text IS NOT NULL AND"
                  " (last_received IS NULL OR $2 > last_received) THEN $2 ELSE last_received END,"
                  " last_error = coalesce($3, last_error), last_error_at = CASE WHEN $3::text"
                  " IS NOT NULL THEN $4 ELSE last_error_at END WHERE id = $1",
                  &u, NULL);
}

int pg_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                       struct store_feed_counts *today, struct store_feed_counts *total)
{
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    pg_p_text(&p, day ? day : "");
    int rc;
    PGresult *r = pg_run(
        pg_of(s),
        "SELECT day = $2, sum(received), sum(applied), sum(rejected),"
        " sum(duplicate), sum(lag_n), sum(lag_sum_ms), max(lag_max_ms),"
        " sum(lag_recent_n), sum(lag_recent_sum_ms), max(lag_recent_max_ms),"
        " sum(rows_loaded), sum(rows_rejected) FROM feed_day WHERE feed_id = $1 GROUP BY day = $2",
        &p, &rc);
    if (!r)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_feed_counts c = {
            .received = pg_int(r, i, 1),
            .applied = pg_int(r, i, 2),
            .rejected = pg_int(r, i, 3),
            .duplicate = pg_int(r, i, 4),
            .lag_n = pg_int(r, i, 5),
            .lag_sum_ms = pg_int(r, i, 6),
            .lag_max_ms = pg_int(r, i, 7),
            .lag_recent_n = pg_int(r, i, 8),
            .lag_recent_sum_ms = pg_int(r, i, 9),
            .lag_recent_max_ms = pg_int(r, i, 10),
            .rows_loaded = pg_int(r, i, 11),
            .rows_rejected = pg_int(r, i, 12),
        };
        if (pg_bool(r, i, 0))
            *today = c;
        total->received += c.received;
        total->applied += c.applied;
        total->rejected += c.rejected;
        total->duplicate += c.duplicate;
        total->lag_n += c.lag_n;
        total->lag_sum_ms += c.lag_sum_ms;
        if (c.lag_max_ms > total->lag_max_ms)
            total->lag_max_ms = c.lag_max_ms;
        total->lag_recent_n += c.lag_recent_n;
        total->lag_recent_sum_ms += c.lag_recent_sum_ms;
        if (c.lag_recent_max_ms > total->lag_recent_max_ms)
            total->lag_recent_max_ms = c.lag_recent_max_ms;
        total->rows_loaded += c.rows_loaded;
        total->rows_rejected += c.rows_rejected;
    }
    PQclear(r);
    return WEFT_OK;
}

/* ---- inbox -------------------------------------------------------------------------- */

int pg_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_int(&p, in->feed_id);
    pg_p_text(&p, in->kind);
    pg_p_text(&p, in->arrived ? in->arrived : now);
    pg_p_text(&p, in->sender);
    pg_p_text(&p, in->peer);
    pg_p_text(&p, in->control_id);
    pg_p_text(&p, in->msg_type);
    pg_p_text(&p, in->event_time);
    pg_p_text(&p, in->outcome ? in->outcome : "pending");
    pg_p_text(&p, in->error);
    pg_p_text(&p, now);
    pg_p_int(&p, in->attempts);
    pg_p_int(&p, in->resources);
    pg_p_bytes(&p, in->body ? in->body : "", (int)in->body_len);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO inbox (feed_id, kind, arrived, sender, peer, control_id,"
                         " msg_type, event_time, outcome, error, updated, attempts, resources,"
                         " body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                         " $14) RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    if (id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                           const char *journal_id, int64_t seq, int64_t *id_out, bool *added)
{
    *added = false;
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_int(&p, in->feed_id);
    pg_p_text(&p, in->arrived ? in->arrived : now);
    pg_p_text(&p, in->sender);
    pg_p_text(&p, in->peer);
    pg_p_text(&p, in->control_id);
    pg_p_text(&p, in->msg_type);
    pg_p_text(&p, now);
    pg_p_bytes(&p, in->body ? in->body : "", (int)in->body_len);
    pg_p_text(&p, journal_id);
    pg_p_int(&p, seq);
    int rc;
    /* the row's id whether it is stored now or was before (the UNION's
     * second arm reads the row the conflict found) */
    PGresult *r =
        pg_run(pg_of(s),
               "WITH ins AS (INSERT INTO inbox (feed_id, kind, arrived, sender, peer,"
               " control_id, msg_type, outcome, updated, attempts, body, journal_id,"
               " journal_seq) VALUES ($1, 'hl7v2', $2, $3, $4, $5, $6, 'pending', $7, 1,"
               " $8, $9, $10) ON CONFLICT (journal_id, journal_seq) WHERE journal_seq IS"
               " NOT NULL DO NOTHING RETURNING id)"
               " SELECT id, 1 FROM ins UNION ALL SELECT id, 0 FROM inbox WHERE"
               " journal_id = $9 AND journal_seq = $10 AND NOT EXISTS (SELECT 1 FROM ins)",
               &p, &rc);
    if (!r)
        return rc;
    if (PQntuples(r) < 1) {
        /* moved by another session that committed after this statement's
         * snapshot (it waited for it): read it in a new one */
        PQclear(r);
        struct pg_params q = {0};
        pg_p_text(&q, journal_id);
        pg_p_int(&q, seq);
        r = pg_run(pg_of(s), "SELECT id, 0 FROM inbox WHERE journal_id = $1 AND journal_seq = $2",
                   &q, &rc);
        if (!r)
            return rc;
        if (PQntuples(r) < 1) {
            PQclear(r);
            return store_fail(s, WEFT_EDB, "moving an accepted message into the inbox: no row");
        }
    }
    *id_out = pg_int(r, 0, 0);
    *added = pg_int(r, 0, 1) == 1;
    PQclear(r);
    return WEFT_OK;
}

int pg_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq)
{
    struct pg_params p = {0};
    pg_p_text(&p, journal_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT coalesce(max(journal_seq), 0) FROM inbox WHERE journal_id = $1"
                         " AND journal_seq IS NOT NULL",
                         &p, &rc);
    if (!r)
        return rc;
    *seq = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                         int64_t resources, int64_t duplicate_of, bool bump)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_int(&p, id);
    pg_p_text(&p, outcome);
    pg_p_text(&p, error);
    pg_p_int(&p, resources);
    p_id_or_null(&p, duplicate_of);
    pg_p_text(&p, now);
    pg_p_int(&p, bump ? 1 : 0);
    int64_t changed = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE inbox SET outcome = $2, error = $3, resources = $4, duplicate_of = $5,"
                    " updated = $6, attempts = attempts + $7 WHERE id = $1",
                    &p, &changed);
    if (rc == 0 && changed == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no inbox message %lld", (long long)id);
    return rc;
}

int pg_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    pg_p_int(&p, feed_id);
    return pg_cmd(pg_of(s), "UPDATE inbox SET feed_id = $2 WHERE id = $1", &p, NULL);
}

int pg_inbox_list(struct store *s, const struct store_inbox_filter *f, struct store_inbox_msg **out,
                  int *n)
{
    struct buf q = BUF_INIT;
    struct pg_params p = {0};
    pg_p_int(&p, f->after_id);
    buf_addf(&q,
             "SELECT id, feed_id, kind, arrived, sender, peer, control_id, msg_type, event_time,"
             " outcome, error, updated, attempts, resources, duplicate_of, %s, resubmit_of,"
             " corrected_by FROM inbox WHERE id > $1",
             f->with_body ? "body" : "NULL::bytea");
    if (f->only_id) {
        pg_p_int(&p, f->only_id);
        buf_addf(&q, " AND id = $%d", p.n);
    }
    if (f->feed_id) {
        pg_p_int(&p, f->feed_id);
        buf_addf(&q, " AND feed_id = $%d", p.n);
    }
    if (f->outcome) {
        pg_p_text(&p, f->outcome);
        buf_addf(&q, " AND outcome = $%d", p.n);
    }
    if (f->since) {
        pg_p_text(&p, f->since);
        buf_addf(&q, " AND arrived >= $%d", p.n);
    }
    if (f->before_id) {
        pg_p_int(&p, f->before_id);
        buf_addf(&q, " AND id < $%d", p.n);
    }
    if (f->until) {
        pg_p_text(&p, f->until);
        buf_addf(&q, " AND arrived < $%d", p.n);
    }
    if (f->control_id) {
        pg_p_text(&p, f->control_id);
        buf_addf(&q, " AND control_id = $%d", p.n);
    }
    if (f->msg_type) {
        pg_p_text(&p, f->msg_type);
        buf_addf(&q, " AND left(msg_type, length($%d)) = $%d", p.n, p.n);
    }
    if (f->body_contains) {
        /* letters, digits and '-' only (feeds.h): the same bytes as text */
        pg_p_text(&p, f->body_contains);
        buf_addf(&q, " AND position(convert_to($%d, 'UTF8') in body) > 0", p.n);
    }
    pg_p_int(&p, f->limit > 0 ? f->limit : 100);
    buf_addf(&q, f->newest_first ? " ORDER BY id DESC LIMIT $%d" : " ORDER BY id LIMIT $%d", p.n);
    int rc;
    PGresult *r = pg_run_text(pg_of(s), q.data, &p, &rc);
    buf_release(&q);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++) {
        struct store_inbox_msg *m = &(*out)[(*n)++];
        memset(m, 0, sizeof *m);
        m->id = pg_int(r, i, 0);
        m->feed_id = pg_int(r, i, 1);
        char **const f1[] = {&m->kind,     &m->arrived,    &m->sender,  &m->peer,  &m->control_id,
                             &m->msg_type, &m->event_time, &m->outcome, &m->error, &m->updated};
        for (int k = 0; k < 10; k++)
            *f1[k] = pg_strdup(r, i, 2 + k);
        m->attempts = (int)pg_int(r, i, 12);
        m->resources = pg_int(r, i, 13);
        m->duplicate_of = pg_int(r, i, 14);
        m->resubmit_of = pg_int(r, i, 16);
        m->corrected_by = pg_strdup(r, i, 17);
        if (f->with_body && !PQgetisnull(r, i, 15)) {
            /* hex text: at most half its length in bytes */
            size_t cap = (size_t)PQgetlength(r, i, 15) / 2 + 1;
            m->body = xmalloc(cap);
            m->body_len = pg_bytes(r, i, 15, (unsigned char *)m->body, cap - 1);
            m->body[m->body_len] = 0;
        }
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                   int64_t *first)
{
    struct pg_store *ps = pg_of(s);
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    pg_p_text(&p, control_id);
    pg_p_int(&p, id);
    int64_t inserted = 0;
    int rc = pg_cmd(ps,
                    "INSERT INTO inbox_key (feed_id, control_id, inbox_id) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    &p, &inserted);
    if (rc != 0)
        return rc;
    if (inserted == 1) {
        if (first)
            *first = id;
        return WEFT_OK;
    }
    struct pg_params q = {0};
    pg_p_int(&q, feed_id);
    pg_p_text(&q, control_id);
    PGresult *r = pg_run(
        ps, "SELECT inbox_id FROM inbox_key WHERE feed_id = $1 AND control_id = $2", &q, &rc);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return store_fail(s, WEFT_EDB, "reading control id: the claim vanished");
    }
    if (first)
        *first = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_EEXIST;
}

/* One INSERT of the batch's rows from arrays (one row per element, the
 * bodies concatenated in one binary parameter and cut by offset and
 * length); the rows are inserted in the order given, so their identity ids
 * ascend in it: the returned ids, sorted, are the rows' in order. */
static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int pg_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n, int64_t *ids_out)
{
    char now[32];
    pg_now(now);
    enum { NTEXT = 9, NCOL = NTEXT + 5 }; /* text columns, then 5 numbers */
    struct buf a[NCOL];
    for (int k = 0; k < NCOL; k++) {
        a[k] = (struct buf)BUF_INIT;
        buf_addc(&a[k], '{');
    }
    struct buf body = BUF_INIT;
    for (int i = 0; i < n; i++) {
        const struct store_inbox_msg *m = &in[i];
        const char *t[NTEXT] = {m->kind,       m->arrived ? m->arrived : now,
                                m->sender,     m->peer,
                                m->control_id, m->msg_type,
                                m->event_time, m->outcome ? m->outcome : "pending",
                                m->error};
        for (int k = 0; k < NTEXT; k++)
            pg_array_add(&a[k], t[k]);
        char num[5][24];
        snprintf(num[0], sizeof num[0], "%lld", (long long)m->feed_id);
        snprintf(num[1], sizeof num[1], "%d", m->attempts);
        snprintf(num[2], sizeof num[2], "%lld", (long long)m->resources);
        snprintf(num[3], sizeof num[3], "%zu", body.len + 1); /* substring counts from 1 */
        snprintf(num[4], sizeof num[4], "%zu", m->body_len);
        for (int k = 0; k < 5; k++)
            pg_array_add(&a[NTEXT + k], num[k]);
        if (m->body_len)
            buf_add(&body, m->body, m->body_len);
    }
    struct pg_params p = {0};
    for (int k = 0; k < NCOL; k++) {
        buf_addc(&a[k], '}');
        pg_p_text(&p, a[k].data);
    }
    pg_p_text(&p, now);
    pg_p_bytes(&p, body.data ? body.data : "", (int)body.len);
    int rc;
    PGresult *r = pg_run(
        pg_of(s),
        "INSERT INTO inbox (feed_id, kind, arrived, sender, peer, control_id, msg_type,"
        " event_time, outcome, error, updated, attempts, resources, body)"
        " SELECT u.f, u.k, u.a, u.s, u.p, u.c, u.t, u.e, u.o, u.r, $15, u.n, u.res,"
        " substring($16::bytea FROM u.off::integer FOR u.len::integer)"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::text[], $9::text[], $10::bigint[], $11::integer[], $12::bigint[],"
        " $13::bigint[], $14::bigint[]) WITH ORDINALITY"
        " AS u(k, a, s, p, c, t, e, o, r, f, n, res, off, len, i) ORDER BY u.i RETURNING id",
        &p, &rc);
    for (int k = 0; k < NCOL; k++)
        buf_release(&a[k]);
    buf_release(&body);
    if (!r)
        return rc;
    if (PQntuples(r) != n) {
        PQclear(r);
        return store_fail(s, WEFT_EDB, "keeping %d inbox messages: %d stored", n, PQntuples(r));
    }
    for (int i = 0; i < n; i++)
        ids_out[i] = pg_int(r, i, 0);
    PQclear(r);
    qsort(ids_out, (size_t)n, sizeof *ids_out, cmp_id);
    return WEFT_OK;
}

/* One INSERT of the keys (in key order); the keys it did not insert were
 * claimed before: their holders in a second statement (a new snapshot, as
 * pg_inbox_claim's, so a claim committed by another node meanwhile is seen). */
int pg_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                        const char *const *controls, const int64_t *ids, int64_t *firsts)
{
    struct pg_store *ps = pg_of(s);
    struct buf a[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
    for (int k = 0; k < 3; k++)
        buf_addc(&a[k], '{');
    for (int i = 0; i < n; i++) {
        char f[24], d[24];
        snprintf(f, sizeof f, "%lld", (long long)feed_ids[i]);
        snprintf(d, sizeof d, "%lld", (long long)ids[i]);
        pg_array_add(&a[0], f);
        pg_array_add(&a[1], controls[i]);
        pg_array_add(&a[2], d);
        firsts[i] = 0;
    }
    struct pg_params p = {0};
    for (int k = 0; k < 3; k++) {
        buf_addc(&a[k], '}');
        pg_p_text(&p, a[k].data);
    }
    int rc;
    PGresult *r = pg_run(ps,
                         "INSERT INTO inbox_key (feed_id, control_id, inbox_id)"
                         " SELECT u.f, u.c, u.i FROM unnest($1::bigint[], $2::text[], $3::bigint[])"
                         " AS u(f, c, i) ORDER BY u.f, u.c COLLATE \"C\""
                         " ON CONFLICT DO NOTHING RETURNING inbox_id",
                         &p, &rc);
    if (!r)
        goto out;
    int got = PQntuples(r);
    /* ids are distinct inbox ids: match the returned ones back */
    for (int j = 0; j < got; j++) {
        int64_t id = pg_int(r, j, 0);
        for (int i = 0; i < n; i++)
            if (ids[i] == id) {
                firsts[i] = id;
                break;
            }
    }
    PQclear(r);
    if (got == n)
        goto out;
    struct pg_params q = {0};
    pg_p_text(&q, a[0].data);
    pg_p_text(&q, a[1].data);
    r = pg_run(ps,
               "SELECT u.o, k.inbox_id FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY"
               " AS u(f, c, o) JOIN inbox_key k ON k.feed_id = u.f AND k.control_id = u.c"
               " COLLATE \"C\"",
               &q, &rc);
    if (!r)
        goto out;
    for (int j = 0; j < PQntuples(r); j++) {
        int64_t o = pg_int(r, j, 0);
        if (o >= 1 && o <= n && firsts[o - 1] == 0)
            firsts[o - 1] = pg_int(r, j, 1);
    }
    PQclear(r);
    for (int i = 0; i < n; i++)
        if (firsts[i] == 0)
            rc = store_fail(s, WEFT_EDB, "reading control ids: a claim vanished");
out:
    for (int k = 0; k < 3; k++)
        buf_release(&a[k]);
    return rc;
}

int pg_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id)
{
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    pg_p_text(&p, control_id);
    pg_p_int(&p, id);
    /* nothing waits for it: it goes with the next statement (the outcome) */
    return pg_cmd_deferred(pg_of(s),
                           "DELETE FROM inbox_key WHERE feed_id = $1 AND control_id = $2 AND"
                           " inbox_id = $3",
                           &p);
}

int pg_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5])
{
    static const char *const names[5] = {"pending", "applied", "rejected", "duplicate", "partial"};
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT outcome, count(*) FROM inbox WHERE $1::bigint = 0 OR feed_id = $1"
                         " GROUP BY outcome",
                         &p, &rc);
    if (!r)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        for (int k = 0; k < 5; k++)
            if (strcmp(PQgetvalue(r, i, 0), names[k]) == 0)
                out[k] = pg_int(r, i, 1);
    PQclear(r);
    return WEFT_OK;
}

int pg_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    pg_p_int(&p, resubmit_of);
    pg_p_text(&p, by);
    int64_t changed = 0;
    int rc = pg_cmd(pg_of(s), "UPDATE inbox SET resubmit_of = $2, corrected_by = $3 WHERE id = $1",
                    &p, &changed);
    if (rc == 0 && changed == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no inbox message %lld", (long long)id);
    return rc;
}

int pg_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n)
{
    /* one feed: a range of inbox_outcome (feed_id, outcome, id); every feed:
     * that index's range per feed id (the registered feeds and 0, unmatched
     * senders), never a scan of the inbox */
    struct pg_params p = {0};
    pg_p_int(&p, feed_id);
    pg_p_text(&p, kind);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         feed_id ? "SELECT count(*) FROM inbox WHERE feed_id = $1 AND"
                                   " outcome = 'pending' AND ($2::text IS NULL OR kind = $2)"
                                 /* $1 is 0 here: unmatched senders */
                                 : "SELECT count(*) FROM inbox WHERE feed_id = ANY (ARRAY(SELECT"
                                   " id FROM feed) || $1::bigint) AND outcome = 'pending' AND"
                                   " ($2::text IS NULL OR kind = $2)",
                         &p, &rc);
    if (!r)
        return rc;
    *n = PQntuples(r) ? pg_int(r, 0, 0) : 0;
    PQclear(r);
    return WEFT_OK;
}
