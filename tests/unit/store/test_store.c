/* test_store.c - the store API: migrations, put/unchanged/updated/
 * history/delete, search filters, snapshot paging while inserting, persons,
 * clients, meta.  Against SQLite, or PostgreSQL when WEFT_TEST_DB is set
 * (tests/run-tests.sh --backend postgres; unit/testdb.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/meta.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"
#include "store/pg/pg_int.h"

#include "unit/testdb.h"

/* The store under test: WEFT_TEST_DB, else a fresh SQLite file
 * (tests/unit/testdb.h; docs/TESTING.md). */
static char dbpath[4096];

static int setup(void **state)
{
    testdb_url(dbpath, sizeof dbpath, "store");
    struct store *s;
    char *err = NULL;
    const char *url = testdb_pick(dbpath); /* WEFT_TEST_DB: PostgreSQL */
    if (!url || store_open(&s, url, true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return -1;
    }
    int from, to;
    if (store_migrate(s, &from, &to) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    testdb_drop(dbpath);
    return 0;
}

static int put(struct store *s, const char *type, const char *sid, const char *person,
               const char *cat, const char *eff, const char *code, const char *json,
               enum store_put_outcome *oc, char *id)
{
    struct store_put p = {.type = type,
                          .source_org = "A81001",
                          .source_id = sid,
                          .person_id = person,
                          .category = cat,
                          .effective = eff,
                          .code = code,
                          .json = json,
                          .json_len = strlen(json)};
    int v = 0;
    return store_resource_put(s, &p, oc, id, &v);
}

/* A batch put (store_resource_put_batch) has the semantics of the same puts
 * one after the other: a no-op for unchanged content, a new version for
 * changed content, an id given twice (the second sees the first), an id
 * holding another type refused alone, search terms, and a re-linked Patient
 * moving the items stored before it (in store order) but not those after. */
static void test_put_batch(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char cid[STORE_ID_LEN + 1], oid[STORE_ID_LEN + 1], pid[STORE_ID_LEN + 1], o2[STORE_ID_LEN + 1];
    char *p1 = NULL, *p2 = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765919", &p1), 0);
    assert_int_equal(store_person_by_nhs(s, "9434765870", &p2), 0);
    const char *cj = "{\"resourceType\":\"Condition\",\"code\":{\"text\":\"asthma\"}}";
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, cj, &oc, cid), 0);
    assert_int_equal(put(s, "Observation", "o1", NULL, "observations", NULL, NULL,
                         "{\"resourceType\":\"Observation\"}", &oc, oid),
                     0);
    assert_int_equal(put(s, "Patient", "p1", p1, "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\"}", &oc, pid),
                     0);
    char ref[128];
    snprintf(ref, sizeof ref,
             "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/%s\"}}", pid);
    assert_int_equal(put(s, "Observation", "o2", p1, "observations", NULL, NULL, ref, &oc, o2), 0);

    const char *terms[] = {"identifier", "https://example.org|Q1"};
    char ref3[160];
    snprintf(ref3, sizeof ref3,
             "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/%s\"},"
             "\"status\":\"final\"}",
             pid);
    struct store_put in[] = {
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "c1",
         .category = "conditions",
         .json = cj},
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "c2",
         .category = "conditions",
         .json = "{\"resourceType\":\"Condition\"}"},
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "c2",
         .category = "conditions",
         .json = "{\"resourceType\":\"Condition\",\"note\":[]}",
         .terms = terms,
         .nterms = 1},
        {.type = "Procedure",
         .source_org = "A81001",
         .source_id = "x",
         .id = oid,
         .category = "procedures",
         .json = "{\"resourceType\":\"Procedure\"}"},
        {.type = "Observation",
         .source_org = "A81001",
         .source_id = "o1",
         .category = "observations",
         .json = "{\"resourceType\":\"Observation\",\"x\":1}"},
        {.type = "Patient",
         .source_org = "A81001",
         .source_id = "p1",
         .person_id = p2,
         .category = "demographics",
         .json = "{\"resourceType\":\"Patient\",\"active\":true}"},
        {.type = "Observation",
         .source_org = "A81001",
         .source_id = "o3",
         .person_id = p1,
         .category = "observations",
         .json = ref3},
    };
    int n = (int)(sizeof in / sizeof in[0]);
    struct store_put_result out[sizeof in / sizeof in[0]];
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), 0);
    assert_int_equal(store_resource_put_batch(s, in, n, out), 0);
    assert_int_equal(store_txn_commit(&t), 0);

    assert_int_equal(out[0].rc, 0);
    assert_int_equal(out[0].outcome, STORE_PUT_UNCHANGED);
    assert_int_equal(out[0].version, 1);
    assert_string_equal(out[0].id, cid);
    assert_int_equal(out[1].outcome, STORE_PUT_CREATED);
    assert_int_equal(out[1].version, 1);
    assert_int_equal(out[2].outcome, STORE_PUT_UPDATED);
    assert_int_equal(out[2].version, 2);
    assert_string_equal(out[1].id, out[2].id);
    assert_int_equal(out[3].rc, WEFT_ECONFLICT);
    assert_non_null(strstr(out[3].error, "already holds a Observation"));
    assert_int_equal(out[4].rc, 0);
    assert_int_equal(out[4].outcome, STORE_PUT_UPDATED);
    assert_int_equal(out[5].outcome, STORE_PUT_UPDATED);
    assert_int_equal(out[6].outcome, STORE_PUT_CREATED);

    /* nothing of the refused item; the history of the id given twice */
    struct store_row r;
    assert_int_equal(store_resource_get(s, "Procedure", oid, 0, &r), WEFT_ENOTFOUND);
    struct store_result h;
    assert_int_equal(store_history(s, "Condition", out[1].id, 10, &h), 0);
    assert_int_equal(h.nrows, 2);
    assert_true(h.rows[0].seq > h.rows[1].seq);
    int64_t c2_seq = h.rows[0].seq;
    store_result_clear(&h);
    assert_int_equal(store_history(s, "Observation", oid, 10, &h), 0);
    assert_int_equal(h.nrows, 2);
    assert_true(h.rows[0].seq > c2_seq); /* store order is batch order */
    store_result_clear(&h);
    /* the terms of the current version are searchable (lower-cased) */
    struct store_term qt[] = {{"identifier", "https://example.org|q1", false}};
    struct store_query q = {.type = "Condition", .terms = qt, .nterms = 1, .want_total = true};
    struct store_result sr;
    assert_int_equal(store_search(s, &q, &sr), 0);
    assert_int_equal(sr.total, 1);
    store_result_clear(&sr);
    /* the Patient moved to p2: its earlier item follows, the later one not */
    assert_int_equal(store_resource_get(s, "Observation", o2, 0, &r), 0);
    assert_string_equal(r.person_id, p2);
    store_row_clear(&r);
    assert_int_equal(store_resource_get(s, "Observation", out[6].id, 0, &r), 0);
    assert_string_equal(r.person_id, p1);
    store_row_clear(&r);

    /* outside a transaction; a bad item refuses the whole call */
    in[0].json = "{\"resourceType\":\"Condition\",\"v\":3}";
    assert_int_equal(store_resource_put_batch(s, in, 1, out), 0);
    assert_int_equal(out[0].outcome, STORE_PUT_UPDATED);
    in[1].category = NULL;
    assert_int_equal(store_resource_put_batch(s, in, 2, out), WEFT_EINVAL);
    free(p1);
    free(p2);
}

struct nhs_seen {
    char ids[8][STORE_ID_LEN + 1], nhs[8][16];
    int n;
};

static int nhs_cb(const char *person_id, const char *nhs, void *ctx)
{
    struct nhs_seen *seen = ctx;
    assert_true(seen->n < 8);
    snprintf(seen->ids[seen->n], sizeof seen->ids[0], "%s", person_id);
    snprintf(seen->nhs[seen->n], sizeof seen->nhs[0], "%s", nhs);
    seen->n++;
    return 0;
}

static int stop_cb(const char *person_id, const char *nhs, void *ctx)
{
    (void)person_id;
    (void)nhs;
    (*(int *)ctx)++;
    return 42;
}

/* store_person_nhs_scan: every person with an NHS number and that number, as
 * store_person_get reads it; a person linked only locally is not listed; the
 * callback's non-zero stops the scan and is returned. */
static void test_person_nhs_scan(void **state)
{
    struct store *s = *state;
    char *a = NULL, *b = NULL, *local = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765919", &a), 0);
    assert_int_equal(store_person_by_nhs(s, "9434765870", &b), 0);
    assert_int_equal(store_person_by_local(s, "A81001", "urn:local", "L1", NULL, &local), 0);
    struct nhs_seen seen = {0};
    assert_int_equal(store_person_nhs_scan(s, nhs_cb, &seen), 0);
    assert_int_equal(seen.n, 2);
    const char *want_id[] = {a, b}, *want_nhs[] = {"9434765919", "9434765870"};
    for (int w = 0; w < 2; w++) {
        int found = 0;
        for (int i = 0; i < seen.n; i++)
            if (strcmp(seen.ids[i], want_id[w]) == 0) {
                assert_string_equal(seen.nhs[i], want_nhs[w]);
                struct store_person sp;
                assert_int_equal(store_person_get(s, seen.ids[i], &sp), 0);
                assert_string_equal(sp.nhs, seen.nhs[i]);
                store_person_clear(&sp);
                found++;
            }
        assert_int_equal(found, 1);
    }
    for (int i = 0; i < seen.n; i++)
        assert_string_not_equal(seen.ids[i], local);
    int calls = 0;
    assert_int_equal(store_person_nhs_scan(s, stop_cb, &calls), 42);
    assert_int_equal(calls, 1);
    free(a);
    free(b);
    free(local);
}

static size_t ix_count(struct store *s, const char *type, const char *param, enum store_ix_op op,
                       const char *a, const char *b);

/* A batch naming every id once (PostgreSQL's set-based put, put-many-2; the
 * batch above names one twice and takes the row-at-a-time path): the same
 * outcomes as the puts one by one - unchanged, created, updated, a deleted
 * id put again, an id holding another type refused alone - the terms and
 * search-index rows of each new version, and a re-linked Patient moving its
 * earlier items but not the one after it in the batch. */
