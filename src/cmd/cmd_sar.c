/*
 * cmd_sar.c - `weft sar create|extend|list|show|export`: subject access
 * requests logged by governance staff and the package that answers them
 * (access/sar.h for the lifecycle, web/sar_export.h for the package).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "core/principal.h"
#include "access/sar.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/citizen.h"
#include "store/records.h"
#include "store/store.h"
#include "web/sar_export.h"

const struct opt_spec cmd_sar_specs[] = {
    CMD_OPT_DB,
    {"nhs", "NUMBER", "create, list: the person's NHS number"},
    {"person", "ID", "or the person's Weft id"},
    {"received", "DATE", "create: the day the request was received, YYYY-MM-DD"},
    {"id", "ID", "extend, show, export: the request id"},
    {"months", "N", "extend: further months, 1 or 2 (two at most in all)"},
    {"reason", "TEXT", "extend: why more time is needed"},
    {"out", "DIR", "export: directory to write the package into"},
    {"by", "SDS_USER_ID",
     "create, extend, export: the member of governance staff acting (recorded and audited; "
     "default: the operator, cli:$USER)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft sar create --db PATH (--nhs N | --person ID) --received YYYY-MM-DD "
    "[--by SDS_USER_ID]\n"
    "       weft sar extend --db PATH --id ID --months 1|2 --reason TEXT [--by SDS_USER_ID]\n"
    "       weft sar list --db PATH [--nhs N | --person ID]\n"
    "       weft sar show --db PATH --id ID\n"
    "       weft sar export --db PATH --id ID --out DIR";

static void print_row(const struct store_sar *r, const char *today)
{
    printf("%-6lld %-32s %-10s %-10s %-9s %s\n", (long long)r->id, r->person_id, r->received,
           r->due, r->status, sar_overdue(r, today) ? "OVERDUE" : "-");
}

int cmd_sar(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_sar_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_sar_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *sub = o.npos == 1 ? o.pos[0] : "";
    const char *nhs = opts_get(&o, "nhs"), *person = opts_get(&o, "person");
    static const char *const subs[] = {"create", "extend", "list", "show", "export"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(sub, subs[i]) == 0)
            which = i;
    long id = 0, months = 0;
    bool needs_id = which == 1 || which == 3 || which == 4;
    if (!db || which < 0 || (which == 0 && !nhs == !person) || (nhs && person)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    if (needs_id && (opts_get_long(&o, "id", 0, &id) != 0 || id <= 0)) {
        fprintf(stderr, "weft sar %s: --id must be a request id\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    if (which == 1 && opts_get_long(&o, "months", 0, &months) != 0) {
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *out_dir = opts_get(&o, "out");
    if (which == 4 && !out_dir) {
        fprintf(stderr, "weft sar export: --out DIR is required\n");
        opts_free(&o);
        return EXIT_USAGE;
    }
    char digits[11];
    if (nhs && !nhs_number_valid(nhs, digits)) {
        fprintf(stderr, "weft sar: --nhs is not a valid NHS number\n");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (cmd_store_open_current("sar", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    char *pid = NULL;
    if (nhs) {
        rc = store_person_find_nhs(s, digits, &pid);
        if (rc == WEFT_ENOTFOUND)
            fprintf(stderr, "weft sar %s: the record holds no one with that NHS number\n", sub);
        else if (rc)
            fprintf(stderr, "weft sar %s: %s\n", sub, store_errmsg(s));
    } else if (person) {
        pid = xstrdup(person);
    }
    const char *user = getenv("USER");
    struct buf opname = BUF_INIT;
    buf_addf(&opname, "cli:%s", user && *user ? user : "unknown");
    struct principal who = {.kind = PRINCIPAL_CLIENT, .client_name = opname.data};
    /* --by: a named member of staff, with the role and organisation they last
     * signed in with when known (recorded as "SDS_ID (ROLE)") */
    const char *by = opts_get(&o, "by");
    char *by_role = NULL, *by_org = NULL;
    if (by && *by) {
        store_session_user_role(s, by, &by_role, &by_org);
        who = (struct principal){.kind = PRINCIPAL_USER,
                                 .user_id = by,
                                 .role = by_role,
                                 .org = by_org,
                                 .client_name = opname.data};
    }
    const char *why = NULL;
    char today[11];
    org_day(time(NULL), today);
    int exit_status = 1;
    if (rc) {
        /* reported above */
    } else if (which == 0) {
        int64_t sid = 0;
        rc = sar_create(s, &who, pid, opts_get(&o, "received"), &sid, &why);
        if (rc == 0)
            printf("%lld\n", (long long)sid);
        else
            fprintf(stderr, "weft sar create: %s\n", why ? why : store_errmsg(s));
        exit_status = rc == 0 ? 0 : rc == WEFT_EINVAL ? EXIT_USAGE : 1;
    } else if (which == 1) {
        rc = sar_extend(s, &who, id, (int)months, opts_get(&o, "reason"), &why);
        struct store_sar r;
        if (rc == 0 && store_sar_get(s, id, &r) == 0) {
            printf("subject access request %ld: due %s\n", id, r.due);
            store_sar_clear(&r);
        } else if (rc) {
            fprintf(stderr, "weft sar extend: %s\n", why ? why : store_errmsg(s));
        }
        exit_status = rc == 0 ? 0 : rc == WEFT_EINVAL ? EXIT_USAGE : 1;
    } else if (which == 2) {
        struct store_sar *rows = NULL;
        int n = 0;
        if (store_sar_list(s, pid, &rows, &n) == 0) {
            printf("%-6s %-32s %-10s %-10s %-9s %s\n", "id", "person", "received", "due", "status",
                   "overdue");
            for (int i = 0; i < n; i++)
                print_row(&rows[i], today);
            exit_status = 0;
        } else {
            fprintf(stderr, "weft sar list: %s\n", store_errmsg(s));
        }
        store_sars_free(rows, n);
    } else if (which == 3) {
        struct store_sar r;
        if ((rc = store_sar_get(s, id, &r)) == 0) {
            printf("subject access request %lld\nperson: %s\nreceived: %s\ndue: %s%s\n"
                   "status: %s\n",
                   (long long)r.id, r.person_id, r.received, r.due,
                   sar_overdue(&r, today) ? " (OVERDUE)" : "", r.status);
            if (r.extension_reason)
                printf("extended because: %s\n", r.extension_reason);
            printf("logged: %s by %s\n", r.created, r.created_by);
            if (r.completed)
                printf("package produced: %s\n", r.completed);
            store_sar_clear(&r);
            exit_status = 0;
        } else {
            fprintf(stderr, "weft sar show: %s\n", store_errmsg(s));
        }
    } else {
        struct store_sar r;
        char *err = NULL;
        struct sar_export_stats st = {0};
        if ((rc = store_sar_get(s, id, &r)) != 0) {
            fprintf(stderr, "weft sar export: %s\n", store_errmsg(s));
        } else {
            rc = sar_export_write(s, &who, r.person_id, id, out_dir, &st, &err);
            if (rc == 0)
                rc = sar_complete(s, id, out_dir);
            if (rc == 0)
                printf("subject access request %ld: %lld items, %lld withheld (see "
                       "reviewer-note.csv), %lld access log entries, written to %s\n",
                       id, (long long)st.items, (long long)st.withheld, (long long)st.accesses,
                       out_dir);
            else
                fprintf(stderr, "weft sar export: %s\n",
                        err                  ? err
                        : rc == WEFT_EDENIED ? "the access check refused the read"
                                             : store_errmsg(s));
            store_sar_clear(&r);
        }
        free(err);
        exit_status = rc ? 1 : 0;
    }
    buf_release(&opname);
    free(by_role);
    free(by_org);
    free(pid);
    store_close(s);
    opts_free(&o);
    return exit_status;
}
