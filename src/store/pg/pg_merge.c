/*
 * pg_merge.c - person merge and unmerge for PostgreSQL (HL7 ADT A40); the
 * model and its bookkeeping are sqlite_merge.c's: every move is written down
 * (person_merge_item, person_merge_local, person_merge.moved_nhs) so that an
 * unmerge puts back exactly what the merge moved.  Each runs as one
 * transaction under the writer lock (its own, or the caller's), so a merge
 * never interleaves with a load moving the same rows.  Also the identity
 * review's split of one record off a person (sqlite_identity.c's model).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

/* One statement with text ('t') and integer ('i') parameters per fmt. */
static int run(struct pg_store *ps, const char *sql, const char *fmt, ...)
{
    struct pg_params p = {0};
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't')
            pg_p_text(&p, va_arg(ap, const char *));
        else
            pg_p_int(&p, va_arg(ap, int64_t));
    }
    va_end(ap);
    return pg_cmd(ps, sql, &p, NULL);
}

/* The nhs column of person id: 0 and *nhs (malloc'd or NULL), or
 * WEFT_ENOTFOUND. */
static int person_nhs(struct pg_store *ps, const char *id, char **nhs)
{
    *nhs = NULL;
    struct pg_params p = {0};
    pg_p_text(&p, id);
    int rc;
    PGresult *r = pg_run(ps, "SELECT nhs FROM person WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : store_fail(&ps->base, WEFT_ENOTFOUND, "no such person");
    if (rc == 0)
        *nhs = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                          int64_t *merge_id_out)
{
    struct pg_params p = {0};
    pg_p_text(&p, retired);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT survivor, id FROM person_merge WHERE retired = $1"
                         " AND undone IS NULL ORDER BY id DESC LIMIT 1",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0) {
        *survivor_out = pg_strdup(r, 0, 0);
        if (merge_id_out)
            *merge_id_out = pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

static int merge_in(struct pg_store *ps, const char *survivor, const char *retired,
                    const char *source_org, int64_t inbox_id, int64_t *merge_id_out)
{
    struct store *s = &ps->base;
    char *snhs = NULL, *rnhs = NULL, *already = NULL;
    int64_t prev_id = 0;
    int rc;
    if ((rc = person_nhs(ps, survivor, &snhs)) != 0)
        return rc;
    if ((rc = person_nhs(ps, retired, &rnhs)) != 0)
        goto out;
    rc = pg_person_merged_into(s, retired, &already, &prev_id);
    if (rc == 0) {
        /* A repeated A40: the same merge again is a no-op. */
        if (strcmp(already, survivor) == 0) {
            if (merge_id_out)
                *merge_id_out = prev_id;
        } else {
            rc = store_fail(s, WEFT_ECONFLICT, "person already merged into another person");
        }
        goto out;
    }
    if (rc != WEFT_ENOTFOUND)
        goto out;
    if (snhs && rnhs && strcmp(snhs, rnhs) != 0) {
        rc = store_fail(s, WEFT_ECONFLICT, "the two persons have different NHS numbers");
        goto out;
    }
    char now[32];
    pg_now(now);
    const char *moved = (rnhs && !snhs) ? rnhs : NULL;
    struct pg_params p = {0};
    pg_p_text(&p, survivor);
    pg_p_text(&p, retired);
    pg_p_text(&p, source_org);
    pg_p_int(&p, inbox_id);
    pg_p_text(&p, moved);
    pg_p_text(&p, now);
    PGresult *r = pg_run(ps,
                         "INSERT INTO person_merge (survivor, retired, source_org, inbox_id,"
                         " moved_nhs, created) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                         &p, &rc);
    if (!r)
        goto out;
    int64_t mid = pg_int(r, 0, 0);
    PQclear(r);
    if (moved) {
        if ((rc = run(ps, "UPDATE person SET nhs = NULL WHERE id = $1", "t", retired)) != 0 ||
            (rc = run(ps, "UPDATE person SET nhs = $1 WHERE id = $2", "tt", moved, survivor)) != 0)
            goto out;
    }
    if ((rc = run(ps,
                  "INSERT INTO person_merge_local (merge_id, org, system, value)"
                  " SELECT $1, org, system, value FROM person_local WHERE person_id = $2",
                  "it", mid, retired)) != 0 ||
        (rc = run(ps, "UPDATE person_local SET person_id = $1 WHERE person_id = $2", "tt", survivor,
                  retired)) != 0 ||
        (rc = run(ps,
                  "INSERT INTO person_merge_item (merge_id, seq)"
                  " SELECT $1, seq FROM resource WHERE person_id = $2",
                  "it", mid, retired)) != 0 ||
        (rc = run(ps, "UPDATE resource SET person_id = $1 WHERE person_id = $2", "tt", survivor,
                  retired)) != 0)
        goto out;
    if (merge_id_out)
        *merge_id_out = mid;
out:
    free(snhs);
    free(rnhs);
    free(already);
    return rc;
}

int pg_person_merge(struct store *s, const char *survivor, const char *retired,
                    const char *source_org, int64_t inbox_id, int64_t *merge_id_out)
{
    if (strcmp(survivor, retired) == 0)
        return store_fail(s, WEFT_ECONFLICT, "cannot merge a person into itself");
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    if (rc != 0)
        return rc;
    rc = merge_in(ps, survivor, retired, source_org, inbox_id, merge_id_out);
    /* a no-op or refused merge wrote nothing: ending the transaction either
     * way is right; errors roll back */
    return pg_auto_end(ps, own, rc);
}

static int unmerge_in(struct pg_store *ps, int64_t merge_id)
{
    struct store *s = &ps->base;
    struct pg_params p = {0};
    pg_p_int(&p, merge_id);
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT survivor, retired, moved_nhs, undone FROM person_merge"
                         " WHERE id = $1 FOR UPDATE",
                         &p, &rc);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return store_fail(s, WEFT_ENOTFOUND, "no such merge");
    }
    char *survivor = pg_strdup(r, 0, 0), *retired = pg_strdup(r, 0, 1);
    char *moved = pg_strdup(r, 0, 2);
    bool undone = !PQgetisnull(r, 0, 3);
    PQclear(r);
    char now[32];
    pg_now(now);
    if (undone) {
        rc = store_fail(s, WEFT_ECONFLICT, "merge already undone");
        goto out;
    }
    if ((rc = run(ps,
                  "UPDATE resource SET person_id = $1 WHERE person_id = $2 AND seq IN"
                  " (SELECT seq FROM person_merge_item WHERE merge_id = $3)",
                  "tti", retired, survivor, merge_id)) != 0 ||
        (rc = run(ps,
                  "UPDATE person_local SET person_id = $1 WHERE person_id = $2 AND EXISTS"
                  " (SELECT 1 FROM person_merge_local m WHERE m.merge_id = $3"
                  " AND m.org = person_local.org AND m.system = person_local.system"
                  " AND m.value = person_local.value)",
                  "tti", retired, survivor, merge_id)) != 0)
        goto out;
    if (moved) {
        if ((rc = run(ps, "UPDATE person SET nhs = NULL WHERE id = $1 AND nhs = $2", "tt", survivor,
                      moved)) != 0 ||
            (rc = run(ps, "UPDATE person SET nhs = $1 WHERE id = $2", "tt", moved, retired)) != 0)
            goto out;
    }
    rc = run(ps, "UPDATE person_merge SET undone = $1 WHERE id = $2", "ti", now, merge_id);
out:
    free(survivor);
    free(retired);
    free(moved);
    return rc;
}

int pg_person_unmerge(struct store *s, int64_t merge_id)
{
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    if (rc != 0)
        return rc;
    return pg_auto_end(ps, own, unmerge_in(ps, merge_id));
}

int pg_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n)
{
    struct pg_params p = {0};
    pg_p_int(&p, limit > 0 ? limit : 100);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, survivor, retired, source_org, inbox_id, created, undone"
                         " FROM person_merge ORDER BY id DESC LIMIT $1",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++) {
        struct store_merge *m = &(*out)[(*n)++];
        memset(m, 0, sizeof *m);
        m->id = pg_int(r, i, 0);
        m->survivor = pg_strdup(r, i, 1);
        m->retired = pg_strdup(r, i, 2);
        m->source_org = pg_strdup(r, i, 3);
        m->inbox_id = pg_int(r, i, 4);
        m->created = pg_strdup(r, i, 5);
        m->undone = pg_strdup(r, i, 6);
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_person_merge_of_local(struct store *s, const char *org, const char *system,
                             const char *value, int64_t *merge_id_out)
{
    struct pg_params p = {0};
    pg_p_text(&p, org);
    pg_p_text(&p, system);
    pg_p_text(&p, value);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT m.id FROM person_merge_local l JOIN person_merge m"
                         " ON m.id = l.merge_id WHERE l.org = $1 AND l.system = $2"
                         " AND l.value = $3 AND m.undone IS NULL ORDER BY m.id DESC LIMIT 1",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        *merge_id_out = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* count(*) of a statement with text parameters v[0..n). */
static int count_t(struct pg_store *ps, const char *sql, const char *const *v, int n, int64_t *out)
{
    struct pg_params p = {0};
    for (int i = 0; i < n; i++)
        pg_p_text(&p, v[i]);
    int rc;
    PGresult *r = pg_run(ps, sql, &p, &rc);
    if (!r)
        return rc;
    *out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

static int split_in(struct pg_store *ps, const char *person_id, const char *link_system,
                    const char *org, const char *source_id, char **new_person_out)
{
    struct store *s = &ps->base;
    int64_t mine = 0, same_org = 0, all = 0;
    const char *v[] = {person_id, link_system, org, source_id};
    int rc;
    if ((rc = count_t(ps,
                      "SELECT count(*) FROM person_local WHERE person_id = $1 AND system = $2"
                      " AND org = $3 AND value = $4",
                      v, 4, &mine)) != 0 ||
        (rc = count_t(ps,
                      "SELECT count(*) FROM person_local WHERE person_id = $1 AND system = $2"
                      " AND org = $3",
                      v, 3, &same_org)) != 0 ||
        (rc = count_t(ps, "SELECT count(*) FROM person_local WHERE person_id = $1 AND system = $2",
                      v, 2, &all)) != 0)
        return rc;
    if (mine == 0)
        return store_fail(s, WEFT_ENOTFOUND, "the record is not the person's");
    if (all < 2)
        return store_fail(s, WEFT_ECONFLICT, "the person holds only this record");
    if (same_org > 1)
        return store_fail(s, WEFT_ECONFLICT,
                          "the person holds another record from %s: its items cannot be told"
                          " apart; undo the merge that joined them instead",
                          org);
    unsigned char r[16];
    char id[33];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(id, sizeof id, r, sizeof r);
    char now[32];
    pg_now(now);
    if ((rc = run(ps, "INSERT INTO person (id, nhs, created) VALUES ($1, NULL, $2)", "tt", id,
                  now)) != 0)
        return rc;
    /* the record's source id and its local identifiers (the locals lines) */
    if ((rc = run(ps,
                  "UPDATE person_local SET person_id = $1 WHERE person_id = $2 AND ((system = $3"
                  " AND org = $4 AND value = $5) OR EXISTS (SELECT 1 FROM identity_record r"
                  " WHERE r.org = $4 AND r.source_id = $5 AND strpos(chr(10) || r.locals ||"
                  " chr(10), chr(10) || person_local.org || chr(9) || person_local.system"
                  " || chr(9) || person_local.value || chr(10)) > 0))",
                  "ttttt", id, person_id, link_system, org, source_id)) != 0 ||
        (rc = run(ps, "UPDATE resource SET person_id = $1 WHERE person_id = $2 AND source_org = $3",
                  "ttt", id, person_id, org)) != 0)
        return rc;
    *new_person_out = xstrdup(id);
    return WEFT_OK;
}

int pg_person_split(struct store *s, const char *person_id, const char *link_system,
                    const char *org, const char *source_id, char **new_person_out)
{
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    if (rc != 0)
        return rc;
    return pg_auto_end(ps, own,
                       split_in(ps, person_id, link_system, org, source_id, new_person_out));
}

/* ---- many merges at once (relink) ------------------------------------------------ */

#define MANY_CHUNK 5000

/* Whether sql (no parameters) returns a row. */
static int any_row(struct pg_store *ps, const char *sql, bool *yes)
{
    int rc;
    PGresult *r = pg_run(ps, sql, &(struct pg_params){0}, &rc);
    if (!r)
        return rc;
    *yes = PQntuples(r) > 0;
    PQclear(r);
    return WEFT_OK;
}

/* sqlite_merge.c's model: the pairs go into a temporary table (arrays of
 * MANY_CHUNK pairs a round trip), are checked there as a whole, then each
 * move is one statement for all of them. */
static int merge_many_in(struct pg_store *ps, const struct store_merge_pair *v, size_t n,
                         const char *source_org, int64_t *ids)
{
    struct store *s = &ps->base;
    int rc = pg_exec(ps, "CREATE TEMP TABLE IF NOT EXISTS merge_many (ord bigint PRIMARY KEY,"
                         " retired text NOT NULL UNIQUE, survivor text NOT NULL, moved_nhs text,"
                         " merge_id bigint); DELETE FROM merge_many");
    struct buf ra = BUF_INIT, sa = BUF_INIT;
    for (size_t i = 0; rc == 0 && i < n; i += MANY_CHUNK) {
        buf_reset(&ra);
        buf_reset(&sa);
        buf_addc(&ra, '{');
        buf_addc(&sa, '{');
        for (size_t k = i; k < n && k < i + MANY_CHUNK; k++) {
            if (strcmp(v[k].survivor, v[k].retired) == 0)
                rc = store_fail(s, WEFT_ECONFLICT, "cannot merge a person into itself");
            pg_array_add(&ra, v[k].retired);
            pg_array_add(&sa, v[k].survivor);
        }
        buf_addc(&ra, '}');
        buf_addc(&sa, '}');
        struct pg_params p = {0};
        pg_p_int(&p, (int64_t)i);
        pg_p_text(&p, ra.data);
        pg_p_text(&p, sa.data);
        if (rc == 0)
            rc = pg_cmd(ps,
                        "INSERT INTO merge_many (ord, retired, survivor) SELECT $1::bigint +"
                        " t.n - 1, t.r, t.s FROM unnest($2::text[], $3::text[]) WITH ORDINALITY"
                        " AS t(r, s, n)",
                        &p, NULL);
        if (rc == WEFT_EEXIST)
            rc = store_fail(s, WEFT_ECONFLICT, "one person retired twice in one merge");
    }
    buf_release(&ra);
    buf_release(&sa);
    bool bad = false;
    if (rc == 0)
        rc = pg_exec(ps, "ANALYZE merge_many");
    if (rc == 0 &&
        (rc = any_row(ps,
                      "SELECT 1 FROM merge_many m WHERE NOT EXISTS (SELECT 1 FROM"
                      " person WHERE id = m.retired) OR NOT EXISTS (SELECT 1 FROM"
                      " person WHERE id = m.survivor) LIMIT 1",
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ENOTFOUND, "no such person");
    if (rc == 0 &&
        (rc = any_row(ps,
                      "SELECT 1 FROM merge_many a JOIN merge_many b ON b.retired = a.survivor"
                      " LIMIT 1",
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "a retired person is a survivor in the same merge");
    if (rc == 0 &&
        (rc = any_row(ps,
                      "SELECT 1 FROM merge_many m JOIN person_merge p ON p.retired ="
                      " m.retired AND p.undone IS NULL LIMIT 1",
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "person already merged into another person");
    if (rc == 0 &&
        (rc = any_row(ps,
                      "SELECT 1 FROM merge_many m JOIN person a ON a.id = m.survivor"
                      " JOIN person b ON b.id = m.retired WHERE a.nhs IS NOT NULL AND"
                      " b.nhs IS NOT NULL AND a.nhs <> b.nhs LIMIT 1",
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "the two persons have different NHS numbers");
    if (rc == 0)
        rc = pg_cmd(ps,
                    "UPDATE merge_many m SET moved_nhs = r.nhs FROM person sv, person r WHERE"
                    " sv.id = m.survivor AND r.id = m.retired AND sv.nhs IS NULL",
                    &(struct pg_params){0}, NULL);
    if (rc == 0 &&
        (rc = any_row(ps,
                      "SELECT 1 FROM merge_many WHERE moved_nhs IS NOT NULL GROUP BY"
                      " survivor HAVING count(*) > 1 LIMIT 1",
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "two NHS numbers would move to one person");
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, source_org);
    pg_p_text(&p, now);
    static const char *const moves[] = {
        "UPDATE person SET nhs = NULL WHERE id IN (SELECT retired FROM merge_many WHERE"
        " moved_nhs IS NOT NULL)",
        "UPDATE person p SET nhs = m.moved_nhs FROM merge_many m WHERE m.survivor = p.id AND"
        " m.moved_nhs IS NOT NULL",
        "INSERT INTO person_merge_local (merge_id, org, system, value) SELECT m.merge_id, l.org,"
        " l.system, l.value FROM merge_many m JOIN person_local l ON l.person_id = m.retired",
        "UPDATE person_local l SET person_id = m.survivor FROM merge_many m WHERE l.person_id ="
        " m.retired",
        "INSERT INTO person_merge_item (merge_id, seq) SELECT m.merge_id, r.seq FROM merge_many m"
        " JOIN resource r ON r.person_id = m.retired",
        "UPDATE resource r SET person_id = m.survivor FROM merge_many m WHERE r.person_id ="
        " m.retired",
    };
    if (rc == 0)
        rc = pg_cmd(ps,
                    "WITH ins AS (INSERT INTO person_merge (survivor, retired, source_org,"
                    " inbox_id, moved_nhs, created) SELECT survivor, retired, $1, 0, moved_nhs, $2"
                    " FROM merge_many ORDER BY ord RETURNING id, retired) UPDATE merge_many m SET"
                    " merge_id = ins.id FROM ins WHERE ins.retired = m.retired",
                    &p, NULL);
    for (size_t k = 0; rc == 0 && k < sizeof moves / sizeof *moves; k++)
        rc = pg_cmd(ps, moves[k], &(struct pg_params){0}, NULL);
    if (rc == 0 && ids) {
        PGresult *r =
            pg_run(ps, "SELECT ord, merge_id FROM merge_many", &(struct pg_params){0}, &rc);
        for (int i = 0; r && i < PQntuples(r); i++) {
            int64_t ord = pg_int(r, i, 0);
            if (ord >= 0 && (size_t)ord < n)
                ids[ord] = pg_int(r, i, 1);
        }
        if (r)
            PQclear(r);
    }
    return rc;
}

int pg_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                         const char *source_org, int64_t *merge_ids_out)
{
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    if (rc != 0)
        return rc;
    return pg_auto_end(ps, own, merge_many_in(ps, v, n, source_org, merge_ids_out));
}
