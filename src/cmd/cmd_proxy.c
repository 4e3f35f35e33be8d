/*
 * cmd_proxy.c - `weft proxy grant|list|revoke`: GP or governance staff give
 * a person proxy access to another's record (a parent for a child; a carer
 * with the person's consent or a lasting power of attorney) with a scope, a
 * reason and an end date, list grants, and revoke one at once.  The rules
 * (who may grant, validation, audit, the check on every proxied request) are
 * access/proxy.c's; this file parses options and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "access/proxy.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "core/principal.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/proxy.h"
#include "store/store.h"

const struct opt_spec cmd_proxy_specs[] = {
    CMD_OPT_DB,
    {"proxy-nhs", "NUMBER", "grant: the NHS number of the person given access (the proxy)"},
    {"for-nhs", "NUMBER", "grant: the NHS number of the person whose record it is"},
    {"name", "TEXT", "grant: how the person is named to their proxy (default: their NHS number)"},
    {"scope", "LIST", "grant: what the proxy may do: view,objection,copy (one or more)"},
    {"basis", "BASIS", "grant: parent, consent (a carer with the person's consent) or lpa"},
    {"reason", "TEXT", "grant, revoke: why"},
    {"until", "DATE", "grant: the last day the access may be used, YYYY-MM-DD"},
    {"by", "SDS_USER_ID", "grant, revoke: the member of staff's SDS user id"},
    {"role", "CODE", "grant, revoke: their job role (default: the role they last signed in with)"},
    {"nhs", "NUMBER", "list: only grants to or for this NHS number"},
    {"id", "ID", "revoke: the grant id"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft proxy grant --db PATH --proxy-nhs N --for-nhs N --scope view,objection,copy\n"
    "                        --basis parent|consent|lpa --reason TEXT --until YYYY-MM-DD\n"
    "                        --by SDS_USER_ID [--role CODE] [--name TEXT]\n"
    "       weft proxy list --db PATH [--nhs N]\n"
    "       weft proxy revoke --db PATH --id ID --reason TEXT --by SDS_USER_ID [--role CODE]";

/* The member of staff --by with --role or the role they last signed in
 * with; role and org malloc'd into *role and *org.  0, or an exit status
 * after saying why. */
static int staff(struct store *s, const char *sub, const struct opts *o, struct buf *opname,
                 struct principal *p, char **role, char **org)
{
    const char *by = opts_get(o, "by"), *want_role = opts_get(o, "role");
    *role = *org = NULL;
    int r = store_session_user_role(s, by, role, org);
    if (want_role) {
        free(*role);
        *role = xstrdup(want_role);
    }
    if (!*role) {
        fprintf(stderr,
                "weft proxy %s: the job role of %s is not known (they never signed in): pass "
                "--role CODE\n",
                sub, by);
        return r == WEFT_ENOTFOUND || r == 0 ? EXIT_USAGE : 1;
    }
    const char *user = getenv("USER");
    buf_addf(opname, "cli:%s", user && *user ? user : "unknown");
    *p = (struct principal){.kind = PRINCIPAL_USER,
                            .user_id = by,
                            .role = *role,
                            .org = *org,
                            .client_name = opname->data};
    return 0;
}

static int failed(struct store *s, const char *sub, int rc, const char *why)
{
    fprintf(stderr, "weft proxy %s: %s\n", sub, why ? why : store_errmsg(s));
    return rc == WEFT_EINVAL ? EXIT_USAGE : 1;
}

static int do_grant(struct store *s, const struct opts *o)
{
    const char *pn = opts_get(o, "proxy-nhs"), *fn = opts_get(o, "for-nhs");
    const char *scope = opts_get(o, "scope"), *basis = opts_get(o, "basis");
    const char *reason = opts_get(o, "reason"), *until = opts_get(o, "until");
    if (!pn || !fn || !scope || !basis || !reason || !until || !opts_get(o, "by")) {
        fprintf(stderr,
                "weft proxy grant: --proxy-nhs, --for-nhs, --scope, --basis, --reason, "
                "--until and --by are required\n%s\n",
                usage);
        return EXIT_USAGE;
    }
    char proxy_digits[11], for_digits[11];
    if (!nhs_number_valid(pn, proxy_digits) || !nhs_number_valid(fn, for_digits)) {
        fprintf(stderr, "weft proxy grant: --%s is not a valid NHS number\n",
                nhs_number_valid(pn, proxy_digits) ? "for-nhs" : "proxy-nhs");
        return EXIT_USAGE;
    }
    /* the person must be known here; the proxy may have no record of their
     * own yet (identity holds a person for the number, whom their sign-in
     * finds) */
    char *person = NULL, *proxy = NULL;
    int rc = identity_find_nhs(s, for_digits, &person, NULL);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft proxy grant: no person with NHS number %s\n", for_digits);
        return 1;
    }
    if (rc == 0)
        rc = identity_person_for_nhs(s, proxy_digits, &proxy);
    if (rc) {
        fprintf(stderr, "weft proxy grant: %s\n", store_errmsg(s));
        free(person);
        return 1;
    }
    struct buf opname = BUF_INIT;
    struct principal who;
    char *role = NULL, *org = NULL;
    int status = staff(s, "grant", o, &opname, &who, &role, &org);
    if (status == 0) {
        struct store_proxy_grant g = {.proxy_person_id = proxy,
                                      .proxy_nhs = proxy_digits,
                                      .person_id = person,
                                      .nhs = for_digits,
                                      .name = (char *)opts_get(o, "name"),
                                      .scope = (char *)scope,
                                      .basis = (char *)basis,
                                      .reason = (char *)reason,
                                      .until = (char *)until};
        int64_t id = 0;
        const char *why = NULL;
        rc = proxy_grant(s, &who, &g, &id, &why);
        if (rc == 0)
            printf("%lld\n", (long long)id);
        status = rc ? failed(s, "grant", rc, why) : 0;
    }
    free(role);
    free(org);
    buf_release(&opname);
    free(person);
    free(proxy);
    return status;
}

