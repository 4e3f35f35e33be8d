/*
 * cmd_org.c - `weft org add|agreement|list`: the organisations that take
 * part in the shared record and their data sharing agreements.  Every change
 * is written to the audit log (action "admin").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/access.h"
#include "store/store.h"
#include "store/txn.h"

const struct opt_spec cmd_org_specs[] = {
    CMD_OPT_DB,
    {"ods", "CODE", "the organisation's ODS code (e.g. RVV, G82001, KENTCC)"},
    {"name", "NAME", "add: the organisation's name"},
    {"type", "TYPE", "add: gp, acute, community, mental-health, social-care, ambulance, hospice"},
    {"kind", "KIND", "agreement: jca (Joint Controllers Agreement) or dpa (Data Processing)"},
    {"from", "DATE", "agreement: first day in force, YYYY-MM-DD"},
    {"to", "DATE", "agreement: last day in force, YYYY-MM-DD (omit: open-ended)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft org add --db PATH --ods CODE --name NAME --type TYPE\n"
    "       weft org agreement --db PATH --ods CODE --kind jca|dpa --from DATE [--to DATE]\n"
    "       weft org list --db PATH\n\n"
    "Organisations take part in the shared record (send or see data) only while a data\n"
    "sharing agreement is in force: from its first day to its last day, inclusive.";

static int open_store(const char *cmd, const char *db, struct store **s)
{
    return cmd_store_open_current(cmd, db, s);
}

static void audit_admin(struct store *s, const char *what, const char *reason)
{
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct audit_event ev = {.action = AUDIT_ADMIN,
                             .outcome = AUDIT_OK,
                             .client = by.data,
                             .what = what,
                             .count = -1,
                             .reason = reason};
    int rc = audit_append(s, &ev, NULL);
    if (rc)
        fprintf(stderr, "weft org: warning: audit entry not written: %s\n", store_errmsg(s));
    buf_release(&by);
}

static int org_add(struct opts *o, struct store *s)
{
    const char *ods = opts_get(o, "ods"), *name = opts_get(o, "name"), *type = opts_get(o, "type");
    if (!org_ods_valid(ods)) {
        fprintf(stderr,
                "weft org add: --ods '%s' is not an ODS code (3-12 capital letters and "
                "digits)\n",
                ods ? ods : "");
        return EXIT_USAGE;
    }
    if (!name || !*name || strlen(name) > 200) {
        fprintf(stderr, "weft org add: --name is required (at most 200 characters)\n");
        return EXIT_USAGE;
    }
    if (!org_type_valid(type)) {
        fprintf(stderr,
                "weft org add: --type '%s' is not one of gp, acute, community, "
                "mental-health, social-care, ambulance, hospice\n",
                type ? type : "");
        return EXIT_USAGE;
    }
    struct store_txn txn;
    int rc = store_txn_begin(&txn, s);
    if (rc == 0)
        rc = store_org_put(s, ods, name, type);
    if (rc == 0) {
        struct buf what = BUF_INIT;
        buf_addf(&what, "org/%s type=%s", ods, type);
        audit_admin(s, what.data, "organisation added or updated");
        buf_release(&what);
        rc = store_txn_commit(&txn);
    } else {
        store_txn_rollback(&txn);
    }
    if (rc) {
        fprintf(stderr, "weft org add: %s\n", store_errmsg(s));
        return 1;
    }
    printf("organisation %s (%s, %s) saved\n", ods, name, type);
    return 0;
}

static int org_agreement(struct opts *o, struct store *s)
{
    const char *ods = opts_get(o, "ods"), *kind = opts_get(o, "kind"), *from = opts_get(o, "from"),
               *to = opts_get(o, "to");
    if (!org_ods_valid(ods)) {
        fprintf(stderr, "weft org agreement: --ods CODE is required\n");
        return EXIT_USAGE;
    }
    if (!org_agreement_kind_valid(kind)) {
        fprintf(stderr, "weft org agreement: --kind '%s' is not jca or dpa\n", kind ? kind : "");
        return EXIT_USAGE;
    }
    if (!org_date_valid(from)) {
        fprintf(stderr, "weft org agreement: --from '%s' is not a date YYYY-MM-DD\n",
                from ? from : "");
        return EXIT_USAGE;
    }
    if (to && !org_date_valid(to)) {
        fprintf(stderr, "weft org agreement: --to '%s' is not a date YYYY-MM-DD\n", to);
        return EXIT_USAGE;
    }
    if (to && strcmp(to, from) < 0) {
        fprintf(stderr, "weft org agreement: --to %s is before --from %s\n", to, from);
        return EXIT_USAGE;
    }
    struct store_org org;
    int rc = store_org_get(s, ods, &org);
    store_org_clear(&org);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr,
                "weft org agreement: no organisation '%s': add it first with 'weft org "
                "add'\n",
                ods);
        return 1;
    }
    int64_t id = 0;
    struct store_txn txn;
    if (rc == 0 && (rc = store_txn_begin(&txn, s)) == 0) {
        rc = store_agreement_add(s, ods, kind, from, to, &id);
        if (rc == 0) {
            struct buf what = BUF_INIT;
            buf_addf(&what, "agreement/%lld org/%s %s %s..%s", (long long)id, ods, kind, from,
                     to ? to : "");
            audit_admin(s, what.data, "agreement recorded");
            buf_release(&what);
            rc = store_txn_commit(&txn);
        } else {
            store_txn_rollback(&txn);
        }
    }
    if (rc) {
        fprintf(stderr, "weft org agreement: %s\n", store_errmsg(s));
        return 1;
    }
    char today[11];
    org_day(time(NULL), today);
    printf("agreement %lld: %s %s from %s%s%s; in force today (%s): %s\n", (long long)id, ods, kind,
           from, to ? " to " : " (open-ended)", to ? to : "", today,
           org_agreement_in_force(s, ods, time(NULL), NULL) ? "yes" : "no");
    return 0;
}

static int org_list(struct store *s)
{
    struct store_org *orgs = NULL;
    int n = 0;
    int rc = store_org_list(s, &orgs, &n);
    if (rc) {
        fprintf(stderr, "weft org list: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%-10s %-14s %-10s %s\n", "ODS", "TYPE", "IN FORCE", "NAME / AGREEMENTS");
    for (int i = 0; i < n; i++) {
        bool in = org_agreement_in_force(s, orgs[i].ods, time(NULL), NULL);
        printf("%-10s %-14s %-10s %s\n", orgs[i].ods, orgs[i].type, in ? "yes" : "no",
               orgs[i].name);
        struct store_agreement *a = NULL;
        int na = 0;
        if (store_agreement_list(s, orgs[i].ods, &a, &na) == 0) {
            for (int k = 0; k < na; k++) {
                printf("%-10s %-14s %-10s   %s %s .. %s\n", "", "", "", a[k].kind, a[k].from,
                       a[k].to ? a[k].to : "(open)");
                store_agreement_clear(&a[k]);
            }
            free(a);
        }
        store_org_clear(&orgs[i]);
    }
    free(orgs);
    printf("%d organisation(s)\n", n);
    return 0;
}

int cmd_org(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_org_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_org_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db");
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    if (!db || !sub || o.npos > 1 ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "agreement") != 0 && strcmp(sub, "list") != 0)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (open_store("org", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    int status = strcmp(sub, "add") == 0         ? org_add(&o, s)
                 : strcmp(sub, "agreement") == 0 ? org_agreement(&o, s)
                                                 : org_list(s);
    store_close(s);
    opts_free(&o);
    return status;
}