static void test_put_batch_each_once(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char cid[STORE_ID_LEN + 1], oid[STORE_ID_LEN + 1], pid[STORE_ID_LEN + 1], o2[STORE_ID_LEN + 1];
    char did[STORE_ID_LEN + 1];
    char *p1 = NULL, *p2 = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765919", &p1), 0);
    assert_int_equal(store_person_by_nhs(s, "9434765870", &p2), 0);
    const char *cj = "{\"resourceType\":\"Condition\",\"code\":{\"text\":\"asthma\"}}";
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, cj, &oc, cid), 0);
    assert_int_equal(put(s, "Observation", "o1", NULL, "observations", NULL, NULL,
                         "{\"resourceType\":\"Observation\"}", &oc, oid),
                     0);
    assert_int_equal(put(s, "Patient", "p1", p1, "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\"}", &oc, pid),
                     0);
    char ref[128];
    snprintf(ref, sizeof ref,
             "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/%s\"}}", pid);
    assert_int_equal(put(s, "Observation", "o2", p1, "observations", NULL, NULL, ref, &oc, o2), 0);
    const char *dj = "{\"resourceType\":\"Condition\",\"d\":1}";
    assert_int_equal(put(s, "Condition", "d1", NULL, "conditions", NULL, NULL, dj, &oc, did), 0);
    assert_int_equal(store_resource_delete(s, "Condition", did), 0);

    const char *terms[] = {"identifier", "https://example.org|Q7"};
    const char *ixc[] = {"code", "195967001"};
    const char *ixo[] = {"code", "8867-4", "status", "final"};
    char ref3[160];
    snprintf(ref3, sizeof ref3,
             "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/%s\"},"
             "\"status\":\"final\"}",
             pid);
    struct store_put in[] = {
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "c1",
         .category = "conditions",
         .json = cj},
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "c2",
         .category = "conditions",
         .json = "{\"resourceType\":\"Condition\",\"note\":[]}",
         .terms = terms,
         .nterms = 1,
         .index = ixc,
         .nindex = 1},
        {.type = "Procedure",
         .source_org = "A81001",
         .source_id = "x",
         .id = oid,
         .category = "procedures",
         .json = "{\"resourceType\":\"Procedure\"}"},
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "d1",
         .category = "conditions",
         .json = dj},
        {.type = "Patient",
         .source_org = "A81001",
         .source_id = "p1",
         .person_id = p2,
         .category = "demographics",
         .json = "{\"resourceType\":\"Patient\",\"active\":true}"},
        {.type = "Observation",
         .source_org = "A81001",
         .source_id = "o3",
         .person_id = p1,
         .category = "observations",
         .json = ref3,
         .index = ixo,
         .nindex = 2},
    };
    int n = (int)(sizeof in / sizeof in[0]);
    struct store_put_result out[sizeof in / sizeof in[0]];
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), 0);
    assert_int_equal(store_resource_put_batch(s, in, n, out), 0);
    assert_int_equal(store_txn_commit(&t), 0);

    assert_int_equal(out[0].rc, 0);
    assert_int_equal(out[0].outcome, STORE_PUT_UNCHANGED);
    assert_int_equal(out[0].version, 1);
    assert_string_equal(out[0].id, cid);
    assert_int_equal(out[1].rc, 0);
    assert_int_equal(out[1].outcome, STORE_PUT_CREATED);
    assert_int_equal(out[1].version, 1);
    assert_int_equal(out[2].rc, WEFT_ECONFLICT);
    assert_non_null(strstr(out[2].error, "already holds a Observation"));
    assert_int_equal(out[3].rc, 0); /* deleted (version 2), put again: version 3 */
    assert_int_equal(out[3].outcome, STORE_PUT_UPDATED);
    assert_int_equal(out[3].version, 3);
    assert_string_equal(out[3].id, did);
    assert_int_equal(out[4].outcome, STORE_PUT_UPDATED);
    assert_int_equal(out[4].version, 2);
    assert_int_equal(out[5].outcome, STORE_PUT_CREATED);

    struct store_row r;
    assert_int_equal(store_resource_get(s, "Procedure", oid, 0, &r), WEFT_ENOTFOUND);
    assert_int_equal(store_resource_get(s, "Observation", oid, 0, &r), 0);
    assert_int_equal(r.version, 1);
    store_row_clear(&r);
    assert_int_equal(store_resource_get(s, "Condition", did, 0, &r), 0);
    assert_false(r.deleted);
    assert_int_equal(r.version, 3);
    store_row_clear(&r);
    /* store order is batch order */
    struct store_result h;
    assert_int_equal(store_history(s, "Condition", out[1].id, 10, &h), 0);
    assert_int_equal(h.nrows, 1);
    int64_t c2_seq = h.rows[0].seq;
    store_result_clear(&h);
    assert_int_equal(store_history(s, "Condition", did, 10, &h), 0);
    assert_int_equal(h.nrows, 3);
    assert_true(h.rows[0].seq > c2_seq);
    store_result_clear(&h);
    /* terms and index rows of the new versions, under their own types */
    struct store_term qt[] = {{"identifier", "https://example.org|q7", false}};
    struct store_query q = {.type = "Condition", .terms = qt, .nterms = 1, .want_total = true};
    struct store_result sr;
    assert_int_equal(store_search(s, &q, &sr), 0);
    assert_int_equal(sr.total, 1);
    store_result_clear(&sr);
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "195967001", NULL), 1);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 1);
    assert_int_equal(ix_count(s, "Observation", "status", STORE_IX_EQ, "final", NULL), 1);
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "8867-4", NULL), 0);
    /* the Patient moved to p2: its earlier item follows, the later one not */
    assert_int_equal(store_resource_get(s, "Observation", o2, 0, &r), 0);
    assert_string_equal(r.person_id, p2);
    store_row_clear(&r);
    assert_int_equal(store_resource_get(s, "Observation", out[5].id, 0, &r), 0);
    assert_string_equal(r.person_id, p1);
    store_row_clear(&r);
    free(p1);
    free(p2);
}

/* A batch whose puts repeat their own terms and search-index pairs and
 * share them with each other: one row each, every resource found once
 * (pg12i-put-many-4 writes them grouped, without ON CONFLICT DO NOTHING).
 * Then a second batch on the same connection, one resource a call as the
 * MLLP writer's are, a new version each: found once again, the old versions
 * not.  On PostgreSQL the batch put runs its generic plans
 * (plan_cache_mode set on the function: otherwise the lookup of current
 * versions was planned again at every call of one or two resources). */
static void test_put_batch_repeated_rows(void **state)
{
    struct store *s = *state;
    const char *terms[] = {"identifier", "https://example.org|R1", "identifier",
                           "https://example.org|R1"};
    const char *ix[] = {"code", "38341003", "code", "38341003", "code", "73211009"};
    struct store_put in[] = {
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "r1",
         .category = "conditions",
         .json = "{\"resourceType\":\"Condition\",\"n\":1}",
         .terms = terms,
         .nterms = 2,
         .index = ix,
         .nindex = 3},
        {.type = "Condition",
         .source_org = "A81001",
         .source_id = "r2",
         .category = "conditions",
         .json = "{\"resourceType\":\"Condition\",\"n\":2}",
         .terms = terms,
         .nterms = 2,
         .index = ix,
         .nindex = 3},
    };
    struct store_put_result out[2];
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), 0);
    assert_int_equal(store_resource_put_batch(s, in, 2, out), 0);
    assert_int_equal(store_txn_commit(&t), 0);
    assert_int_equal(out[0].rc, 0);
    assert_int_equal(out[0].outcome, STORE_PUT_CREATED);
    assert_int_equal(out[1].rc, 0);
    assert_int_equal(out[1].outcome, STORE_PUT_CREATED);
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "38341003", NULL), 2);
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "73211009", NULL), 2);
    struct store_term qt[] = {{"identifier", "https://example.org|r1", false}};
    struct store_query q = {.type = "Condition", .terms = qt, .nterms = 1, .want_total = true};
    struct store_result sr;
    assert_int_equal(store_search(s, &q, &sr), 0);
    assert_int_equal(sr.total, 2);
    store_result_clear(&sr);
    /* one resource a call, more calls than the plan cache's five custom plans */
    char json[96];
    for (int i = 0; i < 8; i++) {
        struct store_put one = in[i % 2];
        snprintf(json, sizeof json, "{\"resourceType\":\"Condition\",\"n\":%d}", 10 + i);
        one.json = json;
        assert_int_equal(store_txn_begin(&t, s), 0);
        assert_int_equal(store_resource_put_batch(s, &one, 1, out), 0);
        assert_int_equal(store_txn_commit(&t), 0);
        assert_int_equal(out[0].rc, 0);
        assert_int_equal(out[0].outcome, STORE_PUT_UPDATED);
        assert_int_equal(out[0].version, 2 + i / 2);
    }
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "38341003", NULL), 2);
    assert_int_equal(store_search(s, &q, &sr), 0);
    assert_int_equal(sr.total, 2);
    store_result_clear(&sr);
    const char *url = testdb_pg();
    if (url) {
        PGconn *c = PQconnectdb(url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, "SELECT array_to_string(proconfig, ',') FROM pg_proc"
                                " WHERE proname = 'weft_resource_put_many'");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(r), 1);
        assert_non_null(strstr(PQgetvalue(r, 0, 0), "plan_cache_mode=force_generic_plan"));
        PQclear(r);
        PQfinish(c);
    }
}

static void test_migrate_idempotent(void **state)
{
    struct store *s = *state;
    int v = 0, from = -1, to = -1;
    assert_int_equal(store_schema_version(s, &v), 0);
    assert_true(v >= 1);
    assert_int_equal(store_migrate(s, &from, &to), 0);
    assert_int_equal(from, v);
    assert_int_equal(to, v);
}

