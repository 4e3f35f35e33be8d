/*
 * cmd_restore.c - `weft restore --from FILE --db PATH`: make a database from
 * a backup written by `weft backup`.  The backup is checked before anything
 * is written and never modified; PATH must not exist (a restore never
 * overwrites a database: move the damaged one aside first).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/backup.h"
#include "store/store.h"

const struct opt_spec cmd_restore_specs[] = {
    {"from", "FILE", "the backup file (from weft backup)"},
    {"db", "PATH", "the database to create from it (must not exist)"},
    {NULL, NULL, NULL},
};

int cmd_restore(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_restore_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(
                "usage: weft restore --from FILE --db PATH\n\n"
                "Create the database PATH from a backup made by `weft backup`.  The backup\n"
                "is checked first and only read; PATH must not exist (move a damaged\n"
                "database aside first).  Then check the audit chain with\n"
                "`weft audit verify --db PATH` and start `weft serve` on it.\n",
                cmd_restore_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *from = opts_get(&o, "from"), *db = opts_get(&o, "db");
    if (!from || !db || o.npos > 0) {
        fprintf(stderr, "weft restore: %s (see weft restore --help)\n",
                o.npos > 0 ? "unexpected argument"
                : !from    ? "--from FILE is required"
                           : "--db PATH is required");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store_backup_info info;
    char *err = NULL;
    rc = store_restore(from, db, &info, &err);
    if (rc != 0) {
        fprintf(stderr, "weft restore: %s\n", err ? err : weft_strerror(rc));
        free(err);
        opts_free(&o);
        return 1;
    }
    printf("%s: restored from %s, schema version %d, %.1f MB\n", db, from, info.schema_version,
           (double)info.bytes / 1e6);
    /* A backup an older weft made needs its migrations before serving. */
    struct store *s;
    if (cmd_store_open("restore", db, &s) == 0) {
        int pending = 0;
        if (store_schema_pending(s, &pending) == 0 && pending > 0)
            printf("%s: made by an older weft: upgrade it with: weft init --db %s\n", db, db);
        store_close(s);
    }
    opts_free(&o);
    return 0;
}
