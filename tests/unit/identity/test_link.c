/* test_link.c - the identity API (identity/identity.h): person linking by
 * NHS number and local identifiers, invalid NHS numbers flagged and never
 * used, one identifier never two people; finding without creating; a person
 * held for an NHS number before their records; the persons of HL7 merge and
 * unlink messages. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "identity/identity.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static int setup(void **state)
{
    return testdb_setup(state, "link");
}

static json_t *patient(const char *nhs, const char *mrn_system, const char *mrn)
{
    json_t *p = json_pack("{s:s,s:[]}", "resourceType", "Patient", "identifier");
    json_t *ids = json_object_get(p, "identifier");
    if (nhs)
        json_array_append_new(ids, json_pack("{s:s,s:s}", "system",
                                             "https://fhir.nhs.uk/Id/nhs-number", "value", nhs));
    if (mrn)
        json_array_append_new(ids, json_pack("{s:s,s:s}", "system", mrn_system, "value", mrn));
    return p;
}

static void test_nhs_links_across_orgs(void **state)
{
    struct store *s = *state;
    json_t *a = patient("9434765919", "urn:weft:id:RVV:mrn", "M100");
    json_t *b = patient("943 476 5919", NULL, NULL);
    struct identity_outcome la, lb;
    assert_int_equal(identity_resolve_patient(s, "RVV", "p1", a, &la), 0);
    assert_int_equal(identity_resolve_patient(s, "A81001", "gp-7", b, &lb), 0);
    assert_string_equal(la.person_id, lb.person_id);
    assert_string_equal(la.nhs, "9434765919");
    assert_int_equal(la.invalid_nhs, 0);
    /* later, the hospital sends a record with only the MRN: same person */
    json_t *c = patient(NULL, "urn:weft:id:RVV:mrn", "M100");
    struct identity_outcome lc;
    assert_int_equal(identity_resolve_patient(s, "RVV", "p9", c, &lc), 0);
    assert_string_equal(lc.person_id, la.person_id);
    /* and the MRN named in a Weft system belongs to RVV even when a GP sends it */
    char *pid = NULL;
    assert_int_equal(identity_of_identifier(s, "A81001", "urn:weft:id:RVV:mrn", "M100", &pid), 0);
    assert_string_equal(pid, la.person_id);
    free(pid);
    assert_int_equal(identity_of_identifier(s, "A81001", "urn:weft:id:RVV:mrn", "M999", &pid),
                     WEFT_ENOTFOUND);
    assert_int_equal(identity_of_identifier(s, "A81001", "https://fhir.nhs.uk/Id/nhs-number",
                                            "9434765919", &pid),
                     0);
    assert_string_equal(pid, la.person_id);
    free(pid);
    assert_int_equal(identity_of_identifier(s, "A81001", "https://fhir.nhs.uk/Id/nhs-number",
                                            "9434765918", &pid),
                     WEFT_EINVAL);
    free(la.person_id);
    free(lb.person_id);
    free(lc.person_id);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_invalid_nhs_flagged_not_linked(void **state)
{
    struct store *s = *state;
    json_t *good = patient("9434765919", NULL, NULL);
    struct identity_outcome lg;
    assert_int_equal(identity_resolve_patient(s, "A81001", "g1", good, &lg), 0);
    /* a typo of the same number must not land on that person */
    json_t *bad = patient("9434765918", NULL, NULL);
    struct identity_outcome lb;
    assert_int_equal(identity_resolve_patient(s, "A81002", "g2", bad, &lb), 0);
    assert_int_equal(lb.invalid_nhs, 1);
    assert_string_equal(lb.nhs, "");
    assert_string_not_equal(lb.person_id, lg.person_id);
    /* kept as sent, flagged in meta.tag and on the identifier */
    json_t *id0 = json_array_get(json_object_get(bad, "identifier"), 0);
    assert_string_equal(json_string_value(json_object_get(id0, "value")), "9434765918");
    json_t *tag = json_array_get(json_object_get(json_object_get(bad, "meta"), "tag"), 0);
    assert_string_equal(json_string_value(json_object_get(tag, "system")), LINK_TAG_SYSTEM);
    assert_string_equal(json_string_value(json_object_get(tag, "code")), LINK_TAG_INVALID_NHS);
    json_t *ext = json_array_get(json_object_get(id0, "extension"), 0);
    assert_string_equal(json_string_value(json_object_get(ext, "valueCode")), LINK_TAG_INVALID_NHS);
    /* linking twice does not add the flag twice, and gives the same person */
    struct identity_outcome lb2;
    assert_int_equal(identity_resolve_patient(s, "A81002", "g2", bad, &lb2), 0);
    assert_string_equal(lb2.person_id, lb.person_id);
    assert_int_equal(json_array_size(json_object_get(json_object_get(bad, "meta"), "tag")), 1);
    free(lg.person_id);
    free(lb.person_id);
    free(lb2.person_id);
    json_decref(good);
    json_decref(bad);
}

