/*
 * cmd_init.c - `weft init --db PATH`: create a database (or bring an
 * existing one to the newest schema: migrations are forward-only and each
 * runs once, so init is safe to repeat).
 */
#include <stdio.h>
#include <stdlib.h>

#include "access/policy.h"
#include "cmd/cmd.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/store.h"

const struct opt_spec cmd_init_specs[] = {
    {"db", "PATH",
     "the database to create (file path or sqlite:PATH), or an existing PostgreSQL database to"
     " set up (postgres://USER@HOST:PORT/DB, postgresql://... or 'host=/socket/dir dbname=DB')"},
    {NULL, NULL, NULL},
};

int cmd_init(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_init_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help("usage: weft init --db PATH\n\n"
                            "Create a Weft database, or bring an existing one to the newest\n"
                            "schema version (safe to repeat).  Prints the schema version.\n",
                            cmd_init_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db_url = opts_get(&o, "db");
    if (!db_url || o.npos > 0) {
        fprintf(stderr, "weft init: %s (see weft init --help)\n",
                db_url ? "unexpected argument" : "--db PATH is required");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    char *err = NULL;
    /* what is printed names the database without a PostgreSQL password */
    char *db = store_url_redacted(db_url);
    if ((rc = store_open(&s, db_url, true, &err)) != 0) {
        fprintf(stderr, "weft init: %s\n", err ? err : weft_strerror(rc));
        free(err);
        free(db);
        opts_free(&o);
        return 1;
    }
    int from = 0, to = 0;
    rc = store_migrate(s, &from, &to);
    if (rc != 0) {
        fprintf(stderr, "weft init: %s: cannot create the schema: %s\n", db, store_errmsg(s));
    } else if (from == to) {
        printf("%s: already at schema version %d\n", db, to);
    } else if (from == 0) {
        printf("%s: created, schema version %d\n", db, to);
    } else {
        printf("%s: upgraded from schema version %d to %d\n", db, from, to);
    }
    if (rc == 0) { /* access: the shipped default policy when none is loaded */
        const char *file = NULL;
        char *perr = NULL;
        int prc = policy_ensure_default(s, &file, &perr);
        if (prc != 0)
            fprintf(stderr, "weft init: warning: no access policy loaded: %s\n",
                    perr ? perr : weft_strerror(prc));
        else if (file)
            printf("%s: default access policy loaded from %s\n", db, file);
        free(perr);
    }
    store_close(s);
    free(db);
    opts_free(&o);
    return rc ? 1 : 0;
}
