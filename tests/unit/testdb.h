/*
 * testdb.h - for unit tests that make a database file: removing it with its
 * WAL and shared-memory files.
 */
#ifndef WEFT_TESTS_UNIT_TESTDB_H
#define WEFT_TESTS_UNIT_TESTDB_H

#include <stdio.h>
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

#endif
