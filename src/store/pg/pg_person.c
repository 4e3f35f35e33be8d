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
    PGresult *r = pg_run(ps, "SELECT COALESCE(max(seq), 0) FROM resource", NULL, &rc);
    if (!r)
        return rc;
    *snap = pg_int(r, 0, 0);
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

/* store_person_nhs_link: one call of weft_person_nhs_link (pg_migrate.c,
 * pg12l-person-nhs-link-1), which runs the statements of pg_person_by_nhs,
 * pg_idrec_candidates and pg_person_by_local in one round trip. */
int pg_person_nhs_link(struct store *s, struct store_person_nhs_link *l)
{
    struct pg_store *ps = pg_of(s);
    char id[33], now[32];
    new_person_id(id);
    pg_now(now);
    struct buf a[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
    for (int k = 0; k < 3; k++)
        buf_addc(&a[k], '{');
    for (int i = 0; i < l->nattach; i++) {
        pg_array_add(&a[0], l->attach_org[i]);
        pg_array_add(&a[1], l->attach_system[i]);
        pg_array_add(&a[2], l->attach_value[i]);
    }
    struct pg_params p = {0};
    pg_p_text(&p, l->org);
    pg_p_text(&p, l->link_system);
    pg_p_text(&p, l->source_id);
    pg_p_text(&p, l->nhs);
    pg_p_text(&p, id);
    pg_p_text(&p, now);
    for (int k = 0; k < 4; k++)
        pg_p_text(&p, l->keys[k] && *l->keys[k] ? l->keys[k] : NULL);
    pg_p_int(&p, l->cap);
    for (int k = 0; k < 3; k++) {
        buf_addc(&a[k], '}');
        pg_p_text(&p, a[k].data);
    }
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT kind, a, b, c, d, e FROM weft_person_nhs_link($1, $2, $3, $4, $5,"
                         " $6, $7, $8, $9, $10, $11::integer, $12::text[], $13::text[],"
                         " $14::text[])",
                         &p, &rc);
    for (int k = 0; k < 3; k++)
        buf_release(&a[k]);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    rc = WEFT_ENOTFOUND;
    for (int i = 0; i < rows; i++) {
        int kind = atoi(PQgetvalue(r, i, 0));
        if (kind == 0) {
            if (!PQgetisnull(r, i, 1)) {
                l->person_id = pg_strdup(r, i, 1);
                rc = WEFT_OK;
            }
            l->source_known = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        } else if (kind == 1) {
            l->cands = xrealloc(l->cands, sizeof *l->cands * (size_t)(l->ncands + 1));
            struct store_idrec *c = &l->cands[l->ncands++];
            memset(c, 0, sizeof *c);
            c->org = pg_strdup(r, i, 1);
            c->source_id = pg_strdup(r, i, 2);
            c->demog = pg_strdup(r, i, 3);
            c->nhs = pg_strdup(r, i, 4);
            c->locals = pg_strdup(r, i, 5);
        } else if (kind == 2) {
            int k = atoi(PQgetvalue(r, i, 2)) - 1;
            if (k >= 0 && k < l->nattach && !l->attached[k] && !PQgetisnull(r, i, 1))
                l->attached[k] = pg_strdup(r, i, 1);
        }
    }
    PQclear(r);
    /* an identifier another node attached meanwhile: as pg_person_by_local
     * finds it */
    for (int i = 0; rc == 0 && i < l->nattach; i++)
        if (!l->attached[i])
            rc = pg_person_by_local(s, l->attach_org[i], l->attach_system[i], l->attach_value[i],
                                    l->person_id, &l->attached[i]);
    return rc;
}
