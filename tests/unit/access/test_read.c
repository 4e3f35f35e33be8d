/* test_read.c - the one scoped-read path (access/read.h) against a real
 * SQLite store: the scope is applied inside the store query (a principal
 * outside it gets nothing, and is told what was hidden, by reason), every
 * call is audited (reads and refusals), and access_scope_query never widens
 * what a reader asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "access/policy.h"
#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/gov.h"
#include "store/citizen.h"
#include "store/records.h"
#include "store/store.h"

static struct store *s;
static char *person, *other;
static char dbpath[512];

static void put_item(const char *who, const char *org, const char *category, const char *sid)
{
    char json[160], id[65];
    snprintf(json, sizeof json, "{\"resourceType\":\"Observation\",\"id\":\"%s\"}", sid);
    struct store_put in = {.type = "Observation",
                           .source_org = org,
                           .source_id = sid,
                           .person_id = who,
                           .category = category,
                           .json = json,
                           .json_len = strlen(json)};
    enum store_put_outcome oc;
    assert_int_equal(store_resource_put(s, &in, &oc, id, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/read-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    char *err = NULL;
    assert_int_equal(store_open(&s, dbpath, true, &err), 0);
    int from, to;
    assert_int_equal(store_migrate(s, &from, &to), 0);
    const char *root = getenv("WEFT_ROOT");
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/policy/default.policy", root ? root : ".");
    setenv("WEFT_POLICY", path.data, 1);
    buf_release(&path);
    const char *used = NULL;
    assert_int_equal(policy_ensure_default(s, &used, &err), 0);
    assert_int_equal(store_org_put(s, "RVV", "East Kent", "acute"), 0);
    assert_int_equal(store_agreement_add(s, "RVV", "jca", "2020-01-01", NULL, NULL), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000018", &person), 0);
    assert_int_equal(store_person_by_nhs(s, "9990000026", &other), 0);
    put_item(person, "RVV", "results", "r-1");
    put_item(person, "RVV", "results", "r-2");
    put_item(person, "RVV", "demographics", "d-1");
    put_item(person, "G82001", "results", "r-3");
    put_item(other, "RVV", "results", "o-1");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(person);
    free(other);
    store_close(s);
    policy_cache_release();
    unlink(dbpath);
    return 0;
}

static struct principal user(const char *role, const char *in_context)
{
    return (struct principal){.kind = PRINCIPAL_USER,
                              .user_id = "u1",
                              .role = role,
                              .org = "RVV",
                              .launcher = "epr",
                              .purpose = "TREAT",
                              .person_id = in_context};
}

/* Audit entries of this action and outcome about who. */
struct count {
    const char *outcome, *person;
    int64_t n, items;
};
static int count_row(const struct store_audit_row *r, void *ctx)
{
    struct count *c = ctx;
    if (strcmp(r->outcome, c->outcome) == 0 && r->person_id &&
        strcmp(r->person_id, c->person) == 0) {
        c->n++;
        c->items += r->count;
    }
    return 0;
}
static struct count audited(const char *action, const char *outcome, const char *who)
{
    struct count c = {outcome, who, 0, 0};
    struct store_audit_filter f = {.action = action, .limit = 100000};
    assert_int_equal(store_audit_search(s, &f, count_row, &c), 0);
    return c;
}

/* The one-call read: in scope, everything; each call audited with what it
 * returned. */
static void test_read_in_scope(void **state)
{
    (void)state;
    struct principal gp = user("R8000", person);
    struct count before = audited(AUDIT_READ, AUDIT_OK, person);
    struct store_query q = {.limit = 100};
    struct store_result rows;
    struct access_read_result res;
    assert_int_equal(access_read(s, &gp, AUDIT_READ, person, &q, &rows, &res), 0);
    assert_false(res.refused);
    assert_int_equal(rows.nrows, 4);
    for (int i = 0; i < rows.nrows; i++)
        assert_string_equal(rows.rows[i].person_id, person); /* never another person's */
    assert_false(res.hidden.categories || res.hidden.orgs);
    store_result_clear(&rows);
    struct count after = audited(AUDIT_READ, AUDIT_OK, person);
    assert_int_equal(after.n, before.n + 1);
    assert_int_equal(after.items, before.items + 4);
}

