/* test_proxy.c - proxy access grants (access/proxy.h) against a real store
 * (SQLite, or PostgreSQL with WEFT_TEST_DB): the scope words, who may grant
 * and revoke (policy capability proxy-grant, refusals audited), validation,
 * and the check every proxied request passes - scope, end day, revocation,
 * grant for another proxy or person - through proxy_check, the one
 * authorisation point (authz_scope_for_person), the objection workflow and
 * subject access requests; the audit entries carry the grant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "access/authz.h"
#include "access/objection.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/proxy.h"
#include "access/sar.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/citizen.h"
#include "store/proxy.h"
#include "store/records.h"
#include "store/store.h"
#include "unit/testdb.h"

static struct store *s;
static char *parent, *child, *other;
static char dbpath[512];
static const struct principal gp = {.kind = PRINCIPAL_USER,
                                    .user_id = "gp-1",
                                    .role = "R8000",
                                    .org = "G82001",
                                    .client_name = "cli:test"};

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/proxy-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    testdb_remove(dbpath);
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
    assert_int_equal(store_org_put(s, "G82001", "Elm Street Surgery", "gp"), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000018", &parent), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000026", &child), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000034", &other), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(parent);
    free(child);
    free(other);
    store_close(s);
    policy_cache_release();
    testdb_remove(dbpath);
    return 0;
}

static void day_from_today(int days, char out[11])
{
    org_day(time(NULL) + (time_t)days * 86400, out);
}

static struct store_proxy_grant grant_of(const char *scope, const char *basis, const char *until)
{
    return (struct store_proxy_grant){.proxy_person_id = parent,
                                      .proxy_nhs = "9990000018",
                                      .person_id = child,
                                      .nhs = "9990000026",
                                      .name = "Sam Citizen",
                                      .scope = (char *)scope,
                                      .basis = (char *)basis,
                                      .reason = "parent of a child under 11",
                                      .until = (char *)until};
}

/* The parent, signed in, acting for the child under grant id. */
static struct principal proxy_for(const struct store_proxy_grant *g, char *client)
{
    struct principal p = {.kind = PRINCIPAL_CITIZEN,
                          .user_id = "sub-parent",
                          .purpose = "PATRQT",
                          .person_id = parent};
    proxy_principal(&p, g, client);
    return p;
}

struct audit_count {
    const char *outcome, *client, *reason_prefix;
    int64_t n;
};

static int count_fn(const struct store_audit_row *r, void *ctx)
{
    struct audit_count *c = ctx;
    c->n += strcmp(r->outcome, c->outcome) == 0 &&
            (!c->client || (r->client && strcmp(r->client, c->client) == 0)) &&
            (!c->reason_prefix ||
             (r->reason && strncmp(r->reason, c->reason_prefix, strlen(c->reason_prefix)) == 0));
    return 0;
}

static int64_t audited(const char *action, const char *outcome, const char *client,
                       const char *reason_prefix)
{
    struct audit_count c = {outcome, client, reason_prefix, 0};
    struct store_audit_filter f = {.action = action, .limit = 100000};
    assert_int_equal(store_audit_search(s, &f, count_fn, &c), 0);
    return c.n;
}

static void test_scope_words(void **state)
{
    (void)state;
    assert_int_equal(proxy_scope_parse("view"), PROXY_SCOPE_VIEW);
    assert_int_equal(proxy_scope_parse("copy,view,objection"),
                     PROXY_SCOPE_VIEW | PROXY_SCOPE_OBJECTION | PROXY_SCOPE_COPY);
    assert_int_equal(proxy_scope_parse(""), 0);
    assert_int_equal(proxy_scope_parse("view,"), 0);
    assert_int_equal(proxy_scope_parse("view,edit"), 0);
    assert_int_equal(proxy_scope_parse("views"), 0);
    assert_int_equal(proxy_scope_parse(NULL), 0);
    char out[32];
    proxy_scope_format(PROXY_SCOPE_COPY | PROXY_SCOPE_VIEW, out);
    assert_string_equal(out, "view,copy");
    proxy_scope_format(PROXY_SCOPE_VIEW | PROXY_SCOPE_OBJECTION | PROXY_SCOPE_COPY, out);
    assert_string_equal(out, "view,objection,copy");
    assert_string_equal(proxy_basis_purpose("parent"), "FAMRQT");
    assert_string_equal(proxy_basis_purpose("consent"), "SUPNWK");
    assert_string_equal(proxy_basis_purpose("lpa"), "PWATRNY");
    assert_null(proxy_basis_purpose("neighbour"));
}

