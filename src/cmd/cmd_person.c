/*
 * cmd_person.c - `weft person`: the master person index for governance and
 * data-quality staff (identity/mpi.h decides; this prints and asks).
 *
 *   export    CSV person,org,system,value: every identifier of every
 *             current source Patient with the person it belongs to
 *   estimate  re-estimate the matching model (EM) and store a new version
 *   relink    re-run matching over every source Patient with the current
 *             model; keeps every manual decision
 *   review    list | show | decide the pairs queued for review
 *   link      link a source record to a person
 *   unlink    take a source record out of its person
 *   merge     merge two persons
 *   unmerge   undo a merge
 *   decisions the identity decisions (newest first)
 *
 * Exit status: 0 done, 1 refused or failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/authz.h"
#include "core/principal.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "identity/compare.h"
#include "identity/identity.h"
#include "identity/mpi.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/access.h"
#include "store/store.h"

const struct opt_spec cmd_person_specs[] = {
    CMD_OPT_DB,
    {"org", "ODS", "link/unlink: the organisation that sent the source Patient"},
    {"source-id", "ID", "link/unlink: the sender's id of the source Patient"},
    {"person", "ID", "link: the person to link the record to"},
    {"survivor", "ID", "merge: the person that stays"},
    {"retired", "ID", "merge: the person merged into the survivor"},
    {"id", "N", "review show/decide: the review; unmerge: the merge id"},
    {"decision", "D", "review decide: same or not-same"},
    {"by", "SDS_USER_ID",
     "review decide, link, unlink, merge, unmerge: who decides (recorded and "
     "audited; their role must have identity-decide in the policy)"},
    {"role", "CODE", "their job role (default: the role they last signed in with)"},
    {"note", "TEXT", "why, recorded with the decision"},
    {"status", "S", "review list: open (default), same, not-same or all"},
    {"limit", "N", "review list/decisions: at most N (default 100)"},
    {"link-threshold", "BITS", "estimate: link at posterior log2 odds >= BITS (default 5)"},
    {"review-threshold", "BITS", "estimate: review at posterior log2 odds >= BITS (default 0)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft person export --db PATH\n"
    "       weft person estimate --db PATH [--link-threshold BITS] [--review-threshold BITS]\n"
    "       weft person relink --db PATH\n"
    "       weft person review list --db PATH [--status open|same|not-same|all]\n"
    "       weft person review show --db PATH --id N\n"
    "       weft person review decide --db PATH --id N --decision same|not-same --by ID [--role "
    "R]\n"
    "       weft person link --db PATH --org ODS --source-id ID --person PERSON --by ID [--role "
    "R]\n"
    "       weft person unlink --db PATH --org ODS --source-id ID --by ID [--role R]\n"
    "       weft person merge --db PATH --survivor PERSON --retired PERSON --by ID [--role R]\n"
    "       weft person unmerge --db PATH --id MERGE --by ID [--role R]\n"
    "       weft person decisions --db PATH [--org ODS --source-id ID] [--limit N]\n\n"
    "The master person index: which source Patients are one person.  Records\n"
    "without a valid NHS number are matched on demographics when they arrive\n"
    "(link, review or new person by match weight); these commands export the\n"
    "result, re-estimate the model, re-run matching, and make or undo links by\n"
    "hand.  Every change records who decided it and is audited; only a member\n"
    "of staff whose job role has the policy capability identity-decide may\n"
    "decide (review decide, link, unlink, merge, unmerge).\n"
    "docs/ARCHITECTURE.md (Identity) describes the model and the rules.\n";

/* One CSV field, quoted when it needs to be (RFC 4180). */
static void csv_field(FILE *f, const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static int person_export(struct store *s)
{
    printf("person,org,system,value\n");
    struct store_query q = {.type = "Patient", .limit = 1000};
    char *after = NULL;
    int64_t snap = 0;
    int rc;
    for (;;) {
        struct store_result res;
        memset(&res, 0, sizeof res);
        q.after = after;
        q.snapshot = snap;
        if ((rc = store_search(s, &q, &res)) != 0)
            break;
        snap = res.snapshot;
        for (int i = 0; i < res.nrows; i++) {
            struct store_row *r = &res.rows[i];
            if (r->deleted || !r->person_id)
                continue;
            json_t *j = json_loadb(r->json, r->json_len, 0, NULL);
            size_t k;
            json_t *id;
            json_array_foreach(json_object_get(j, "identifier"), k, id)
            {
                const char *sys = json_string_value(json_object_get(id, "system"));
                const char *val = json_string_value(json_object_get(id, "value"));
                if (!sys || !val)
                    continue;
                csv_field(stdout, r->person_id);
                fputc(',', stdout);
                csv_field(stdout, r->source_org ? r->source_org : "");
                fputc(',', stdout);
                csv_field(stdout, sys);
                fputc(',', stdout);
                csv_field(stdout, val);
                fputc('\n', stdout);
            }
            json_decref(j);
        }
        free(after);
        after = res.next ? xstrdup(res.next) : NULL;
        store_result_clear(&res);
        if (!after)
            break;
    }
    free(after);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "weft person export: writing standard output failed\n");
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "weft person export: %s\n", store_errmsg(s));
        return 1;
    }
    return 0;
}

