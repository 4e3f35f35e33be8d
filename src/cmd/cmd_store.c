/*
 * cmd_store.c - opening the database for a subcommand, the same way for
 * every command: the file must exist and carry Weft's schema, and when it
 * does not the message says which database and what to run.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "core/err.h"
#include "store/store.h"

int cmd_store_open(const char *what, const char *db, struct store **out)
{
    *out = NULL;
    struct store *s;
    char *err = NULL;
    int rc = store_open(&s, db, false, &err);
    if (rc != 0) {
        /* Suggest `weft init` only when the file is missing: a file that is
         * not a database would be no better for it. */
        if (rc == WEFT_ENOTFOUND)
            fprintf(stderr, "weft %s: %s (create it with: weft init --db %s)\n", what,
                    err ? err : weft_strerror(rc), db);
        else
            fprintf(stderr, "weft %s: %s\n", what, err ? err : weft_strerror(rc));
        free(err);
        return rc;
    }
    int v = 0;
    if (store_schema_version(s, &v) != 0 || v == 0) {
        char *shown = store_url_redacted(db); /* no PostgreSQL password in messages */
        fprintf(stderr, "weft %s: '%s' is not a Weft database (run: weft init --db %s)\n", what,
                shown, shown);
        free(shown);
        store_close(s);
        return WEFT_EINVAL;
    }
    *out = s;
    return WEFT_OK;
}

int cmd_store_require_current(const char *what, const char *db, struct store *s)
{
    int pending = 0;
    int rc = store_schema_pending(s, &pending);
    if (rc != 0) {
        fprintf(stderr, "weft %s: %s: cannot read the schema: %s\n", what, db, store_errmsg(s));
    } else if (pending > 0) {
        char *shown = store_url_redacted(db);
        fprintf(stderr,
                "weft %s: '%s' was made by an older weft (%d schema migration%s to apply):"
                " upgrade it first with: weft init --db %s\n",
                what, shown, pending, pending == 1 ? "" : "s", shown);
        free(shown);
        rc = WEFT_EINVAL;
    }
    return rc;
}

int cmd_store_open_current(const char *what, const char *db, struct store **out)
{
    int rc = cmd_store_open(what, db, out);
    if (rc != 0)
        return rc;
    rc = cmd_store_require_current(what, db, *out);
    if (rc != 0) {
        store_close(*out);
        *out = NULL;
    }
    return rc;
}
