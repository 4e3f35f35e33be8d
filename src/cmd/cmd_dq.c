/*
 * cmd_dq.c - `weft dq run|report|failures`: run the data-quality checks of
 * the rules file over the store (per organisation), print an
 * organisation's report (scores, checks, trend) as CSV or JSON, and list
 * its failing records as CSV with the source's own identifiers, so that
 * the source can put them right.  The engine is src/dq/; docs/DATA_QUALITY.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "dq/dq.h"
#include "store/store.h"

const struct opt_spec cmd_dq_specs[] = {
    CMD_OPT_DB,
    {"org", "ODS", "run: only this organisation; report, failures: the organisation (required)"},
    {"format", "csv|json", "report: output format (default csv)"},
    {"rules", "FILE", "run: the rules file (default policy/dq.rules, or $WEFT_DQ_RULES)"},
    {"as-of", "YYYY-MM-DD", "run: the day dates in the future are measured from (default today)"},
    {"trend", "N", "report: runs in the trend (default 30)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft dq run --db PATH [--org ODS] [--rules FILE] [--as-of YYYY-MM-DD]\n"
    "       weft dq report --db PATH --org ODS [--format csv|json] [--trend N]\n"
    "       weft dq failures --db PATH --org ODS\n\n"
    "run checks every organisation's records (or one's) and keeps the results;\n"
    "report prints the newest run's scores and checks for an organisation;\n"
    "failures prints its failing records as CSV on standard output.";

static int write_stdout(const char *data, size_t len, void *ctx)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) == len ? 0 : WEFT_EIO;
}

static int do_run(const char *db, struct opts *o)
{
    struct dq_rules rules;
    char err[512];
    if (dq_rules_load(opts_get(o, "rules"), &rules, err, sizeof err) != 0) {
        fprintf(stderr, "weft dq run: %s\n", err);
        return 1;
    }
    struct store *rd = NULL, *wr = NULL;
    if (cmd_store_open_current("dq run", db, &rd) != 0) {
        dq_rules_free(&rules);
        return 1;
    }
    if (cmd_store_open_current("dq run", db, &wr) != 0) {
        store_close(rd);
        dq_rules_free(&rules);
        return 1;
    }
    struct dq_options opt = {opts_get(o, "org"), opts_get(o, "as-of"), &rules};
    struct dq_summary sum;
    int rc = dq_run(rd, wr, &opt, &sum, err, sizeof err);
    if (rc == 0)
        printf("data-quality run %lld: %lld items, %lld patient records, %lld messages, %d "
               "organisation(s), %lld failing records, %.2f s\n",
               (long long)sum.run_id, (long long)sum.items, (long long)sum.patients,
               (long long)sum.messages, sum.orgs, (long long)sum.failures, sum.seconds);
    else
        fprintf(stderr, "weft dq run: %s\n", err[0] ? err : weft_strerror(rc));
    store_close(wr);
    store_close(rd);
    dq_rules_free(&rules);
    return rc == 0 ? 0 : 1;
}

int cmd_dq(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_dq_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_dq_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *org = opts_get(&o, "org");
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    const char *format = opts_get_or(&o, "format", "csv");
    long trend = 30;
    int status = EXIT_USAGE;
    if (!db || !sub) {
        fprintf(stderr, "%s\n", usage);
    } else if (strcmp(sub, "run") == 0) {
        status = do_run(db, &o);
    } else if (strcmp(sub, "report") == 0 || strcmp(sub, "failures") == 0) {
        bool report = sub[0] == 'r';
        if (!org)
            fprintf(stderr, "weft dq %s: --org ODS is required\n%s\n", sub, usage);
        else if (report && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
            fprintf(stderr, "weft dq report: --format must be csv or json\n");
        else if (opts_get_long(&o, "trend", 30, &trend) != 0 || trend < 1 || trend > 1000)
            fprintf(stderr, "weft dq report: --trend must be 1-1000\n");
        else {
            struct store *s = NULL;
            char err[512] = "";
            status = 1;
            if (cmd_store_open_current(report ? "dq report" : "dq failures", db, &s) == 0) {
                if (report) {
                    struct buf b = BUF_INIT;
                    rc = dq_report(s, org, format, (int)trend, &b, err, sizeof err);
                    if (rc == 0)
                        rc = write_stdout(b.data, b.len, NULL);
                    buf_release(&b);
                } else {
                    rc = dq_failures_csv(s, org, write_stdout, NULL, err, sizeof err);
                }
                if (rc == 0)
                    status = 0;
                else
                    fprintf(stderr, "weft dq %s: %s\n", sub, err[0] ? err : weft_strerror(rc));
                store_close(s);
            }
        }
    } else {
        fprintf(stderr, "weft dq: unknown subcommand '%s'\n%s\n", sub, usage);
    }
    opts_free(&o);
    return status;
}
