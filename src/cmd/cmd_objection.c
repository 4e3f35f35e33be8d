/*
 * cmd_objection.c - `weft objection lodge|decide|withdraw|show|list|set`:
 * objections to sharing (GDPR article 21; BRIEF §5) as a workflow, for staff
 * at a GP or care provider and the clinicians who decide them.  The workflow
 * itself (state, history, effect on sharing, audit) is access/objection.c;
 * this file parses options and prints.
 *
 * `set` is kept for migrating decisions made before Weft (or elsewhere): it
 * records the status as a case of its own, with a "set" step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/objection.h"
#include "access/org.h"
#include "core/principal.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/citizen.h"
#include "store/records.h"
#include "store/store.h"

const struct opt_spec cmd_objection_specs[] = {
    CMD_OPT_DB,
    {"person", "ID", "the person's Weft id"},
    {"nhs", "NUMBER", "or the person's NHS number"},
    {"org", "ODS", "lodge: the GP or care provider it is lodged with"},
    {"reason", "TEXT", "lodge: the person's reason; withdraw: why (optional)"},
    {"id", "ID", "decide, withdraw: the objection id"},
    {"decision", "DECISION", "decide: upheld or not-upheld"},
    {"by", "SDS_USER_ID", "decide: the deciding clinician's SDS user id"},
    {"role", "CODE", "decide: their job role (default: the role they last signed in with)"},
    {"rationale", "TEXT", "decide: the reasons for the decision"},
    {"open", NULL, "list: only objections waiting for a decision (the review queue)"},
    {"status", "STATUS", "set: lodged, upheld, rejected or withdrawn"},
    {"date", "DATE", "set: date of the decision, YYYY-MM-DD"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft objection lodge --db PATH (--nhs N | --person ID) --org ODS --reason TEXT\n"
    "       weft objection decide --db PATH --id ID --decision upheld|not-upheld\n"
    "                             --by SDS_USER_ID [--role CODE] --rationale TEXT\n"
    "       weft objection withdraw --db PATH --id ID [--reason TEXT]\n"
    "       weft objection show --db PATH (--nhs N | --person ID)\n"
    "       weft objection list --db PATH [--open]\n"
    "       weft objection set --db PATH (--nhs N | --person ID) --status S --date YYYY-MM-DD";

/* The command-line operator as a principal ("cli:$USER"). */
static void operator(struct principal *p, struct buf *name)
{
    const char *user = getenv("USER");
    buf_addf(name, "cli:%s", user && *user ? user : "unknown");
    *p = (struct principal){.kind = PRINCIPAL_CLIENT, .client_name = name->data};
}

static void today(char out[11])
{
    org_day(time(NULL), out);
}

static void print_case(struct store *s, const struct store_objection *o, const char *day)
{
    printf("objection %lld  %s%s  lodged %s with %s  due %s\n", (long long)o->id, o->status,
           objection_overdue(o, day) ? "  OVERDUE" : "", o->lodged, o->org, o->due);
    printf("  reason: %s\n", o->reason);
    if (o->decided)
        printf("  decided %s by %s (%s)\n  rationale: %s\n", o->decided, o->decided_by,
               o->decided_role ? o->decided_role : "-", o->rationale);
    if (o->withdrawn)
        printf("  withdrawn %s by %s%s%s\n", o->withdrawn, o->withdrawn_by,
               o->withdrawn_reason ? ": " : "", o->withdrawn_reason ? o->withdrawn_reason : "");
    struct store_objection_step *st = NULL;
    int n = 0;
    if (store_objection_steps(s, o->id, &st, &n) == 0)
        for (int i = 0; i < n; i++)
            printf("  %s  %-9s  by %s%s%s\n", st[i].time, st[i].step, st[i].by,
                   st[i].detail ? "  " : "", st[i].detail ? st[i].detail : "");
    store_objection_steps_free(st, n);
}

static int show(struct store *s, const char *pid)
{
    char *state = NULL;
    struct store_objection *cases = NULL;
    int n = 0;
    int rc = store_objection_get(s, pid, &state);
    if (rc == 0)
        rc = store_objection_list(s, pid, false, &cases, &n);
    if (rc) {
        fprintf(stderr, "weft objection show: %s\n", store_errmsg(s));
        free(state);
        return 1;
    }
    printf("person %s: %s\n", pid, state ? state : "no objection recorded");
    char day[11];
    today(day);
    for (int i = 0; i < n; i++)
        print_case(s, &cases[i], day);
    store_objections_free(cases, n);
    free(state);
    return 0;
}

static int list(struct store *s, bool open_only)
{
    struct store_objection *cases = NULL;
    int n = 0;
    if (store_objection_list(s, NULL, open_only, &cases, &n) != 0) {
        fprintf(stderr, "weft objection list: %s\n", store_errmsg(s));
        return 1;
    }
    char day[11];
    today(day);
    printf("%-6s %-32s %-10s %-8s %-10s %-10s %s\n", "id", "person", "status", "org", "lodged",
           "due", "overdue");
    for (int i = 0; i < n; i++)
        printf("%-6lld %-32s %-10s %-8s %.10s %-10s %s\n", (long long)cases[i].id,
               cases[i].person_id, cases[i].status, cases[i].org, cases[i].lodged, cases[i].due,
               objection_overdue(&cases[i], day) ? "OVERDUE" : "-");
    store_objections_free(cases, n);
    return 0;
}