/* cmd.h: who decides (person review decide, link, unlink, merge, unmerge;
 * feed unmerge). */
int cmd_identity_decider(struct store *s, const char *sub, const struct opts *o,
                         struct principal *p, char **role_out, char **org_out)
{
    *role_out = *org_out = NULL;
    const char *by = opts_get(o, "by"), *want = opts_get(o, "role");
    if (!by || !*by) {
        fprintf(stderr,
                "weft %s: --by SDS_USER_ID is required (the member of staff who "
                "decides; their job role must have identity-decide in the access policy)\n",
                sub);
        return EXIT_USAGE;
    }
    store_session_user_role(s, by, role_out, org_out);
    if (want) {
        free(*role_out);
        *role_out = xstrdup(want);
    }
    if (!*role_out) {
        fprintf(stderr,
                "weft %s: the job role of %s is not known (they never signed in): pass "
                "--role CODE\n",
                sub, by);
        return EXIT_USAGE;
    }
    static char client[160];
    const char *u = getenv("USER");
    snprintf(client, sizeof client, "cli:%s", u && *u ? u : "unknown");
    *p = (struct principal){.kind = PRINCIPAL_USER,
                            .user_id = by,
                            .role = *role_out,
                            .org = *org_out,
                            .client_name = client};
    if (authz_may_decide_identity(s, p))
        return 0;
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    char what[64];
    snprintf(what, sizeof what, "%s", sub);
    ev.action = AUDIT_IDENTITY;
    ev.outcome = AUDIT_DENIED;
    ev.what = what;
    ev.count = -1;
    ev.reason = "identity decision refused: role may not decide who is who";
    int rc = audit_record(s, &ev, true);
    fprintf(stderr,
            "weft %s: the job role %s may not decide who is who (the access policy names "
            "the roles that may: capability identity-decide)%s\n",
            sub, *role_out, rc ? "; and the refusal could not be audited" : "");
    return 1;
}

static int refused(const char *sub, struct store *s, int rc)
{
    fprintf(stderr, "weft person %s: %s (%s)\n", sub, identity_errmsg(s), weft_strerror(rc));
    return 1;
}

static void print_record(struct store *s, const char *label, const char *org, const char *src)
{
    struct store_idrec r;
    if (store_idrec_get(s, LINK_SOURCE_ID_SYSTEM, org, src, &r) != 0) {
        printf("%s: %s|%s (no longer known)\n", label, org, src);
        return;
    }
    struct demog d;
    demog_unpack(r.demog, &d);
    printf("%s: %s|%s person %s%s%s\n", label, org, src, r.person_id ? r.person_id : "-",
           r.nhs ? " nhs " : "", r.nhs ? r.nhs : "");
    printf(
        "  given %s %s family %s dob %s sex %c postcode %s\n  address %s, %s phone %s email %s\n",
        d.given, d.given2, d.family, d.dob, d.sex ? d.sex : '-', d.postcode, d.addr, d.city,
        d.phone, d.email);
    store_idrec_clear(&r);
}

static int review_show(struct store *s, int64_t id)
{
    struct store_idreview rv;
    int rc = store_idreview_get(s, id, &rv);
    if (rc != 0) {
        fprintf(stderr, "weft person review show: no review %lld\n", (long long)id);
        return 1;
    }
    printf("review %lld: %s, score %.2f (model %d), queued %s", (long long)rv.id, rv.status,
           rv.score, rv.model_version, rv.created);
    if (rv.decided_by)
        printf(", decided by %s at %s", rv.decided_by, rv.decided ? rv.decided : "");
    printf("\n");
    print_record(s, "a", rv.org, rv.source_id);
    print_record(s, "b", rv.other_org, rv.other_source_id);
    struct store_idrec a, b;
    if (store_idrec_get(s, LINK_SOURCE_ID_SYSTEM, rv.org, rv.source_id, &a) == 0) {
        if (store_idrec_get(s, LINK_SOURCE_ID_SYSTEM, rv.other_org, rv.other_source_id, &b) == 0) {
            struct demog da, db;
            demog_unpack(a.demog, &da);
            demog_unpack(b.demog, &db);
            const struct idmodel *m = mpi_model_acquire(s);
            signed char g[CF_N];
            double fw[CF_N];
            double w = mpi_compare(m, &da, &db, g, fw);
            printf("%-10s %-26s %8s\n", "field", "agreement", "weight");
            for (int f = 0; f < CF_N; f++)
                printf("%-10s %-26s %8.2f\n", compare_field_name(f), compare_level_name(f, g[f]),
                       fw[f]);
            printf("%-10s %-26s %8.2f (now, model %d; link >= %.1f, review >= %.1f)\n", "total", "",
                   w, m->version, m->link_weight, m->review_weight);
            mpi_model_release(m);
            store_idrec_clear(&b);
        }
        store_idrec_clear(&a);
    }
    free(rv.created);
    free(rv.org);
    free(rv.source_id);
    free(rv.other_org);
    free(rv.other_source_id);
    free(rv.status);
    free(rv.decided_by);
    free(rv.decided);
    return 0;
}

