/*
 * sqlite_merge.c - person merge and unmerge for SQLite (HL7 ADT A40, and any
 * future manual merge).
 *
 * A merge moves everything of the retired person to the survivor: the
 * resource rows (every version, so history reads follow), the
 * organisation-local identifiers (so later messages naming them link to the
 * survivor) and the NHS number when the survivor has none.  Each move is
 * written down (person_merge_item: resource seqs; person_merge_local:
 * identifiers; person_merge.moved_nhs) so that an unmerge puts back exactly
 * what the merge moved and nothing else.  The retired person row is kept;
 * person_merge says where it went.  Rare operation: clarity over speed.
 * Both write person and person_local, so both empty the handle's person
 * cache when they end, whatever the outcome (sqlite_person_cache.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_feeds.h"

const struct store_migration sqlite_migration_merge_1 = {
    "merge-1",
    "CREATE TABLE person_merge (id INTEGER PRIMARY KEY, survivor TEXT NOT NULL,"
    " retired TEXT NOT NULL, source_org TEXT, inbox_id INTEGER, moved_nhs TEXT,"
    " created TEXT NOT NULL, undone TEXT);"
    "CREATE INDEX person_merge_retired ON person_merge (retired);"
    "CREATE TABLE person_merge_local (merge_id INTEGER NOT NULL, org TEXT NOT NULL,"
    " system TEXT NOT NULL, value TEXT NOT NULL);"
    "CREATE INDEX person_merge_local_merge ON person_merge_local (merge_id);"
    "CREATE TABLE person_merge_item (merge_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (merge_id, seq));",
};

/* Run one statement binding text/int64 parameters described by fmt
 * ('t' text, 'i' int64).  Returns 0 or a store error. */
static int run(struct sqlite_store *ss, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = sqlite_stmt(ss, sql);
    if (!st)
        return WEFT_EDB;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't')
            sqlite_bind_text(st, i + 1, va_arg(ap, const char *));
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "merging persons");
}

/* The nhs column of person id: 0 and *nhs (malloc'd or NULL), or
 * WEFT_ENOTFOUND. */
static int person_nhs(struct sqlite_store *ss, const char *id, char **nhs)
{
    *nhs = NULL;
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT nhs FROM person WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *nhs = sqlite_col_strdup(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? store_fail(&ss->base, WEFT_ENOTFOUND, "no such person")
                             : sqlite_fail(ss, "reading person");
}

int sqlite_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                              int64_t *merge_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT survivor, id FROM person_merge WHERE retired = ?"
                                       " AND undone IS NULL ORDER BY id DESC LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, retired);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *survivor_out = sqlite_col_strdup(st, 0);
        if (merge_id_out)
            *merge_id_out = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading merges");
}

int sqlite_person_find_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id FROM person WHERE nhs = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, nhs);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *person_id_out = sqlite_col_strdup(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading person");
}

int sqlite_person_merge(struct store *s, const char *survivor, const char *retired,
                        const char *source_org, int64_t inbox_id, int64_t *merge_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char *snhs = NULL, *rnhs = NULL, *already = NULL;
    int64_t prev_id = 0;
    int rc;
    if (strcmp(survivor, retired) == 0)
        return store_fail(s, WEFT_ECONFLICT, "cannot merge a person into itself");
    if ((rc = person_nhs(ss, survivor, &snhs)) != 0)
        return rc;
    if ((rc = person_nhs(ss, retired, &rnhs)) != 0)
        goto out;
    rc = sqlite_person_merged_into(s, retired, &already, &prev_id);
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
    sqlite_now(now);
    const char *moved = (rnhs && !snhs) ? rnhs : NULL;
    rc = run(ss,
             "INSERT INTO person_merge (survivor, retired, source_org, inbox_id, moved_nhs,"
             " created) VALUES (?, ?, ?, ?, ?, ?)",
             "tttitt", survivor, retired, source_org, inbox_id, moved, now);
    if (rc != 0)
        goto out;
    int64_t mid = sqlite3_last_insert_rowid(ss->db);
    if (moved) {
        if ((rc = run(ss, "UPDATE person SET nhs = NULL WHERE id = ?", "t", retired)) != 0 ||
            (rc = run(ss, "UPDATE person SET nhs = ? WHERE id = ?", "tt", moved, survivor)) != 0)
            goto out;
    }
    if ((rc = run(ss,
                  "INSERT INTO person_merge_local (merge_id, org, system, value)"
                  " SELECT ?, org, system, value FROM person_local WHERE person_id = ?",
                  "it", mid, retired)) != 0 ||
        (rc = run(ss, "UPDATE person_local SET person_id = ? WHERE person_id = ?", "tt", survivor,
                  retired)) != 0 ||
        (rc = run(ss,
                  "INSERT INTO person_merge_item (merge_id, seq)"
                  " SELECT ?, seq FROM resource WHERE person_id = ?",
                  "it", mid, retired)) != 0 ||
        (rc = run(ss, "UPDATE resource SET person_id = ? WHERE person_id = ?", "tt", survivor,
                  retired)) != 0)
        goto out;
    if (merge_id_out)
        *merge_id_out = mid;
out:
    sqlite_person_cache_clear(ss);
    free(snhs);
    free(rnhs);
    free(already);
    return rc;
}

