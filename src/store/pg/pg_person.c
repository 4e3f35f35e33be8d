/*
 * pg_person.c - persons for PostgreSQL: by NHS number, by organisation-local
 * identifier.  Person ids are random (128 bits, hex), as in SQLite
 * (sqlite_person.c says why).
 *
 * Several nodes may meet the same new NHS number or local identifier at
 * once: the insert is ON CONFLICT DO NOTHING and the lookup is repeated
 * afterwards, so both end with the one person that won, and no error aborts
 * the caller's transaction (in PostgreSQL a failed statement would).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

static void new_person_id(char out[33])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, 33, r, sizeof r);
}

/* One text column of the first row for the keys; WEFT_ENOTFOUND when none. */
static int lookup1(struct pg_store *ps, const char *sql, const char *const *keys, int nkeys,
                   char **out)
{
    struct pg_params p = {0};
    for (int i = 0; i < nkeys; i++)
        pg_p_text(&p, keys[i]);
    int rc;
    PGresult *r = pg_run(ps, sql, &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        *out = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

static const char by_nhs_sql[] = "SELECT id FROM person WHERE nhs = $1";
static const char by_local_sql[] =
    "SELECT person_id FROM person_local WHERE org = $1 AND system = $2 AND value = $3";

/*
 * The lookup and, when nothing is found, the inserts, as one statement (one
 * round trip instead of three or four: a load resolves a few identifiers
 * per Patient, and on a busy machine every round trip waits to be
 * scheduled).  Data-modifying CTEs see the statement's snapshot, so a row
 * another node inserted after it began makes the insert do nothing and the
 * statement return no row: then the plain lookup is repeated, as before.
 */
static const char nhs_or_new_sql[] =
    "WITH f AS (SELECT id FROM person WHERE nhs = $1),"
    " ins AS (INSERT INTO person (id, nhs, created) SELECT $2, $1, $3"
    "  WHERE NOT EXISTS (SELECT 1 FROM f) ON CONFLICT DO NOTHING RETURNING id)"
    " SELECT id FROM f UNION ALL SELECT id FROM ins";

/* $4: the person to link to, or the new person's id when $6 (made here). */
static const char local_or_new_sql[] =
    "WITH f AS (SELECT person_id FROM person_local WHERE org = $1 AND system = $2"
    "  AND value = $3),"
    " np AS (INSERT INTO person (id, nhs, created) SELECT $4, NULL, $5"
    "  WHERE $6 AND NOT EXISTS (SELECT 1 FROM f) ON CONFLICT DO NOTHING),"
    " ins AS (INSERT INTO person_local (org, system, value, person_id, created)"
    "  SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM f)"
    "  ON CONFLICT DO NOTHING RETURNING person_id)"
    " SELECT person_id FROM f UNION ALL SELECT person_id FROM ins";

int pg_person_by_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    struct pg_store *ps = pg_of(s);
    *person_id_out = NULL;
    char id[33], now[32];
    new_person_id(id);
    pg_now(now);
    const char *keys[] = {nhs, id, now};
    int rc = lookup1(ps, nhs_or_new_sql, keys, 3, person_id_out);
    if (rc != WEFT_ENOTFOUND)
        return rc;
    const char *k1[] = {nhs};
    return lookup1(ps, by_nhs_sql, k1, 1, person_id_out); /* another node's, committed since */
}

int pg_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                       const char *link_to_person, char **person_id_out)
{
    struct pg_store *ps = pg_of(s);
    *person_id_out = NULL;
    char id[33], now[32];
    if (link_to_person)
        snprintf(id, sizeof id, "%s", link_to_person);
    else
        new_person_id(id);
    pg_now(now);
    /* A person made for an identifier another node linked first stays
     * without identifiers, as a person made by a rolled-back load does.
     * An identifier found is never moved to a second person. */
    const char *keys[] = {org, system, value, id, now, link_to_person ? "f" : "t"};
    int rc = lookup1(ps, local_or_new_sql, keys, 6, person_id_out);
    if (rc != WEFT_ENOTFOUND)
        return rc;
    const char *k3[] = {org, system, value};
    return lookup1(ps, by_local_sql, k3, 3, person_id_out);
}