static void test_put_versions(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], want[STORE_ID_LEN + 1];
    const char *j1 =
        "{\"resourceType\":\"Condition\",\"id\":\"x\",\"meta\":{\"source\":\"A81001\"}}";
    const char *j2 =
        "{\"resourceType\":\"Condition\",\"id\":\"x\",\"meta\":{\"source\":\"A81001\"},"
        "\"note\":[{\"text\":\"changed\"}]}";
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, j1, &oc, id), 0);
    assert_int_equal(oc, STORE_PUT_CREATED);
    store_resource_id("A81001", "Condition", "c1", want);
    assert_string_equal(id, want);
    assert_int_equal(strlen(id), STORE_ID_LEN);
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, j1, &oc, id), 0);
    assert_int_equal(oc, STORE_PUT_UNCHANGED);
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, j2, &oc, id), 0);
    assert_int_equal(oc, STORE_PUT_UPDATED);

    struct store_row r;
    assert_int_equal(store_resource_get(s, "Condition", id, 0, &r), 0);
    assert_int_equal(r.version, 2);
    assert_non_null(strstr(r.json, "changed"));
    assert_non_null(strstr(r.json, "\"versionId\":\"2\""));
    assert_non_null(strstr(r.json, "\"source\":\"A81001\""));
    store_row_clear(&r);
    assert_int_equal(store_resource_get(s, "Condition", id, 1, &r), 0);
    assert_int_equal(r.version, 1);
    assert_null(strstr(r.json, "changed"));
    store_row_clear(&r);
    assert_int_equal(store_resource_get(s, "Observation", id, 0, &r), WEFT_ENOTFOUND);
    assert_int_equal(store_resource_get(s, "Condition", "nope", 0, &r), WEFT_ENOTFOUND);

    struct store_result h;
    assert_int_equal(store_history(s, "Condition", id, 10, &h), 0);
    assert_int_equal(h.nrows, 2);
    assert_int_equal(h.rows[0].version, 2);
    assert_int_equal(h.rows[1].version, 1);
    store_result_clear(&h);

    assert_int_equal(store_resource_delete(s, "Condition", id), 0);
    assert_int_equal(store_resource_get(s, "Condition", id, 0, &r), 0);
    assert_true(r.deleted);
    assert_int_equal(r.version, 3);
    store_row_clear(&r);
    /* the same content again after a delete brings it back as a new version */
    assert_int_equal(put(s, "Condition", "c1", NULL, "conditions", NULL, NULL, j2, &oc, id), 0);
    assert_int_equal(oc, STORE_PUT_UPDATED);
}

/* store_resource_digest_many answers each item as store_resource_digest
 * would, by position: a current version (its digest and version), an
 * updated one (the new digest), a deleted one, an id of another type and an
 * unknown id (WEFT_ENOTFOUND), an id asked twice. */
static void test_digest_many(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    const char *ja = "{\"resourceType\":\"Condition\",\"id\":\"a\"}";
    const char *jb1 = "{\"resourceType\":\"Encounter\",\"id\":\"b\",\"status\":\"planned\"}";
    const char *jb2 = "{\"resourceType\":\"Encounter\",\"id\":\"b\",\"status\":\"finished\"}";
    const char *jc = "{\"resourceType\":\"Condition\",\"id\":\"c\"}";
    assert_int_equal(put(s, "Condition", "a", NULL, "conditions", NULL, NULL, ja, &oc, a), 0);
    assert_int_equal(put(s, "Encounter", "b", NULL, "encounters", NULL, NULL, jb1, &oc, b), 0);
    assert_int_equal(put(s, "Encounter", "b", NULL, "encounters", NULL, NULL, jb2, &oc, b), 0);
    assert_int_equal(put(s, "Condition", "c", NULL, "conditions", NULL, NULL, jc, &oc, c), 0);
    assert_int_equal(store_resource_delete(s, "Condition", c), 0);
    struct store_digest_item it[] = {
        {.type = "Encounter", .id = b},
        {.type = "Condition", .id = c},
        {.type = "Condition", .id = a},
        {.type = "Condition", .id = b},
        {.type = "Condition", .id = "0123456789abcdef0123456789abcdef"},
        {.type = "Encounter", .id = b},
    };
    int n = (int)(sizeof it / sizeof it[0]);
    for (int i = 0; i < n; i++) {
        it[i].rc = -12345;
        it[i].version = -1;
    }
    assert_int_equal(store_resource_digest_many(s, it, n), 0);
    for (int i = 0; i < n; i++) {
        unsigned char h[STORE_HASH_LEN];
        int v = 0;
        int rc = store_resource_digest(s, it[i].type, it[i].id, h, &v);
        assert_int_equal(it[i].rc, rc);
        if (rc == 0) {
            assert_int_equal(it[i].version, v);
            assert_memory_equal(it[i].hash, h, STORE_HASH_LEN);
        }
    }
    assert_int_equal(it[0].rc, 0);
    assert_int_equal(it[0].version, 2);
    assert_int_equal(it[1].rc, WEFT_ENOTFOUND);
    assert_int_equal(it[2].rc, 0);
    assert_int_equal(it[2].version, 1);
    assert_int_equal(it[3].rc, WEFT_ENOTFOUND);
    assert_int_equal(it[4].rc, WEFT_ENOTFOUND);
    assert_int_equal(it[5].rc, 0);
    assert_memory_equal(it[5].hash, it[0].hash, STORE_HASH_LEN);
    assert_memory_not_equal(it[0].hash, it[2].hash, STORE_HASH_LEN);
}

/* Type-level history: every version of the type (deletion markers too),
 * newest first, cut at the limit; other types' versions never appear. */
static void test_type_history(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1], x[STORE_ID_LEN + 1];
    assert_int_equal(put(s, "Flag", "f1", "p1", "alerts", NULL, NULL,
                         "{\"resourceType\":\"Flag\",\"status\":\"active\"}", &oc, a),
                     0);
    assert_int_equal(put(s, "Condition", "c1", "p1", "problems", NULL, NULL,
                         "{\"resourceType\":\"Condition\"}", &oc, x),
                     0);
    assert_int_equal(put(s, "Flag", "f2", "p1", "alerts", NULL, NULL,
                         "{\"resourceType\":\"Flag\",\"status\":\"active\"}", &oc, b),
                     0);
    assert_int_equal(put(s, "Flag", "f1", "p1", "alerts", NULL, NULL,
                         "{\"resourceType\":\"Flag\",\"status\":\"inactive\"}", &oc, a),
                     0);
    assert_int_equal(oc, STORE_PUT_UPDATED);
    assert_int_equal(store_resource_delete(s, "Flag", b), 0);
    assert_int_equal(put(s, "Flag", "f3", "p1", "alerts", NULL, NULL,
                         "{\"resourceType\":\"Flag\",\"status\":\"active\"}", &oc, c),
                     0);
    struct store_result h;
    assert_int_equal(store_history(s, "Flag", NULL, 10, &h), 0);
    /* f3 v1, f2 deleted (v2), f1 v2, f2 v1, f1 v1 */
    assert_int_equal(h.nrows, 5);
    const char *ids[] = {c, b, a, b, a};
    const int versions[] = {1, 2, 2, 1, 1};
    const bool deleted[] = {false, true, false, false, false};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(h.rows[i].type, "Flag");
        assert_string_equal(h.rows[i].id, ids[i]);
        assert_int_equal(h.rows[i].version, versions[i]);
        assert_int_equal(h.rows[i].deleted, deleted[i]);
        if (i)
            assert_true(h.rows[i].seq < h.rows[i - 1].seq);
    }
    store_result_clear(&h);
    assert_int_equal(store_history(s, "Flag", NULL, 2, &h), 0);
    assert_int_equal(h.nrows, 2);
    assert_string_equal(h.rows[0].id, c);
    assert_true(h.rows[1].deleted);
    store_result_clear(&h);
}

static void test_meta_added_without_meta(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    assert_int_equal(put(s, "Goal", "g", NULL, "documents", NULL, NULL,
                         "{\"resourceType\":\"Goal\",\"id\":\"g\",\"note\":[{\"meta\":1}]}", &oc,
                         id),
                     0);
    struct store_row r;
    assert_int_equal(store_resource_get(s, "Goal", id, 0, &r), 0);
    const char *want = "{\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"";
    assert_memory_equal(r.json, want, strlen(want));
    assert_non_null(
        strstr(r.json, "Z\"},\"resourceType\":\"Goal\",\"id\":\"g\",\"note\":[{\"meta\":1}]}"));
    store_row_clear(&r);
}

static void test_search_filters(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    char json[200];
    for (int i = 0; i < 30; i++) {
        char sid[16], eff[32];
        snprintf(sid, sizeof sid, "o%02d", i);
        snprintf(eff, sizeof eff, "2020-01-%02dT10:00:00Z", i + 1);
        snprintf(json, sizeof json, "{\"resourceType\":\"Observation\",\"id\":\"%s\"}", sid);
        assert_int_equal(
            put(s, "Observation", sid, i % 2 ? "p1" : "p2", i % 3 ? "results" : "observations", eff,
                i % 5 ? "http://loinc.org|8867-4" : "http://loinc.org|718-7", json, &oc, id),
            0);
    }
    struct store_query q = {.type = "Observation", .person_id = "p1", .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 15);
    assert_int_equal(r.nrows, 15);
    assert_null(r.next);
    store_result_clear(&r);

    const char *cats[] = {"observations"};
    q = (struct store_query){
        .type = "Observation", .categories = cats, .ncategories = 1, .want_total = true};
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 10);
    store_result_clear(&r);

    const char *codes[] = {"718-7"};
    q = (struct store_query){
        .type = "Observation", .codes = codes, .ncodes = 1, .want_total = true};
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 6);
    store_result_clear(&r);
    const char *codes2[] = {"http://loinc.org|718-7", "http://other|718-7"};
    q.codes = codes2;
    q.ncodes = 2;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 6);
    store_result_clear(&r);

    q = (struct store_query){.type = "Observation",
                             .date_ge = "2020-01-10",
                             .date_lt = "2020-01-20",
                             .sort = STORE_SORT_DATE_DESC,
                             .want_total = true};
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 10);
    assert_string_equal(r.rows[0].effective, "2020-01-19T10:00:00Z");
    assert_string_equal(r.rows[9].effective, "2020-01-10T10:00:00Z");
    store_result_clear(&r);

    const char *orgs[] = {"OTHER"};
    q = (struct store_query){
        .type = "Observation", .source_orgs = orgs, .nsource_orgs = 1, .want_total = true};
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 0);
    assert_int_equal(r.nrows, 0);
    store_result_clear(&r);

    q = (struct store_query){.type = "Observation", .after = "zz.bad"};
    assert_int_equal(store_search(s, &q, &r), WEFT_EINVAL);
}

static void test_terms(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    const char *terms[] = {"family", "Smith",      "given",
                           "Anne",   "identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919"};
    struct store_put p = {.type = "Patient",
                          .source_org = "A81001",
                          .source_id = "pat1",
                          .category = "demographics",
                          .json = "{\"resourceType\":\"Patient\"}",
                          .terms = terms,
                          .nterms = 3};
    char id[STORE_ID_LEN + 1];
    assert_int_equal(store_resource_put(s, &p, &oc, id, NULL), 0);
    struct store_term t[] = {{"family", "SMI", true}, {"given", "anne", false}};
    struct store_query q = {.type = "Patient", .terms = t, .nterms = 2, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 1);
    assert_string_equal(r.rows[0].id, id);
    store_result_clear(&r);
    struct store_term t2[] = {{"family", "smithson", false}};
    q.terms = t2;
    q.nterms = 1;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 0);
    store_result_clear(&r);
}

/* The total of a search with many terms counts with every term (issue 16
 * item 9: the page and the count query once shared 64 slots for the term
 * values, so the count query dropped the terms past the 24th of 40). */