static int person_review(struct store *s, const struct opts *o)
{
    const char *act = o->npos > 1 ? o->pos[1] : NULL;
    long id = 0, limit = 100;
    if (opts_get_long(o, "id", 0, &id) != 0 || opts_get_long(o, "limit", 100, &limit) != 0)
        return EXIT_USAGE;
    if (act && strcmp(act, "list") == 0) {
        const char *st = opts_get_or(o, "status", "open");
        if (strcmp(st, "all") == 0)
            st = NULL;
        struct store_idreview *rv = NULL;
        int n = 0;
        if (store_idreview_list(s, st, (int)limit, &rv, &n) != 0)
            return refused("review list", s, WEFT_EDB);
        printf("%-6s %-9s %7s %-5s %-30s %-30s\n", "id", "status", "score", "model", "record",
               "other record");
        for (int i = 0; i < n; i++) {
            char a[96], b[96];
            snprintf(a, sizeof a, "%s|%s", rv[i].org, rv[i].source_id);
            snprintf(b, sizeof b, "%s|%s", rv[i].other_org, rv[i].other_source_id);
            printf("%-6lld %-9s %7.2f %-5d %-30s %-30s\n", (long long)rv[i].id, rv[i].status,
                   rv[i].score, rv[i].model_version, a, b);
        }
        store_idreviews_free(rv, n);
        return 0;
    }
    if (act && strcmp(act, "show") == 0) {
        if (id <= 0) {
            fprintf(stderr, "weft person review show: --id N is required\n");
            return EXIT_USAGE;
        }
        return review_show(s, id);
    }
    if (act && strcmp(act, "decide") == 0) {
        const char *d = opts_get(o, "decision");
        if (id <= 0 || !d || (strcmp(d, "same") != 0 && strcmp(d, "not-same") != 0)) {
            fprintf(stderr, "weft person review decide: --id N and --decision same|not-same are"
                            " required\n");
            return EXIT_USAGE;
        }
        struct principal who;
        char *role = NULL, *org = NULL;
        int rc = cmd_identity_decider(s, "person review decide", o, &who, &role, &org);
        if (rc == 0 && (rc = identity_review_decide(s, id, strcmp(d, "same") == 0, who.user_id,
                                                    opts_get(o, "note"))) != 0)
            rc = refused("review decide", s, rc);
        free(role);
        free(org);
        if (rc != 0)
            return rc;
        printf("review %ld decided: %s\n", id, d);
        return 0;
    }
    fprintf(stderr, "weft person review: list, show or decide (see weft person --help)\n");
    return EXIT_USAGE;
}

static int person_decisions(struct store *s, const struct opts *o)
{
    long limit = 100;
    if (opts_get_long(o, "limit", 100, &limit) != 0)
        return EXIT_USAGE;
    struct store_iddecision *d = NULL;
    int n = 0;
    if (store_iddecision_list(s, opts_get(o, "org"), opts_get(o, "source-id"), (int)limit, &d,
                              &n) != 0)
        return refused("decisions", s, WEFT_EDB);
    printf("%-6s %-24s %-9s %-14s %7s %-5s %-6s %s\n", "id", "created", "action", "by", "score",
           "model", "merge", "record / persons");
    for (int i = 0; i < n; i++)
        printf("%-6lld %-24s %-9s %-14s %7.2f %-5d %-6lld %s|%s %s %s%s%s\n", (long long)d[i].id,
               d[i].created, d[i].action, d[i].decided_by, d[i].score, d[i].model_version,
               (long long)d[i].merge_id, d[i].org ? d[i].org : "-",
               d[i].source_id ? d[i].source_id : "-", d[i].person_id ? d[i].person_id : "-",
               d[i].other_person ? d[i].other_person : "", d[i].note ? " - " : "",
               d[i].note ? d[i].note : "");
    store_iddecisions_free(d, n);
    return 0;
}

static int decide(struct store *s, const char *sub, const struct opts *o, const char *by);

