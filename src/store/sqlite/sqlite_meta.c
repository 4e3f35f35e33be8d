/* sqlite_meta.c - key/value settings (server secrets, counters) for SQLite. */
#include <stdlib.h>

#include "store/sqlite/sqlite_core.h"

int sqlite_meta_get(struct store *s, const char *key, char **value_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    *value_out = NULL;
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT value FROM meta WHERE key = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return WEFT_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return sqlite_fail(ss, "reading meta");
    *value_out = sqlite_col_strdup(st, 0);
    sqlite3_reset(st);
    return WEFT_OK;
}

int sqlite_meta_set(struct store *s, const char *key, const char *value)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO meta (key, value) VALUES (?, ?)"
                                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, key);
    sqlite_bind_text(st, 2, value);
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "writing meta");
    sqlite3_reset(st);
    return rc;
}
