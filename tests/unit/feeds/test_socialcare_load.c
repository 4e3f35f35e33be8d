/* test_socialcare_load.c - social care extracts loaded into a real SQLite
 * store through the loading pipeline (socialcare_store_sink ->
 * fhir_load_bundle): categories, person linking across kinds, repeats as
 * no-ops, rejected references reported against their CSV line, and the
 * category every mapped resource gets from domain/category.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/err.h"
#include "feeds/socialcare.h"
#include "domain/category.h"
#include "fhir/load.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

#define TODAY "2026-11-24"
#define ODS "KENTCC"

struct fixture {
    struct store *s;
    char path[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("WEFT_TMP");
    snprintf(f->path, sizeof f->path, "%s/sc-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(f->path);
    char *err = NULL;
    int rc = store_open(&f->s, f->path, true, &err);
    if (rc) {
        fprintf(stderr, "store_open: %s\n", err ? err : "?");
        free(err);
        free(f);
        return -1;
    }
    int from, to;
    if (store_migrate(f->s, &from, &to) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    testdb_remove(f->path);
    free(f);
    return 0;
}

static struct socialcare_report *load(struct fixture *f, const char *name, struct load_report *lr)
{
    char path[512];
    const char *root = getenv("WEFT_ROOT");
    snprintf(path, sizeof path, "%s/tests/data/csv/%s", root ? root : ".", name);
    struct socialcare_opts o = {.ods = ODS, .feed = "kent-sc", .today = TODAY};
    struct socialcare_store_sink ss = {
        .store = f->s, .org = ODS, .feed = "kent-sc", .file = name, .load = lr};
    struct socialcare_report *rep = NULL;
    assert_int_equal(socialcare_process_file(path, &o, socialcare_store_sink, &ss, &rep), 0);
    return rep;
}

/* The person linked to the sender's type/source id. */
static char *person_of(struct fixture *f, const char *type, const char *source_id)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id(ODS, type, source_id, id);
    char *person = NULL;
    assert_int_equal(store_resource_person(f->s, type, id, &person), 0);
    assert_non_null(person);
    return person;
}

static char *category_of_stored(struct fixture *f, const char *type, const char *source_id)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id(ODS, type, source_id, id);
    struct store_row row = {0};
    assert_int_equal(store_resource_get(f->s, type, id, 0, &row), 0);
    char *cat = strdup(row.category);
    store_row_clear(&row);
    return cat;
}

static void test_load_all_kinds(void **state)
{
    struct fixture *f = *state;
    struct load_report lr;
    load_report_init(&lr);

    struct socialcare_report *rep = load(f, "people_good.csv", &lr);
    assert_int_equal(rep->rows_mapped, 5);
    assert_int_equal(rep->rows_loaded, 5);
    assert_int_equal(rep->rows_load_failed, 0);
    assert_string_equal(socialcare_report_status(rep), "ok");
    assert_int_equal(lr.invalid_nhs, 1); /* P0003's bad check digit, flagged by the linker */
    socialcare_report_free(rep);

    const char *kinds[] = {"contacts_sample.csv", "assessments_sample.csv", "services_sample.csv",
                           "safeguarding_sample.csv", "end_of_life_sample.csv"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        rep = load(f, kinds[i], &lr);
        assert_true(rep->rows_mapped > 0);
        /* every mapped row found its person: all were sent in people_good.csv */
        assert_int_equal(rep->rows_loaded, rep->rows_mapped);
        assert_int_equal(rep->rows_load_failed, 0);
        socialcare_report_free(rep);
    }

    /* one person across kinds */
    char *p1 = person_of(f, "Patient", "P0001");
    const char *same[][2] = {{"RelatedPerson", "C1"},
                             {"QuestionnaireResponse", "A1"},
                             {"EpisodeOfCare", "S1"},
                             {"Flag", "G1"},
                             {"CarePlan", "E1"},
                             {"Consent", "E1-dnacpr"},
                             {"DocumentReference", "E1-respect"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *p = person_of(f, same[i][0], same[i][1]);
        assert_string_equal(p, p1);
        free(p);
    }
    char *p2 = person_of(f, "Patient", "P0002");
    assert_string_not_equal(p1, p2);
    char *c3 = person_of(f, "RelatedPerson", "C3");
    assert_string_equal(c3, p2);
    free(c3);
    free(p2);

    /* P0001 was linked by its NHS number */
    struct store_person sp = {0};
    assert_int_equal(store_person_get(f->s, p1, &sp), 0);
    assert_non_null(sp.nhs);
    assert_string_equal(sp.nhs, "9990000018");
    store_person_clear(&sp);
    free(p1);
    /* P0003's invalid number was not used: no NHS number on its person */
    char *p3 = person_of(f, "Patient", "P0003");
    assert_int_equal(store_person_get(f->s, p3, &sp), 0);
    assert_null(sp.nhs);
    store_person_clear(&sp);
    free(p3);

    /* the categories the record holds them under */
    const char *cats[][3] = {{"Patient", "P0002", "demographics"},
                             {"RelatedPerson", "C2", "contacts"},
                             {"QuestionnaireResponse", "A2", "social-care-assessment"},
                             {"EpisodeOfCare", "S2", "services"},
                             {"Flag", "G2", "safeguarding"},
                             {"CarePlan", "E2", "end-of-life"},
                             {"Consent", "E2-dnacpr", "end-of-life"},
                             {"DocumentReference", "E2-respect", "end-of-life"}};
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        char *c = category_of_stored(f, cats[i][0], cats[i][1]);
        assert_string_equal(c, cats[i][2]);
        free(c);
    }
    assert_true(category_restricted("safeguarding"));
    load_report_free(&lr);
}

