/* test_inbox_ingest_csv.c - CSV drop files through feeds/ingest.h into a
 * real store: a file long enough to be read on a second thread (more than
 * CSV_PIPELINE_AFTER rows) and a short one read on the calling thread give
 * the report in done/, the inbox outcome, the lag samples and the record
 * their rows say; a replay of the long one changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/registry.h"
#include "store/access.h"
#include "store/feeds.h"
#include "store/records.h"
#include "store/store.h"

#include "unit/testdb.h"

static char dbpath[256], folder[256];

struct fx {
    struct store *s;
    struct ingest *ig;
    int64_t feed_id;
};

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/ingest-csv-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(folder, sizeof folder, "%s/kent-%d", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    struct fx *fx = calloc(1, sizeof *fx);
    char *err = NULL;
    if (store_open(&fx->s, dbpath, true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return -1;
    }
    char e[256];
    struct feed_spec f = {.org = "KENTCC", .kind = "csv", .folder = folder};
    if (store_migrate(fx->s, NULL, NULL) != 0 ||
        store_org_put(fx->s, "KENTCC", "Kent County Council", "social-care") != 0 ||
        store_agreement_add(fx->s, "KENTCC", "jca", "2020-01-01", NULL, NULL) != 0 ||
        feed_registry_add(fx->s, &f, &fx->feed_id, NULL, e, sizeof e) != 0) {
        fprintf(stderr, "setup: %s\n", e);
        return -1;
    }
    fx->ig = ingest_new(fx->s);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    ingest_free(fx->ig);
    store_close(fx->s);
    free(fx);
    testdb_remove(dbpath);
    return 0;
}

static bool invalid_row(size_t i)
{
    return i % 97 == 11;
}

/* n people rows, each with a date_recorded (a lag sample), invalid_row()
 * rows with an impossible date of birth. */
static void put_people(const char *name, size_t first, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode,"
               "date_recorded\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "P%06zu,,Fam%zu,Amy,%s,F,CT1 1AA,2026-11-%02zu\n", first + i, i % 40,
                invalid_row(i) ? "1950-02-31" : "1950-02-03", 1 + i % 20);
    assert_int_equal(fclose(f), 0);
}

static int64_t patients(struct store *s)
{
    struct store_query q = {.type = "Patient", .limit = 1, .want_total = true};
    struct store_result res;
    assert_int_equal(store_search(s, &q, &res), 0);
    int64_t n = res.total;
    store_result_clear(&res);
    return n;
}

static json_t *report(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/done/%s.report.json", folder, name);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r)
        fprintf(stderr, "%s: %s\n", path, je.text);
    assert_non_null(r);
    return r;
}

static size_t num(json_t *o, const char *key)
{
    return (size_t)json_integer_value(json_object_get(o, key));
}

/* One file through ingest_csv_file: outcome, report, record, lag samples. */
static void one_file(struct fx *fx, const char *name, size_t first, size_t n, int64_t *patients_io,
                     int64_t *inbox_id)
{
    put_people(name, first, n);
    struct store_feed_counts day0, tot0, day1, tot1;
    assert_int_equal(store_feed_counts_get(fx->s, fx->feed_id, NULL, &day0, &tot0), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    struct ingest_result r;
    ingest_result_init(&r);
    assert_int_equal(ingest_csv_file(fx->ig, fx->feed_id, path, &r), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += invalid_row(i);
    assert_string_equal(r.outcome, bad ? INBOX_PARTIAL : INBOX_APPLIED);
    assert_int_equal(r.resources, n - bad);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* moved to done/ */
    json_t *rep = report(name);
    assert_int_equal(num(rep, "rows_read"), n);
    assert_int_equal(num(rep, "rows_rejected"), bad);
    assert_int_equal(num(rep, "rows_loaded"), n - bad);
    assert_int_equal(num(rep, "rows_load_failed"), 0);
    assert_int_equal(num(rep, "bundles"), (n - bad + 99) / 100);
    json_t *errors = json_object_get(rep, "errors");
    assert_int_equal(json_array_size(errors), bad);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (invalid_row(i))
            assert_int_equal(num(json_array_get(errors, k++), "line"), i + 2);
    json_decref(rep);
    *patients_io += (int64_t)(n - bad);
    assert_int_equal(patients(fx->s), *patients_io);
    assert_int_equal(store_feed_counts_get(fx->s, fx->feed_id, NULL, &day1, &tot1), 0);
    assert_int_equal(tot1.received - tot0.received, 1);
    assert_int_equal(tot1.lag_n - tot0.lag_n, (int64_t)(n - bad)); /* one per mapped row */
    *inbox_id = r.inbox_id;
    ingest_result_release(&r);
}

static void test_long_and_short_files(void **state)
{
    struct fx *fx = *state;
    int64_t n = 0, long_id, short_id;
    one_file(fx, "people_long.csv", 0, 2345, &n, &long_id);      /* two threads */
    one_file(fx, "people_short.csv", 100000, 60, &n, &short_id); /* one thread */

    /* a replay of the long file: the same outcome, nothing new in the record */
    struct ingest_result r;
    ingest_result_init(&r);
    assert_int_equal(ingest_replay(fx->ig, long_id, &r), 0);
    assert_string_equal(r.outcome, INBOX_PARTIAL);
    ingest_result_release(&r);
    assert_int_equal(patients(fx->s), n);
    struct store_inbox_msg m;
    assert_int_equal(store_inbox_get(fx->s, long_id, false, &m), 0);
    assert_string_equal(m.outcome, INBOX_PARTIAL);
    store_inbox_msg_clear(&m);
    assert_int_equal(store_inbox_get(fx->s, short_id, false, &m), 0);
    assert_string_equal(m.outcome, INBOX_PARTIAL);
    store_inbox_msg_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_long_and_short_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
