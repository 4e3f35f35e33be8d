/*
 * cmd_audit.c - `weft audit verify|list|breakglass`: check the audit log's
 * hash chain, read entries for governance, and list break-glass events for
 * review.  Reading the log here is not itself audited: the command line is
 * the operator's, who can read the database file anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/store.h"

const struct opt_spec cmd_audit_specs[] = {
    {"db", "PATH", "the database"},
    {"threads", "N", "verify: threads (default 2)"},
    {"person", "ID", "list: entries about this person"},
    {"user", "ID", "list: entries by this user"},
    {"action", "NAME",
     "list: launch, read, search, denial, break-glass, export, policy-change, "
     "admin, token"},
    {"since", "DATE", "list, breakglass: from this date (YYYY-MM-DD)"},
    {"limit", "N", "list: at most N entries, newest first (default 50)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft audit verify --db PATH [--threads N]\n"
    "       weft audit list --db PATH [--person ID] [--user ID] [--action A] [--since DATE]\n"
    "                       [--limit N]\n"
    "       weft audit breakglass --db PATH [--since DATE]\n\n"
    "verify exits 0 when the log is intact and 1, naming the first bad entry, when any entry\n"
    "was changed, deleted, inserted or reordered.";

static int do_verify(const char *db, long threads)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct audit_verify_result r;
    int rc = audit_verify(db, (int)threads, &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (rc == 0) {
        printf("audit log intact: %lld entries verified in %.2f s\n", (long long)r.entries, secs);
        return 0;
    }
    if (rc == WEFT_ECONFLICT) {
        printf("audit log TAMPERED at entry %lld: %s\n", (long long)r.bad_seq, r.problem);
        return 1;
    }
    fprintf(stderr, "weft audit verify: %s\n", r.problem[0] ? r.problem : weft_strerror(rc));
    return 1;
}

static int print_row(const struct store_audit_row *r, void *ctx)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\tuser=%s role=%s org=%s%s%s%s%s person=%s purpose=%s count=%lld",
           (long long)r->seq, r->time, r->action, r->outcome, r->user_id ? r->user_id : "-",
           r->role ? r->role : "-", r->org ? r->org : "-", r->launcher ? " launcher=" : "",
           r->launcher ? r->launcher : "", r->client ? " client=" : "", r->client ? r->client : "",
           r->person_id ? r->person_id : "-", r->purpose ? r->purpose : "-", (long long)r->count);
    if (r->what)
        printf(" what=%s", r->what);
    if (r->reason)
        printf(" reason=\"%s\"", r->reason);
    putchar('\n');
    return 0;
}

static int do_list(struct store *s, struct opts *o)
{
    long limit = 50;
    if (opts_get_long(o, "limit", 50, &limit) != 0 || limit < 1 || limit > 100000) {
        fprintf(stderr, "weft audit list: --limit must be 1-100000\n");
        return EXIT_USAGE;
    }
    struct store_audit_filter f = {.person_id = opts_get(o, "person"),
                                   .user_id = opts_get(o, "user"),
                                   .action = opts_get(o, "action"),
                                   .time_ge = opts_get(o, "since"),
                                   .limit = (int)limit};
    if (store_audit_search(s, &f, print_row, NULL) != 0) {
        fprintf(stderr, "weft audit list: %s\n", store_errmsg(s));
        return 1;
    }
    return 0;
}

static int do_breakglass(struct store *s, struct opts *o)
{
    struct store_breakglass *b = NULL;
    int n = 0;
    if (store_breakglass_list(s, opts_get(o, "since"), &b, &n) != 0) {
        fprintf(stderr, "weft audit breakglass: %s\n", store_errmsg(s));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        printf("%lld\t%s\tuntil %s\tuser=%s (%s) role=%s org=%s person=%s\t%s: %s\n",
               (long long)b[i].id, b[i].started, b[i].expires, b[i].user_id,
               b[i].user_name ? b[i].user_name : "-", b[i].role ? b[i].role : "-", b[i].org,
               b[i].person_id, b[i].reason_code, b[i].reason_text);
        store_breakglass_clear(&b[i]);
    }
    free(b);
    printf("%d break-glass event(s) to review\n", n);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_audit_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_audit_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db");
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    int status = EXIT_USAGE;
    long threads = 2;
    if (!db || !sub) {
        fprintf(stderr, "%s\n", usage);
    } else if (strcmp(sub, "verify") == 0) {
        if (opts_get_long(&o, "threads", 2, &threads) != 0 || threads < 1 || threads > 16)
            fprintf(stderr, "weft audit verify: --threads must be 1-16\n");
        else
            status = do_verify(db, threads);
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "breakglass") == 0) {
        struct store *s = NULL;
        char *err = NULL;
        if ((rc = store_open(&s, db, false, &err)) != 0) {
            fprintf(stderr, "weft audit: %s\n", err ? err : weft_strerror(rc));
            free(err);
            status = 1;
        } else {
            status = strcmp(sub, "list") == 0 ? do_list(s, &o) : do_breakglass(s, &o);
            store_close(s);
        }
    } else {
        fprintf(stderr, "weft audit: unknown subcommand '%s'\n%s\n", sub, usage);
    }
    opts_free(&o);
    return status;
}