/* A receptionist's scope has demographics, not results: the query returns
 * only what the scope allows, and says results were hidden - not that there
 * are none.  A read that returns nothing is audited all the same. */
static void test_read_narrowed_scope(void **state)
{
    (void)state;
    struct principal rec = user("R8009", person);
    struct count before = audited(AUDIT_READ, AUDIT_OK, person);
    struct store_query q = {.limit = 100};
    struct store_result rows;
    struct access_read_result res;
    assert_int_equal(access_read(s, &rec, AUDIT_READ, person, &q, &rows, &res), 0);
    assert_false(res.refused);
    assert_int_equal(rows.nrows, 1);
    assert_string_equal(rows.rows[0].category, "demographics");
    assert_true(res.hidden.categories);
    store_result_clear(&rows);
    /* asking for results only: nothing, no widening, hidden said */
    const char *cat[1] = {"results"};
    struct store_query qr = {.categories = cat, .ncategories = 1, .limit = 100};
    assert_int_equal(access_read(s, &rec, AUDIT_READ, person, &qr, &rows, &res), 0);
    assert_int_equal(rows.nrows, 0);
    assert_true(res.hidden.categories);
    store_result_clear(&rows);
    struct count after = audited(AUDIT_READ, AUDIT_OK, person);
    assert_int_equal(after.n, before.n + 2);
    assert_int_equal(after.items, before.items + 1);
}

/* A principal outside the scope (another person than the one in their
 * launch context) gets nothing, is told it was refused, and the refusal is
 * audited; an upheld objection hides the other organisation's items and
 * says so by reason. */
static void test_read_outside_scope(void **state)
{
    (void)state;
    struct principal gp = user("R8000", person);
    struct count before = audited(AUDIT_DENIAL, AUDIT_DENIED, other);
    struct store_query q = {.limit = 100};
    struct store_result rows;
    struct access_read_result res;
    assert_int_equal(access_read(s, &gp, AUDIT_READ, other, &q, &rows, &res), 0);
    assert_true(res.refused);
    assert_non_null(res.reason);
    assert_int_equal(rows.nrows, 0);
    store_result_clear(&rows);
    assert_int_equal(audited(AUDIT_DENIAL, AUDIT_DENIED, other).n, before.n + 1);
    /* the query's person is the read's: asking for another one changes nothing */
    struct store_query qo = {.person_id = other, .limit = 100};
    assert_int_equal(access_read(s, &gp, AUDIT_READ, person, &qo, &rows, &res), 0);
    for (int i = 0; i < rows.nrows; i++)
        assert_string_equal(rows.rows[i].person_id, person);
    store_result_clear(&rows);

    assert_int_equal(store_objection_set(s, person, "upheld", "2026-01-01"), 0);
    assert_int_equal(access_read(s, &gp, AUDIT_READ, person, &q, &rows, &res), 0);
    assert_false(res.refused);
    assert_int_equal(rows.nrows, 3); /* RVV's own three, not G82001's result */
    for (int i = 0; i < rows.nrows; i++)
        assert_string_equal(rows.rows[i].source_org, "RVV");
    assert_true(res.hidden.orgs);
    assert_false(res.hidden.categories);
    store_result_clear(&rows);
    /* asking for the other organisation's items only: nothing */
    const char *org[1] = {"G82001"};
    struct store_query qg = {.source_orgs = org, .nsource_orgs = 1, .limit = 100};
    assert_int_equal(access_read(s, &gp, AUDIT_READ, person, &qg, &rows, &res), 0);
    assert_int_equal(rows.nrows, 0);
    store_result_clear(&rows);
    assert_int_equal(store_objection_set(s, person, "withdrawn", "2026-02-01"), 0);
}