static long count(const struct load_report *lr, const char *type, long struct_offset)
{
    for (int i = 0; i < lr->ntypes; i++)
        if (!strcmp(lr->types[i].type, type))
            return *(const long *)((const char *)&lr->types[i] + struct_offset);
    return 0;
}

static void test_repeat_is_noop_and_change_is_version(void **state)
{
    struct fixture *f = *state;
    struct load_report lr;
    load_report_init(&lr);
    socialcare_report_free(load(f, "people_good.csv", &lr));
    socialcare_report_free(load(f, "services_sample.csv", &lr));
    load_report_free(&lr);

    /* the same files again: nothing new written */
    load_report_init(&lr);
    struct socialcare_report *rep = load(f, "people_good.csv", &lr);
    assert_int_equal(rep->rows_loaded, 5);
    socialcare_report_free(rep);
    socialcare_report_free(load(f, "services_sample.csv", &lr));
    assert_int_equal(count(&lr, "Patient", offsetof(struct load_type_count, unchanged)), 5);
    assert_int_equal(count(&lr, "Patient", offsetof(struct load_type_count, stored)), 0);
    assert_int_equal(count(&lr, "EpisodeOfCare", offsetof(struct load_type_count, unchanged)), 3);
    assert_int_equal(count(&lr, "EpisodeOfCare", offsetof(struct load_type_count, updated)), 0);
    load_report_free(&lr);

    /* S1 ends: a new version of the same EpisodeOfCare */
    const char csv[] = "service_id,person_id,service_type,start_date,end_date,status\n"
                       "S1,P0001,home-care,2026-03-10,2026-11-01,ended\n";
    struct socialcare_opts o = {.ods = ODS, .feed = "kent-sc", .today = TODAY};
    load_report_init(&lr);
    struct socialcare_store_sink ss = {.store = f->s, .org = ODS, .feed = "kent-sc", .load = &lr};
    assert_int_equal(socialcare_process_mem(csv, sizeof csv - 1, "services_update.csv", &o,
                                            socialcare_store_sink, &ss, &rep),
                     0);
    assert_int_equal(rep->rows_loaded, 1);
    assert_int_equal(count(&lr, "EpisodeOfCare", offsetof(struct load_type_count, updated)), 1);
    socialcare_report_free(rep);
    load_report_free(&lr);
    char id[STORE_ID_LEN + 1];
    store_resource_id(ODS, "EpisodeOfCare", "S1", id);
    struct store_row row = {0};
    assert_int_equal(store_resource_get(f->s, "EpisodeOfCare", id, 0, &row), 0);
    assert_int_equal(row.version, 2);
    assert_string_equal(row.status, "finished");
    store_row_clear(&row);
}

