/*
 * cmd_copy.c - `weft copy --from URL --to URL`: a whole region from one
 * store to another, across backends (SQLite to PostgreSQL and back;
 * store/copy.h), then every table compared (rows and a content digest) and
 * the copy recorded in the target's audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/opt.h"
#include "store/copy.h"
#include "store/store.h"

const struct opt_spec cmd_copy_specs[] = {
    {"from", "URL",
     "the store to copy (sqlite:PATH, a file path or postgres://...); may be serving"},
    {"to", "URL", "the store to copy into: made by weft init, still empty"},
    {NULL, NULL, NULL},
};

static void hex8(const unsigned char *d, char out[17])
{
    hex_encode(d, 8, out);
}

int cmd_copy(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_copy_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(
                "usage: weft copy --from URL --to URL\n\n"
                "Copy a whole region into another store, across backends (e.g. --from\n"
                "sqlite:PATH --to postgres://USER@HOST:PORT/DB, or back): resources with\n"
                "every version, persons and their links and merges, feeds and their inbox,\n"
                "clients, organisations and agreements, launchers, sessions, apps, policy\n"
                "versions, data-quality runs, objections, identity records and the audit\n"
                "log, each row as it is.  The source is read in one snapshot and may be\n"
                "serving: the copy holds what was committed when it began (stop the\n"
                "source's writers first to move a region without leaving anything behind).\n"
                "The target must be new (weft init) and is written in one transaction.\n"
                "Then every table is read back and its rows and content digest compared\n"
                "with the source's and printed; any difference rolls the copy back.\n"
                "Exit 0 when the copy is whole, 1 otherwise.\n",
                cmd_copy_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *from = opts_get(&o, "from"), *to = opts_get(&o, "to");
    if (!from || !to || o.npos > 0) {
        fprintf(stderr, "weft copy: %s (see weft copy --help)\n",
                o.npos > 0 ? "unexpected argument"
                : !from    ? "--from URL is required"
                           : "--to URL is required");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *src = NULL, *dst = NULL;
    if (cmd_store_open_current("copy", from, &src) != 0 ||
        cmd_store_open_current("copy", to, &dst) != 0) {
        if (src)
            store_close(src);
        opts_free(&o);
        return 1;
    }
    char *sfrom = store_url_redacted(from), *sto = store_url_redacted(to);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct store_copy_report rep;
    bool err_src = false;
    rc = store_copy(src, dst, &rep, &err_src);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rep.ntables > 0) {
        printf("%-22s %12s %12s  %-16s %-16s %s\n", "table", "rows from", "rows to", "digest from",
               "digest to", "");
        int64_t rows = 0;
        for (int i = 0; i < rep.ntables; i++) {
            const struct store_copy_table *t = &rep.tables[i];
            char a[17], b[17];
            hex8(t->digest_from, a);
            hex8(t->digest_to, b);
            printf("%-22s %12lld %12lld  %-16s %-16s %s\n", t->name, (long long)t->rows_from,
                   (long long)t->rows_to, a, b, t->same ? "same" : "DIFFERENT");
            rows += t->rows_from;
        }
        for (int i = 0; i < rep.nskipped; i++)
            printf("%-22s %12d %12s  (the target has no such table; empty in the source)\n",
                   rep.skipped[i], 0, "-");
        if (rc == 0)
            printf("copied %s to %s: %d tables, %lld rows, all the same, %.2f s\n", sfrom, sto,
                   rep.ntables, (long long)rows,
                   (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    }
    if (rc != 0) {
        fprintf(stderr, "weft copy: %s\n", store_errmsg(err_src ? src : dst));
    } else {
        const char *user = getenv("USER");
        struct buf by = BUF_INIT, what = BUF_INIT;
        buf_addf(&by, "cli:%s", user && *user ? user : "unknown");
        buf_addf(&what, "copy from %s", sfrom);
        struct audit_event ev = {.action = AUDIT_ADMIN,
                                 .outcome = AUDIT_OK,
                                 .client = by.data,
                                 .what = what.data,
                                 .count = -1,
                                 .reason = "region copied into this store (weft copy)"};
        if (audit_append(dst, &ev, NULL) != 0) {
            fprintf(stderr, "weft copy: copied, but recording it in the audit log failed: %s\n",
                    store_errmsg(dst));
            rc = WEFT_EDB;
        }
        buf_release(&by);
        buf_release(&what);
    }
    store_copy_report_clear(&rep);
    free(sfrom);
    free(sto);
    store_close(src);
    store_close(dst);
    opts_free(&o);
    return rc ? 1 : 0;
}