static void test_no_identifiers(void **state)
{
    struct store *s = *state;
    json_t *p = json_pack("{s:s}", "resourceType", "Patient");
    struct identity_outcome a, b, c;
    assert_int_equal(identity_resolve_patient(s, "KENTCC", "x1", p, &a), 0);
    assert_int_equal(identity_resolve_patient(s, "KENTCC", "x1", p, &b), 0);
    assert_int_equal(identity_resolve_patient(s, "KENTCC", "x2", p, &c), 0);
    assert_string_equal(a.person_id, b.person_id);
    assert_string_not_equal(a.person_id, c.person_id);
    free(a.person_id);
    free(b.person_id);
    free(c.person_id);
    json_decref(p);
}

/* A Patient with demographics and no identifier the store could know. */
static json_t *demog_patient(void)
{
    return json_pack("{s:s,s:[{s:s,s:[s]}],s:s,s:s,s:[{s:[s],s:s}]}", "resourceType", "Patient",
                     "name", "family", "Racewell", "given", "Demelza", "gender", "female",
                     "birthDate", "1971-03-04", "address", "line", "1 Orchard Row", "postalCode",
                     "ME1 4QT");
}

struct matcher {
    struct store *s;
    int rc;
    struct identity_outcome out;
};

static void *match_in_txn(void *arg)
{
    struct matcher *m = arg;
    json_t *p = demog_patient();
    m->rc = store_begin(m->s);
    if (m->rc == 0)
        m->rc = identity_resolve_patient(m->s, "A81001", "dr-2", p, &m->out);
    if (m->rc == 0)
        m->rc = store_commit(m->s);
    else
        store_rollback(m->s);
    json_decref(p);
    return NULL;
}

/* Two records of one person, no identifiers in common, matched on
 * demographics: one after the other they are one person; on PostgreSQL,
 * whose writers overlap, two writers matching them at the same moment must
 * give the same answer (the blocking keys' locks: the second waits for the
 * first's commit, then links to its person) - without the locks each made
 * a person of its own. */
static void test_demographic_match_at_once(void **state)
{
    struct store *s = *state;
    const char *url = testdb_pg();
    if (!url) {
        json_t *p = demog_patient();
        struct identity_outcome a, b;
        assert_int_equal(identity_resolve_patient(s, "RVV", "dr-1", p, &a), 0);
        assert_int_equal(identity_resolve_patient(s, "A81001", "dr-2", p, &b), 0);
        assert_string_equal(a.person_id, b.person_id);
        free(a.person_id);
        free(b.person_id);
        json_decref(p);
        fprintf(stderr, "test_demographic_match_at_once: one after the other only on SQLite"
                        " (its writers never overlap)\n");
        return;
    }
    setenv("WEFT_PG_WRITER_LOCK", "0", 1);
    struct store *a, *b;
    char *err = NULL;
    assert_int_equal(store_open(&a, url, false, &err), 0);
    assert_int_equal(store_open(&b, url, false, &err), 0);
    json_t *p = demog_patient();
    struct identity_outcome la;
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(identity_resolve_patient(a, "RVV", "dr-1", p, &la), 0);
    struct matcher m = {.s = b};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, match_in_txn, &m), 0);
    usleep(300000); /* b matches while a's person is not yet committed */
    assert_int_equal(store_commit(a), 0);
    pthread_join(th, NULL);
    assert_int_equal(m.rc, 0);
    fprintf(stderr, "at once: %s and %s\n", la.person_id, m.out.person_id);
    assert_string_equal(la.person_id, m.out.person_id);
    free(la.person_id);
    free(m.out.person_id);
    json_decref(p);
    store_close(a);
    store_close(b);
    unsetenv("WEFT_PG_WRITER_LOCK");
}