int pg_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                         char **person_id_out)
{
    *person_id_out = NULL;
    const char *keys[] = {org, system, value};
    return lookup1(pg_of(s), by_local_sql, keys, 3, person_id_out);
}

int pg_person_find_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    *person_id_out = NULL;
    const char *keys[] = {nhs};
    return lookup1(pg_of(s), by_nhs_sql, keys, 1, person_id_out);
}

int pg_person_get(struct store *s, const char *person_id, struct store_person *out)
{
    memset(out, 0, sizeof *out);
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT id, nhs, created FROM person WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0) {
        out->id = pg_strdup(r, 0, 0);
        out->nhs = pg_strdup(r, 0, 1);
        out->created = pg_strdup(r, 0, 2);
    }
    PQclear(r);
    return rc;
}

int pg_person_nhs_scan(struct store *s, int (*fn)(const char *, const char *, void *), void *ctx)
{
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT id, nhs FROM person WHERE nhs IS NOT NULL", NULL, &rc);
    if (!r)
        return rc;
    rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = fn(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), ctx);
    PQclear(r);
    return rc;
}

int pg_snapshot_now(struct pg_store *ps, int64_t *snap)
{
    int rc;
    PGresult *r = pg_run(ps, "SELECT " PG_SNAP_SQL, NULL, &rc);
    if (!r)
        return rc;
    *snap = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

/* store_snapshot_since: now is read before the statement, so a writer
 * whose mark the statement does not see committed the mark after the
 * statement began and read its transaction's time later still (pg_begin);
 * a writer whose mark it sees began at or after its began.  One statement:
 * one MVCC snapshot for the horizon and the marks. */
int pg_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32])
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT " PG_SNAP_SQL ", (SELECT min(began) FROM writer_horizon"
                         " WHERE first_seq IS NOT NULL)",
                         NULL, &rc);
    if (!r)
        return rc;
    *snapshot = pg_int(r, 0, 0);
    const char *began = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
    snprintf(time_out, 32, "%s", began && strcmp(began, now) < 0 ? began : now);
    PQclear(r);
    return WEFT_OK;
}

int pg_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                      int64_t *count, int64_t *snapshot_out)
{
    struct pg_store *ps = pg_of(s);
    int64_t snap = snapshot;
    int rc;
    if (snap <= 0 && (rc = pg_snapshot_now(ps, &snap)) != 0)
        return rc;
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    pg_p_int(&p, snap);
    PGresult *r = pg_run(
        ps,
        "SELECT COALESCE(max(seq), 0), count(*) FILTER (WHERE (next_seq IS NULL OR next_seq > $2)"
        " AND NOT deleted) FROM resource WHERE person_id = $1 AND seq <= $2",
        &p, &rc);
    if (!r)
        return rc;
    *max_seq = pg_int(r, 0, 0);
    *count = pg_int(r, 0, 1);
    if (snapshot_out)
        *snapshot_out = snap;
    PQclear(r);
    return WEFT_OK;
}

/* An identifier attached to the person of NHS number $5 (pg_person_nhs_link's
 * pipeline: that statement made or found the person just before): as
 * local_or_new_sql with that person; no row when the person is not there
 * (then the caller attaches it by pg_person_by_local). */
static const char local_to_nhs_sql[] =
    "WITH pp AS (SELECT id FROM person WHERE nhs = $5),"
    " f AS (SELECT person_id FROM person_local WHERE org = $1 AND system = $2 AND value = $3),"
    " ins AS (INSERT INTO person_local (org, system, value, person_id, created)"
    "  SELECT $1, $2, $3, pp.id, $4 FROM pp WHERE NOT EXISTS (SELECT 1 FROM f)"
    "  ON CONFLICT DO NOTHING RETURNING person_id)"
    " SELECT person_id FROM f UNION ALL SELECT person_id FROM ins";

