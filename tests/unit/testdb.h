/*
 * testdb.h - for unit tests that make a database: the store URL to test
 * against (WEFT_TEST_DB, else a fresh SQLite file), and removing a SQLite
 * file with its WAL and shared-memory files.
 */
#ifndef WEFT_TESTS_UNIT_TESTDB_H
#define WEFT_TESTS_UNIT_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static inline void testdb_drop(const char *url);

/* The store URL a test of the store runs against, into out: WEFT_TEST_DB
 * when set (a store URL the test may fill and empty: "sqlite:PATH", a
 * path, or another backend's URL), else a new SQLite file named after name
 * and the process in WEFT_TMP (or /tmp).  A SQLite file is removed first. */
static inline const char *testdb_url(char *out, size_t cap, const char *name)
{
    const char *env = getenv("WEFT_TEST_DB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        testdb_drop(out);
        return out;
    }
    const char *tmp = getenv("WEFT_TMP");
    snprintf(out, cap, "%s/%s-%d.db", tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
    testdb_remove(out);
    return out;
}

/* Remove what testdb_url made (a SQLite file; nothing for a server URL). */
static inline void testdb_drop(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        testdb_remove(url + 7);
    else if (!strstr(url, "://"))
        testdb_remove(url);
}
#endif