static void test_unknown_person_is_a_load_failure_with_its_line(void **state)
{
    struct fixture *f = *state;
    socialcare_report_free(load(f, "people_good.csv", NULL));
    const char csv[] = "contact_id,person_id,family_name,given_names,relationship,is_carer\n"
                       "K1,P0001,Smith,John,husband,Y\n"
                       "K2,NOBODY,Stray,Contact,friend,N\n"
                       "K3,P0002,Lee,Ann,friend,N\n";
    struct socialcare_opts o = {.ods = ODS, .feed = "kent-sc", .today = TODAY};
    struct socialcare_store_sink ss = {.store = f->s, .org = ODS, .feed = "kent-sc"};
    struct socialcare_report *rep;
    assert_int_equal(socialcare_process_mem(csv, sizeof csv - 1, "contacts_x.csv", &o,
                                            socialcare_store_sink, &ss, &rep),
                     0);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->rows_loaded, 2);
    assert_int_equal(rep->rows_load_failed, 1);
    assert_int_equal(rep->nerrors, 1);
    assert_int_equal(rep->errors[0].line, 3);
    assert_non_null(strstr(rep->errors[0].reason, "load failed: "));
    assert_non_null(strstr(rep->errors[0].reason, "Patient/NOBODY"));
    assert_string_equal(socialcare_report_status(rep), "partial");
    socialcare_report_free(rep);
    char id[STORE_ID_LEN + 1];
    store_resource_id(ODS, "RelatedPerson", "K2", id);
    assert_int_equal(store_resource_person(f->s, "RelatedPerson", id, NULL), WEFT_ENOTFOUND);
}

/* Group commit (ingest's drop folders): Bundles of bundle_rows rows loaded
 * nested in one transaction per batch_rows rows.  A rejected entry still fails
 * only its own row, named by its line in the file (entries of later Bundles
 * of a batch included); the batch's transaction is closed by the commit hook. */
static void test_grouped_small_bundles(void **state)
{
    struct fixture *f = *state;
    socialcare_report_free(load(f, "people_good.csv", NULL));
    const char csv[] = "contact_id,person_id,family_name,given_names,relationship,is_carer\n"
                       "K1,P0001,Smith,John,husband,Y\n"
                       "K2,P0002,Lee,Ann,friend,N\n"
                       "K3,P0003,Ray,Tom,friend,N\n"
                       "K4,NOBODY,Stray,Contact,friend,N\n"
                       "K5,P0004,Oak,Jo,friend,N\n";
    struct socialcare_opts o = {.ods = ODS,
                                .feed = "kent-sc",
                                .today = TODAY,
                                .batch_rows = 3,
                                .bundle_rows = 1,
                                .commit = socialcare_store_commit};
    struct socialcare_store_sink ss = {
        .store = f->s, .org = ODS, .feed = "kent-sc", .grouped = true};
    struct socialcare_report *rep;
    assert_int_equal(socialcare_process_mem(csv, sizeof csv - 1, "contacts_g.csv", &o,
                                            socialcare_store_sink, &ss, &rep),
                     0);
    assert_false(ss.open);
    assert_int_equal(rep->bundles, 5);
    assert_int_equal(rep->rows_loaded, 4);
    assert_int_equal(rep->rows_load_failed, 1);
    assert_int_equal(rep->nerrors, 1);
    assert_int_equal(rep->errors[0].line, 5);
    assert_non_null(strstr(rep->errors[0].reason, "Patient/NOBODY"));
    socialcare_report_free(rep);
    const char *stored[] = {"K1", "K2", "K3", "K5"};
    for (size_t i = 0; i < 4; i++) {
        char id[STORE_ID_LEN + 1];
        store_resource_id(ODS, "RelatedPerson", stored[i], id);
        assert_int_equal(store_resource_person(f->s, "RelatedPerson", id, NULL), 0);
    }
    /* no transaction left open */
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(store_rollback(f->s), 0);
}

