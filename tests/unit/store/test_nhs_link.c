/* test_nhs_link.c - store_person_nhs_link (store/identity.h), on the
 * backend under test: the answers of the calls it stands for
 * (store_person_find_local of the source record, store_person_by_nhs,
 * store_idrec_candidates without NHS numbers for a new record only,
 * store_person_by_local of each identifier to attach), and their writes:
 * the NHS number's person made once, the identifiers attached to it, an
 * identifier another person holds left with that person and reported as
 * such, an identifier named twice attached once. */
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
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

#define LINK "urn:weft:source-id:Patient"
#define MRN "urn:weft:id:ORG1:mrn"

static int setup(void **state)
{
    return testdb_setup(state, "nhs_link");
}

static void put(struct store *s, const char *id, const char *nhs, const char *k0)
{
    const char *keys[4] = {k0, NULL, "PQ", NULL};
    struct store_idrec r = {
        .org = "ORG1", .source_id = (char *)id, .demog = (char *)"D", .nhs = (char *)nhs};
    assert_int_equal(store_idrec_put(s, &r, keys), WEFT_OK);
}

/* store_person_nhs_link of record source_id with nhs and keys (DQ, -, PQ, -),
 * attaching its source id and the MRNs given (NULL-terminated). */
static void do_link(struct store *s, const char *source_id, const char *nhs,
                    const char *const *mrns, struct store_person_nhs_link *l)
{
    static const char *org[8], *sys[8], *val[8];
    static const char *keys[4] = {"DQ", NULL, "PQ", NULL};
    int n = 0;
    org[n] = "ORG1", sys[n] = LINK, val[n++] = source_id;
    for (int i = 0; mrns && mrns[i]; i++)
        org[n] = "ORG1", sys[n] = MRN, val[n++] = mrns[i];
    *l = (struct store_person_nhs_link){
        .org = "ORG1",
        .link_system = LINK,
        .source_id = source_id,
        .nhs = nhs,
        .keys = keys,
        .cap = 50,
        .nattach = n,
        .attach_org = org,
        .attach_system = sys,
        .attach_value = val,
    };
    assert_int_equal(store_person_nhs_link(s, l), WEFT_OK);
    assert_non_null(l->person_id);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct store_idrec *)a)->source_id,
                  ((const struct store_idrec *)b)->source_id);
}

static char *holder(struct store *s, const char *system, const char *value)
{
    char *p = NULL;
    assert_int_equal(store_person_find_local(s, "ORG1", system, value, &p), WEFT_OK);
    return p;
}

static void test_new_and_known(void **state)
{
    struct store *s = *state;
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), WEFT_OK);
    put(s, "c1", NULL, "DQ");                /* a candidate: no NHS number, shares DQ */
    put(s, "c2", "9434765927", "DQ");        /* shares DQ but holds a number: not read */
    put(s, "c3", NULL, "ZZ");                /* shares PQ only */
    put(s, "c4", NULL, "XX");                /* shares nothing but the PQ block ... */
    const char *mrns[] = {"M1", "M1", NULL}; /* ... and M1 named twice */
    struct store_person_nhs_link l;
    do_link(s, "r1", "9434765919", mrns, &l);
    assert_false(l.source_known);
    char *p = NULL;
    assert_int_equal(store_person_find_nhs(s, "9434765919", &p), WEFT_OK);
    assert_string_equal(l.person_id, p); /* made by the call */
    /* the candidates, as store_idrec_candidates without NHS numbers gives them */
    assert_int_equal(l.ncands, 3);
    qsort(l.cands, 3, sizeof *l.cands, by_id);
    assert_string_equal(l.cands[0].source_id, "c1");
    assert_string_equal(l.cands[1].source_id, "c3");
    assert_string_equal(l.cands[2].source_id, "c4");
    assert_string_equal(l.cands[0].demog, "D");
    assert_null(l.cands[0].nhs);
    assert_null(l.cands[0].person_id);
    assert_int_equal(l.nattach, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(l.attached[i], p);
    char *h = holder(s, LINK, "r1");
    assert_string_equal(h, p);
    free(h);
    h = holder(s, MRN, "M1");
    assert_string_equal(h, p);
    free(h);
    store_person_nhs_link_clear(&l);
    assert_null(l.attached);
    /* the same record again: known, no candidates read, the same person */
    do_link(s, "r1", "9434765919", mrns, &l);
    assert_true(l.source_known);
    assert_int_equal(l.ncands, 0);
    assert_string_equal(l.person_id, p);
    for (int i = 0; i < 3; i++)
        assert_string_equal(l.attached[i], p);
    store_person_nhs_link_clear(&l);
    free(p);
    assert_int_equal(store_txn_commit(&t), WEFT_OK);
}

static void test_held_elsewhere(void **state)
{
    struct store *s = *state;
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), WEFT_OK);
    /* M2 already belongs to a person of its own */
    char *other = NULL;
    assert_int_equal(store_person_by_local(s, "ORG1", MRN, "M2", NULL, &other), WEFT_OK);
    /* and the NHS number's person exists already */
    char *p = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765927", &p), WEFT_OK);
    const char *mrns[] = {"M2", "M3", NULL};
    struct store_person_nhs_link l;
    do_link(s, "r2", "9434765927", mrns, &l);
    assert_false(l.source_known);
    assert_int_equal(l.ncands, 0);
    assert_string_equal(l.person_id, p); /* found, not made again */
    assert_string_equal(l.attached[0], p);
    assert_string_equal(l.attached[1], other); /* never moved */
    assert_string_equal(l.attached[2], p);
    store_person_nhs_link_clear(&l);
    char *h = holder(s, MRN, "M2");
    assert_string_equal(h, other);
    free(h);
    h = holder(s, MRN, "M3");
    assert_string_equal(h, p);
    free(h);
    /* only the source id to attach */
    do_link(s, "r3", "9434765927", NULL, &l);
    assert_int_equal(l.nattach, 1);
    assert_string_equal(l.attached[0], p);
    store_person_nhs_link_clear(&l);
    free(other);
    free(p);
    assert_int_equal(store_txn_commit(&t), WEFT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_known, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_held_elsewhere, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
