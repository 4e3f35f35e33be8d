/* test_authz.c - the authorisation point against a real SQLite store:
 * agreements, role profiles, launch context, objections, break-glass,
 * clients and citizens; the audit entries it writes; launch token
 * verification (libjwt-signed tokens, alg none, HS256 with a public key as
 * secret); cookies, dates and ODS codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jwt.h>
#include <cmocka.h>

#include "access/authz.h"
#include "access/breakglass.h"
#include "access/launch.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"
#include "unit/testdb.h"

static struct store *s;
static char *person_a, *person_b;
static char dbpath[512];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/authz-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    char *err = NULL;
    assert_int_equal(store_open(&s, testdb_pick(dbpath), true, &err), 0);
    int from, to;
    assert_int_equal(store_migrate(s, &from, &to), 0);
    const char *root = getenv("WEFT_ROOT");
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/policy/default.policy", root ? root : ".");
    setenv("WEFT_POLICY", path.data, 1);
    buf_release(&path);
    const char *used = NULL;
    assert_int_equal(policy_ensure_default(s, &used, &err), 0);
    assert_non_null(used);
    assert_int_equal(store_org_put(s, "RVV", "East Kent", "acute"), 0);
    assert_int_equal(store_agreement_add(s, "RVV", "jca", "2020-01-01", NULL, NULL), 0);
    assert_int_equal(store_org_put(s, "OLD", "Ended", "gp"), 0);
    assert_int_equal(store_agreement_add(s, "OLD", "dpa", "2019-01-01", "2020-12-31", NULL), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000018", &person_a), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000026", &person_b), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(person_a);
    free(person_b);
    store_close(s);
    policy_cache_release();
    unlink(dbpath);
    return 0;
}

static struct principal user(const char *role, const char *org, const char *person)
{
    return (struct principal){.kind = PRINCIPAL_USER,
                              .user_id = "u1",
                              .role = role,
                              .org = org,
                              .launcher = "epr",
                              .purpose = "TREAT",
                              .person_id = person};
}

static bool has(const struct authz_scope *sc, const char *cat)
{
    for (int i = 0; i < sc->ncategories; i++)
        if (strcmp(sc->categories[i], cat) == 0)
            return true;
    return false;
}

static int64_t audit_rows(const char *action, const char *outcome)
{
    struct count {
        const char *a, *o;
        int64_t n;
    } c = {action, outcome, 0};
    struct store_audit_filter f = {.action = action, .limit = 100000};
    int fn(const struct store_audit_row *r, void *ctx);
    assert_int_equal(store_audit_search(s, &f, fn, &c), 0);
    return c.n;
}

int fn(const struct store_audit_row *r, void *ctx)
{
    struct {
        const char *a, *o;
        int64_t n;
    } *c = ctx;
    c->n += strcmp(r->outcome, c->o) == 0;
    return 0;
}

static void test_agreements(void **state)
{
    (void)state;
    int err = 0;
    assert_true(org_agreement_in_force(s, "RVV", time(NULL), &err));
    assert_false(org_agreement_in_force(s, "OLD", time(NULL), &err));
    assert_true(org_agreement_in_force(s, "OLD", 1590000000 /* 2020-05 */, &err));
    assert_false(org_agreement_in_force(s, "OLD", 1546300799 /* 2018-12-31 */, &err));
    assert_false(org_agreement_in_force(s, "NONE", time(NULL), &err));
    assert_false(org_agreement_in_force(s, NULL, time(NULL), &err));
    assert_int_equal(err, 0);
}