/* The family: one decision, several queries, one audit for what was shown. */
static void test_read_family(void **state)
{
    (void)state;
    struct principal gp = user("R8000", person);
    struct count before = audited(AUDIT_SEARCH, AUDIT_OK, person);
    struct access_read r;
    assert_int_equal(access_read_open(&r, s, &gp, AUDIT_SEARCH, person), 0);
    assert_true(r.scope.allowed);
    const char *cat[1] = {"results"};
    struct store_query q = {.categories = cat, .ncategories = 1, .limit = 1};
    struct store_result a, b;
    assert_int_equal(access_read_search(&r, &q, &a), 0);
    assert_int_equal(a.nrows, 1);
    assert_non_null(a.next);
    q.after = a.next;
    q.snapshot = a.snapshot;
    assert_int_equal(access_read_search(&r, &q, &b), 0);
    assert_int_equal(b.nrows, 1);
    assert_string_not_equal(a.rows[0].id, b.rows[0].id);
    assert_int_equal(access_read_audit_rows(&r, a.rows, a.nrows, NULL), 0);
    store_result_clear(&a);
    store_result_clear(&b);
    access_read_close(&r);
    assert_int_equal(audited(AUDIT_SEARCH, AUDIT_OK, person).n, before.n + 1);

    /* a refused decision: searches return nothing and touch no store rows */
    struct principal stranger = user("R8000", other);
    stranger.org = "NOAGREEMENT";
    assert_int_equal(access_read_open(&r, s, &stranger, AUDIT_SEARCH, person), 0);
    assert_false(r.scope.allowed);
    struct store_query all = {.limit = 100};
    assert_int_equal(access_read_search(&r, &all, &a), 0);
    assert_int_equal(a.nrows, 0);
    store_result_clear(&a);
    access_read_close(&r);
}

/* access_scope_query intersects, never widens. */
static void test_scope_query(void **state)
{
    (void)state;
    char *cats[2] = {"results", "demographics"}, *orgs[1] = {"RVV"};
    struct authz_scope sc = {
        .allowed = true, .ncategories = 2, .categories = cats, .norgs = 1, .orgs = orgs};
    struct access_qbuf qb = {0};
    struct store_query q = {0};
    assert_true(access_scope_query(&sc, &q, &qb));
    assert_int_equal(q.ncategories, 2);
    assert_int_equal(q.nsource_orgs, 1);
    assert_string_equal(q.source_orgs[0], "RVV");
    const char *want[2] = {"medications", "results"};
    struct store_query q2 = {.categories = want, .ncategories = 2};
    assert_true(access_scope_query(&sc, &q2, &qb));
    assert_int_equal(q2.ncategories, 1);
    assert_string_equal(q2.categories[0], "results");
    const char *meds[1] = {"medications"};
    struct store_query q3 = {.categories = meds, .ncategories = 1};
    assert_false(access_scope_query(&sc, &q3, &qb));
    assert_int_equal(q3.ncategories, 0);
    const char *elsewhere[2] = {"G82001", "RVV"};
    struct store_query q4 = {.source_orgs = elsewhere, .nsource_orgs = 2};
    assert_true(access_scope_query(&sc, &q4, &qb));
    assert_int_equal(q4.nsource_orgs, 1);
    assert_string_equal(q4.source_orgs[0], "RVV");
    sc.norgs = 0;
    struct store_query q5 = {0};
    assert_false(access_scope_query(&sc, &q5, &qb));
    sc.allowed = false;
    struct store_query q6 = {0};
    assert_false(access_scope_query(&sc, &q6, &qb));
    access_qbuf_clear(&qb);
}

/* Reads by id through the path (access_read_get, _ids, _history): an item
 * of another person, a withheld item and an unknown id get the same verdict
 * (never "absent"); a refusal that does not depend on the person is the
 * same for a known and an unknown id; what is shown is audited once. */
