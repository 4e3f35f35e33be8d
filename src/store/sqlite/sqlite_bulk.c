/*
 * sqlite_bulk.c - SQLite table and operations for FHIR Bulk Data export
 * jobs (store/bulk.h).
 *
 * Workload: a few jobs a day per client; each job's row is written a
 * handful of times (queued, progress every few seconds, finished) and read
 * on every status poll by its primary key.  The sweeper lists by status
 * (index bulk_job_status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_bulk.h"

const struct store_migration sqlite_migration_bulk_export_1 = {
    "bulk-export-1",
    "CREATE TABLE bulk_job (id TEXT PRIMARY KEY, client_id INTEGER NOT NULL,"
    " client_name TEXT NOT NULL, org TEXT, purpose TEXT NOT NULL, kind TEXT NOT NULL,"
    " group_id TEXT, types TEXT, since TEXT, request TEXT NOT NULL, status TEXT NOT NULL,"
    " created TEXT NOT NULL, transaction_time TEXT, finished TEXT, expires TEXT, progress TEXT,"
    " output TEXT, error TEXT, count INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX bulk_job_status ON bulk_job (status, created);",
};

#define JOB_COLS                                                                                   \
    "id, client_name, org, purpose, kind, group_id, types, since, request, status, created,"       \
    " transaction_time, finished, expires, progress, output, error, client_id, count"

static void job_fill(sqlite3_stmt *st, struct store_bulk_job *j)
{
    memset(j, 0, sizeof *j);
    char **f[] = {
        &j->id,       &j->client_name, &j->org,      &j->purpose, &j->kind,    &j->group_id,
        &j->types,    &j->since,       &j->request,  &j->status,  &j->created, &j->transaction_time,
        &j->finished, &j->expires,     &j->progress, &j->output,  &j->error};
    for (int i = 0; i < 17; i++)
        *f[i] = sqlite_col_strdup(st, i);
    j->client_id = sqlite3_column_int64(st, 17);
    j->count = sqlite3_column_int64(st, 18);
}

int sqlite_bulk_job_add(struct store *s, const struct store_bulk_job *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO bulk_job (" JOB_COLS ") VALUES (?, ?, ?, ?,"
                                       " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {
        in->id,       in->client_name, in->org,      in->purpose, in->kind,    in->group_id,
        in->types,    in->since,       in->request,  in->status,  in->created, in->transaction_time,
        in->finished, in->expires,     in->progress, in->output,  in->error};
    for (int i = 0; i < 17; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    sqlite3_bind_int64(st, 18, in->client_id);
    sqlite3_bind_int64(st, 19, in->count);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return store_fail(s, WEFT_EEXIST, "an export job with this id already exists");
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "adding an export job");
}

int sqlite_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " JOB_COLS " FROM bulk_job WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        job_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? store_fail(s, WEFT_ENOTFOUND, "no export job with this id")
                             : sqlite_fail(ss, "reading an export job");
}

int sqlite_bulk_job_update(struct store *s, const struct store_bulk_job *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE bulk_job SET status = ?, transaction_time = ?,"
                                       " finished = ?, expires = ?, progress = ?, output = ?,"
                                       " error = ?, count = ? WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->status,   in->transaction_time, in->finished, in->expires,
                       in->progress, in->output,           in->error};
    for (int i = 0; i < 7; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    sqlite3_bind_int64(st, 8, in->count);
    sqlite_bind_text(st, 9, in->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "updating an export job");
    return sqlite3_changes(ss->db) ? WEFT_OK
                                   : store_fail(s, WEFT_ENOTFOUND, "no export job with this id");
}

int sqlite_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " JOB_COLS " FROM bulk_job WHERE ?1 IS NULL OR"
                                       " status = ?1 ORDER BY created, id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, status);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        job_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_bulk_jobs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing export jobs");
    }
    return WEFT_OK;
}
