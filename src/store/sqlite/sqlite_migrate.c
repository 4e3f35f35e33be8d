/*
 * sqlite_migrate.c - the schema: a list of named, forward-only migrations.
 *
 * Each migration runs once, inside one transaction with its record in
 * schema_migration, so a crash mid-way leaves the previous version intact.
 * The schema version is the number of migrations applied.  To add one, see
 * store/store_int.h: define it in your own file, add one line to the list.
 */
#include <stdio.h>
#include <string.h>

#include "store/sqlite/sqlite_core.h"
#include "store/sqlite/sqlite_access.h"
#include "store/sqlite/sqlite_feeds.h"
#include "store/sqlite/sqlite_app.h"
#include "store/sqlite/sqlite_dq.h"
#include "store/sqlite/sqlite_gov.h"
#include "store/sqlite/sqlite_citizen.h"
#include "store/sqlite/sqlite_proxy.h"
#include "store/sqlite/sqlite_identity.h"
#include "store/sqlite/sqlite_analytics.h"
#include "store/sqlite/sqlite_bulk.h"

/*
 * core-1: persons, resources (every version is a row), search terms,
 * clients, meta.
 *
 * resource: one row per version; seq (the rowid) orders all versions store-
 * wide.  next_seq is the seq of the version that replaced this one (NULL
 * while current), so "the version visible at snapshot S" is
 * seq <= S AND (next_seq IS NULL OR next_seq > S): search pages run against a
 * snapshot without copying anything.  hash is a 128-bit digest of the JSON
 * text for the no-op-on-reload check.
 */
const struct store_migration sqlite_migration_core_1 = {
    "core-1",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE person (id TEXT PRIMARY KEY, nhs TEXT UNIQUE, created TEXT NOT NULL);"
    "CREATE TABLE person_local (org TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL,"
    " person_id TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (org, system, value));"
    "CREATE INDEX person_local_person ON person_local (person_id);"
    "CREATE TABLE resource (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL,"
    " version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, next_seq INTEGER,"
    " person_id TEXT, category TEXT NOT NULL, source_org TEXT NOT NULL, source_id TEXT NOT NULL,"
    " feed TEXT, effective TEXT, code TEXT, status TEXT, last_updated TEXT NOT NULL,"
    " hash BLOB NOT NULL, json TEXT NOT NULL);"
    "CREATE UNIQUE INDEX resource_id ON resource (id, version);"
    "CREATE INDEX resource_type ON resource (type, id);"
    "CREATE INDEX resource_person ON resource (person_id, type, effective);"
    "CREATE TABLE resource_term (param TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (param, value, seq));"
    "CREATE TABLE client (id INTEGER PRIMARY KEY, name TEXT NOT NULL, org TEXT, scopes TEXT,"
    " token_hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked TEXT);",
};

/*
 * core-2: the person index orders by COALESCE(effective,'') - the exact
 * expression search sorts and pages on (sqlite_search.c), so a patient's
 * items of a type come out of the index in date order without a sort.
 */
const struct store_migration sqlite_migration_core_2 = {
    "core-2",
    "DROP INDEX resource_person;"
    "CREATE INDEX resource_person ON resource (person_id, type, COALESCE(effective,''));",
};

/*
 * core-3: the tables written for every new person and every Patient become
 * WITHOUT ROWID tables clustered on their keys.  As rowid tables each had a
 * hidden rowid b-tree plus an index for the key, so an insert wrote two
 * b-trees (three with person.nhs / person_local_person); now the key is the
 * table.  resource_term in particular gets about a dozen rows per Patient.
 */
const struct store_migration sqlite_migration_core_3 = {
    "core-3",
    "CREATE TABLE person_new (id TEXT PRIMARY KEY, nhs TEXT UNIQUE, created TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "INSERT INTO person_new (id, nhs, created) SELECT id, nhs, created FROM person;"
    "DROP TABLE person;"
    "ALTER TABLE person_new RENAME TO person;"
    "CREATE TABLE person_local_new (org TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL,"
    " person_id TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (org, system, value))"
    " WITHOUT ROWID;"
    "INSERT INTO person_local_new (org, system, value, person_id, created)"
    " SELECT org, system, value, person_id, created FROM person_local;"
    "DROP TABLE person_local;"
    "ALTER TABLE person_local_new RENAME TO person_local;"
    "CREATE INDEX person_local_person ON person_local (person_id);"
    "CREATE TABLE resource_term_new (param TEXT NOT NULL, value TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY (param, value, seq)) WITHOUT ROWID;"
    "INSERT INTO resource_term_new (param, value, seq) SELECT param, value, seq FROM resource_term;"
    "DROP TABLE resource_term;"
    "ALTER TABLE resource_term_new RENAME TO resource_term;",
};

/* core-5: "name" and "gender" Patient terms were written but no search
 * parameter reads them (fhir/search.c); the loader no longer writes them. */
const struct store_migration sqlite_migration_core_5 = {
    "core-5",
    "DELETE FROM resource_term WHERE param IN ('name', 'gender');",
};

/* core-6: deletion markers by type (few rows: written only by deletes), so
 * that type-level history (sqlite_history) reads two indexes newest first
 * instead of the whole table once search-1 made resource_type partial. */
