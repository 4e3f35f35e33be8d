/*
 * cmd_optout.c - `weft optout import|show`: the national data opt-out lists
 * that secondary uses are bound by (analytics/optout.h, docs/ANALYTICS.md).
 *
 * import loads the answer of the NHS "Check for National Data Opt-outs"
 * service (one NHS number per line: the people with no opt-out) with the
 * date it was checked; show lists the lists loaded and says whether
 * secondary outputs may run today.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/optout.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/analytics.h"
#include "store/store.h"

const struct opt_spec cmd_optout_specs[] = {
    CMD_OPT_DB,
    {"cleared", "FILE", "import: the service's answer, one NHS number per line (cleared people)"},
    {"checked", "YYYY-MM-DD", "import: the day the national service was asked"},
    {"valid-days", "N", "import: days after the check date the list may be used (default 30)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft optout import --db PATH --cleared FILE --checked YYYY-MM-DD [--valid-days N]\n"
    "       weft optout show --db PATH\n\n"
    "import loads a national data opt-out list: the NHS numbers the national check\n"
    "cleared for secondary uses.  Secondary outputs count only those people, and\n"
    "refuse to run once the newest list is older than its valid days.\n"
    "show lists the loaded lists and says whether secondary outputs may run today.";

static int do_import(struct opts *o, const char *db)
{
    const char *cleared = opts_get(o, "cleared"), *checked = opts_get(o, "checked");
    if (!cleared || !checked) {
        fprintf(stderr, "weft optout import: --cleared FILE and --checked YYYY-MM-DD are "
                        "required\n");
        return EXIT_USAGE;
    }
    long days;
    if (opts_get_long(o, "valid-days", OPTOUT_VALID_DAYS_DEFAULT, &days) != 0 || days < 1 ||
        days > 3650) {
        fprintf(stderr, "weft optout import: --valid-days must be a number of days from 1 to "
                        "3650\n");
        return EXIT_USAGE;
    }
    struct store *s;
    if (cmd_store_open_current("optout import", db, &s) != 0)
        return 1;
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct optout_import in = {cleared, checked, (int)days, by.data, NULL};
    struct optout_import_result res;
    char err[2048];
    int rc = optout_import(s, &in, &res, err, sizeof err);
    if (rc == 0)
        printf("opt-out list %lld loaded: %lld NHS numbers cleared (%lld duplicate lines), "
               "checked %s, usable until %s\n",
               (long long)res.list_id, (long long)res.count, (long long)res.duplicates, checked,
               res.expires);
    else
        fprintf(stderr, "weft optout import: %s\n", err);
    buf_release(&by);
    store_close(s);
    return rc == 0 ? 0 : 1;
}

static int do_show(const char *db)
{
    struct store *s;
    if (cmd_store_open_current("optout show", db, &s) != 0)
        return 1;
    struct store_optout_list *l;
    int n;
    int rc = store_optout_list_all(s, &l, &n);
    if (rc) {
        fprintf(stderr, "weft optout show: %s\n", store_errmsg(s));
        store_close(s);
        return 1;
    }
    printf("list_id,checked,expires,count,imported,imported_by,sha256\n");
    for (int i = 0; i < n; i++)
        printf("%lld,%s,%s,%lld,%s,%s,%s\n", (long long)l[i].id, l[i].checked, l[i].expires,
               (long long)l[i].count, l[i].imported, l[i].imported_by, l[i].sha256);
    store_optout_lists_free(l, n);
    struct optout_gate g;
    char why[1024];
    rc = optout_gate(s, NULL, &g, why, sizeof why);
    if (rc == 0)
        fprintf(stderr, "secondary outputs may run: list %lld (checked %s) is in force until %s\n",
                (long long)g.list_id, g.checked, g.expires);
    else
        fprintf(stderr, "secondary outputs are refused: %s\n", why);
    store_close(s);
    return 0;
}

int cmd_optout(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_optout_specs, argc, argv);
    if (rc != 0 || opts_flag(&o, "help")) {
        if (rc == 0)
            opts_print_help(usage, cmd_optout_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    const char *db = opts_get(&o, "db");
    int status = EXIT_USAGE;
    if (!sub)
        fprintf(stderr, "%s\n", usage);
    else if (!db)
        fprintf(stderr, "weft optout %s: --db PATH is required\n", sub);
    else if (!strcmp(sub, "import"))
        status = do_import(&o, db);
    else if (!strcmp(sub, "show"))
        status = do_show(db);
    else
        fprintf(stderr, "weft optout: unknown subcommand '%s'\n%s\n", sub, usage);
    opts_free(&o);
    return status;
}
