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

#include "audit/anchor.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

const struct opt_spec cmd_audit_specs[] = {
    CMD_OPT_DB,
    {"threads", "N", "verify: threads (default 2)"},
    {"anchor", "FILE", "verify: check against this anchor file; anchor: append the head to it"},
    {"person", "ID", "list: entries about this person"},
    {"nhs", "NUMBER", "list: entries about the person holding this NHS number"},
    {"user", "ID", "list: entries by this user"},
    {"action", "NAME",
     "list: launch, read, search, denial, break-glass, export, policy-change, "
     "admin, token, write"},
    {"since", "DATE", "list, breakglass: from this date (YYYY-MM-DD)"},
    {"limit", "N", "list: at most N entries, newest first (default 50)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft audit verify --db PATH [--threads N] [--anchor FILE]\n"
    "       weft audit anchor --db PATH --anchor FILE|syslog\n"
    "       weft audit list --db PATH [--person ID | --nhs NUMBER] [--user ID] [--action A]\n"
    "                       [--since DATE] [--limit N]\n"
    "       weft audit breakglass --db PATH [--since DATE]\n\n"
    "verify exits 0 when the log is intact and 1, naming the first bad entry, when any entry\n"
    "was changed, deleted, inserted or reordered.  With --anchor it also checks every anchored\n"
    "head (written by 'weft serve --audit-anchor' or 'weft audit anchor'), which detects a\n"
    "truncated tail or a rewritten chain that the database alone cannot show.";

static int do_verify(const char *db, long threads, const char *anchor)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct audit_verify_result r;
    int rc = audit_verify(db, (int)threads, &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (rc == WEFT_ECONFLICT) {
        printf("audit log TAMPERED at entry %lld: %s\n", (long long)r.bad_seq, r.problem);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "weft audit verify: %s\n", r.problem[0] ? r.problem : weft_strerror(rc));
        return 1;
    }
    if (!anchor) {
        printf("audit log intact: %lld entries verified in %.2f s\n"
               "not proven without an anchor (--anchor FILE): that no entries were removed from "
               "the end together with the recorded head, and that the whole log and its head "
               "were not rewritten\n",
               (long long)r.entries, secs);
        return 0;
    }
    struct audit_anchor_result ar;
    rc = audit_anchor_check(db, anchor, &ar);
    if (rc == WEFT_ECONFLICT) {
        printf("audit log TAMPERED (the chain is consistent, the anchor is not): %s\n", ar.problem);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "weft audit verify: %s\n", ar.problem[0] ? ar.problem : weft_strerror(rc));
        return 1;
    }
    printf("audit log intact: %lld entries verified in %.2f s; %lld anchor(s) hold, the newest "
           "for entry %lld (%s); entries after it are proven by the chain alone\n",
           (long long)r.entries, secs, (long long)ar.anchors, (long long)ar.newest_seq,
           ar.newest_time);
    return 0;
}

static int do_anchor(struct store *s, const char *anchor)
{
    char err[300];
    if (audit_anchor_write(s, anchor, err, sizeof err) != 0) {
        fprintf(stderr, "weft audit anchor: %s\n", err);
        return 1;
    }
    return 0;
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
    const char *nhs = opts_get(o, "nhs");
    char *person = NULL;
    if (nhs) {
        char digits[11];
        if (opts_get(o, "person")) {
            fprintf(stderr, "weft audit list: give --person or --nhs, not both\n");
            return EXIT_USAGE;
        }
        if (!nhs_number_valid(nhs, digits)) {
            fprintf(stderr, "weft audit list: '%s' is not a valid NHS number\n", nhs);
            return EXIT_USAGE;
        }
        int rc = store_person_find_nhs(s, digits, &person);
        if (rc == WEFT_ENOTFOUND) {
            printf("no person in the record holds NHS number %s: nothing was viewed\n", nhs);
            return 0;
        }
        if (rc != 0) {
            fprintf(stderr, "weft audit list: %s\n", store_errmsg(s));
            return 1;
        }
    }
    struct store_audit_filter f = {.person_id = person ? person : opts_get(o, "person"),
                                   .user_id = opts_get(o, "user"),
                                   .action = opts_get(o, "action"),
                                   .time_ge = opts_get(o, "since"),
                                   .limit = (int)limit};
    int rc = store_audit_search(s, &f, print_row, NULL);
    free(person);
    if (rc != 0) {
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
            status = do_verify(db, threads, opts_get(&o, "anchor"));
    } else if (strcmp(sub, "anchor") == 0 && !opts_get(&o, "anchor")) {
        fprintf(stderr, "weft audit anchor: --anchor FILE|syslog is required\n");
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "breakglass") == 0 ||
               strcmp(sub, "anchor") == 0) {
        struct store *s = NULL;
        char *err = NULL;
        if ((rc = store_open(&s, db, false, &err)) != 0) {
            fprintf(stderr, "weft audit: %s\n", err ? err : weft_strerror(rc));
            free(err);
            status = 1;
        } else {
            status = strcmp(sub, "list") == 0     ? do_list(s, &o)
                     : strcmp(sub, "anchor") == 0 ? do_anchor(s, opts_get(&o, "anchor"))
                                                  : do_breakglass(s, &o);
            store_close(s);
        }
    } else {
        fprintf(stderr, "weft audit: unknown subcommand '%s'\n%s\n", sub, usage);
    }
    opts_free(&o);
    return status;
}