/* Whether sql (no parameters, or the text ?1) returns a row. */
static int any_row(struct sqlite_store *ss, const char *sql, const char *p1, bool *yes)
{
    sqlite3_stmt *st = sqlite_stmt(ss, sql);
    if (!st)
        return WEFT_EDB;
    if (p1)
        sqlite_bind_text(st, 1, p1);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    *yes = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "merging persons");
}

/* The merges go into a temporary table (one row each, in order), are
 * checked there as a whole, then every move is one statement for all of
 * them: the same rows as sqlite_person_merge called n times. */
int sqlite_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                             const char *source_org, int64_t *merge_ids_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (sqlite3_exec(ss->db,
                     "CREATE TEMP TABLE IF NOT EXISTS merge_many (ord INTEGER PRIMARY KEY,"
                     " retired TEXT NOT NULL, survivor TEXT NOT NULL, moved_nhs TEXT,"
                     " merge_id INTEGER, found INTEGER, retired_nhs TEXT, survivor_nhs TEXT);"
                     "CREATE UNIQUE INDEX IF NOT EXISTS temp.merge_many_retired ON merge_many"
                     " (retired);"
                     "CREATE INDEX IF NOT EXISTS temp.merge_many_survivor ON merge_many (survivor);"
                     "DELETE FROM temp.merge_many;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "merging persons");
    int rc = WEFT_OK;
    /* the merges' ids, chosen here: the next ones, in order (what the
     * person_merge insert below would give them), so no look-up finds them */
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT coalesce(max(id), 0) + 1 FROM person_merge");
    if (!st)
        return WEFT_EDB;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return sqlite_fail(ss, "merging persons");
    }
    int64_t first_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = sqlite_stmt(ss, "INSERT OR IGNORE INTO temp.merge_many (ord, retired, survivor,"
                         " merge_id) VALUES (?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(v[i].survivor, v[i].retired) == 0)
            rc = store_fail(s, WEFT_ECONFLICT, "cannot merge a person into itself");
        sqlite3_bind_int64(st, 1, (int64_t)i);
        sqlite_bind_text(st, 2, v[i].retired);
        sqlite_bind_text(st, 3, v[i].survivor);
        sqlite3_bind_int64(st, 4, first_id + (int64_t)i);
        int r = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == 0 && r != SQLITE_DONE)
            rc = sqlite_fail(ss, "merging persons");
        else if (rc == 0 && sqlite3_changes(ss->db) == 0)
            rc = store_fail(s, WEFT_ECONFLICT, "one person retired twice in one merge");
    }
    bool bad = false;
    /* both persons of every pair read once: whether they exist, their NHS
     * numbers */
    if (rc == 0)
        rc = run(ss,
                 "UPDATE temp.merge_many SET found = 1, retired_nhs = r.nhs, survivor_nhs ="
                 " v.nhs FROM person r, person v WHERE r.id = merge_many.retired AND v.id ="
                 " merge_many.survivor",
                 "");
    /* the checks store_person_merge makes, for every pair at once */
    if (rc == 0 &&
        (rc = any_row(ss, "SELECT 1 FROM temp.merge_many WHERE found IS NULL LIMIT 1", NULL,
                      &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ENOTFOUND, "no such person");
    if (rc == 0 &&
        (rc = any_row(ss,
                      "SELECT 1 FROM temp.merge_many a JOIN temp.merge_many b ON b.retired ="
                      " a.survivor LIMIT 1",
                      NULL, &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "a retired person is a survivor in the same merge");
    if (rc == 0 &&
        (rc = any_row(ss,
                      "SELECT 1 FROM temp.merge_many m JOIN person_merge p ON"
                      " p.retired = m.retired AND p.undone IS NULL LIMIT 1",
                      NULL, &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "person already merged into another person");
    if (rc == 0 &&
        (rc = any_row(ss,
                      "SELECT 1 FROM temp.merge_many WHERE survivor_nhs IS NOT NULL AND"
                      " retired_nhs IS NOT NULL AND survivor_nhs <> retired_nhs LIMIT 1",
                      NULL, &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "the two persons have different NHS numbers");
    if (rc == 0)
        rc =
            run(ss, "UPDATE temp.merge_many SET moved_nhs = retired_nhs WHERE survivor_nhs IS NULL",
                "");
    if (rc == 0 &&
        (rc = any_row(ss,
                      "SELECT 1 FROM temp.merge_many WHERE moved_nhs IS NOT NULL"
                      " GROUP BY survivor HAVING count(*) > 1 LIMIT 1",
                      NULL, &bad)) == 0 &&
        bad)
        rc = store_fail(s, WEFT_ECONFLICT, "two NHS numbers would move to one person");
    char now[32];
    sqlite_now(now);
    if (rc == 0 &&
        (rc = run(ss,
                  "INSERT INTO person_merge (id, survivor, retired, source_org, inbox_id,"
                  " moved_nhs, created) SELECT merge_id, survivor, retired, ?, 0, moved_nhs, ?"
                  " FROM temp.merge_many ORDER BY ord",
                  "tt", source_org, now)) == 0 &&
        (rc = run(ss,
                  "UPDATE person SET nhs = NULL WHERE id IN (SELECT retired FROM"
                  " temp.merge_many WHERE moved_nhs IS NOT NULL)",
                  "")) == 0 &&
        (rc = run(ss,
                  "UPDATE person SET nhs = (SELECT moved_nhs FROM temp.merge_many WHERE"
                  " survivor = person.id AND moved_nhs IS NOT NULL) WHERE id IN (SELECT survivor"
                  " FROM temp.merge_many WHERE moved_nhs IS NOT NULL)",
                  "")) == 0 &&
        (rc = run(ss,
                  "INSERT INTO person_merge_local (merge_id, org, system, value) SELECT"
                  " m.merge_id, l.org, l.system, l.value FROM temp.merge_many m JOIN person_local"
                  " l ON l.person_id = m.retired",
                  "")) == 0 &&
        (rc = run(ss,
                  "UPDATE person_local SET person_id = (SELECT survivor FROM temp.merge_many"
                  " WHERE retired = person_local.person_id) WHERE person_id IN (SELECT retired"
                  " FROM temp.merge_many)",
                  "")) == 0 &&
        (rc = run(ss,
                  "INSERT INTO person_merge_item (merge_id, seq) SELECT m.merge_id, r.seq FROM"
                  " temp.merge_many m JOIN resource r ON r.person_id = m.retired",
                  "")) == 0)
        rc = run(ss,
                 "UPDATE resource SET person_id = (SELECT survivor FROM temp.merge_many WHERE"
                 " retired = resource.person_id) WHERE person_id IN (SELECT retired FROM"
                 " temp.merge_many)",
                 "");
    if (rc == 0 && merge_ids_out) {
        sqlite3_stmt *q = sqlite_stmt(ss, "SELECT ord, merge_id FROM temp.merge_many");
        if (!q) {
            rc = WEFT_EDB;
        } else {
            int r;
            while ((r = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t ord = sqlite3_column_int64(q, 0);
                if (ord >= 0 && (size_t)ord < n)
                    merge_ids_out[ord] = sqlite3_column_int64(q, 1);
            }
            sqlite3_reset(q);
            if (r != SQLITE_DONE)
                rc = sqlite_fail(ss, "merging persons");
        }
    }
    sqlite_person_cache_clear(ss);
    return rc;
}

int sqlite_person_unmerge(struct store *s, int64_t merge_id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT survivor, retired, moved_nhs, undone FROM person_merge WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, merge_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? store_fail(s, WEFT_ENOTFOUND, "no such merge")
                                 : sqlite_fail(ss, "reading merge");
    }
    char *survivor = sqlite_col_strdup(st, 0);
    char *retired = sqlite_col_strdup(st, 1);
    char *moved = sqlite_col_strdup(st, 2);
    bool undone = sqlite3_column_type(st, 3) != SQLITE_NULL;
    sqlite3_reset(st);
    char now[32];
    sqlite_now(now);
    if (undone) {
        rc = store_fail(s, WEFT_ECONFLICT, "merge already undone");
        goto out;
    }
    if ((rc = run(ss,
                  "UPDATE resource SET person_id = ?1 WHERE person_id = ?2 AND seq IN"
                  " (SELECT seq FROM person_merge_item WHERE merge_id = ?3)",
                  "tti", retired, survivor, merge_id)) != 0 ||
        (rc = run(ss,
                  "UPDATE person_local SET person_id = ?1 WHERE person_id = ?2 AND EXISTS"
                  " (SELECT 1 FROM person_merge_local m WHERE m.merge_id = ?3"
                  " AND m.org = person_local.org AND m.system = person_local.system"
                  " AND m.value = person_local.value)",
                  "tti", retired, survivor, merge_id)) != 0)
        goto out;
    if (moved) {
        if ((rc = run(ss, "UPDATE person SET nhs = NULL WHERE id = ? AND nhs = ?", "tt", survivor,
                      moved)) != 0 ||
            (rc = run(ss, "UPDATE person SET nhs = ? WHERE id = ?", "tt", moved, retired)) != 0)
            goto out;
    }
    rc = run(ss, "UPDATE person_merge SET undone = ? WHERE id = ?", "ti", now, merge_id);
out:
    sqlite_person_cache_clear(ss);
    free(survivor);
    free(retired);
    free(moved);
    return rc;
}

int sqlite_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, survivor, retired, source_org, inbox_id,"
                                       " created, undone FROM person_merge ORDER BY id DESC"
                                       " LIMIT ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : 100);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_merge *m = &(*out)[(*n)++];
        m->id = sqlite3_column_int64(st, 0);
        m->survivor = sqlite_col_strdup(st, 1);
        m->retired = sqlite_col_strdup(st, 2);
        m->source_org = sqlite_col_strdup(st, 3);
        m->inbox_id = sqlite3_column_int64(st, 4);
        m->created = sqlite_col_strdup(st, 5);
        m->undone = sqlite_col_strdup(st, 6);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing merges");
}
