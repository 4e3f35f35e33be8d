/*
 * cmd_reindex.c - `weft reindex --db PATH`: build the search index
 * (store/records.h search_index) for every item current in a database, with
 * the loader's own indexer (fhir/load.h fhir_load_reindex).
 *
 * A database created by this version gets its rows as items are loaded; one
 * that held items when the migration search-index-1 added the index has none
 * for them, and searches across patients do not use the index (they read
 * every item of the type, and refuse above 20,000) until this has run once.
 * Running it again rebuilds the rows; the server may keep running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/err.h"
#include "core/opt.h"
#include "fhir/load.h"
#include "store/store.h"

const struct opt_spec cmd_reindex_specs[] = {
    CMD_OPT_DB,
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft reindex --db PATH\n\n"
    "Builds the search index of every item in the database: needed once for a\n"
    "database that held items before this version added the index (searches\n"
    "across patients use the index only once it is complete).";

int cmd_reindex(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_reindex_specs, argc, argv);
    if (rc != 0 || o.help || o.npos > 0 || !opts_get(&o, "db")) {
        bool help = rc == 0 && o.help;
        if (rc == 0 && !help)
            fprintf(stderr, "weft reindex: --db PATH is required\n");
        fprintf(help ? stdout : stderr, "%s\n", usage);
        opts_free(&o);
        return help ? 0 : EXIT_USAGE;
    }
    const char *db = opts_get(&o, "db");
    struct store *s;
    if (cmd_store_open_current("reindex", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    int64_t items = 0, rows = 0;
    rc = fhir_load_reindex(s, &items, &rows);
    if (rc == 0)
        printf("search index built: %lld items, %lld index rows\n", (long long)items,
               (long long)rows);
    else
        fprintf(stderr, "weft reindex: %s (%s)\n", weft_strerror(rc), store_errmsg(s));
    store_close(s);
    opts_free(&o);
    return rc == 0 ? 0 : 1;
}