/* A commit hook that fails the second batch (rolling it back). */
static int failing_commit(void *ctx)
{
    static int calls;
    struct socialcare_store_sink *ss = ctx;
    if (++calls != 2)
        return socialcare_store_commit(ctx);
    store_rollback(ss->store);
    ss->open = false;
    return WEFT_EDB;
}

/* A batch whose commit fails: every row of it is a load failure (even rows
 * whose Bundle the pipeline took) and nothing of it is stored; the batches
 * before and after it are. */
static void test_grouped_commit_failure_fails_the_batch(void **state)
{
    struct fixture *f = *state;
    socialcare_report_free(load(f, "people_good.csv", NULL));
    const char csv[] = "contact_id,person_id,family_name,given_names,relationship,is_carer\n"
                       "C1,P0001,Smith,John,husband,Y\n"
                       "C2,P0002,Lee,Ann,friend,N\n"
                       "C3,P0003,Ray,Tom,friend,N\n"
                       "C4,P0004,Oak,Jo,friend,N\n"
                       "C5,P0001,Elm,Al,friend,N\n";
    struct socialcare_opts o = {.ods = ODS,
                                .feed = "kent-sc",
                                .today = TODAY,
                                .batch_rows = 2,
                                .bundle_rows = 1,
                                .commit = failing_commit};
    struct socialcare_store_sink ss = {
        .store = f->s, .org = ODS, .feed = "kent-sc", .grouped = true};
    struct socialcare_report *rep;
    assert_int_equal(socialcare_process_mem(csv, sizeof csv - 1, "contacts_f.csv", &o,
                                            socialcare_store_sink, &ss, &rep),
                     0);
    assert_int_equal(rep->rows_loaded, 3);
    assert_int_equal(rep->rows_load_failed, 2);
    assert_int_equal(rep->nerrors, 2);
    assert_int_equal(rep->errors[0].line, 4);
    assert_int_equal(rep->errors[1].line, 5);
    assert_string_equal(socialcare_report_status(rep), "partial");
    socialcare_report_free(rep);
    const char *ids[] = {"C1", "C2", "C3", "C4", "C5"};
    const int want[] = {0, 0, WEFT_ENOTFOUND, WEFT_ENOTFOUND, 0};
    for (size_t i = 0; i < 5; i++) {
        char id[STORE_ID_LEN + 1];
        store_resource_id(ODS, "RelatedPerson", ids[i], id);
        assert_int_equal(store_resource_person(f->s, "RelatedPerson", id, NULL), want[i]);
    }
}

/* domain/category.h agrees with the category each mapped resource states. */
static int cat_sink(void *ctx, json_t *bundle, struct socialcare_batch *batch)
{
    size_t i, *n = ctx;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        json_t *tag = json_array_get(json_object_get(json_object_get(r, "meta"), "tag"), 0);
        const char *stated = json_string_value(json_object_get(tag, "code"));
        assert_non_null(stated);
        assert_true(category_valid(stated));
        json_t *copy = json_deep_copy(r);
        json_object_del(copy, "meta"); /* without the explicit tag: from content alone */
        const char *derived = category_of(copy);
        assert_non_null(derived);
        assert_string_equal(derived, stated);
        assert_string_equal(category_of(r), stated);
        json_decref(copy);
        (*n)++;
    }
    return 0;
}

static void test_categories_from_content(void **state)
{
    (void)state;
    const char *files[] = {"people_good.csv",         "contacts_sample.csv",
                           "assessments_sample.csv",  "services_sample.csv",
                           "safeguarding_sample.csv", "end_of_life_sample.csv"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        const char *root = getenv("WEFT_ROOT");
        snprintf(path, sizeof path, "%s/tests/data/csv/%s", root ? root : ".", files[i]);
        struct socialcare_opts o = {.ods = ODS, .today = TODAY};
        struct socialcare_report *rep;
        assert_int_equal(socialcare_process_file(path, &o, cat_sink, &n, &rep), 0);
        socialcare_report_free(rep);
    }
    assert_int_equal(n, 5 + 3 + 3 + 3 + 3 + 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_all_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_is_noop_and_change_is_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grouped_small_bundles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grouped_commit_failure_fails_the_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_person_is_a_load_failure_with_its_line, setup,
                                        teardown),
        cmocka_unit_test(test_categories_from_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
