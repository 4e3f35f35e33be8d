/*
 * sqlite_person.c - persons for SQLite: by NHS number, by organisation-local
 * identifier.  Person ids are random (128 bits, hex): an id derived from the
 * NHS number could be reversed by trying all 10^9 numbers, and person ids
 * appear in URLs and the operational log.
 *
 * The two link lookups (NHS number, local identifier) go through the
 * handle's person cache (sqlite_person_cache.h) first: the feed writer asks
 * them for every message.  What they read or insert is put in the cache.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_core.h"

static void new_person_id(char out[33])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, 33, r, sizeof r);
}

/* Select one text column (a person id) for the bound keys, answered by the
 * person cache when it can; WEFT_ENOTFOUND when none.  keys are the cache key
 * too: sql must map them to the person they link to. */
static int lookup1(struct sqlite_store *ss, const char *sql, const char *const *keys, int nkeys,
                   char **out)
{
    if (sqlite_person_cache_get(ss, keys, nkeys, out) == WEFT_OK)
        return WEFT_OK;
    sqlite3_stmt *st = sqlite_stmt(ss, sql);
    if (!st)
        return WEFT_EDB;
    for (int i = 0; i < nkeys; i++)
        sqlite_bind_text(st, i + 1, keys[i]);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite_col_strdup(st, 0);
        rc = WEFT_OK;
    } else if (rc == SQLITE_DONE) {
        rc = WEFT_ENOTFOUND;
    } else {
        rc = sqlite_fail(ss, "reading person");
    }
    sqlite3_reset(st);
    if (rc == WEFT_OK)
        sqlite_person_cache_put(ss, keys, nkeys, *out);
    return rc;
}

static int insert_person(struct sqlite_store *ss, const char *id, const char *nhs)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO person (id, nhs, created) VALUES (?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, id);
    sqlite_bind_text(st, 2, nhs);
    sqlite_bind_text(st, 3, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "writing person");
    sqlite3_reset(st);
    return rc;
}

int sqlite_person_by_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    *person_id_out = NULL;
    const char *keys[] = {nhs};
    int rc = lookup1(ss, "SELECT id FROM person WHERE nhs = ?", keys, 1, person_id_out);
    if (rc != WEFT_ENOTFOUND)
        return rc;
    char id[33];
    new_person_id(id);
    if ((rc = insert_person(ss, id, nhs)) != 0)
        return rc;
    sqlite_person_cache_put(ss, keys, 1, id);
    *person_id_out = xstrdup(id);
    return WEFT_OK;
}

int sqlite_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                           const char *link_to_person, char **person_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    *person_id_out = NULL;
    const char *keys[] = {org, system, value};
    int rc =
        lookup1(ss, "SELECT person_id FROM person_local WHERE org = ? AND system = ? AND value = ?",
                keys, 3, person_id_out);
    if (rc != WEFT_ENOTFOUND)
        return rc; /* found (an identifier never moves to a second person) or error */
    char id[33];
    if (link_to_person) {
        snprintf(id, sizeof id, "%s", link_to_person);
    } else {
        new_person_id(id);
        if ((rc = insert_person(ss, id, NULL)) != 0)
            return rc;
    }
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO person_local (org, system, value, person_id,"
                                       " created) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, system);
    sqlite_bind_text(st, 3, value);
    sqlite_bind_text(st, 4, id);
    sqlite_bind_text(st, 5, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "writing local identifier");
    sqlite3_reset(st);
    if (rc == 0) {
        sqlite_person_cache_put(ss, keys, 3, id);
        *person_id_out = xstrdup(id);
    }
    return rc;
}

int sqlite_person_find_local(struct store *s, const char *org, const char *system,
                             const char *value, char **person_id_out)
{
    *person_id_out = NULL;
    const char *keys[] = {org, system, value};
    return lookup1(sqlite_of(s),
                   "SELECT person_id FROM person_local WHERE org = ? AND system = ? AND value = ?",
                   keys, 3, person_id_out);
}

int sqlite_person_get(struct store *s, const char *person_id, struct store_person *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, nhs, created FROM person WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite_col_strdup(st, 0);
        out->nhs = sqlite_col_strdup(st, 1);
        out->created = sqlite_col_strdup(st, 2);
        rc = WEFT_OK;
    } else {
        rc = rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading person");
    }
    sqlite3_reset(st);
    return rc;
}

int sqlite_person_nhs_scan(struct store *s, int (*fn)(const char *, const char *, void *),
                           void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, nhs FROM person WHERE nhs IS NOT NULL");
    if (!st)
        return WEFT_EDB;
    int rc, step;
    for (rc = 0; rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW;)
        rc = fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                ctx);
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "reading persons");
    sqlite3_reset(st);
    return rc;
}

/* store_person_version(): both halves read the resource_person index
 * (person_id, ...) for the person's rows; the count also looks at each row's
 * next_seq and deleted flag.  Cost grows with the person's versions, not with
 * the store. */
int sqlite_person_version(struct store *s, const char *person_id, int64_t snapshot,
                          int64_t *max_seq, int64_t *count, int64_t *snapshot_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    int64_t snap = snapshot;
    if (snap <= 0) {
        sqlite3_stmt *ms = sqlite_stmt(ss, "SELECT COALESCE(max(seq), 0) FROM resource");
        if (!ms)
            return WEFT_EDB;
        if (sqlite3_step(ms) != SQLITE_ROW) {
            sqlite3_reset(ms);
            return sqlite_fail(ss, "reading snapshot");
        }
        snap = sqlite3_column_int64(ms, 0);
        sqlite3_reset(ms);
    }
    sqlite3_stmt *st = sqlite_stmt(
        ss,
        "SELECT (SELECT COALESCE(max(seq), 0) FROM resource WHERE person_id = ?1 AND seq <= ?2),"
        " (SELECT count(*) FROM resource WHERE person_id = ?1 AND seq <= ?2"
        " AND (next_seq IS NULL OR next_seq > ?2) AND deleted = 0)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    sqlite3_bind_int64(st, 2, snap);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *max_seq = sqlite3_column_int64(st, 0);
        *count = sqlite3_column_int64(st, 1);
        if (snapshot_out)
            *snapshot_out = snap;
        rc = WEFT_OK;
    } else {
        rc = sqlite_fail(ss, "reading the person's record version");
    }
    sqlite3_reset(st);
    return rc;
}