static int run(struct store *s, const char *sub, const struct opts *o)
{
    int rc;
    if (strcmp(sub, "export") == 0)
        return person_export(s);
    if (strcmp(sub, "relink") == 0) {
        rc = mpi_relink(s, stdout);
        return rc ? refused("relink", s, rc) : 0;
    }
    if (strcmp(sub, "estimate") == 0) {
        const char *lw = opts_get(o, "link-threshold"), *rw = opts_get(o, "review-threshold");
        char *e1 = NULL, *e2 = NULL;
        double l = lw ? strtod(lw, &e1) : 0, r = rw ? strtod(rw, &e2) : 0;
        if ((lw && (e1 == lw || *e1 || l < -60 || l > 60)) ||
            (rw && (e2 == rw || *e2 || r < -60 || r > 60)) || (lw && rw && r > l)) {
            fprintf(stderr, "weft person estimate: thresholds are log2 odds between -60 and 60,"
                            " review <= link\n");
            return EXIT_USAGE;
        }
        rc = mpi_estimate(s, lw ? &l : NULL, rw ? &r : NULL, stdout);
        return rc ? refused("estimate", s, rc) : 0;
    }
    if (strcmp(sub, "review") == 0)
        return person_review(s, o);
    if (strcmp(sub, "decisions") == 0)
        return person_decisions(s, o);
    struct principal who;
    char *role = NULL, *uorg = NULL;
    char cmdname[32];
    snprintf(cmdname, sizeof cmdname, "person %s", sub);
    if ((rc = cmd_identity_decider(s, cmdname, o, &who, &role, &uorg)) == 0)
        rc = decide(s, sub, o, who.user_id);
    free(role);
    free(uorg);
    return rc;
}

/* link, unlink, merge, unmerge once the decider is allowed. */
static int decide(struct store *s, const char *sub, const struct opts *o, const char *by)
{
    const char *note = opts_get(o, "note");
    int rc;
    const char *org = opts_get(o, "org"), *src = opts_get(o, "source-id");
    if (strcmp(sub, "link") == 0 || strcmp(sub, "unlink") == 0) {
        const char *person = opts_get(o, "person");
        if (!org || !src || (sub[0] == 'l' && !person)) {
            fprintf(stderr, "weft person %s: --org ODS and --source-id ID%s are required\n", sub,
                    sub[0] == 'l' ? " and --person PERSON" : "");
            return EXIT_USAGE;
        }
        if (sub[0] == 'l') {
            if ((rc = identity_link(s, org, src, person, by, note)) != 0)
                return refused(sub, s, rc);
            printf("linked %s|%s to person %s\n", org, src, person);
        } else {
            char *np = NULL;
            if ((rc = identity_unlink(s, org, src, by, note, &np)) != 0)
                return refused(sub, s, rc);
            printf("unlinked %s|%s: now person %s\n", org, src, np);
            free(np);
        }
        return 0;
    }
    if (strcmp(sub, "merge") == 0) {
        const char *sv = opts_get(o, "survivor"), *rt = opts_get(o, "retired");
        if (!sv || !rt) {
            fprintf(stderr, "weft person merge: --survivor and --retired are required\n");
            return EXIT_USAGE;
        }
        int64_t mid = 0;
        if ((rc = identity_merge(s, sv, rt, by, note, &mid)) != 0)
            return refused(sub, s, rc);
        printf("merged %s into %s: merge %lld (undo: weft person unmerge --id %lld)\n", rt, sv,
               (long long)mid, (long long)mid);
        return 0;
    }
    if (strcmp(sub, "unmerge") == 0) {
        long id = 0;
        if (opts_get_long(o, "id", 0, &id) != 0 || id <= 0) {
            fprintf(stderr, "weft person unmerge: --id MERGE is required\n");
            return EXIT_USAGE;
        }
        if ((rc = identity_unmerge(s, id, by, note)) != 0)
            return refused(sub, s, rc);
        printf("merge %ld undone\n", id);
        return 0;
    }
    return EXIT_USAGE;
}

int cmd_person(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_person_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_person_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    static const char *const subs[] = {"export", "estimate", "relink",  "review",   "link",
                                       "unlink", "merge",    "unmerge", "decisions"};
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    bool known = false;
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++)
        known |= strcmp(sub, subs[i]) == 0;
    if (!known || o.npos > (strcmp(sub, "review") == 0 ? 2 : 1)) {
        fprintf(stderr, "weft person: %s%s%s (see weft person --help)\n",
                sub ? "unknown action '" : "an action is needed", sub ? sub : "", sub ? "'" : "");
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *db = opts_get(&o, "db");
    if (!db) {
        fprintf(stderr, "weft person %s: --db PATH is required\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    char what[64];
    snprintf(what, sizeof what, "person %s", sub);
    if (cmd_store_open_current(what, db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    rc = run(s, sub, &o);
    store_close(s);
    opts_free(&o);
    return rc;
}