static void test_identifier_never_two_people(void **state)
{
    struct store *s = *state;
    json_t *a = patient(NULL, "urn:weft:id:KENTCC:person", "SC1");
    struct identity_outcome la;
    assert_int_equal(identity_resolve_patient(s, "KENTCC", "sc-a", a, &la), 0);
    /* a record with a valid NHS number claims the same local id: the id stays */
    json_t *b = patient("9996760847", "urn:weft:id:KENTCC:person", "SC1");
    struct identity_outcome lb;
    assert_int_equal(identity_resolve_patient(s, "KENTCC", "sc-b", b, &lb), 0);
    assert_string_not_equal(la.person_id, lb.person_id);
    assert_int_equal(lb.conflicts, 1);
    char *pid;
    assert_int_equal(store_person_find_local(s, "KENTCC", "urn:weft:id:KENTCC:person", "SC1", &pid),
                     0);
    assert_string_equal(pid, la.person_id);
    free(pid);
    free(la.person_id);
    free(lb.person_id);
    json_decref(a);
    json_decref(b);
}

static void test_find_never_creates(void **state)
{
    struct store *s = *state;
    char *pid = NULL;
    bool has = true;
    assert_int_equal(identity_find_nhs(s, "9434765919", &pid, &has), WEFT_ENOTFOUND);
    assert_null(pid);
    assert_false(has);
    assert_int_equal(identity_find_nhs(s, "9434765918", &pid, NULL), WEFT_EINVAL);
    assert_int_equal(identity_find_local(s, "RVV", "urn:weft:id:RVV:mrn", "M1", &pid),
                     WEFT_ENOTFOUND);
    /* still nobody: the look-ups created no one */
    assert_int_equal(store_person_find_nhs(s, "9434765919", &pid), WEFT_ENOTFOUND);
    /* held for an objection: found, but no record of them is held */
    char *held = NULL;
    assert_int_equal(identity_person_for_nhs(s, "943 476 5919", &held), 0);
    assert_int_equal(identity_person_for_nhs(s, "9434765918", &pid), WEFT_EINVAL);
    assert_int_equal(identity_find_nhs(s, "9434765919", &pid, &has), 0);
    assert_string_equal(pid, held);
    assert_false(has);
    free(pid);
    /* their record, when it comes, links to the person held */
    json_t *p = patient("9434765919", "urn:weft:id:RVV:mrn", "M1");
    struct identity_outcome lo;
    assert_int_equal(identity_resolve_patient(s, "RVV", "p1", p, &lo), 0);
    assert_string_equal(lo.person_id, held);
    assert_int_equal(identity_find_local(s, "A81001", "urn:weft:id:RVV:mrn", "M1", &pid), 0);
    assert_string_equal(pid, held);
    free(pid);
    free(lo.person_id);
    free(held);
    json_decref(p);
}

static json_t *ids1(const char *system, const char *value)
{
    return json_pack("[{s:s,s:s}]", "system", system, "value", value);
}

static void test_identifiers_and_source_merges(void **state)
{
    struct store *s = *state;
    char *pid = NULL;
    /* an invalid NHS number names nobody and creates nobody */
    json_t *bad = ids1("https://fhir.nhs.uk/Id/nhs-number", "9434765918");
    assert_int_equal(identity_of_identifiers(s, "RVV", bad, true, &pid), WEFT_ENOTFOUND);
    assert_int_equal(store_person_find_nhs(s, "9434765918", &pid), WEFT_ENOTFOUND);
    /* A40: the retired patient never sent here: nothing to do, nobody created */
    json_t *surv = ids1("urn:weft:id:RVV:mrn", "S1"), *ret = ids1("urn:weft:id:RVV:mrn", "R1");
    int64_t mid = -1;
    assert_int_equal(identity_merge_source(s, "RVV", surv, ret, 7, "hl7:test A40", &mid), 0);
    assert_int_equal(mid, 0);
    assert_int_equal(identity_find_local(s, "RVV", "urn:weft:id:RVV:mrn", "S1", &pid),
                     WEFT_ENOTFOUND);
    /* the retired patient known: merged into the survivor (created when new) */
    json_t *pr = patient(NULL, "urn:weft:id:RVV:mrn", "R1");
    struct identity_outcome lr;
    assert_int_equal(identity_resolve_patient(s, "RVV", "r1", pr, &lr), 0);
    assert_int_equal(identity_merge_source(s, "RVV", surv, ret, 8, "hl7:test A40", &mid), 0);
    assert_true(mid > 0);
    char *ps = NULL, *pr_now = NULL;
    assert_int_equal(identity_find_local(s, "RVV", "urn:weft:id:RVV:mrn", "S1", &ps), 0);
    assert_int_equal(identity_find_local(s, "RVV", "urn:weft:id:RVV:mrn", "R1", &pr_now), 0);
    assert_string_equal(ps, pr_now);
    assert_string_not_equal(ps, lr.person_id);
    free(pr_now);
    /* A37: undone; the retired identifier is its own person again */
    int64_t undone = 0;
    assert_int_equal(identity_unmerge_source(s, "RVV", ret, "hl7:test A37", &undone), 0);
    assert_int_equal(undone, mid);
    assert_int_equal(identity_find_local(s, "RVV", "urn:weft:id:RVV:mrn", "R1", &pr_now), 0);
    assert_string_equal(pr_now, lr.person_id);
    free(pr_now);
    /* nothing left to undo */
    assert_int_equal(identity_unmerge_source(s, "RVV", ret, "hl7:test A37", &undone), 0);
    assert_int_equal(undone, 0);
    /* two different valid NHS numbers are never merged */
    json_t *na = ids1("https://fhir.nhs.uk/Id/nhs-number", "9434765919");
    json_t *nb = ids1("https://fhir.nhs.uk/Id/nhs-number", "9996760847");
    char *pa = NULL, *pb = NULL;
    assert_int_equal(identity_of_identifiers(s, "RVV", na, true, &pa), 0);
    assert_int_equal(identity_of_identifiers(s, "RVV", nb, true, &pb), 0);
    assert_int_equal(identity_merge_source(s, "RVV", na, nb, 9, "hl7:test A40", &mid),
                     WEFT_ECONFLICT);
    assert_true(strlen(identity_errmsg(s)) > 0);
    free(pa);
    free(pb);
    free(ps);
    free(lr.person_id);
    json_decref(na);
    json_decref(nb);
    json_decref(pr);
    json_decref(surv);
    json_decref(ret);
    json_decref(bad);
}

