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
        fprintf(stderr, "weft %s: %s (create it with: weft init --db %s)\n", what,
                err ? err : weft_strerror(rc), db);
        free(err);
        return rc;
    }
    int v = 0;
    if (store_schema_version(s, &v) != 0 || v == 0) {
        fprintf(stderr, "weft %s: '%s' is not a Weft database (run: weft init --db %s)\n", what, db,
                db);
        store_close(s);
        return WEFT_EINVAL;
    }
    *out = s;
    return WEFT_OK;
}