static void test_terms_many_total(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    for (int i = 0; i < 6; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "many%d", i);
        const char *terms[] = {"family", "Abbot", "given", i < 2 ? "Mary" : "Zoe"};
        struct store_put p = {.type = "Patient",
                              .source_org = "A81001",
                              .source_id = sid,
                              .category = "demographics",
                              .json = "{\"resourceType\":\"Patient\"}",
                              .terms = terms,
                              .nterms = 2};
        assert_int_equal(store_resource_put(s, &p, &oc, id, NULL), 0);
    }
    struct store_term t[40];
    for (int i = 0; i < 39; i++)
        t[i] = (struct store_term){"family", "a", true};
    t[39] = (struct store_term){"given", "m", true};
    /* limit 1: the total comes from the count query, not from the page */
    struct store_query q = {
        .type = "Patient", .terms = t, .nterms = 40, .want_total = true, .limit = 1};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(r.total, 2);
    store_result_clear(&r);
}

/* Page through 50 items 7 at a time while inserting new ones and updating
 * old ones between pages: every original item exactly once, total stable. */
static void paging_case_for(struct store *s, enum store_sort sort, const char *person);

static void paging_case(struct store *s, enum store_sort sort)
{
    paging_case_for(s, sort, "pp");
}

/* person NULL: the type across persons (the other test's items are in a
 * fresh database, so the counts are the same). */
static void paging_case_for(struct store *s, enum store_sort sort, const char *person)
{
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], json[200], sid[32], eff[32];
    for (int i = 0; i < 50; i++) {
        snprintf(sid, sizeof sid, "e%d-%d", (int)sort, i);
        snprintf(eff, sizeof eff, "2021-%02d-01", i % 12 + 1); /* duplicate keys on purpose */
        snprintf(json, sizeof json, "{\"resourceType\":\"Encounter\",\"n\":%d}", i);
        assert_int_equal(put(s, "Encounter", sid, "pp", "encounters", eff, NULL, json, &oc, id), 0);
    }
    struct store_query q = {
        .type = "Encounter", .person_id = person, .sort = sort, .limit = 7, .want_total = true};
    char *seen[64], prev_eff[32] = "";
    int64_t prev_seq = 0;
    int nseen = 0, pages = 0, extra = 1000;
    char *after = NULL;
    for (;;) {
        struct store_result r;
        q.after = after;
        assert_int_equal(store_search(s, &q, &r), 0);
        assert_int_equal(r.total, 50);
        q.snapshot = r.snapshot;
        for (int i = 0; i < r.nrows; i++) {
            for (int k = 0; k < nseen; k++)
                assert_string_not_equal(seen[k], r.rows[i].id);
            assert_true(nseen < 64);
            seen[nseen++] = strdup(r.rows[i].id);
            /* the order is strict across pages: (key, id), or seq */
            const struct store_row *row = &r.rows[i];
            if (nseen > 1 && sort == STORE_SORT_SEQ)
                assert_true(row->seq > prev_seq);
            else if (nseen > 1 && sort == STORE_SORT_ID)
                assert_true(strcmp(row->id, seen[nseen - 2]) > 0);
            else if (nseen > 1 && sort == STORE_SORT_DATE)
                assert_true(strcmp(row->effective, prev_eff) > 0 ||
                            (strcmp(row->effective, prev_eff) == 0 &&
                             strcmp(row->id, seen[nseen - 2]) > 0));
            prev_seq = row->seq;
            snprintf(prev_eff, sizeof prev_eff, "%s", row->effective ? row->effective : "");
        }
        /* concurrent activity: a new item and a changed one */
        snprintf(sid, sizeof sid, "new%d-%d", (int)sort, extra);
        snprintf(json, sizeof json, "{\"resourceType\":\"Encounter\",\"n\":%d}", extra++);
        assert_int_equal(
            put(s, "Encounter", sid, "pp", "encounters", "2021-01-01", NULL, json, &oc, id), 0);
        snprintf(sid, sizeof sid, "e%d-%d", (int)sort, pages);
        snprintf(json, sizeof json, "{\"resourceType\":\"Encounter\",\"n\":%d}", extra++);
        assert_int_equal(
            put(s, "Encounter", sid, "pp", "encounters", "2021-06-15", NULL, json, &oc, id), 0);
        assert_int_equal(oc, STORE_PUT_UPDATED);
        pages++;
        free(after);
        after = r.next ? strdup(r.next) : NULL;
        store_result_clear(&r);
        if (!after)
            break;
    }
    assert_int_equal(nseen, 50);
    assert_int_equal(pages, 8);
    for (int k = 0; k < nseen; k++)
        free(seen[k]);
    /* a fresh query sees the new ones */
    struct store_query q2 = {.type = "Encounter", .person_id = person, .want_total = true};
    struct store_result r2;
    assert_int_equal(store_search(s, &q2, &r2), 0);
    assert_int_equal(r2.total, 58);
    store_result_clear(&r2);
}

static void test_paging_snapshot_id(void **state)
{
    paging_case(*state, STORE_SORT_ID);
}

static void test_paging_snapshot_date(void **state)
{
    struct store *s = *state;
    /* separate person so the two cases do not mix */
    paging_case(s, STORE_SORT_DATE);
}

static void test_paging_snapshot_seq(void **state)
{
    /* store order across persons: the unscoped default */
    paging_case_for(*state, STORE_SORT_SEQ, NULL);
}

static void test_paging_snapshot_seq_person(void **state)
{
    paging_case_for(*state, STORE_SORT_SEQ, "pp");
}

/* A writer on another connection commits new and changed items of one person
 * while this one pages through that person's items: every page of a
 * search sees the first page's snapshot, so each walk meets every item of
 * the snapshot once, as many as the first page's total, and the same set
 * as one page of everything at that snapshot asked afterwards.  On
 * PostgreSQL a first page is one statement that reads the snapshot, the
 * page and the total (pg_search.c): this checks they agree while commits
 * land between and during the statements. */
struct cwriter {
    struct store *s;
    atomic_bool stop;
    atomic_int puts;
};

static void *concurrent_writer(void *arg)
{
    struct cwriter *w = arg;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], sid[32], json[120], eff[32];
    for (int i = 0; i < 400 && !atomic_load(&w->stop); i++) {
        /* alternately a new item and a new version of an early one */
        snprintf(sid, sizeof sid, i % 2 ? "cw-%d" : "c-%d", i % 2 ? i : i / 2 % 30);
        snprintf(eff, sizeof eff, "2022-%02d-%02d", i % 12 + 1, i % 28 + 1);
        snprintf(json, sizeof json, "{\"resourceType\":\"Encounter\",\"w\":%d}", i);
        if (put(w->s, "Encounter", sid, "cc", "encounters", eff, NULL, json, &oc, id) != 0)
            break;
        atomic_fetch_add(&w->puts, 1);
    }
    return NULL;
}

static bool has_id(char **ids, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static void test_paging_concurrent_writer(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], sid[32];
    for (int i = 0; i < 30; i++) {
        snprintf(sid, sizeof sid, "c-%d", i);
        assert_int_equal(put(s, "Encounter", sid, "cc", "encounters", "2021-03-01", NULL,
                             "{\"resourceType\":\"Encounter\"}", &oc, id),
                         0);
    }
    struct cwriter w = {.stop = false};
    char *err = NULL;
    const char *url = testdb_pg(); /* the same database, not emptied (testdb_pick would) */
    assert_int_equal(store_open(&w.s, url ? url : dbpath, false, &err), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, concurrent_writer, &w), 0);
    const enum store_sort sorts[] = {STORE_SORT_DATE, STORE_SORT_ID, STORE_SORT_SEQ,
                                     STORE_SORT_LASTUPDATED_DESC};
    int walks = 0;
    /* walks until the writer has committed 120 times meanwhile (it stops
     * at 400), at least 24 */
    for (int round = 0; round < 100000 && (round < 24 || atomic_load(&w.puts) < 120); round++) {
        struct store_query q = {.type = "Encounter",
                                .person_id = "cc",
                                .sort = sorts[round % 4],
                                .limit = 4,
                                .want_total = true};
        char **ids = calloc(4096, sizeof *ids);
        int n = 0;
        int64_t total = -1;
        char *after = NULL;
        for (int page = 0; page < 1000; page++) {
            struct store_result r;
            q.after = after;
            int rc = store_search(s, &q, &r);
            if (rc != 0)
                fprintf(stderr, "search: %s\n", store_errmsg(s));
            assert_int_equal(rc, 0);
            if (page == 0) {
                total = r.total;
                q.snapshot = r.snapshot;
            }
            assert_int_equal(r.total, total); /* the same on every page */
            assert_int_equal(r.snapshot, q.snapshot);
            for (int i = 0; i < r.nrows; i++) {
                assert_false(has_id(ids, n, r.rows[i].id)); /* no duplicates */
                assert_true(n < 4096);
                ids[n++] = strdup(r.rows[i].id);
            }
            free(after);
            after = r.next ? strdup(r.next) : NULL;
            store_result_clear(&r);
            if (!after)
                break;
        }
        assert_null(after);
        assert_int_equal(n, total); /* no gaps: the walk holds the total */
        /* and it is what the snapshot holds, asked again in one page */
        struct store_query all = {.type = "Encounter",
                                  .person_id = "cc",
                                  .snapshot = q.snapshot,
                                  .limit = 4096,
                                  .want_total = true};
        struct store_result r;
        assert_int_equal(store_search(s, &all, &r), 0);
        assert_int_equal(r.total, total);
        assert_int_equal(r.nrows, total);
        for (int i = 0; i < r.nrows; i++)
            assert_true(has_id(ids, n, r.rows[i].id));
        store_result_clear(&r);
        for (int i = 0; i < n; i++)
            free(ids[i]);
        free(ids);
        walks++;
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    store_close(w.s);
    assert_true(walks >= 24);
    assert_true(atomic_load(&w.puts) >= 120);
    fprintf(stderr, "paging under a concurrent writer: %d walks, %d writes meanwhile\n", walks,
            atomic_load(&w.puts));
}

/* The writers' horizon (PostgreSQL, pg_int.h "Writers"): with the writer
 * lock off, writer A begins, puts an item (its seq allocated) and stays
 * open; writer B then commits an item with a larger seq.  A reader's
 * snapshot - a first page's, a person's - must be below A's seq, or a later
 * page at that snapshot would show A's item that the first page could not
 * see.  After A commits, a snapshot covers both.  SQLite has one writer at a
 * time (BEGIN IMMEDIATE): B would wait for A, so the case cannot arise. */
