/*
 * testdb.h - for unit tests that make a database: removing a SQLite file
 * with its WAL and shared-memory files, and choosing the backend.
 *
 * Store tests run on PostgreSQL when WEFT_TEST_DB holds a PostgreSQL URL
 * (tests/run-tests.sh --backend postgres gives each test program a fresh
 * database); testdb_url() then empties that database before each test, so
 * every test starts from nothing, as with a new SQLite file.
 */
#ifndef WEFT_TESTS_UNIT_TESTDB_H
#define WEFT_TESTS_UNIT_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>

/* Remove the SQLite database at path and its -wal and -shm files. */
static inline void testdb_remove(const char *path)
{
    char p[4096];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* The PostgreSQL database under test (WEFT_TEST_DB), or NULL for SQLite. */
static inline const char *testdb_pg(void)
{
    const char *u = getenv("WEFT_TEST_DB");
    return u && *u ? u : NULL;
}

/* The database a test opens: WEFT_TEST_DB, emptied (every table, sequence
 * and function of schema public dropped), when set; else path.  NULL when
 * the PostgreSQL database cannot be emptied (the message is printed). */
static inline const char *testdb_url(const char *path)
{
    const char *u = testdb_pg();
    if (!u)
        return path;
    PGconn *c = PQconnectdb(u);
    PGresult *r = NULL;
    if (PQstatus(c) == CONNECTION_OK)
        r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE;"
                      " CREATE SCHEMA public");
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "testdb: cannot empty %s: %s\n", u, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? u : NULL;
}

#endif