/* Report a workflow failure: the workflow's sentence, else the store's. */
static int failed(struct store *s, const char *sub, int rc, const char *why)
{
    fprintf(stderr, "weft objection %s: %s\n", sub, why ? why : store_errmsg(s));
    return rc == WEFT_EINVAL ? EXIT_USAGE : 1;
}

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
    const char *db = opts_get(&o, "db"), *sub = o.npos == 1 ? o.pos[0] : "";
    const char *person = opts_get(&o, "person"), *nhs = opts_get(&o, "nhs");
    static const char *const subs[] = {"lodge", "decide", "withdraw", "show", "list", "set"};
    int which = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(sub, subs[i]) == 0)
            which = i;
    bool needs_person = which == 0 || which == 3 || which == 5;
    bool needs_id = which == 1 || which == 2;
    long id = 0;
    if (needs_id && (opts_get_long(&o, "id", 0, &id) != 0 || id <= 0)) {
        fprintf(stderr, "weft objection %s: --id must be an objection id\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    if (!db || which < 0 || (needs_person && !person == !nhs)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *status = opts_get(&o, "status"), *date = opts_get(&o, "date");
    if (which == 5) {
        static const char *const statuses[] = {"lodged", "upheld", "rejected", "withdrawn"};
        bool status_ok = false;
        for (int i = 0; status && i < 4; i++)
            status_ok |= strcmp(status, statuses[i]) == 0;
        if (!status_ok || !org_date_valid(date)) {
            fprintf(stderr, "weft objection set: --status lodged|upheld|rejected|withdrawn and "
                            "--date YYYY-MM-DD are required\n");
            opts_free(&o);
            return EXIT_USAGE;
        }
    }
    const char *org = opts_get(&o, "org"), *reason = opts_get(&o, "reason");
    const char *decision = opts_get(&o, "decision"), *by = opts_get(&o, "by");
    const char *rationale = opts_get(&o, "rationale");
    if (which == 0 && (!org || !reason)) {
        fprintf(stderr, "weft objection lodge: --org ODS and --reason TEXT are required\n");
        opts_free(&o);
        return EXIT_USAGE;
    }
    if (which == 1 && (!decision || !by || !rationale)) {
        fprintf(stderr, "weft objection decide: --decision upheld|not-upheld, --by SDS_USER_ID "
                        "and --rationale TEXT are required\n");
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
    if (needs_person && nhs) {
        /* lodging may name someone no record of has arrived yet: identity
         * holds a person for the number, whom their records link to when they
         * come (identity.h); look-ups must not create anyone */
        rc = which == 0 ? identity_person_for_nhs(s, digits, &pid)
                        : identity_find_nhs(s, digits, &pid, NULL);
        if (rc == WEFT_ENOTFOUND) {
            fprintf(stderr, "weft objection %s: no person with that NHS number\n", sub);
            store_close(s);
            opts_free(&o);
            return 1;
        }
    } else if (needs_person) {
        pid = xstrdup(person);
    }
    struct buf opname = BUF_INIT;
    struct principal who;
    operator(&who, &opname);
    const char *why = NULL;
    int exit_status = 1;
    if (rc) {
        fprintf(stderr, "weft objection: %s\n", store_errmsg(s));
    } else if (which == 0) {
        int64_t oid = 0;
        rc = objection_lodge(s, &who, pid, org, reason, &oid, &why);
        if (rc == 0)
            printf("%lld\n", (long long)oid);
        exit_status = rc ? failed(s, sub, rc, why) : 0;
    } else if (which == 1) {
        /* the decider: an SDS user with the role given, or the one they last signed in with */
        char *role = NULL, *uorg = NULL;
        const char *want_role = opts_get(&o, "role");
        int r = store_session_user_role(s, by, &role, &uorg);
        if (want_role) {
            free(role);
            role = xstrdup(want_role);
        }
        if (!role) {
            fprintf(stderr,
                    "weft objection decide: the job role of %s is not known (they never signed "
                    "in): pass --role CODE\n",
                    by);
            exit_status = r == WEFT_ENOTFOUND ? EXIT_USAGE : 1;
        } else {
            struct principal clin = {.kind = PRINCIPAL_USER,
                                     .user_id = by,
                                     .role = role,
                                     .org = uorg,
                                     .client_name = opname.data};
            rc = objection_decide(s, &clin, id, decision, rationale, &why);
            if (rc == 0)
                printf("objection %ld: %s\n", id, decision);
            exit_status = rc ? failed(s, sub, rc, why) : 0;
        }
        free(role);
        free(uorg);
    } else if (which == 2) {
        rc = objection_withdraw(s, &who, id, reason, &why);
        if (rc == 0)
            printf("objection %ld: withdrawn\n", id);
        exit_status = rc ? failed(s, sub, rc, why) : 0;
    } else if (which == 3) {
        exit_status = show(s, pid);
    } else if (which == 4) {
        exit_status = list(s, opts_flag(&o, "open"));
    } else {
        rc = objection_record(s, &who, pid, status, date, &why);
        if (rc == 0)
            printf("objection of person %s: %s (%s)\n", pid, status, date);
        exit_status = rc ? failed(s, sub, rc, why) : 0;
    }
    buf_release(&opname);
    free(pid);
    store_close(s);
    opts_free(&o);
    return exit_status;
}
