/*
 * testdb.h - for unit tests that make a database: the store URL to test
 * against (WEFT_TEST_DB, else a fresh SQLite file), and removing a SQLite
 * file with its WAL and shared-memory files.
 *
 * Store tests run on PostgreSQL when WEFT_TEST_DB holds a PostgreSQL URL
 * (tests/run-tests.sh --backend postgres gives each test program a fresh
 * database); testdb_url() and testdb_pick() then empty that database (every
 * table, sequence and function of schema public dropped), so each test
 * starts from nothing, as with a new SQLite file.
 */
#ifndef WEFT_TESTS_UNIT_TESTDB_H
#define WEFT_TESTS_UNIT_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"

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

/* The PostgreSQL database under test (WEFT_TEST_DB naming one), or NULL. */
static inline const char *testdb_pg(void)
{
    const char *u = getenv("WEFT_TEST_DB");
    return u && *u && store_url_is_postgres(u) ? u : NULL;
}

/* Empty the PostgreSQL database at url: 0, or -1 with the reason printed. */
static inline int testdb_pg_empty(const char *url)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = NULL;
    if (PQstatus(c) == CONNECTION_OK)
        r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE;"
                      " CREATE SCHEMA public");
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "testdb: cannot empty %s: %s\n", url, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static inline void testdb_drop(const char *url);

/* The store URL a test of the store runs against, into out: WEFT_TEST_DB
 * when set (a store URL the test may fill and empty: "sqlite:PATH", a
 * path, or a PostgreSQL URL, emptied here), else a new SQLite file named
 * after name and the process in WEFT_TMP (or /tmp).  A SQLite file is
 * removed first.  NULL when a PostgreSQL database cannot be emptied. */
static inline const char *testdb_url(char *out, size_t cap, const char *name)
{
    const char *env = getenv("WEFT_TEST_DB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        if (store_url_is_postgres(out))
            return testdb_pg_empty(out) == 0 ? out : NULL;
        testdb_drop(out);
        return out;
    }
    const char *tmp = getenv("WEFT_TMP");
    snprintf(out, cap, "%s/%s-%d.db", tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
    testdb_remove(out);
    return out;
}

/* For tests that name their SQLite file themselves: the PostgreSQL
 * database under test, emptied, when there is one; else path.  NULL when
 * it cannot be emptied. */
static inline const char *testdb_pick(const char *path)
{
    const char *u = testdb_pg();
    if (!u)
        return path;
    return testdb_pg_empty(u) == 0 ? u : NULL;
}

/* Remove what testdb_url made (a SQLite file; nothing for a server URL). */
static inline void testdb_drop(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        testdb_remove(url + 7);
    else if (!strstr(url, "://") && !store_url_is_postgres(url))
        testdb_remove(url);
}
/* The database of the cmocka group in this test program (testdb_setup). */
static inline char *testdb_group_url(void)
{
    static char url[4096];
    return url;
}

/* A cmocka setup: a fresh database named after name (testdb_url),
 * migrated, its store in *state.  0, or -1 with the reason on stderr. */
static inline int testdb_setup(void **state, const char *name)
{
    char *url = testdb_group_url();
    struct store *s;
    char *err = NULL;
    if (!testdb_url(url, 4096, name) || store_open(&s, url, true, &err) != 0) {
        fprintf(stderr, "testdb: cannot open %s: %s\n", url, err ? err : "");
        free(err);
        return -1;
    }
    if (store_migrate(s, NULL, NULL) != 0) {
        fprintf(stderr, "testdb: cannot migrate %s: %s\n", url, store_errmsg(s));
        store_close(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* The cmocka teardown of testdb_setup: close the store, drop its file. */
static inline int testdb_teardown(void **state)
{
    store_close(*state);
    testdb_drop(testdb_group_url());
    return 0;
}
#endif