static int do_list(struct store *s, const struct opts *o)
{
    const char *nhs = opts_get(o, "nhs");
    char digits[11];
    char *pid = NULL;
    if (nhs) {
        if (!nhs_number_valid(nhs, digits)) {
            fprintf(stderr, "weft proxy list: --nhs is not a valid NHS number\n");
            return EXIT_USAGE;
        }
        int rc = identity_find_nhs(s, digits, &pid, NULL);
        if (rc == WEFT_ENOTFOUND) {
            fprintf(stderr, "weft proxy list: no person with NHS number %s\n", digits);
            return 1;
        }
        if (rc) {
            fprintf(stderr, "weft proxy list: %s\n", store_errmsg(s));
            return 1;
        }
    }
    struct store_proxy_grant *g = NULL;
    int n = 0;
    int rc = store_proxy_grant_list(s, pid, &g, &n);
    free(pid);
    if (rc) {
        fprintf(stderr, "weft proxy list: %s\n", store_errmsg(s));
        return 1;
    }
    char today[11];
    org_day(time(NULL), today);
    printf("%-6s %-10s %-10s %-20s %-8s %-10s %-8s %s\n", "id", "proxy_nhs", "for_nhs", "scope",
           "basis", "until", "status", "reason");
    for (int i = 0; i < n; i++) {
        const char *st = g[i].revoked                      ? "revoked"
                         : proxy_grant_ended(&g[i], today) ? "expired"
                                                           : "active";
        printf("%-6lld %-10s %-10s %-20s %-8s %-10s %-8s %s\n", (long long)g[i].id, g[i].proxy_nhs,
               g[i].nhs, g[i].scope, g[i].basis, g[i].until, st, g[i].reason);
        if (g[i].revoked)
            printf("       revoked %s by %s: %s\n", g[i].revoked, g[i].revoked_by,
                   g[i].revoked_reason ? g[i].revoked_reason : "");
    }
    store_proxy_grants_free(g, n);
    return 0;
}

static int do_revoke(struct store *s, const struct opts *o)
{
    long id = 0;
    const char *reason = opts_get(o, "reason");
    if (opts_get_long(o, "id", 0, &id) != 0 || id <= 0 || !reason || !opts_get(o, "by")) {
        fprintf(stderr, "weft proxy revoke: --id ID, --reason TEXT and --by SDS_USER_ID are "
                        "required\n");
        return EXIT_USAGE;
    }
    struct buf opname = BUF_INIT;
    struct principal who;
    char *role = NULL, *org = NULL;
    int status = staff(s, "revoke", o, &opname, &who, &role, &org);
    if (status == 0) {
        const char *why = NULL;
        int rc = proxy_revoke(s, &who, id, reason, &why);
        if (rc == 0)
            printf("proxy grant %ld: revoked\n", id);
        status = rc ? failed(s, "revoke", rc, why) : 0;
    }
    free(role);
    free(org);
    buf_release(&opname);
    return status;
}

int cmd_proxy(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_proxy_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_proxy_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *sub = o.npos == 1 ? o.pos[0] : "";
    int which = strcmp(sub, "grant") == 0    ? 0
                : strcmp(sub, "list") == 0   ? 1
                : strcmp(sub, "revoke") == 0 ? 2
                                             : -1;
    if (!db || which < 0) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (cmd_store_open_current("proxy", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    int status = which == 0 ? do_grant(s, &o) : which == 1 ? do_list(s, &o) : do_revoke(s, &o);
    store_close(s);
    opts_free(&o);
    return status;
}
