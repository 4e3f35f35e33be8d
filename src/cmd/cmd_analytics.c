/*
 * cmd_analytics.c - `weft analytics secondary|refresh|compliance`: secondary-use
 * outputs (aggregates for planners and analysts, opt-outs applied, small
 * numbers suppressed) and the compliance report that shows which output
 * used which opt-out list and that nobody outside it was counted
 * (analytics/secondary.h, docs/ANALYTICS.md), and `weft analytics refresh`,
 * which computes every output's figures in one scan and stores them for the
 * pages (analytics/refresh.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/incr.h"
#include "analytics/refresh.h"
#include "analytics/secondary.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/analytics.h"
#include "store/store.h"

const struct opt_spec cmd_analytics_specs[] = {
    CMD_OPT_DB,
    {"output", "NAME",
     "secondary: the output (population, frailty, flow, readmissions, ae, inpatients, service)"},
    {"as-of", "YYYY-MM-DD",
     "secondary: the day ages are measured at, a window's last day (default today); "
     "inpatients: also YYYY-MM-DDTHH:MM (default now); refresh: the default windows' last day"},
    {"from", "YYYY-MM-DD",
     "secondary flow, readmissions, ae, service: the first day (default 27 days before --as-of; "
     "service: the first day of the month 11 months before)"},
    {"efi-codes", "FILE", "secondary: the eFI code sets (default policy/efi.codes)"},
    {"full", NULL,
     "refresh: read every person again even when an update from the changed ones would do"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft analytics secondary --db PATH --output NAME [--as-of YYYY-MM-DD]\n"
    "                                [--from YYYY-MM-DD]\n"
    "       weft analytics refresh --db PATH [--as-of YYYY-MM-DD] [--full]\n"
    "       weft analytics compliance --db PATH\n\n"
    "secondary prints an aggregate output as CSV: only people cleared by the national\n"
    "data opt-out list in force are counted, counts of 1-7 are shown as *, others are\n"
    "rounded to the nearest 5; it refuses to run when no list is in force.\n"
    "refresh computes every output for its default window (ending --as-of, default\n"
    "today; inpatients now) and every window stored before, and stores the figures the\n"
    "analytics pages show: from the persons changed since the last refresh when the\n"
    "outputs, windows and opt-out list are the same as then, else (or with --full) in\n"
    "one scan of the record; it prints one CSV line per output stored\n"
    "(output,window,output_id,computed,counted,excluded) and says on standard error\n"
    "which it was and how many persons it read.\n"
    "compliance prints, for every secondary output produced, the list it used and how\n"
    "many counted people are not on that list (0 when compliant; exit status 1 if not).";

static int do_secondary(struct opts *o, const char *db)
{
    struct store *s;
    if (cmd_store_open_current("analytics secondary", db, &s) != 0)
        return 1;
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct secondary_options so = {opts_get(o, "output"),    opts_get(o, "as-of"), NULL, by.data,
                                   opts_get(o, "efi-codes"), opts_get(o, "from")};
    struct secondary_table t;
    char err[1024];
    int rc = secondary_run(s, &so, &t, err, sizeof err);
    if (rc == 0) {
        struct buf csv = BUF_INIT;
        secondary_table_csv(&t, &csv);
        fputs(csv.data, stdout);
        fprintf(stderr,
                "output %lld (%s) computed %s: %lld people counted, %lld not cleared by "
                "opt-out list %lld (checked %s, usable until %s)\n",
                (long long)t.output_id, t.name, t.computed, (long long)t.counted,
                (long long)t.excluded, (long long)t.gate.list_id, t.gate.checked, t.gate.expires);
        buf_release(&csv);
        secondary_table_free(&t);
    } else {
        fprintf(stderr, "weft analytics secondary: %s\n", err);
    }
    buf_release(&by);
    store_close(s);
    return rc == 0 ? 0 : rc == WEFT_EINVAL ? EXIT_USAGE : 1;
}

static int do_refresh(struct opts *o, const char *db)
{
    struct store *s;
    if (cmd_store_open_current("analytics refresh", db, &s) != 0)
        return 1;
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct analytics_refresh_options ro = {.as_of = opts_get(o, "as-of"),
                                           .by = by.data,
                                           .efi_codes = opts_get(o, "efi-codes"),
                                           .full = opts_flag(o, "full")};
    struct incr_stats st;
    struct store_analytics_result *done;
    int n;
    char err[1024];
    int rc = analytics_refresh(s, &ro, &done, &n, &st, err, sizeof err);
    if (rc == 0) {
        if (st.incremental)
            fprintf(stderr, "weft analytics refresh: updated from %lld changed persons\n",
                    (long long)st.persons);
        else
            fprintf(stderr, "weft analytics refresh: full (%s): %lld persons read\n", st.why_full,
                    (long long)st.persons);
        printf("output,window,output_id,computed,counted,excluded\n");
        for (int i = 0; i < n; i++)
            printf("%s,%s,%lld,%s,%lld,%lld\n", done[i].name, done[i].params,
                   (long long)done[i].output_id, done[i].computed, (long long)done[i].counted,
                   (long long)done[i].excluded);
        store_analytics_results_free(done, n);
    } else {
        fprintf(stderr, "weft analytics refresh: %s\n", err);
    }
    buf_release(&by);
    store_close(s);
    return rc == 0 ? 0 : rc == WEFT_EINVAL ? EXIT_USAGE : 1;
}

static int do_compliance(const char *db)
{
    struct store *s;
    if (cmd_store_open_current("analytics compliance", db, &s) != 0)
        return 1;
    struct buf csv = BUF_INIT;
    char err[1024];
    int64_t outside = 0;
    int rc = secondary_compliance(s, &csv, &outside, err, sizeof err);
    if (rc == 0)
        fputs(csv.data, stdout);
    else
        fprintf(stderr, "weft analytics compliance: %s\n", err);
    if (rc == 0 && outside)
        fprintf(stderr,
                "weft analytics compliance: %lld counted people are not on the list "
                "their output used\n",
                (long long)outside);
    buf_release(&csv);
    store_close(s);
    return rc == 0 && outside == 0 ? 0 : 1;
}

int cmd_analytics(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_analytics_specs, argc, argv);
    if (rc != 0 || opts_flag(&o, "help")) {
        if (rc == 0)
            opts_print_help(usage, cmd_analytics_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    const char *db = opts_get(&o, "db");
    int status = EXIT_USAGE;
    if (!sub)
        fprintf(stderr, "%s\n", usage);
    else if (!db)
        fprintf(stderr, "weft analytics %s: --db PATH is required\n", sub);
    else if (!strcmp(sub, "secondary"))
        status = do_secondary(&o, db);
    else if (!strcmp(sub, "refresh"))
        status = do_refresh(&o, db);
    else if (!strcmp(sub, "compliance"))
        status = do_compliance(db);
    else
        fprintf(stderr, "weft analytics: unknown subcommand '%s'\n%s\n", sub, usage);
    opts_free(&o);
    return status;
}