static int64_t seq_of(struct store *s, const char *person, const char *id)
{
    (void)person;
    struct store_row r;
    if (store_resource_get(s, "Encounter", id, 0, &r) != 0)
        return 0;
    int64_t seq = r.seq;
    store_row_clear(&r);
    return seq;
}

static void test_pg_horizon(void **state)
{
    struct store *s = *state;
    const char *url = testdb_pg();
    if (!url) {
        fprintf(stderr, "test_pg_horizon: PostgreSQL only (SQLite writers never overlap)\n");
        return;
    }
    setenv("WEFT_PG_WRITER_LOCK", "0", 1);
    enum store_put_outcome oc;
    char id0[STORE_ID_LEN + 1], ida[STORE_ID_LEN + 1], idb[STORE_ID_LEN + 1];
    const char *enc = "{\"resourceType\":\"Encounter\"}";
    assert_int_equal(
        put(s, "Encounter", "h-0", "hp", "encounters", "2021-01-01", NULL, enc, &oc, id0), 0);
    struct store *a, *b;
    char *err = NULL;
    assert_int_equal(store_open(&a, url, false, &err), 0);
    assert_int_equal(store_open(&b, url, false, &err), 0);
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(
        put(a, "Encounter", "h-a", "hp", "encounters", "2021-01-02", NULL, enc, &oc, ida), 0);
    assert_int_equal(
        put(b, "Encounter", "h-b", "hp", "encounters", "2021-01-03", NULL, enc, &oc, idb), 0);
    int64_t sb = seq_of(s, "hp", idb), s0 = seq_of(s, "hp", id0);
    assert_true(sb > s0);
    assert_int_equal(seq_of(s, "hp", ida), 0); /* A's item not visible yet */
    /* while A is open, a failure must not leave A's transaction holding the
     * next test's database: the checks come after A's commit */
    /* a first page's snapshot */
    struct store_query q = {.type = "Encounter", .person_id = "hp", .limit = 1, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    int64_t snap = r.snapshot;
    store_result_clear(&r);
    /* a person's snapshot */
    int64_t max_seq = 0, count = 0, psnap = 0;
    assert_int_equal(store_person_version(s, "hp", 0, &max_seq, &count, &psnap), 0);
    assert_int_equal(store_commit(a), 0);
    int64_t sa = seq_of(s, "hp", ida);
    assert_true(sa > s0 && sa < sb);
    fprintf(stderr, "horizon: seqs 0 %lld, A %lld, B %lld; snapshots while A open %lld, %lld\n",
            (long long)s0, (long long)sa, (long long)sb, (long long)snap, (long long)psnap);
    assert_true(snap >= s0 && snap < sa);
    assert_true(psnap >= s0 && psnap < sa);
    /* that snapshot, asked now that A has committed, still holds item 0 alone */
    struct store_query at = {
        .type = "Encounter", .person_id = "hp", .snapshot = snap, .limit = 10, .want_total = true};
    assert_int_equal(store_search(s, &at, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(r.rows[0].id, id0);
    assert_int_equal(r.total, 1);
    store_result_clear(&r);
    /* after A's commit a snapshot covers both */
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_true(r.snapshot >= sb);
    assert_int_equal(r.total, 3);
    store_result_clear(&r);
    /* a rolled-back writer leaves no mark behind */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(
        put(a, "Encounter", "h-c", "hp", "encounters", "2021-01-04", NULL, enc, &oc, ida), 0);
    assert_int_equal(store_rollback(a), 0);
    assert_int_equal(
        put(b, "Encounter", "h-d", "hp", "encounters", "2021-01-05", NULL, enc, &oc, idb), 0);
    int64_t sd = seq_of(s, "hp", idb);
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.snapshot, sd);
    store_result_clear(&r);
    /* nor does a writer whose session ended in its transaction: the next
     * writer's cleaning (its first write on a handle) removes the mark */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(
        put(a, "Encounter", "h-e", "hp", "encounters", "2021-01-06", NULL, enc, &oc, ida), 0);
    PGconn *c = PQconnectdb(url);
    PGresult *k = PQexec(c, "SELECT pg_terminate_backend(pid) FROM writer_horizon"
                            " WHERE first_seq IS NOT NULL");
    assert_int_equal(PQresultStatus(k), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(k), 1);
    PQclear(k);
    for (int i = 0; i < 100; i++) { /* until the session is gone */
        k = PQexec(c, "SELECT count(*) FROM pg_stat_activity a JOIN writer_horizon w"
                      " ON a.pid = w.pid WHERE w.first_seq IS NOT NULL");
        bool gone = strcmp(PQgetvalue(k, 0, 0), "0") == 0;
        PQclear(k);
        if (gone)
            break;
        usleep(20000);
    }
    PQfinish(c);
    store_close(a);
    struct store *b2;
    assert_int_equal(store_open(&b2, url, false, &err), 0);
    assert_int_equal(
        put(b2, "Encounter", "h-f", "hp", "encounters", "2021-01-07", NULL, enc, &oc, idb), 0);
    int64_t sf = seq_of(s, "hp", idb);
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.snapshot, sf);
    store_result_clear(&r);
    store_close(b2);
    store_close(b);
    unsetenv("WEFT_PG_WRITER_LOCK");
}

/* store_snapshot_since, an incremental export's snapshot and
 * transactionTime: writer A begins and puts an item before the call and
 * commits after it (its item's lastUpdated is its transaction's start,
 * before the call).  Whatever the snapshot leaves out must carry a
 * lastUpdated at or after the time given, or an export asked with
 * _since = that time would miss it forever.  SQLite: the call waits for A
 * (it takes the write lock), so the item is in the snapshot.  PostgreSQL:
 * it does not wait, the item is left out, and the time is A's start. */
struct since_call {
    struct store *s;
    int64_t snap;
    char time[32];
    int rc;
};

static void *since_thread(void *arg)
{
    struct since_call *c = arg;
    c->rc = store_snapshot_since(c->s, &c->snap, c->time);
    return NULL;
}

static void test_snapshot_since(void **state)
{
    struct store *s = *state;
    const char *url = testdb_pg();
    setenv("WEFT_PG_WRITER_LOCK", "0", 1);
    enum store_put_outcome oc;
    char id0[STORE_ID_LEN + 1], ida[STORE_ID_LEN + 1];
    const char *enc = "{\"resourceType\":\"Encounter\"}";
    assert_int_equal(
        put(s, "Encounter", "x-0", "xp", "encounters", "2021-01-01", NULL, enc, &oc, id0), 0);
    struct store *a;
    char *err = NULL;
    assert_int_equal(store_open(&a, url ? url : dbpath, false, &err), 0);
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(
        put(a, "Encounter", "x-a", "xp", "encounters", "2021-01-02", NULL, enc, &oc, ida), 0);
    usleep(20000); /* A's start is clearly before the call */
    struct since_call c = {.s = s, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, since_thread, &c), 0);
    usleep(200000); /* the call is made (and, on SQLite, waits) while A is open */
    assert_int_equal(store_commit(a), 0);
    pthread_join(th, NULL);
    store_close(a);
    unsetenv("WEFT_PG_WRITER_LOCK");
    assert_int_equal(c.rc, 0);
    struct store_row ra, r0;
    assert_int_equal(store_resource_get(s, "Encounter", ida, 0, &ra), 0);
    assert_int_equal(store_resource_get(s, "Encounter", id0, 0, &r0), 0);
    fprintf(stderr, "snapshot_since: snapshot %lld, time %s; item 0 seq %lld; A's seq %lld at %s\n",
            (long long)c.snap, c.time, (long long)r0.seq, (long long)ra.seq, ra.last_updated);
    assert_true(r0.seq <= c.snap);
    if (url)
        assert_true(ra.seq > c.snap); /* PostgreSQL did not wait for A */
    else
        assert_true(ra.seq <= c.snap); /* SQLite waited for A */
    /* the rule: left out of the snapshot means at or after the time */
    if (ra.seq > c.snap)
        assert_true(strcmp(ra.last_updated, c.time) >= 0);
    /* so the export at the snapshot and the next one from that time hold A's item */
    struct store_query at = {.type = "Encounter", .snapshot = c.snap, .limit = 100};
    struct store_query since = {.type = "Encounter", .lastupd_ge = c.time, .limit = 100};
    struct store_result r1, r2;
    assert_int_equal(store_search(s, &at, &r1), 0);
    assert_int_equal(store_search(s, &since, &r2), 0);
    bool found = false;
    for (int i = 0; i < r1.nrows; i++)
        found = found || strcmp(r1.rows[i].id, ida) == 0;
    for (int i = 0; i < r2.nrows; i++)
        found = found || strcmp(r2.rows[i].id, ida) == 0;
    assert_true(found);
    store_result_clear(&r1);
    store_result_clear(&r2);
    store_row_clear(&ra);
    store_row_clear(&r0);
}

/* Two writers in flight at once put the same new item (PostgreSQL, the
 * writer lock off): the second waits for the first's commit, then fails on
 * the unique version and says it met another writer (store_raced), which
 * is what makes the batching writers do their batch again; done again, the
 * put succeeds as a new version or unchanged.  SQLite: its writers take
 * turns, and store_raced is never set. */
struct racer {
    struct store *s;
    int rc;
    bool raced;
};

static void *race_put(void *arg)
{
    struct racer *r = arg;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    store_race_clear(r->s);
    r->rc = put(r->s, "Encounter", "race-1", "rp", "encounters", "2021-02-02", NULL,
                "{\"resourceType\":\"Encounter\",\"b\":1}", &oc, id);
    r->raced = store_raced(r->s);
    return NULL;
}