static void test_read_by_id(void **state)
{
    (void)state;
    char r1[STORE_ID_LEN + 1], o1[STORE_ID_LEN + 1], d1[STORE_ID_LEN + 1];
    store_resource_id("RVV", "Observation", "r-1", r1);
    store_resource_id("RVV", "Observation", "o-1", o1);
    store_resource_id("RVV", "Observation", "d-1", d1);
    struct principal gp = user("R8000", person), rec = user("R8009", person);
    struct access_read r;
    struct store_row row;
    enum access_row_verdict v;
    const char *why;

    struct count before = audited(AUDIT_READ, AUDIT_OK, person);
    access_read_begin(&r, s, &gp, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", r1, 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_SHOWN);
    assert_string_equal(row.id, r1);
    store_row_clear(&row);
    access_read_close(&r);
    assert_int_equal(audited(AUDIT_READ, AUDIT_OK, person).n, before.n + 1);

    /* another person's item, a withheld one and an unknown id: alike */
    struct count denied = audited(AUDIT_DENIAL, AUDIT_DENIED, other);
    access_read_begin(&r, s, &gp, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", o1, 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_UNKNOWN);
    assert_null(row.json);
    assert_int_equal(access_read_get(&r, "Observation", "no-such-id", 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_UNKNOWN);
    access_read_close(&r);
    assert_int_equal(audited(AUDIT_DENIAL, AUDIT_DENIED, other).n, denied.n + 1);
    struct count withheld = audited(AUDIT_READ, AUDIT_DENIED, person);
    access_read_begin(&r, s, &rec, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", r1, 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_UNKNOWN);
    assert_int_equal(access_read_get(&r, "Observation", d1, 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_SHOWN);
    store_row_clear(&row);
    access_read_close(&r);
    assert_int_equal(audited(AUDIT_READ, AUDIT_DENIED, person).n, withheld.n + 1);

    /* an app token without Observation in its scopes: refused by type for
     * a known and an unknown id alike */
    struct principal app = gp;
    app.scopes = "patient/Patient.rs";
    access_read_begin(&r, s, &app, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", r1, 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_REFUSED);
    assert_true(r.type_refused);
    access_read_close(&r);
    access_read_begin(&r, s, &app, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", "no-such-id", 0, &row, &v, &why), 0);
    assert_int_equal(v, ACCESS_ROW_REFUSED);
    assert_true(r.type_refused);
    access_read_close(&r);

    /* by ids: the receptionist gets the demographics item only; unknown,
     * withheld and another person's ids are left out alike */
    const char *ids[5] = {r1, d1, o1, "no-such-id", d1};
    struct store_result res;
    access_read_begin(&r, s, &rec, AUDIT_SEARCH);
    assert_int_equal(access_read_ids(&r, "Observation", ids, 5, &res), 0);
    assert_int_equal(res.nrows, 1);
    assert_string_equal(res.rows[0].id, d1);
    assert_true(r.rows_restricted);
    store_result_clear(&res);
    access_read_close(&r);

    /* history: each version decided on its own */
    bool *hidden = NULL;
    access_read_begin(&r, s, &rec, AUDIT_READ);
    assert_int_equal(access_read_get(&r, "Observation", d1, 0, &row, &v, &why), 0);
    assert_int_equal(access_read_history(&r, "Observation", r1, 10, &res, &hidden), 0);
    assert_int_equal(res.nrows, 1);
    assert_true(hidden[0]); /* a result: not the receptionist's */
    free(hidden);
    store_result_clear(&res);
    assert_int_equal(access_read_history(&r, "Observation", d1, 10, &res, &hidden), 0);
    assert_int_equal(res.nrows, 1);
    assert_false(hidden[0]);
    free(hidden);
    store_result_clear(&res);
    store_row_clear(&row);
    access_read_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_in_scope),      cmocka_unit_test(test_read_narrowed_scope),
        cmocka_unit_test(test_read_outside_scope), cmocka_unit_test(test_read_family),
        cmocka_unit_test(test_scope_query),        cmocka_unit_test(test_read_by_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