const struct store_migration sqlite_migration_core_6 = {
    "core-6",
    "CREATE INDEX resource_type_deleted ON resource (type) WHERE deleted <> 0;",
};

/* The list, in order.  Append new lines at the end. */
static const struct store_migration *const migrations[] = {
    &sqlite_migration_core_1,
    /* ---- other subsystems: one line per migration below this mark ---- */
    &sqlite_migration_access_1,
    &sqlite_migration_audit_1,
    &sqlite_migration_feeds_1,
    &sqlite_migration_merge_1,
    &sqlite_migration_audit_2,
    &sqlite_migration_core_2,
    &sqlite_migration_core_3,
    &sqlite_migration_core_4,
    &sqlite_migration_core_5,
    &sqlite_migration_feeds_2,
    &sqlite_migration_search_1,
    &sqlite_migration_core_6,
    &sqlite_migration_feeds_3,
    &sqlite_migration_apps_1,
    &sqlite_migration_dq_1,
    &sqlite_migration_gov_1,
    &sqlite_migration_citizen_1,
    &sqlite_migration_citizen_2,
    &sqlite_migration_citizen_3,
    &sqlite_migration_identity_1,
    &sqlite_migration_feeds_tls_1,
    &sqlite_migration_feeds_resubmit_1,
    &sqlite_migration_feeds_csvrows_1,
    &sqlite_migration_analytics_1,
    &sqlite_migration_proxy_1,
    &sqlite_migration_client_cert_1,
    &sqlite_migration_bulk_export_1,
    &sqlite_migration_client_purpose_1,
    &sqlite_migration_feeds_journal_1,
    &sqlite_migration_client_keys_1,
    &sqlite_migration_search_index_1,
    &sqlite_migration_search_index_2,
    &sqlite_migration_analytics_results_1,
    &sqlite_migration_review_other_1,
    &sqlite_migration_analytics_incremental_1,
    &sqlite_migration_search_index_3,
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int ensure_table(struct sqlite_store *ss)
{
    return sqlite_exec(ss, "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY,"
                           " applied TEXT NOT NULL)");
}

static int is_applied(struct sqlite_store *ss, const char *name, bool *applied)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT 1 FROM schema_migration WHERE name = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(ss, "reading schema_migration");
    *applied = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return WEFT_OK;
}

int sqlite_schema_version(struct store *s, int *version)
{
    struct sqlite_store *ss = sqlite_of(s);
    *version = 0;
    sqlite3_stmt *st = sqlite_stmt(
        ss,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'");
    if (!st)
        return WEFT_EDB;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqlite_fail(ss, "reading schema");
    int exists = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (!exists)
        return WEFT_OK;
    st = sqlite_stmt(ss, "SELECT count(*) FROM schema_migration");
    if (!st)
        return WEFT_EDB;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqlite_fail(ss, "reading schema_migration");
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return WEFT_OK;
}

int sqlite_schema_pending(struct store *s, int *pending)
{
    struct sqlite_store *ss = sqlite_of(s);
    int v = 0, rc;
    *pending = NMIGRATIONS;
    if ((rc = sqlite_schema_version(s, &v)) != 0 || v == 0)
        return rc;
    int n = 0;
    for (int i = 0; i < NMIGRATIONS; i++) {
        bool applied = false;
        if ((rc = is_applied(ss, migrations[i]->name, &applied)) != 0)
            return rc;
        n += !applied;
    }
    *pending = n;
    return WEFT_OK;
}

int sqlite_migrate(struct store *s, int *from_version, int *to_version)
{
    struct sqlite_store *ss = sqlite_of(s);
    int rc, v0 = 0;
    if ((rc = sqlite_schema_version(s, &v0)) != 0)
        return rc;
    if (from_version)
        *from_version = v0;
    if ((rc = ensure_table(ss)) != 0)
        return rc;
    for (int i = 0; i < NMIGRATIONS; i++) {
        bool applied = false;
        if ((rc = is_applied(ss, migrations[i]->name, &applied)) != 0)
            return rc;
        if (applied)
            continue;
        if ((rc = sqlite_exec(ss, "BEGIN IMMEDIATE")) != 0)
            return rc;
        rc = sqlite_exec(ss, migrations[i]->sql);
        sqlite_person_cache_clear(ss); /* may rewrite person, person_local */
        if (rc != 0) {
            char msg[sizeof s->errmsg];
            snprintf(msg, sizeof msg, "%s", s->errmsg);
            sqlite_exec(ss, "ROLLBACK");
            return store_fail(s, rc, "migration %s: %s", migrations[i]->name, msg);
        }
        sqlite3_stmt *st =
            sqlite_stmt(ss, "INSERT INTO schema_migration (name, applied) VALUES (?, ?)");
        char now[32];
        sqlite_now(now);
        if (!st) {
            sqlite_exec(ss, "ROLLBACK");
            return WEFT_EDB;
        }
        sqlite_bind_text(st, 1, migrations[i]->name);
        sqlite_bind_text(st, 2, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = sqlite_fail(ss, "recording migration");
            sqlite3_reset(st);
            sqlite_exec(ss, "ROLLBACK");
            return rc;
        }
        sqlite3_reset(st);
        if ((rc = sqlite_exec(ss, "COMMIT")) != 0)
            return rc;
    }
    return to_version ? sqlite_schema_version(s, to_version) : WEFT_OK;
}