static void test_pg_raced(void **state)
{
    struct store *s = *state;
    const char *url = testdb_pg();
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    if (!url) {
        /* SQLite: never set */
        store_race_clear(s);
        assert_int_equal(put(s, "Encounter", "race-1", "rp", "encounters", "2021-02-01", NULL,
                             "{\"resourceType\":\"Encounter\"}", &oc, id),
                         0);
        assert_false(store_raced(s));
        fprintf(stderr, "test_pg_raced: PostgreSQL only (SQLite writers never overlap)\n");
        return;
    }
    setenv("WEFT_PG_WRITER_LOCK", "0", 1);
    struct store *a, *b;
    char *err = NULL;
    assert_int_equal(store_open(&a, url, false, &err), 0);
    assert_int_equal(store_open(&b, url, false, &err), 0);
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(put(a, "Encounter", "race-1", "rp", "encounters", "2021-02-01", NULL,
                         "{\"resourceType\":\"Encounter\",\"a\":1}", &oc, id),
                     0);
    struct racer r = {.s = b};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_put, &r), 0);
    usleep(300000); /* b waits on a's version */
    assert_int_equal(store_commit(a), 0);
    pthread_join(th, NULL);
    fprintf(stderr, "raced put: %s (%s)\n", weft_strerror(r.rc), store_errmsg(b));
    assert_int_not_equal(r.rc, 0);
    assert_true(r.raced);
    /* the message names the failure, never the key's value (an id here; an
     * NHS number for a person): it goes to logs and answers */
    assert_null(strstr(store_errmsg(b), id));
    assert_null(strstr(store_errmsg(b), "DETAIL"));
    /* done again, it succeeds: a new version over a's */
    store_race_clear(b);
    assert_int_equal(put(b, "Encounter", "race-1", "rp", "encounters", "2021-02-02", NULL,
                         "{\"resourceType\":\"Encounter\",\"b\":1}", &oc, id),
                     0);
    assert_false(store_raced(b));
    struct store_row row;
    assert_int_equal(store_resource_get(s, "Encounter", id, 0, &row), 0);
    assert_int_equal(row.version, 2);
    store_row_clear(&row);
    store_close(a);
    store_close(b);
    unsetenv("WEFT_PG_WRITER_LOCK");
}

/* Count the query's rows at a snapshot by paging through all of them. */
static int64_t count_by_paging(struct store *s, struct store_query q)
{
    int64_t n = 0;
    char *after = NULL;
    q.want_total = false;
    q.limit = 3;
    for (;;) {
        struct store_result r;
        q.after = after;
        assert_int_equal(store_search(s, &q, &r), 0);
        n += r.nrows;
        free(after);
        after = r.next ? strdup(r.next) : NULL;
        store_result_clear(&r);
        if (!after)
            return n;
    }
}

/* Bundle.total three ways at every snapshot of a history with inserts,
 * updates and deletions: the index-only count (type within a person), the
 * plain count (the same query with a category filter that admits
 * everything), and the rows themselves.  Also the first page that holds
 * everything, whose total is its row count. */
static void test_totals_at_snapshots(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], sid[32], json[128], ids[40][STORE_ID_LEN + 1];
    int64_t snaps[80];
    int nsnap = 0;
    const char *const cats[] = {"encounters"};
    for (int step = 0; step < 70; step++) {
        int k = step % 40;
        const char *person = k % 3 ? "p1" : "p2";
        snprintf(sid, sizeof sid, "t%d", k);
        snprintf(json, sizeof json, "{\"resourceType\":\"Encounter\",\"step\":%d}", step);
        if (step >= 50 && step % 4 == 0) {
            /* delete an item (one already deleted answers not found) */
            int rc = store_resource_delete(s, "Encounter", ids[step % 40]);
            assert_true(rc == 0 || rc == WEFT_ENOTFOUND);
        } else {
            assert_int_equal(
                put(s, "Encounter", sid, person, "encounters", "2022-01-01", NULL, json, &oc, id),
                0);
            memcpy(ids[k], id, sizeof id);
        }
        /* another type beside it, which no count may include */
        snprintf(sid, sizeof sid, "c%d", step);
        assert_int_equal(put(s, "Condition", sid, person, "encounters", NULL, NULL, json, &oc, id),
                         0);
        /* at the newest snapshot (the first page's): index count = plain */
        struct store_result r, rc2;
        struct store_query now = {
            .type = "Encounter", .person_id = "p1", .limit = 1, .want_total = true};
        assert_int_equal(store_search(s, &now, &r), 0);
        struct store_query nowc = now;
        nowc.categories = cats;
        nowc.ncategories = 1;
        assert_int_equal(store_search(s, &nowc, &rc2), 0);
        assert_int_equal(r.total, rc2.total);
        assert_int_equal(r.snapshot, rc2.snapshot);
        snaps[nsnap++] = r.snapshot;
        store_result_clear(&r);
        store_result_clear(&rc2);
    }
    for (int i = 0; i < nsnap; i++) {
        const char *const persons[] = {"p1", "p2"};
        for (int p = 0; p < 2; p++) {
            struct store_query q = {.type = "Encounter",
                                    .person_id = persons[p],
                                    .snapshot = snaps[i],
                                    .limit = 2,
                                    .want_total = true};
            struct store_result a, b, c;
            assert_int_equal(store_search(s, &q, &a), 0);
            struct store_query qc = q;
            qc.categories = cats;
            qc.ncategories = 1;
            assert_int_equal(store_search(s, &qc, &b), 0);
            struct store_query qall = q;
            qall.limit = 1000;
            assert_int_equal(store_search(s, &qall, &c), 0);
            int64_t rows = count_by_paging(s, q);
            assert_int_equal(a.total, rows);
            assert_int_equal(b.total, rows);
            assert_int_equal(c.total, rows);
            assert_int_equal(c.nrows, rows);
            assert_null(c.next);
            store_result_clear(&a);
            store_result_clear(&b);
            store_result_clear(&c);
        }
    }
    /* the history did reach updates and deletions */
    struct store_query q = {.type = "Encounter", .person_id = "p1", .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_true(r.total > 0 && r.total < 26);
    store_result_clear(&r);
}

static void test_persons(void **state)
{
    struct store *s = *state;
    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765919", &a), 0);
    assert_int_equal(store_person_by_nhs(s, "9434765919", &b), 0);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(store_person_by_local(s, "RVV", "urn:weft:id:RVV:mrn", "M1", a, &c), 0);
    assert_string_equal(c, a);
    free(c);
    /* an identifier never moves to a second person */
    assert_int_equal(store_person_by_local(s, "RVV", "urn:weft:id:RVV:mrn", "M1", NULL, &c), 0);
    assert_string_equal(c, a);
    assert_int_equal(store_person_by_local(s, "RVV", "urn:weft:id:RVV:mrn", "M2", NULL, &d), 0);
    assert_string_not_equal(d, a);
    struct store_person p;
    assert_int_equal(store_person_get(s, a, &p), 0);
    assert_string_equal(p.nhs, "9434765919");
    store_person_clear(&p);
    assert_int_equal(store_person_get(s, d, &p), 0);
    assert_null(p.nhs);
    store_person_clear(&p);
    assert_int_equal(store_person_get(s, "none", &p), WEFT_ENOTFOUND);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_clients_meta(void **state)
{
    struct store *s = *state;
    int64_t id1, id2;
    assert_int_equal(store_client_add(s, "gp", "A81001", "system/*.rs", "aa11", NULL, &id1), 0);
    assert_int_equal(store_client_add(s, "lab", NULL, NULL, "bb22", "0a1b", &id2), 0);
    assert_int_equal(store_client_add(s, "dup", NULL, NULL, "bb22", NULL, &id2), WEFT_EEXIST);
    struct store_client c;
    assert_int_equal(store_client_by_hash(s, "aa11", &c), 0);
    assert_string_equal(c.name, "gp");
    assert_string_equal(c.scopes, "system/*.rs");
    assert_null(c.client_cert_sha256);
    store_client_clear(&c);
    /* a client bound to a TLS client certificate keeps its fingerprint */
    assert_int_equal(store_client_by_hash(s, "bb22", &c), 0);
    assert_string_equal(c.client_cert_sha256, "0a1b");
    store_client_clear(&c);
    assert_int_equal(store_client_revoke(s, id1), 0);
    assert_int_equal(store_client_revoke(s, id1), WEFT_ENOTFOUND);
    assert_int_equal(store_client_by_hash(s, "aa11", &c), WEFT_ENOTFOUND);
    struct store_client *list;
    int n;
    assert_int_equal(store_client_list(s, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_non_null(list[0].revoked);
    assert_null(list[1].revoked);
    assert_string_equal(list[1].client_cert_sha256, "0a1b");
    for (int i = 0; i < n; i++)
        store_client_clear(&list[i]);
    free(list);

    char *v;
    assert_int_equal(store_meta_get(s, "k", &v), WEFT_ENOTFOUND);
    assert_int_equal(store_meta_set(s, "k", "1"), 0);
    assert_int_equal(store_meta_set(s, "k", "2"), 0);
    assert_int_equal(store_meta_get(s, "k", &v), 0);
    assert_string_equal(v, "2");
    free(v);
}

static void test_transaction_rollback(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_begin(s), WEFT_EINVAL);
    assert_int_equal(
        put(s, "Flag", "f1", NULL, "alerts", NULL, NULL, "{\"resourceType\":\"Flag\"}", &oc, id),
        0);
    assert_int_equal(store_rollback(s), 0);
    struct store_row r;
    assert_int_equal(store_resource_get(s, "Flag", id, 0, &r), WEFT_ENOTFOUND);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(
        put(s, "Flag", "f1", NULL, "alerts", NULL, NULL, "{\"resourceType\":\"Flag\"}", &oc, id),
        0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_resource_get(s, "Flag", id, 0, &r), 0);
    store_row_clear(&r);
}

/* Single-runner jobs (store_job_lock): one handle of several holds a job;
 * after its connection is lost (the server restarted, failed over) and
 * another handle took the job, the first must not go on believing it holds
 * it.  SQLite: one node per file, every job is every handle's. */
static void test_job_lock(void **state)
{
    struct store *a = *state, *b = NULL;
    const char *url = testdb_pg() ? testdb_pg() : dbpath;
    char *err = NULL;
    assert_int_equal(store_open(&b, url, false, &err), 0);
    bool mine_a = false, mine_b = false;
    assert_int_equal(store_job_lock(a, "test-job", &mine_a), 0);
    assert_int_equal(store_job_lock(b, "test-job", &mine_b), 0);
    if (!testdb_pg()) {
        assert_true(mine_a && mine_b);
        store_close(b);
        return;
    }
    assert_true(mine_a);
    assert_false(mine_b);
    assert_int_equal(store_job_lock(a, "test-job", &mine_a), 0); /* asked again: still a's */
    assert_true(mine_a);
    assert_int_equal(store_job_lock(b, "other-job", &mine_b), 0); /* another job: free */
    assert_true(mine_b);
    /* both connections lost (as when the server restarts): the locks go with them */
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
    /* b asks first after the loss: it reconnects (the first statement on the
     * lost connection fails) and takes the job */
    int rc = -1;
    mine_b = false;
    for (int i = 0; i < 250 && (rc != 0 || !mine_b); i++) {
        rc = store_job_lock(b, "test-job", &mine_b);
        if (rc != 0 || !mine_b)
            usleep(20000); /* the terminated server processes release on exit */
    }
    assert_int_equal(rc, 0);
    assert_true(mine_b);
    /* a: never "mine" again while b holds it */
    for (int i = 0; i < 3; i++) {
        mine_a = true;
        rc = store_job_lock(a, "test-job", &mine_a);
        assert_true(rc != 0 || !mine_a);
    }
    assert_int_equal(rc, 0);
    store_close(b);
    /* b gone: a takes the job over (once b's server process has exited:
     * it releases its locks after the client has hung up) */
    for (int i = 0; i < 250; i++) {
        assert_int_equal(store_job_lock(a, "test-job", &mine_a), 0);
        if (mine_a)
            break;
        usleep(20000);
    }
    assert_true(mine_a);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct store *s;
    char *err = NULL;
    assert_int_not_equal(store_open(&s, "/nonexistent/dir/x.db", true, &err), 0);
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent/dir/x.db"));
    free(err);
    err = NULL;
    /* a PostgreSQL server that does not answer: the host and libpq's reason */
    assert_int_equal(store_open(&s, "postgres://weft@127.0.0.1:1/weft", false, &err), WEFT_EDB);
    assert_non_null(err);
    assert_non_null(strstr(err, "cannot connect to PostgreSQL at 127.0.0.1:1/weft"));
    assert_non_null(strstr(err, "Connection refused"));
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s, "host=/nonexistent/sock port=5 dbname=w", false, &err),
                     WEFT_EDB);
    assert_non_null(strstr(err, "/nonexistent/sock"));
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s, "postgresql://weft@127.0.0.1:1/weft?bogus=1", false, &err),
                     WEFT_EINVAL);
    assert_non_null(strstr(err, "bad PostgreSQL connection string"));
    free(err);
    assert_true(store_url_is_postgres("postgres://h/d"));
    assert_true(store_url_is_postgres("postgresql://h/d"));
    assert_true(store_url_is_postgres("host=/run/x dbname=d"));
    assert_false(store_url_is_postgres("x=y.db"));
    assert_false(store_url_is_postgres("sqlite:host=x"));
}