static void test_who_may_grant(void **state)
{
    (void)state;
    char until[11];
    day_from_today(30, until);
    struct store_proxy_grant g = grant_of("view", "parent", until);
    const char *why = NULL;
    int64_t id = 0;
    /* a receptionist, a nurse: not in the policy's proxy-grant profiles */
    const char *roles[] = {"R8009", "R8001", "R8012"};
    int64_t refused = audited(AUDIT_ADMIN, AUDIT_DENIED, NULL, "proxy access change refused");
    for (int i = 0; i < 3; i++) {
        struct principal p = gp;
        p.role = roles[i];
        assert_int_equal(proxy_grant(s, &p, &g, &id, &why), WEFT_EDENIED);
        assert_non_null(strstr(why, "proxy-grant"));
    }
    assert_int_equal(audited(AUDIT_ADMIN, AUDIT_DENIED, NULL, "proxy access change refused"),
                     refused + 3);
    /* a citizen or an API client may not grant either */
    struct principal citizen = {.kind = PRINCIPAL_CITIZEN, .user_id = "x", .person_id = child};
    assert_int_equal(proxy_grant(s, &citizen, &g, &id, &why), WEFT_EDENIED);
    struct principal governance = gp;
    governance.role = "R0001";
    assert_int_equal(proxy_grant(s, &governance, &g, &id, &why), 0);
    assert_true(id > 0);
    assert_int_equal(proxy_grant(s, &gp, &g, &id, &why), 0);
    struct store_proxy_grant got;
    assert_int_equal(store_proxy_grant_get(s, id, &got), 0);
    assert_string_equal(got.scope, "view");
    assert_string_equal(got.created_by, "gp-1 (R8000, G82001)");
    assert_null(got.revoked);
    store_proxy_grant_clear(&got);
    assert_int_equal(store_proxy_grant_get(s, id + 1000, &got), WEFT_ENOTFOUND);
    store_proxy_grant_clear(&got);
}

static void test_validation(void **state)
{
    (void)state;
    char until[11], past[11];
    day_from_today(30, until);
    day_from_today(-1, past);
    const char *why = NULL;
    int64_t id = 0;
    struct store_proxy_grant bad[6];
    bad[0] = grant_of("view,edit", "parent", until);
    bad[1] = grant_of("view", "neighbour", until);
    bad[2] = grant_of("view", "parent", past);
    bad[3] = grant_of("view", "parent", "2030-02-30");
    bad[4] = grant_of("view", "parent", until);
    bad[4].reason = "  ";
    bad[5] = grant_of("view", "parent", until);
    bad[5].proxy_person_id = child;
    const char *words[] = {"scope", "basis", "end date", "end date", "reason", "own proxy"};
    for (int i = 0; i < 6; i++) {
        why = NULL;
        assert_int_equal(proxy_grant(s, &gp, &bad[i], &id, &why), WEFT_EINVAL);
        assert_non_null(why);
        assert_non_null(strstr(why, words[i]));
    }
    /* today is the last day it may be used: allowed */
    char today[11];
    day_from_today(0, today);
    struct store_proxy_grant g = grant_of("view", "lpa", today);
    assert_int_equal(proxy_grant(s, &gp, &g, &id, &why), 0);
}