/* identity_under_review: true exactly while one of the person's records is on
 * either side of an open pair, whatever else the queue holds; a decided pair
 * no longer counts. */
static void test_under_review_either_side(void **state)
{
    struct store *s = *state;
    char *pa = NULL, *pb = NULL, *pc = NULL;
    assert_int_equal(store_person_by_local(s, "RVV", LINK_SOURCE_ID_SYSTEM, "a-1", NULL, &pa), 0);
    assert_int_equal(store_person_by_local(s, "KCC", LINK_SOURCE_ID_SYSTEM, "b-1", NULL, &pb), 0);
    assert_int_equal(store_person_by_local(s, "G81", LINK_SOURCE_ID_SYSTEM, "c-1", NULL, &pc), 0);
    bool on = true;
    assert_int_equal(identity_under_review(s, pa, &on), 0);
    assert_false(on);
    /* a pair not involving anyone here, and one naming a's source id under
     * another organisation: neither counts */
    struct store_idreview other = {.org = "X1",
                                   .source_id = "x-1",
                                   .other_org = "X2",
                                   .other_source_id = "x-2",
                                   .score = 9,
                                   .model_version = 1};
    struct store_idreview near = {.org = "KCC",
                                  .source_id = "a-1",
                                  .other_org = "X2",
                                  .other_source_id = "x-3",
                                  .score = 9,
                                  .model_version = 1};
    int64_t id = 0;
    assert_int_equal(store_idreview_add(s, &other, &id), 0);
    assert_int_equal(store_idreview_add(s, &near, &id), 0);
    assert_int_equal(identity_under_review(s, pa, &on), 0);
    assert_false(on);
    /* a's record first, b's second */
    struct store_idreview ab = {.org = "RVV",
                                .source_id = "a-1",
                                .other_org = "KCC",
                                .other_source_id = "b-1",
                                .score = 9,
                                .model_version = 1};
    assert_int_equal(store_idreview_add(s, &ab, &id), 0);
    assert_true(id > 0);
    assert_int_equal(identity_under_review(s, pa, &on), 0);
    assert_true(on);
    assert_int_equal(identity_under_review(s, pb, &on), 0);
    assert_true(on);
    assert_int_equal(identity_under_review(s, pc, &on), 0);
    assert_false(on);
    int64_t count = 0;
    assert_int_equal(store_idreview_count(s, "open", &count), 0);
    assert_int_equal(count, 3);
    /* decided: no longer under review */
    assert_int_equal(store_idreview_decide(s, id, "not-same", "test", 0), 0);
    assert_int_equal(store_idreview_count(s, "open", &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_idreview_count(s, NULL, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(identity_under_review(s, pa, &on), 0);
    assert_false(on);
    assert_int_equal(identity_under_review(s, pb, &on), 0);
    assert_false(on);
    free(pa);
    free(pb);
    free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nhs_links_across_orgs, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_nhs_flagged_not_linked, setup,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_no_identifiers, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_demographic_match_at_once, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_identifier_never_two_people, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_find_never_creates, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_identifiers_and_source_merges, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_under_review_either_side, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