/* The search index: rows written with a put (one put alone and in a batch)
 * are found by the index conditions (equal, prefix, day range) of the put's
 * type only, a new version carries its own rows (the old version's are not
 * visible at the new snapshot), and store_search_index_set replaces the rows
 * of a version (weft reindex). */
static size_t ix_count(struct store *s, const char *type, const char *param, enum store_ix_op op,
                       const char *a, const char *b)
{
    struct store_ixval v = {op, a, b};
    struct store_ixcond c = {param, &v, 1};
    struct store_query q = {.type = type, .ix = &c, .nix = 1, .limit = 100, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    size_t n = (size_t)r.total;
    assert_int_equal(r.nrows, (int)n);
    store_result_clear(&r);
    return n;
}

static void test_search_index(void **state)
{
    struct store *s = *state;
    const char *rows1[] = {"code", "8867-4",     "category",     "vital-signs",
                           "date", "2020-03-04", "value-string", "clear lung fields"};
    struct store_put p = {.type = "Observation",
                          .source_org = "A81001",
                          .source_id = "ix1",
                          .category = "results",
                          .json = "{\"resourceType\":\"Observation\",\"n\":1}",
                          .index = rows1,
                          .nindex = 4};
    p.json_len = strlen(p.json);
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1];
    int v = 0;
    assert_int_equal(store_resource_put(s, &p, &oc, id, &v), 0);
    const char *rows2[] = {"code", "8480-6", "date", "2021-01-01"};
    struct store_put p2 = p;
    p2.source_id = "ix2";
    p2.index = rows2;
    p2.nindex = 2;
    struct store_put_result res[1];
    assert_int_equal(store_resource_put_batch(s, &p2, 1, res), 0);
    assert_int_equal(res[0].rc, 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 1);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8480-6", NULL), 1);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867", NULL), 0);
    assert_int_equal(ix_count(s, "Condition", "code", STORE_IX_EQ, "8867-4", NULL), 0);
    assert_int_equal(ix_count(s, "Observation", "value-string", STORE_IX_PREFIX, "clear l", NULL),
                     1);
    assert_int_equal(ix_count(s, "Observation", "value-string", STORE_IX_PREFIX, "lung", NULL), 0);
    assert_int_equal(ix_count(s, "Observation", "date", STORE_IX_RANGE, "2020-01-01", NULL), 2);
    assert_int_equal(ix_count(s, "Observation", "date", STORE_IX_RANGE, NULL, "2020-12-31"), 1);
    assert_int_equal(ix_count(s, "Observation", "date", STORE_IX_RANGE, "2020-03-05", "2020-12-31"),
                     0);
    /* a new version with other rows: only its rows find it */
    const char *rows3[] = {"code", "29463-7"};
    p.json = "{\"resourceType\":\"Observation\",\"n\":2}";
    p.json_len = strlen(p.json);
    p.index = rows3;
    p.nindex = 1;
    assert_int_equal(store_resource_put(s, &p, &oc, id, &v), 0);
    assert_int_equal(oc, STORE_PUT_UPDATED);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "29463-7", NULL), 1);
    /* reindex: the index emptied, the current version's rows added */
    struct store_row row;
    assert_int_equal(store_resource_get(s, "Observation", id, 0, &row), 0);
    const char *rows4[] = {"code", "1111-1", "category", "laboratory"};
    struct store_ixitem it = {row.seq, "Observation", rows4, 2};
    assert_int_equal(store_search_index_clear(s), 0);
    assert_int_equal(store_search_index_add(s, &it, 1), 0);
    store_row_clear(&row);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "29463-7", NULL), 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8480-6", NULL), 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "1111-1", NULL), 1);
    assert_int_equal(ix_count(s, "Observation", "category", STORE_IX_EQ, "laboratory", NULL), 1);
}

/* Posting lists (search-index-3): a batch writes one list per (param,
 * value) holding several items' seqs, every one of them is found (and
 * paged through), and a list keeps the seq of a version that was later
 * replaced or deleted: that seq must match nothing, or a search by the old
 * value would return the item's new version. */
static void ix_put(struct store_put *p, const char *src, const char *json, const char *const *rows,
                   int n)
{
    *p = (struct store_put){.type = "Observation",
                            .source_org = "A81001",
                            .source_id = src,
                            .category = "results",
                            .json = json,
                            .json_len = strlen(json),
                            .index = rows,
                            .nindex = n};
}

static void test_search_index_postings(void **state)
{
    struct store *s = *state;
    const char *hr[] = {"code", "8867-4", "category", "vital-signs"};
    const char *bp[] = {"code", "8480-6", "category", "vital-signs"};
    struct store_put p[5];
    ix_put(&p[0], "pa", "{\"n\":\"a\"}", hr, 2);
    ix_put(&p[1], "pb", "{\"n\":\"b\"}", hr, 2);
    ix_put(&p[2], "pc", "{\"n\":\"c\"}", bp, 2);
    ix_put(&p[3], "pd", "{\"n\":\"d\"}", hr, 2);
    ix_put(&p[4], "pe", "{\"n\":\"e\"}", hr, 2);
    struct store_put_result res[5];
    assert_int_equal(store_resource_put_batch(s, p, 5, res), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i].rc, 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 4);
    assert_int_equal(ix_count(s, "Observation", "category", STORE_IX_EQ, "vital-signs", NULL), 5);
    /* paged one at a time through the list: each item once */
    struct store_ixval v = {STORE_IX_EQ, "8867-4", NULL};
    struct store_ixcond c = {"code", &v, 1};
    struct store_query q = {.type = "Observation", .ix = &c, .nix = 1, .limit = 1};
    char *after = NULL;
    int pages = 0;
    for (;;) {
        struct store_result r;
        q.after = after;
        assert_int_equal(store_search(s, &q, &r), 0);
        q.snapshot = r.snapshot;
        pages += r.nrows;
        free(after);
        after = r.next;
        r.next = NULL;
        store_result_clear(&r);
        if (!after || pages > 10)
            break;
    }
    free(after);
    assert_int_equal(pages, 4);
    /* b becomes a blood pressure, e is deleted (a later batch): the old
     * versions' seqs are still in the heart-rate list */
    const char *bp2[] = {"code", "8480-6", "category", "vital-signs"};
    struct store_put u;
    ix_put(&u, "pb", "{\"n\":\"b2\"}", bp2, 2);
    struct store_put_result ur;
    assert_int_equal(store_resource_put_batch(s, &u, 1, &ur), 0);
    assert_int_equal(ur.outcome, STORE_PUT_UPDATED);
    assert_int_equal(store_resource_delete(s, "Observation", res[4].id), 0);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 2);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8480-6", NULL), 2);
    assert_int_equal(ix_count(s, "Observation", "category", STORE_IX_EQ, "vital-signs", NULL), 4);
    /* a range over several lists: each current item once */
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_RANGE, "8000", "8999"), 4);
    /* rebuilt (weft reindex) from versions given newest first: one list, every seq in it */
    struct store_query all = {.type = "Observation", .limit = 100};
    struct store_result cur;
    assert_int_equal(store_search(s, &all, &cur), 0);
    assert_int_equal(cur.nrows, 4);
    const char *one[] = {"code", "9999-9"};
    struct store_ixitem it[4];
    for (int i = 0; i < 4; i++)
        it[i] = (struct store_ixitem){cur.rows[i].seq, "Observation", one, 1};
    for (int i = 0; i < 4; i++) /* newest first */
        for (int j = i + 1; j < 4; j++)
            if (it[j].seq > it[i].seq) {
                struct store_ixitem t = it[i];
                it[i] = it[j];
                it[j] = t;
            }
    assert_true(it[0].seq > it[3].seq);
    assert_int_equal(store_search_index_clear(s), 0);
    assert_int_equal(store_search_index_add(s, it, 4), 0);
    store_result_clear(&cur);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "9999-9", NULL), 4);
    assert_int_equal(ix_count(s, "Observation", "code", STORE_IX_EQ, "8867-4", NULL), 0);
}

/* A search with store_query.patient_check runs only while the Patient is
 * linked to the query's person, checked in the search's own snapshot:
 * otherwise WEFT_ECONFLICT and no rows.  store_patient_person_kept may answer
 * a stale person (PostgreSQL keeps them per connection); after a failed
 * check it reads the new one. */