static void test_scope_expiry_revocation(void **state)
{
    (void)state;
    char until[11], client[32];
    day_from_today(30, until);
    struct store_proxy_grant g = grant_of("view", "parent", until);
    const char *why = NULL;
    int64_t id = 0;
    assert_int_equal(proxy_grant(s, &gp, &g, &id, &why), 0);
    g.id = id;
    struct principal p = proxy_for(&g, client);
    assert_string_equal(p.person_id, child);
    assert_string_equal(p.proxy_person_id, parent);
    assert_string_equal(p.purpose, "FAMRQT");
    assert_string_equal(p.client_name, client);

    /* view: the record is opened through the one authorisation point */
    assert_int_equal(proxy_check(s, &p, PROXY_SCOPE_VIEW, &why), 0);
    struct authz_scope sc;
    assert_int_equal(authz_scope_for_person(s, &p, child, &sc), 0);
    assert_true(sc.allowed);
    authz_scope_clear(&sc);
    /* never someone else's record */
    assert_int_equal(authz_scope_for_person(s, &p, other, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    /* reads audited as the proxy acting for the person, naming the grant */
    int64_t reads = audited(AUDIT_READ, AUDIT_OK, client, NULL);
    assert_int_equal(authz_audit_access(s, &p, AUDIT_READ, child, "Observation/x", 1), 0);
    assert_int_equal(audited(AUDIT_READ, AUDIT_OK, client, NULL), reads + 1);

    /* outside the scope: objections, copies */
    int64_t scope_refusals =
        audited(AUDIT_DENIAL, AUDIT_DENIED, client, "proxy access refused: outside");
    assert_int_equal(proxy_check(s, &p, PROXY_SCOPE_OBJECTION, &why), WEFT_EDENIED);
    assert_non_null(strstr(why, "objections"));
    int64_t oid = 0;
    assert_int_equal(objection_lodge(s, &p, child, "G82001", "I object", &oid, &why), WEFT_EDENIED);
    struct store_objection *cases = NULL;
    int n = 0;
    assert_int_equal(store_objection_list(s, child, false, &cases, &n), 0);
    assert_int_equal(n, 0);
    store_objections_free(cases, n);
    char today[11];
    day_from_today(0, today);
    int64_t sid = 0;
    assert_int_equal(sar_create(s, &p, child, today, &sid, &why), WEFT_EDENIED);
    assert_non_null(strstr(why, "copy"));
    assert_int_equal(audited(AUDIT_DENIAL, AUDIT_DENIED, client, "proxy access refused: outside"),
                     scope_refusals + 3);

    /* a grant for another proxy (a principal claiming it) is refused */
    struct principal thief = p;
    thief.proxy_person_id = other;
    assert_int_equal(proxy_check(s, &thief, PROXY_SCOPE_VIEW, &why), WEFT_EDENIED);
    assert_int_equal(authz_scope_for_person(s, &thief, child, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);

    /* revoked: refused at once, everywhere; twice is a conflict */
    struct principal clerk = gp;
    clerk.role = "R8009";
    assert_int_equal(proxy_revoke(s, &clerk, id, "asked by the mother", &why), WEFT_EDENIED);
    assert_int_equal(proxy_check(s, &p, PROXY_SCOPE_VIEW, &why), 0);
    assert_int_equal(proxy_revoke(s, &gp, id, "", &why), WEFT_EINVAL);
    assert_int_equal(proxy_revoke(s, &gp, id, "court order", &why), 0);
    assert_int_equal(proxy_revoke(s, &gp, id, "court order", &why), WEFT_ECONFLICT);
    assert_int_equal(proxy_revoke(s, &gp, id + 1000, "x", &why), WEFT_ENOTFOUND);
    int64_t revoked =
        audited(AUDIT_DENIAL, AUDIT_DENIED, client, "proxy access refused: the grant was revoked");
    assert_int_equal(proxy_check(s, &p, PROXY_SCOPE_VIEW, &why), WEFT_EDENIED);
    assert_non_null(strstr(why, "revoked"));
    assert_int_equal(authz_scope_for_person(s, &p, child, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    assert_int_equal(
        audited(AUDIT_DENIAL, AUDIT_DENIED, client, "proxy access refused: the grant was revoked"),
        revoked + 2);
    struct store_proxy_grant got;
    assert_int_equal(store_proxy_grant_get(s, id, &got), 0);
    assert_string_equal(got.revoked_reason, "court order");
    assert_string_equal(got.revoked_by, "gp-1 (R8000, G82001)");
    store_proxy_grant_clear(&got);

    /* expired: a grant whose last day has passed (stored as it would be after
     * that day; proxy_grant itself refuses a past end date) */
    char past[11], now[32], client2[32];
    day_from_today(-1, past);
    audit_now(now);
    struct store_proxy_grant old = grant_of("view,objection,copy", "consent", past);
    old.scope = "view,objection,copy";
    old.created = now;
    old.created_by = "test";
    int64_t old_id = 0;
    assert_int_equal(store_proxy_grant_add(s, &old, &old_id), 0);
    old.id = old_id;
    struct principal q = proxy_for(&old, client2);
    assert_string_equal(q.purpose, "SUPNWK");
    assert_int_equal(proxy_check(s, &q, PROXY_SCOPE_VIEW, &why), WEFT_EDENIED);
    assert_non_null(strstr(why, "ended"));
    assert_int_equal(authz_scope_for_person(s, &q, child, &sc), 0);
    assert_false(sc.allowed);
    authz_scope_clear(&sc);
    assert_true(audited(AUDIT_DENIAL, AUDIT_DENIED, client2,
                        "proxy access refused: the grant has expired") >= 2);
}

static void test_full_scope_acts(void **state)
{
    (void)state;
    char until[11], client[32];
    day_from_today(365, until);
    struct store_proxy_grant g = grant_of("view,objection,copy", "lpa", until);
    g.proxy_person_id = other;
    g.proxy_nhs = "9990000034";
    const char *why = NULL;
    int64_t id = 0;
    assert_int_equal(proxy_grant(s, &gp, &g, &id, &why), 0);
    g.id = id;
    struct principal p = {.kind = PRINCIPAL_CITIZEN, .user_id = "sub-attorney", .person_id = other};
    proxy_principal(&p, &g, client);
    assert_string_equal(p.purpose, "PWATRNY");
    int64_t oid = 0;
    assert_int_equal(objection_lodge(s, &p, child, "G82001", "the attorney objects", &oid, &why),
                     0);
    struct store_objection o;
    assert_int_equal(store_objection_case(s, oid, &o), 0);
    assert_non_null(strstr(o.lodged_by, "proxy grant"));
    store_objection_clear(&o);
    assert_int_equal(objection_withdraw(s, &p, oid, NULL, &why), 0);
    char today[11];
    day_from_today(0, today);
    int64_t sid = 0;
    assert_int_equal(sar_create(s, &p, child, today, &sid, &why), 0);
    /* the grant lists on both sides */
    struct store_proxy_grant *list = NULL;
    int n = 0;
    assert_int_equal(store_proxy_grant_list(s, other, &list, &n), 0);
    bool found = false;
    for (int i = 0; i < n; i++)
        found |= list[i].id == id && strcmp(list[i].person_id, child) == 0;
    assert_true(found);
    store_proxy_grants_free(list, n);
    assert_int_equal(store_proxy_grant_list(s, child, &list, &n), 0);
    found = false;
    for (int i = 0; i < n; i++)
        found |= list[i].id == id;
    assert_true(found);
    store_proxy_grants_free(list, n);
    /* a citizen acting for themself is not checked against any grant */
    struct principal self = {.kind = PRINCIPAL_CITIZEN, .user_id = "sub-c", .person_id = child};
    assert_int_equal(proxy_check(s, &self, PROXY_SCOPE_COPY, &why), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_words),     cmocka_unit_test(test_who_may_grant),
        cmocka_unit_test(test_validation),      cmocka_unit_test(test_scope_expiry_revocation),
        cmocka_unit_test(test_full_scope_acts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