/*
 * store_person_nhs_link: the statements of pg_person_find_local,
 * pg_person_by_nhs, pg_idrec_candidates (only for a new record:
 * pg_candidates_if_new_sql) and pg_person_by_local for each identifier, in
 * one pipeline - one round trip where they took 3 + nattach.  Each runs as
 * its own statement, in order, so each sees what the ones before it wrote.
 * What another node committed meanwhile (a statement that found nothing and
 * could insert nothing) is looked up again afterwards, as those calls do.
 */
int pg_person_nhs_link(struct store *s, struct store_person_nhs_link *l)
{
    struct pg_store *ps = pg_of(s);
    int n = 3 + l->nattach;
    struct pg_params *p = xcalloc((size_t)n, sizeof *p);
    const char **sql = xcalloc((size_t)n, sizeof *sql);
    const struct pg_params **pp = xcalloc((size_t)n, sizeof *pp);
    PGresult **r = xcalloc((size_t)n, sizeof *r);
    char id[33], now[32];
    new_person_id(id);
    pg_now(now);
    sql[0] = by_local_sql;
    pg_p_text(&p[0], l->org);
    pg_p_text(&p[0], l->link_system);
    pg_p_text(&p[0], l->source_id);
    sql[1] = nhs_or_new_sql;
    pg_p_text(&p[1], l->nhs);
    pg_p_text(&p[1], id);
    pg_p_text(&p[1], now);
    sql[2] = pg_candidates_if_new_sql;
    for (int k = 0; k < 4; k++)
        pg_p_text(&p[2], l->keys[k] && *l->keys[k] ? l->keys[k] : NULL);
    pg_p_int(&p[2], l->cap);
    pg_p_text(&p[2], l->org);
    pg_p_text(&p[2], l->link_system);
    pg_p_text(&p[2], l->source_id);
    for (int i = 0; i < l->nattach; i++) {
        sql[3 + i] = local_to_nhs_sql;
        pg_p_text(&p[3 + i], l->attach_org[i]);
        pg_p_text(&p[3 + i], l->attach_system[i]);
        pg_p_text(&p[3 + i], l->attach_value[i]);
        pg_p_text(&p[3 + i], now);
        pg_p_text(&p[3 + i], l->nhs);
    }
    for (int i = 0; i < n; i++)
        pp[i] = &p[i];
    int rc = pg_run_many(ps, n, sql, pp, r);
    if (rc == 0) {
        l->source_known = PQntuples(r[0]) > 0;
        if (PQntuples(r[1]))
            l->person_id = pg_strdup(r[1], 0, 0);
        int rows = PQntuples(r[2]);
        if (rows) {
            l->cands = xcalloc((size_t)rows, sizeof *l->cands);
            for (int i = 0; i < rows; i++) {
                struct store_idrec *c = &l->cands[l->ncands++];
                c->org = pg_strdup(r[2], i, 0);
                c->source_id = pg_strdup(r[2], i, 1);
                c->demog = pg_strdup(r[2], i, 2);
                c->nhs = pg_strdup(r[2], i, 3);
                c->locals = pg_strdup(r[2], i, 4);
            }
        }
        for (int i = 0; i < l->nattach; i++)
            if (PQntuples(r[3 + i]))
                l->attached[i] = pg_strdup(r[3 + i], 0, 0);
    }
    for (int i = 0; i < n; i++)
        PQclear(r[i]);
    free(r);
    free(pp);
    free(sql);
    free(p);
    if (rc != 0)
        return rc;
    if (!l->person_id) { /* another node's, committed since */
        const char *k1[] = {l->nhs};
        if ((rc = lookup1(ps, by_nhs_sql, k1, 1, &l->person_id)) != 0)
            return rc;
    }
    for (int i = 0; i < l->nattach; i++)
        if (!l->attached[i] &&
            (rc = pg_person_by_local(s, l->attach_org[i], l->attach_system[i], l->attach_value[i],
                                     l->person_id, &l->attached[i])) != 0)
            return rc;
    return WEFT_OK;
}