static void test_user_scopes(void **state)
{
    (void)state;
    struct authz_scope sc;
    int64_t denials = audit_rows(AUDIT_DENIAL, AUDIT_DENIED);
    struct principal p = user("R8001", "RVV", person_a);
    assert_int_equal(authz_scope_for_person(s, &p, person_a, &sc), 0);
    assert_true(sc.allowed);
    assert_true(has(&sc, "results") && !has(&sc, "safeguarding"));
    assert_int_equal(sc.norgs, -1);
    assert_true(sc.restricted);
    assert_true(authz_scope_allows(&sc, "results", "ANY"));
    assert_false(authz_scope_allows(&sc, "mental-health-act", "RVV"));
    authz_scope_clear(&sc);
    /* another person: refused, audited */
    assert_int_equal(authz_scope_for_person(s, &p, person_b, &sc), 0);
    assert_false(sc.allowed);
    assert_non_null(strstr(sc.reason, "launched"));
    authz_scope_clear(&sc);
    /* across people */
    assert_int_equal(authz_scope_for_person(s, &p, NULL, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    /* ended agreement, unknown role, analyst */
    struct principal old = user("R8000", "OLD", person_a);
    assert_int_equal(authz_scope_for_person(s, &old, person_a, &sc), 0);
    assert_false(sc.allowed);
    assert_non_null(strstr(sc.reason, "agreement"));
    authz_scope_clear(&sc);
    struct principal bad = user("R9999", "RVV", person_a);
    assert_int_equal(authz_scope_for_person(s, &bad, person_a, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    struct principal an = user("ANALYST", "RVV", person_a);
    assert_int_equal(authz_scope_for_person(s, &an, person_a, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    assert_int_equal(audit_rows(AUDIT_DENIAL, AUDIT_DENIED), denials + 5);
    /* admin: demographics, contacts, appointments only */
    struct principal rec = user("R8009", "RVV", person_a);
    assert_int_equal(authz_scope_for_person(s, &rec, person_a, &sc), 0);
    assert_true(sc.allowed);
    assert_int_equal(sc.ncategories, 3);
    assert_true(has(&sc, "demographics") && has(&sc, "contacts") && has(&sc, "appointments"));
    authz_scope_clear(&sc);
}

static void test_objection_and_breakglass(void **state)
{
    (void)state;
    assert_int_equal(store_objection_set(s, person_b, "upheld", "2026-01-01"), 0);
    struct principal p = user("R8000", "RVV", person_b);
    struct authz_scope sc;
    assert_int_equal(authz_scope_for_person(s, &p, person_b, &sc), 0);
    assert_true(sc.allowed && sc.restricted);
    assert_int_equal(sc.norgs, 1);
    assert_string_equal(sc.orgs[0], "RVV");
    assert_true(authz_scope_allows(&sc, "results", "RVV"));
    assert_false(authz_scope_allows(&sc, "results", "G82001"));
    authz_scope_clear(&sc);
    /* a rejected or withdrawn objection withholds nothing */
    assert_int_equal(store_objection_set(s, person_b, "withdrawn", "2026-02-01"), 0);
    assert_int_equal(authz_scope_for_person(s, &p, person_b, &sc), 0);
    assert_int_equal(sc.norgs, -1);
    authz_scope_clear(&sc);
    assert_int_equal(store_objection_set(s, person_b, "upheld", "2026-03-01"), 0);

    /* break-glass: reasons checked, role checked, then other person + objection lifted */
    struct principal q = user("R8000", "RVV", person_a);
    char exp[32];
    const char *why = NULL;
    assert_int_equal(breakglass_start(s, &q, person_b, "nope", "a real reason", 4, exp, &why),
                     WEFT_EINVAL);
    assert_int_equal(breakglass_start(s, &q, person_b, "emergency-care", " ", 4, exp, &why),
                     WEFT_EINVAL);
    struct principal rec = user("R8009", "RVV", person_a);
    assert_int_equal(
        breakglass_start(s, &rec, person_b, "emergency-care", "needs care now", 4, exp, &why),
        WEFT_EDENIED);
    struct principal app = q;
    app.scopes = "patient/*.rs";
    assert_int_equal(
        breakglass_start(s, &app, person_b, "emergency-care", "needs care now", 4, exp, &why),
        WEFT_EDENIED);
    assert_int_equal(authz_scope_for_person(s, &q, person_b, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    assert_int_equal(
        breakglass_start(s, &q, person_b, "emergency-care", "collapsed at home", 4, exp, &why), 0);
    assert_true(strlen(exp) > 10);
    assert_int_equal(authz_scope_for_person(s, &q, person_b, &sc), 0);
    assert_true(sc.allowed);
    assert_int_equal(sc.norgs, -1);         /* objection lifted */
    assert_false(has(&sc, "safeguarding")); /* categories not widened */
    authz_scope_clear(&sc);
    /* another user of the same org does not inherit it */
    struct principal other = q;
    other.user_id = "u2";
    assert_int_equal(authz_scope_for_person(s, &other, person_b, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    struct store_breakglass *b = NULL;
    int n = 0;
    assert_int_equal(store_breakglass_list(s, NULL, &b, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].reason_code, "emergency-care");
    store_breakglass_clear(&b[0]);
    free(b);
    assert_int_equal(audit_rows(AUDIT_BREAK_GLASS, AUDIT_OK), 1);
    assert_int_equal(audit_rows(AUDIT_BREAK_GLASS, AUDIT_DENIED), 4);
}

static void put_item(const char *person, const char *org, const char *category, const char *sid)
{
    char json[160], id[65];
    snprintf(json, sizeof json, "{\"resourceType\":\"Observation\",\"id\":\"%s\"}", sid);
    struct store_put in = {.type = "Observation",
                           .source_org = org,
                           .source_id = sid,
                           .person_id = person,
                           .category = category,
                           .json = json,
                           .json_len = strlen(json)};
    enum store_put_outcome oc;
    assert_int_equal(store_resource_put(s, &in, &oc, id, NULL), 0);
}

/* Issue 11 / STYLE habit 18: the scope says why it is narrower and whether
 * the record holds anything it leaves out, so pages can tell "none
 * recorded" from "none you may see". */
static void test_scope_hidden(void **state)
{
    (void)state;
    char *c = NULL;
    assert_int_equal(store_person_by_nhs(s, "9990000034", &c), 0);
    struct principal gp = user("R8000", "RVV", c), rec = user("R8009", "RVV", c);
    struct authz_scope sc;
    struct authz_hidden h;
    /* nothing held: nothing hidden, whatever the scope */
    assert_int_equal(authz_scope_for_person(s, &rec, c, &sc), 0);
    assert_true(sc.allowed && sc.restricted && !sc.objection && !sc.may_break_glass);
    assert_int_equal(authz_scope_hidden(s, &sc, c, 0, &h), 0);
    assert_false(h.categories || h.orgs);
    authz_scope_clear(&sc);
    /* a result: hidden from a receptionist, not from a clinician */
    put_item(c, "RVV", "results", "hid-1");
    assert_int_equal(authz_scope_for_person(s, &rec, c, &sc), 0);
    assert_int_equal(authz_scope_hidden(s, &sc, c, 0, &h), 0);
    assert_true(h.categories && !h.orgs);
    authz_scope_clear(&sc);
    assert_int_equal(authz_scope_for_person(s, &gp, c, &sc), 0);
    assert_true(sc.may_break_glass && !sc.break_glass);
    assert_int_equal(authz_scope_hidden(s, &sc, c, 0, &h), 0);
    assert_false(h.categories || h.orgs);
    authz_scope_clear(&sc);
    /* an upheld objection: the reason, and another organisation's item hidden */
    assert_int_equal(store_objection_set(s, c, "upheld", "2026-01-01"), 0);
    assert_int_equal(authz_scope_for_person(s, &gp, c, &sc), 0);
    assert_true(sc.objection);
    assert_int_equal(authz_scope_hidden(s, &sc, c, 0, &h), 0);
    assert_false(h.orgs); /* all it holds is RVV's own */
    authz_scope_clear(&sc);
    put_item(c, "G82001", "results", "hid-2");
    assert_int_equal(authz_scope_for_person(s, &gp, c, &sc), 0);
    assert_int_equal(authz_scope_hidden(s, &sc, c, 0, &h), 0);
    assert_true(h.orgs && !h.categories);
    authz_scope_clear(&sc);
    assert_true(authz_may_break_glass(s, &gp));
    assert_false(authz_may_break_glass(s, &rec));
    struct principal app = gp;
    app.scopes = "patient/*.rs";
    assert_false(authz_may_break_glass(s, &app));
    free(c);
}

static void test_clients_citizens_types(void **state)
{
    (void)state;
    struct authz_scope sc;
    struct principal c = {.kind = PRINCIPAL_CLIENT, .client_name = "feed", .scopes = "system/*.rs"};
    assert_int_equal(authz_scope_for_person(s, &c, NULL, &sc), 0);
    assert_true(sc.allowed && sc.ncategories == -1);
    authz_scope_clear(&sc);
    c.scopes = "system/Bundle.c";
    assert_int_equal(authz_scope_for_person(s, &c, person_a, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    assert_true(authz_may_write(&c));
    struct principal z = {.kind = PRINCIPAL_CITIZEN, .person_id = person_a};
    assert_int_equal(authz_scope_for_person(s, &z, person_a, &sc), 0);
    assert_true(sc.allowed);
    authz_scope_clear(&sc);
    assert_int_equal(authz_scope_for_person(s, &z, person_b, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    struct principal none = {.kind = PRINCIPAL_NONE};
    assert_int_equal(authz_scope_for_person(s, &none, person_a, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    struct principal app = user("R8000", "RVV", person_a);
    assert_true(authz_type_allowed(&app, "Condition"));
    app.scopes = "patient/Observation.rs launch";
    assert_true(authz_type_allowed(&app, "Observation"));
    assert_false(authz_type_allowed(&app, "Condition"));
    assert_false(authz_type_allowed(&app, "Observation.rs"));
    app.scopes = "patient/*.rs";
    assert_true(authz_type_allowed(&app, "Condition"));
    assert_false(authz_may_review_audit(s, &app));
    struct principal cg = user("R5105", "RVV", NULL);
    assert_true(authz_may_review_audit(s, &cg));
    struct principal nurse = user("R8001", "RVV", NULL);
    assert_false(authz_may_review_audit(s, &nurse));
}

/* Issue 16 items 4, 6, 7: agreements and objections bind API clients too;
 * a refusal says whether it is about the person (then a read by id answers
 * as for an unknown id) or about the caller (then 403 whatever the id). */
static void test_clients_agreements_objections(void **state)
{
    (void)state;
    struct authz_scope sc;
    const char *why = NULL;
    assert_int_equal(store_objection_set(s, person_b, "upheld", "2026-01-01"), 0);
    int64_t denials = audit_rows(AUDIT_DENIAL, AUDIT_DENIED);

    /* an organisation whose agreement has ended: refused, whoever the person */
    struct principal old = {
        .kind = PRINCIPAL_CLIENT, .client_name = "c-old", .org = "OLD", .scopes = "system/*.rs"};
    assert_int_equal(authz_scope_for_person(s, &old, person_a, &sc), 0);
    assert_false(sc.allowed);
    assert_false(sc.person_refused);
    assert_non_null(strstr(sc.reason, "agreement"));
    authz_scope_clear(&sc);
    assert_int_equal(authz_check_principal(s, &old, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "agreement"));
    assert_int_equal(audit_rows(AUDIT_DENIAL, AUDIT_DENIED), denials + 2); /* both audited */

    /* in force: everything, except an objecting person's items of others */
    struct principal rvv = {
        .kind = PRINCIPAL_CLIENT, .client_name = "c-rvv", .org = "RVV", .scopes = "system/*.rs"};
    assert_int_equal(authz_check_principal(s, &rvv, &why), 0);
    assert_null(why);
    assert_int_equal(authz_scope_for_person(s, &rvv, person_a, &sc), 0);
    assert_true(sc.allowed && sc.norgs == -1 && !sc.objection);
    authz_scope_clear(&sc);
    assert_int_equal(authz_scope_for_person(s, &rvv, person_b, &sc), 0);
    assert_true(sc.allowed && sc.objection && sc.restricted);
    assert_int_equal(sc.norgs, 1);
    assert_true(authz_scope_allows(&sc, "results", "RVV"));
    assert_false(authz_scope_allows(&sc, "results", "G82001"));
    authz_scope_clear(&sc);
    assert_int_equal(authz_scope_for_person(s, &rvv, NULL, &sc), 0);
    assert_true(sc.allowed && sc.objections_apply);
    assert_string_equal(sc.objection_org, "RVV");
    authz_scope_clear(&sc);

    /* no organisation: nothing of the objecting person */
    struct principal none = {
        .kind = PRINCIPAL_CLIENT, .client_name = "c-none", .scopes = "system/*.rs"};
    assert_int_equal(authz_scope_for_person(s, &none, person_b, &sc), 0);
    assert_true(sc.allowed && sc.objection);
    assert_int_equal(sc.norgs, 0);
    assert_false(authz_scope_allows(&sc, "results", "RVV"));
    authz_scope_clear(&sc);
    assert_int_equal(authz_scope_for_person(s, &none, NULL, &sc), 0);
    assert_true(sc.allowed && sc.objections_apply && sc.objection_org == NULL);
    authz_scope_clear(&sc);

    /* users: another person is a refusal about the person; an ended
     * agreement is not */
    struct principal u = user("R8000", "RVV", person_a);
    u.user_id = "u-no-glass"; /* u1 has break-glass for person_b (test above) */
    assert_int_equal(authz_scope_for_person(s, &u, person_b, &sc), 0);
    assert_true(!sc.allowed && sc.person_refused);
    authz_scope_clear(&sc);
    assert_int_equal(authz_check_principal(s, &u, &why), 0);
    assert_null(why);
    struct principal uo = user("R8000", "OLD", person_a);
    assert_int_equal(authz_scope_for_person(s, &uo, person_a, &sc), 0);
    assert_true(!sc.allowed && !sc.person_refused);
    authz_scope_clear(&sc);
    assert_int_equal(authz_check_principal(s, &uo, &why), 0);
    assert_non_null(why);
}

static void test_audit_rows(void **state)
{
    (void)state;
    struct store_row rows[30];
    memset(rows, 0, sizeof rows);
    char ids[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        rows[i].id = ids[i];
        rows[i].type = i < 2 ? "Patient" : "Observation";
        rows[i].category = i % 2 ? "results" : "observations";
        rows[i].person_id = i < 3 ? person_b : person_a; /* 3 of b, 27 of a */
    }
    bool hidden[30] = {false};
    hidden[1] = true;
    struct principal p = user("R8000", "RVV", person_a);
    int64_t before = audit_rows(AUDIT_SEARCH, AUDIT_OK);
    assert_int_equal(authz_audit_rows(s, &p, AUDIT_SEARCH, rows, 30, hidden), 0);
    assert_int_equal(audit_rows(AUDIT_SEARCH, AUDIT_OK), before + 2);
    struct store_audit_filter f = {.person_id = person_b, .action = AUDIT_SEARCH, .limit = 1};
    struct got {
        char what[256];
        int64_t count;
    } g = {"", 0};
    int take(const struct store_audit_row *r, void *ctx);
    assert_int_equal(store_audit_search(s, &f, take, &g), 0);
    assert_string_equal(g.what, "Patient id0 Observation id2");
    assert_int_equal(g.count, 2);
    f.person_id = person_a;
    assert_int_equal(store_audit_search(s, &f, take, &g), 0);
    assert_string_equal(g.what, "categories: results observations");
    assert_int_equal(g.count, 27);
}

int take(const struct store_audit_row *r, void *ctx)
{
    struct {
        char what[256];
        int64_t count;
    } *g = ctx;
    snprintf(g->what, sizeof g->what, "%s", r->what ? r->what : "");
    g->count = r->count;
    return 0;
}

static char *hs_token(const char *secret, const char *alg_str, time_t now, const char *jti,
                      const char *patient, const char *aud)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    jwt_add_grant(j, "iss", "iss-test");
    jwt_add_grant(j, "aud", aud);
    jwt_add_grant_int(j, "iat", now);
    jwt_add_grant_int(j, "exp", now + 120);
    jwt_add_grant(j, "jti", jti);
    jwt_add_grant(j, "sub", "dr-1");
    jwt_add_grant(j, "role", "R8000");
    jwt_add_grant(j, "org", "RVV");
    jwt_add_grant(j, "patient", patient);
    jwt_set_alg(j, jwt_str_alg(alg_str), (const unsigned char *)secret, (int)strlen(secret));
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

static void test_launch_verify(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef0123456789abcdef-secret";
    struct store_launcher l = {
        .name = "epr", .org = "RVV", .issuer = "iss-test", .alg = "HS256", .key = (char *)secret};
    assert_int_equal(store_launcher_add(s, &l, NULL), 0);
    time_t now = time(NULL);
    struct launch_claims c;
    const char *why;
    char *t = hs_token(secret, "HS256", now, "j1", "999 000 0018", "weft");
    assert_int_equal(launch_verify(s, t, "weft", now, &c, &why), 0);
    assert_string_equal(c.patient, "9990000018");
    assert_string_equal(c.purpose, "TREAT");
    assert_string_equal(c.launcher, "epr");
    launch_claims_clear(&c);
    /* replay */
    assert_int_equal(launch_verify(s, t, "weft", now, &c, &why), WEFT_EAUTH);
    assert_non_null(strstr(why, "used before"));
    launch_claims_clear(&c);
    /* expired at verification time */
    assert_int_equal(launch_verify(s, t, "weft", now + 3600, &c, &why), WEFT_EAUTH);
    launch_claims_clear(&c);
    free(t);
    /* audience */
    t = hs_token(secret, "HS256", now, "j2", "9990000018", "other");
    assert_int_equal(launch_verify(s, t, "weft", now, &c, &why), WEFT_EAUTH);
    assert_non_null(strstr(why, "audience"));
    launch_claims_clear(&c);
    free(t);
    /* the refused token's jti was not burnt: same id, right audience, works */
    t = hs_token(secret, "HS256", now, "j2", "9990000018", "weft");
    assert_int_equal(launch_verify(s, t, "weft", now, &c, &why), 0);
    launch_claims_clear(&c);
    free(t);
    /* HS384 with the same secret: not the pinned alg */
    t = hs_token(secret, "HS384", now, "j3", "9990000018", "weft");
    assert_int_equal(launch_verify(s, t, "weft", now, &c, &why), WEFT_EAUTH);
    assert_non_null(strstr(why, "algorithm"));
    launch_claims_clear(&c);
    free(t);
    /* alg none: header rewritten, signature dropped */
    t = hs_token(secret, "HS256", now, "j4", "9990000018", "weft");
    char *dot = strchr(t, '.');
    struct buf none = BUF_INIT;
    buf_adds(&none, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"); /* {"alg":"none","typ":"JWT"} */
    buf_add(&none, dot, (size_t)(strrchr(t, '.') - dot + 1));
    assert_int_equal(launch_verify(s, none.data, "weft", now, &c, &why), WEFT_EAUTH);
    launch_claims_clear(&c);
    buf_release(&none);
    free(t);
    /* junk */
    assert_int_equal(launch_verify(s, "x.y.z", "weft", now, &c, &why), WEFT_EAUTH);
    launch_claims_clear(&c);
    assert_int_equal(launch_verify(s, NULL, "weft", now, &c, &why), WEFT_EAUTH);
    launch_claims_clear(&c);
    size_t n;
    unsigned char *d = launch_b64url_decode("eyJhIjoxfQ", 10, &n);
    assert_non_null(d);
    assert_string_equal((char *)d, "{\"a\":1}");
    free(d);
    assert_null(launch_b64url_decode("a", 1, &n));
    assert_null(launch_b64url_decode("ab$c", 4, &n));
}

static void test_sessions_and_helpers(void **state)
{
    (void)state;
    char v[64];
    assert_true(session_cookie_get("a=1; weft_session=wss_abc; b=2", "weft_session", v, sizeof v));
    assert_string_equal(v, "wss_abc");
    assert_false(session_cookie_get("xweft_session=1", "weft_session", v, sizeof v));
    assert_false(session_cookie_get("weft_session=", "weft_session", v, sizeof v));
    assert_false(session_cookie_get(NULL, "weft_session", v, sizeof v));
    char a[SESSION_SECRET_LEN], b[SESSION_SECRET_LEN];
    session_secret_new("wss_", a);
    session_secret_new("wss_", b);
    assert_int_equal(strlen(a), 47);
    assert_string_not_equal(a, b);
    assert_true(session_secret_equal(a, a));
    assert_false(session_secret_equal(a, b));
    assert_false(session_secret_equal(a, NULL));
    struct launch_claims c = {
        .sub = "dr-1", .role = "R8000", .org = "RVV", .purpose = "TREAT", .launcher = "epr"};
    char secret[SESSION_SECRET_LEN], csrf[SESSION_SECRET_LEN];
    assert_int_equal(session_open(s, &c, person_a, 60, secret, csrf), 0);
    struct store_session ss;
    assert_int_equal(session_lookup(s, secret, &ss), 0);
    assert_string_equal(ss.csrf, csrf);
    assert_string_equal(ss.person_id, person_a);
    char tok[SESSION_SECRET_LEN];
    assert_int_equal(session_issue(s, &ss, "token", "patient/*.rs", 900, tok), 0);
    struct store_session ts;
    assert_int_equal(session_lookup(s, tok, &ts), 0);
    assert_true(strcmp(ts.expires, ss.expires) <= 0); /* never outlives the session */
    struct principal p = {0};
    session_principal(&ts, &p);
    assert_string_equal(p.scopes, "patient/*.rs");
    store_session_clear(&ts);
    assert_int_equal(store_session_revoke(s, ss.id_hash), 0);
    store_session_clear(&ss);
    assert_int_equal(session_lookup(s, secret, &ss), WEFT_ENOTFOUND);
    store_session_clear(&ss);
    assert_true(org_date_valid("2024-02-29"));
    assert_false(org_date_valid("2023-02-29"));
    assert_false(org_date_valid("2024-13-01"));
    assert_false(org_date_valid("24-01-01"));
    assert_true(org_ods_valid("G82001") && !org_ods_valid("rvv") && !org_ods_valid("R'V"));
    assert_true(org_type_valid("hospice") && !org_type_valid("pharmacy"));
}

/* Issue 13: who may look people up (FHIR Patient/$match): the policy
 * capability patient-match for staff, the scope system/Patient.$match for
 * clients; refusals audited; agreements bind both. */
static void test_patient_match(void **state)
{
    (void)state;
    const char *why = NULL;
    int64_t denials = audit_rows(AUDIT_DENIAL, AUDIT_DENIED);
    struct principal clerk = user("R8010", "RVV", NULL); /* admin profile: patient-match */
    assert_int_equal(authz_may_match_patients(s, &clerk, &why), 0);
    assert_null(why);
    struct principal io = user("R8012", "RVV", NULL);
    assert_int_equal(authz_may_match_patients(s, &io, &why), 0);
    assert_null(why);
    struct principal nurse = user("R8001", "RVV", person_a); /* not in the default policy */
    assert_int_equal(authz_may_match_patients(s, &nurse, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "patient-match"));
    struct principal ended = user("R8010", "OLD", NULL);
    assert_int_equal(authz_may_match_patients(s, &ended, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "agreement"));
    struct principal app = user("R8010", "RVV", NULL);
    app.scopes = "patient/*.rs"; /* an app token acting for the clerk */
    assert_int_equal(authz_may_match_patients(s, &app, &why), 0);
    assert_non_null(why);
    struct principal cl = {.kind = PRINCIPAL_CLIENT,
                           .client_name = "pas",
                           .org = "RVV",
                           .scopes = "system/*.rs system/Patient.$match"};
    assert_int_equal(authz_may_match_patients(s, &cl, &why), 0);
    assert_null(why);
    cl.scopes = "system/*.rs";
    assert_int_equal(authz_may_match_patients(s, &cl, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "system/Patient.$match"));
    cl.scopes = "system/Patient.$matches"; /* a scope is a whole word */
    assert_int_equal(authz_may_match_patients(s, &cl, &why), 0);
    assert_non_null(why);
    assert_int_equal(audit_rows(AUDIT_DENIAL, AUDIT_DENIED), denials + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agreements),
        cmocka_unit_test(test_user_scopes),
        cmocka_unit_test(test_objection_and_breakglass),
        cmocka_unit_test(test_scope_hidden),
        cmocka_unit_test(test_clients_agreements_objections),
        cmocka_unit_test(test_clients_citizens_types),
        cmocka_unit_test(test_audit_rows),
        cmocka_unit_test(test_launch_verify),
        cmocka_unit_test(test_sessions_and_helpers),
        cmocka_unit_test(test_patient_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
