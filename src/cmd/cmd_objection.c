/*
 * cmd_objection.c - `weft objection set|show`: record the decision on a
 * person's objection to sharing (GDPR article 21; BRIEF §5).  While an
 * objection is upheld the authorisation point withholds items from other
 * organisations.  The full workflow (lodge, review, decide) comes later;
 * this records the state and audits every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/org.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "identity/nhs.h"
#include "store/store.h"

const struct opt_spec cmd_objection_specs[] = {
    {"db", "PATH", "the database"},
    {"person", "ID", "the person's Weft id"},
    {"nhs", "NUMBER", "or the person's NHS number"},
    {"status", "STATUS", "set: lodged, upheld, rejected or withdrawn"},
    {"date", "DATE", "set: date of the decision, YYYY-MM-DD"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft objection set --db PATH (--person ID | --nhs N) --status S --date YYYY-MM-DD\n"
    "       weft objection show --db PATH (--person ID | --nhs N)";

int cmd_objection(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_objection_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_objection_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *sub = o.npos == 1 ? o.pos[0] : NULL;
    const char *person = opts_get(&o, "person"), *nhs = opts_get(&o, "nhs");
    const char *status = opts_get(&o, "status"), *date = opts_get(&o, "date");
    bool set = sub && strcmp(sub, "set") == 0;
    if (!db || !sub || (!set && strcmp(sub, "show") != 0) || (!person == !nhs)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    static const char *const statuses[] = {"lodged", "upheld", "rejected", "withdrawn"};
    bool status_ok = false;
    for (int i = 0; status && i < 4; i++)
        status_ok |= strcmp(status, statuses[i]) == 0;
    if (set && (!status_ok || !org_date_valid(date))) {
        fprintf(stderr, "weft objection set: --status lodged|upheld|rejected|withdrawn and "
                        "--date YYYY-MM-DD are required\n");
        opts_free(&o);
        return EXIT_USAGE;
    }
    char digits[11];
    if (nhs && !nhs_number_valid(nhs, digits)) {
        fprintf(stderr, "weft objection: --nhs is not a valid NHS number\n");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (cmd_store_open_current("objection", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    char *pid = NULL;
    if (nhs)
        rc = store_person_by_nhs(s, digits, &pid);
    else
        pid = xstrdup(person);
    int exit_status = 1;
    if (rc) {
        fprintf(stderr, "weft objection: %s\n", store_errmsg(s));
    } else if (set) {
        if ((rc = store_begin(s)) == 0) {
            rc = store_objection_set(s, pid, status, date);
            if (rc == 0) {
                const char *user = getenv("USER");
                struct buf by = BUF_INIT, what = BUF_INIT;
                buf_addf(&by, "cli:%s", user ? user : "unknown");
                buf_addf(&what, "objection status=%s date=%s", status, date);
                struct audit_event ev = {.action = AUDIT_ADMIN,
                                         .outcome = AUDIT_OK,
                                         .client = by.data,
                                         .person_id = pid,
                                         .what = what.data,
                                         .count = -1,
                                         .reason = "objection decision recorded"};
                rc = audit_append(s, &ev, NULL);
                buf_release(&by);
                buf_release(&what);
            }
            rc = rc == 0 ? store_commit(s) : (store_rollback(s), rc);
        }
        if (rc)
            fprintf(stderr, "weft objection set: %s\n", store_errmsg(s));
        else
            printf("objection of person %s: %s (%s)\n", pid, status, date);
        exit_status = rc ? 1 : 0;
    } else {
        char *st = NULL;
        if (store_objection_get(s, pid, &st) == 0) {
            printf("person %s: %s\n", pid, st ? st : "no objection recorded");
            exit_status = 0;
        } else {
            fprintf(stderr, "weft objection show: %s\n", store_errmsg(s));
        }
        free(st);
    }
    free(pid);
    store_close(s);
    opts_free(&o);
    return exit_status;
}