static void test_patient_check(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char pid[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1];
    assert_int_equal(put(s, "Patient", "pk", "pp1", "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\"}", &oc, pid),
                     0);
    for (int i = 0; i < 3; i++) {
        char sid[16], eff[16];
        snprintf(sid, sizeof sid, "pk-o%d", i);
        snprintf(eff, sizeof eff, "2022-01-0%d", i + 1);
        assert_int_equal(put(s, "Observation", sid, "pp1", "results", eff, NULL,
                             "{\"resourceType\":\"Observation\"}", &oc, id),
                         0);
    }
    char *person = NULL;
    bool kept = true;
    assert_int_equal(store_patient_person_kept(s, pid, &person, &kept), 0);
    assert_string_equal(person, "pp1");
    assert_false(kept);
    free(person);
    struct store_query q = {.type = "Observation",
                            .person_id = "pp1",
                            .patient_check = pid,
                            .limit = 2,
                            .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(r.total, 3);
    store_result_clear(&r);
    /* the Patient re-linked (its items move with it) */
    assert_int_equal(put(s, "Patient", "pk", "pp2", "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\",\"x\":1}", &oc, pid),
                     0);
    assert_int_equal(store_patient_person_kept(s, pid, &person, &kept), 0);
    /* a kept person may be the old one, never anything else */
    assert_string_equal(person, kept ? "pp1" : "pp2");
    free(person);
    assert_int_equal(store_search(s, &q, &r), WEFT_ECONFLICT);
    assert_int_equal(r.nrows, 0);
    store_result_clear(&r);
    /* also when the query cannot match anything (a value that is not
     * UTF-8: PostgreSQL answers no rows without asking the server) */
    const char *bad[] = {"\xff"};
    struct store_query qb = q;
    qb.codes = bad;
    qb.ncodes = 1;
    assert_int_equal(store_search(s, &qb, &r), WEFT_ECONFLICT);
    store_result_clear(&r);
    assert_int_equal(store_patient_person_kept(s, pid, &person, &kept), 0);
    assert_string_equal(person, "pp2");
    free(person);
    q.person_id = "pp2";
    assert_int_equal(store_search(s, &q, &r), 0);
    int64_t snap = r.snapshot;
    store_result_clear(&r);
    /* a later page checks too (the snapshot of the first) */
    q.snapshot = snap;
    q.person_id = "pp1";
    assert_int_equal(store_search(s, &q, &r), WEFT_ECONFLICT);
    store_result_clear(&r);
    /* deleted: no person to match */
    assert_int_equal(store_resource_delete(s, "Patient", pid), 0);
    q.person_id = "pp2";
    q.snapshot = 0;
    assert_int_equal(store_search(s, &q, &r), WEFT_ECONFLICT);
    store_result_clear(&r);
    assert_int_equal(store_patient_person_kept(s, pid, &person, &kept), WEFT_ENOTFOUND);
    assert_null(person);
}

/* Walk q's pages from the first: the rows' ids in order (strdup'd into
 * ids, at most max), the first page's total and snapshot; every later page
 * must give the same total.  Returns the number of rows. */
static int walk_pages(struct store *s, struct store_query q, char **ids, int max, int64_t *total,
                      int64_t *snap)
{
    int n = 0;
    char *after = NULL;
    for (int page = 0;; page++) {
        struct store_result r;
        q.after = after;
        assert_int_equal(store_search(s, &q, &r), 0);
        if (page == 0) {
            *total = r.total;
            *snap = r.snapshot;
            q.snapshot = r.snapshot;
        }
        assert_int_equal(r.total, *total);
        assert_int_equal(r.snapshot, *snap);
        assert_true(r.nrows <= q.limit);
        assert_true(r.next == NULL || r.nrows == q.limit);
        assert_true(page == 0 || r.nrows > 0); /* no next link to an empty page */
        for (int i = 0; i < r.nrows; i++) {
            assert_true(n < max);
            ids[n++] = strdup(r.rows[i].id);
        }
        free(after);
        after = r.next ? strdup(r.next) : NULL;
        store_result_clear(&r);
        if (!after)
            return n;
    }
}

/* The statement's forms on PostgreSQL (pg_search.c: one person's items, or
 * a later page, without a CTE; a first page across patients with its page
 * counted when full) give the same rows and totals whatever the page size:
 * a page boundary exactly at the last row (no next link, the total the
 * rows), one row short of it, a person with no items (total 0, with and
 * without a scope filter, with the Patient's person checked), a first page
 * asked at a given snapshot (the rows and total of the one that read it),
 * and a search across patients. */
static void test_page_forms(void **state)
{
    struct store *s = *state;
    enum store_put_outcome oc;
    char id[STORE_ID_LEN + 1], pid[STORE_ID_LEN + 1], sid[32], eff[32];
    assert_int_equal(put(s, "Patient", "f-pat", "pf", "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\"}", &oc, pid),
                     0);
    assert_int_equal(put(s, "Patient", "f-empty", "pe", "demographics", NULL, NULL,
                         "{\"resourceType\":\"Patient\"}", &oc, id),
                     0);
    for (int i = 0; i < 12; i++) {
        snprintf(sid, sizeof sid, "f-o%d", i);
        snprintf(eff, sizeof eff, "2023-%02d-01", i % 5 + 1); /* equal keys on purpose */
        assert_int_equal(put(s, "Observation", sid, "pf", i % 2 ? "results" : "vitals", eff, NULL,
                             "{\"resourceType\":\"Observation\"}", &oc, id),
                         0);
    }
    /* one changed, one deleted: 11 current */
    assert_int_equal(put(s, "Observation", "f-o3", "pf", "results", "2023-04-01", NULL,
                         "{\"resourceType\":\"Observation\",\"v\":2}", &oc, id),
                     0);
    assert_int_equal(oc, STORE_PUT_UPDATED);
    char gone[STORE_ID_LEN + 1];
    assert_int_equal(put(s, "Observation", "f-o4", "pf", "vitals", "2023-05-01", NULL,
                         "{\"resourceType\":\"Observation\"}", &oc, gone),
                     0);
    assert_int_equal(store_resource_delete(s, "Observation", gone), 0);
    const char *const cats[] = {"results", "vitals"};
    const enum store_sort sorts[] = {STORE_SORT_DATE_DESC, STORE_SORT_ID, STORE_SORT_SEQ};
    const int limits[] = {11, 10, 1, 100};
    for (int si = 0; si < 3; si++) {
        char *want[16];
        int64_t want_total = -1, snap = 0;
        /* the reference: everything in one page of a filter that admits
         * every row (the count of the filters, not the index-only one) */
        struct store_query all = {.type = "Observation",
                                  .person_id = "pf",
                                  .categories = cats,
                                  .ncategories = 2,
                                  .sort = sorts[si],
                                  .limit = 100,
                                  .want_total = true};
        int nwant = walk_pages(s, all, want, 16, &want_total, &snap);
        assert_int_equal(nwant, 11);
        assert_int_equal(want_total, 11);
        for (int li = 0; li < 4; li++)
            for (int scoped = 0; scoped < 2; scoped++)
                for (int check = 0; check < 2; check++) {
                    struct store_query q = all;
                    q.limit = limits[li];
                    q.ncategories = scoped ? 2 : 0;
                    q.patient_check = check ? pid : NULL;
                    char *got[16];
                    int64_t total = -1, snap2 = 0;
                    int n = walk_pages(s, q, got, 16, &total, &snap2);
                    assert_int_equal(total, 11);
                    assert_int_equal(n, 11);
                    assert_int_equal(snap2, snap);
                    for (int i = 0; i < n; i++) {
                        assert_string_equal(got[i], want[i]);
                        free(got[i]);
                    }
                }
        /* a first page at a given snapshot: the same page */
        struct store_query at = all;
        at.limit = 4;
        at.snapshot = snap;
        at.ncategories = 0;
        struct store_result r;
        assert_int_equal(store_search(s, &at, &r), 0);
        assert_int_equal(r.total, 11);
        assert_int_equal(r.snapshot, snap);
        assert_int_equal(r.nrows, 4);
        assert_non_null(r.next);
        for (int i = 0; i < 4; i++)
            assert_string_equal(r.rows[i].id, want[i]);
        store_result_clear(&r);
        /* without a total */
        at.want_total = false;
        assert_int_equal(store_search(s, &at, &r), 0);
        assert_int_equal(r.total, -1);
        assert_int_equal(r.nrows, 4);
        store_result_clear(&r);
        for (int i = 0; i < nwant; i++)
            free(want[i]);
    }
    /* a person with no items of the type: no rows, total 0, a snapshot */
    for (int scoped = 0; scoped < 2; scoped++)
        for (int wt = 0; wt < 2; wt++) {
            struct store_query q = {.type = "Observation",
                                    .person_id = "pe",
                                    .categories = scoped ? cats : NULL,
                                    .ncategories = scoped ? 2 : 0,
                                    .limit = 10,
                                    .want_total = wt};
            struct store_result r;
            assert_int_equal(store_search(s, &q, &r), 0);
            assert_int_equal(r.nrows, 0);
            assert_null(r.next);
            assert_int_equal(r.total, wt ? 0 : -1);
            assert_true(r.snapshot > 0);
            store_result_clear(&r);
        }
    struct store_query qe = {
        .type = "Observation", .person_id = "pf", .patient_check = pid, .limit = 10};
    qe.type = "Condition";
    qe.want_total = true;
    struct store_result re;
    assert_int_equal(store_search(s, &qe, &re), 0);
    assert_int_equal(re.nrows, 0);
    assert_int_equal(re.total, 0);
    store_result_clear(&re);
    /* across patients (the page counted when full): 11 + the two Patients */
    const char *const types[] = {"Observation", "Patient"};
    for (int li = 0; li < 4; li++) {
        struct store_query q = {
            .types = types, .ntypes = 2, .limit = limits[li] + 2, .want_total = true};
        char *got[16];
        int64_t total = -1, snap = 0;
        int n = walk_pages(s, q, got, 16, &total, &snap);
        assert_int_equal(total, 13);
        assert_int_equal(n, 13);
        for (int i = 0; i < n; i++)
            free(got[i]);
    }
}

/* PostgreSQL array literals (pg_array_add): each element quoted, '"' and
 * '\' escaped, NULL bare; no server needed. */
static void test_pg_array_literal(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_addc(&b, '{');
    const char *in[] = {"", "plain", "a\"b", "a\\b", "\"", "\\", "x\"\\\"y\\", NULL};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        pg_array_add(&b, in[i]);
    buf_addc(&b, '}');
    assert_string_equal(b.data, "{\"\",\"plain\",\"a\\\"b\",\"a\\\\b\",\"\\\"\",\"\\\\\","
                                "\"x\\\"\\\\\\\"y\\\\\",NULL}");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_person_nhs_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_batch_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_batch_repeated_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_index_postings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_added_without_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terms_many_total, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_snapshot_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_snapshot_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_snapshot_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_snapshot_seq_person, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_concurrent_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_horizon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_raced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals_at_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_many, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_pg_array_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
