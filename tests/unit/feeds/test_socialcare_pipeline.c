/* test_socialcare_pipeline.c - social care extracts read and mapped on a
 * second thread (socialcare_opts.pipeline) while the calling thread loads:
 * the same report, byte for byte, as on one thread (issue order included),
 * every failed row named by its line and counted once, every valid row in
 * the store once, a failed commit failing exactly its batch, and a store that
 * breaks mid-batch making the reading thread stop preparing that batch.
 * Edge sizes (no rows, 1, 100, 20,000, only invalid rows, more issues than
 * the report keeps) through both paths with a store-less sink. */
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

#include "core/buf.h"
#include "core/err.h"
#include "feeds/socialcare.h"
#include "fhir/load.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

#define TODAY "2026-11-24"
#define ODS "KENTCC"
#define FEED "kent-sc"

/* ---- stores ------------------------------------------------------------------------------ */

struct db {
    struct store *s;
    char path[512];
};

static void db_open(struct db *d, const char *tag)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(d->path, sizeof d->path, "%s/scp-%s-%d.db", tmp ? tmp : "/tmp", tag, (int)getpid());
    unlink(d->path);
    char *err = NULL;
    int rc = store_open(&d->s, d->path, true, &err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err ? err : "?");
    free(err);
    assert_int_equal(rc, 0);
    int from, to;
    assert_int_equal(store_migrate(d->s, &from, &to), 0);
}

static void db_close(struct db *d)
{
    store_close(d->s);
    testdb_remove(d->path);
}

/* Version of the stored item for the sender's type/source id, 0 when none. */
static int stored_version(struct store *s, const char *type, const char *source_id)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id(ODS, type, source_id, id);
    struct store_row row = {0};
    int rc = store_resource_get(s, type, id, 0, &row);
    if (rc == WEFT_ENOTFOUND)
        return 0;
    assert_int_equal(rc, 0);
    int v = row.version;
    store_row_clear(&row);
    return v;
}

/* ---- files ------------------------------------------------------------------------------- */

/* Row i of the people files below is on line i + 2. */
#define LINE(i) ((size_t)(i) + 2)

static bool people_invalid(size_t i)
{
    return i % 997 == 5 || i == 44999;
}

/* n people rows P{i}; people_invalid(i) rows have a date of birth that is
 * no date (a row error); every 1000th has a bad NHS check digit (a warning,
 * kept). */
static char *people_csv(size_t n, size_t *len)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n");
    for (size_t i = 0; i < n; i++)
        buf_addf(&b, "P%06zu,%s,Fam%zu,Amy,%s,F,CT1 1AA\n", i, i % 1000 == 7 ? "9990000019" : "",
                 i % 50, people_invalid(i) ? "1990-13-40" : "1950-02-03");
    return buf_detach(&b, len);
}

/* Which contact rows name a person who was never sent (a load failure), and
 * which are invalid (is_carer not yes/no: a row error). */
static bool contact_nobody(size_t i)
{
    return i % 50 == 17;
}
static bool contact_invalid(size_t i)
{
    return i % 61 == 3;
}

static char *contacts_csv(size_t n, size_t *len)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "contact_id,person_id,family_name,given_names,relationship,is_carer\n");
    for (size_t i = 0; i < n; i++) {
        if (contact_nobody(i))
            buf_addf(&b, "K%zu,NOBODY%zu,Stray,Al,friend,N\n", i, i);
        else
            buf_addf(&b, "K%zu,P%06zu,Lee,Al,friend,%s\n", i, i,
                     contact_invalid(i) ? "maybe" : "Y");
    }
    return buf_detach(&b, len);
}

/* ---- the store path ---------------------------------------------------------------------- */

/* A grouped store sink that can break like a store (WEFT_EDB mid-batch) or
 * fail a commit, and counts what was prepared. */
struct test_sink {
    struct socialcare_store_sink ss;
    size_t break_batch, break_bundle; /* 1-based; 0: never */
    size_t fail_commit;               /* 1-based batch; 0: never */
    size_t batch, bundle;             /* current batch / Bundle in it (1-based) */
    size_t prepared, sunk;
};

static void *test_prepare(void *ctx, json_t *bundle)
{
    struct test_sink *t = ctx;
    t->prepared++; /* the reading thread's own counter: read after the join */
    return socialcare_store_prepare(&t->ss, bundle);
}

static int test_store_sink(void *ctx, json_t *bundle, struct socialcare_batch *b)
{
    struct test_sink *t = ctx;
    if (t->bundle == 0)
        t->batch++;
    t->bundle++;
    t->sunk++;
    if (t->batch == t->break_batch && t->bundle == t->break_bundle && t->ss.open) {
        /* what socialcare_store_sink does when the store fails under a load */
        store_rollback(t->ss.store);
        t->ss.open = false;
        t->ss.broken = WEFT_EDB;
        socialcare_batch_broken(b);
        return WEFT_EDB;
    }
    return socialcare_store_sink(&t->ss, bundle, b);
}

static int test_commit(void *ctx)
{
    struct test_sink *t = ctx;
    size_t batch = t->batch;
    t->bundle = 0;
    if (batch == t->fail_commit) { /* as a commit the store refuses */
        store_rollback(t->ss.store);
        t->ss.open = false;
        t->ss.broken = 0;
        return WEFT_EDB;
    }
    return socialcare_store_commit(&t->ss);
}

static struct socialcare_report *load(struct store *s, const char *csv, size_t len,
                                      const char *name, size_t batch_rows, bool pipeline,
                                      struct test_sink *t)
{
    t->ss = (struct socialcare_store_sink){
        .store = s, .org = ODS, .feed = FEED, .file = name, .grouped = true};
    t->batch = t->bundle = t->prepared = t->sunk = 0;
    struct socialcare_opts o = {.ods = ODS,
                                .feed = FEED,
                                .today = TODAY,
                                .batch_rows = batch_rows,
                                .bundle_rows = 100,
                                .commit = test_commit,
                                .prepare = test_prepare,
                                .prep_free = socialcare_store_prep_free,
                                .pipeline = pipeline};
    struct socialcare_report *rep = NULL;
    assert_int_equal(socialcare_process_mem(csv, len, name, &o, test_store_sink, t, &rep), 0);
    assert_false(t->ss.open);
    /* no transaction left open */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_rollback(s), 0);
    return rep;
}

static void assert_same_report(const struct socialcare_report *a, const struct socialcare_report *b)
{
    json_t *ja = socialcare_report_json(a), *jb = socialcare_report_json(b);
    if (!json_equal(ja, jb)) {
        char *sa = json_dumps(ja, JSON_COMPACT), *sb = json_dumps(jb, JSON_COMPACT);
        fprintf(stderr, "reports differ:\n%.2000s\n%.2000s\n", sa, sb);
        free(sa);
        free(sb);
        fail();
    }
    json_decref(ja);
    json_decref(jb);
}

/* 45,000 people rows (3 batches of 20,000, 450 Bundles) on two threads:
 * counts, the exact lines of the invalid rows, every valid row stored once;
 * then contacts, some naming persons never sent: each load failure lands on
 * its row, once, in the order one thread reports it. */
static void test_multi_batch_into_store(void **state)
{
    (void)state;
    struct db d;
    db_open(&d, "multi");
    size_t n = 45000, len;
    char *csv = people_csv(n, &len);
    struct test_sink t = {0};
    struct socialcare_report *rep = load(d.s, csv, len, "people.csv", 20000, true, &t);
    size_t invalid = 0;
    for (size_t i = 0; i < n; i++)
        invalid += people_invalid(i);
    assert_int_equal(rep->rows_read, n);
    assert_int_equal(rep->rows_rejected, invalid);
    assert_int_equal(rep->rows_mapped, n - invalid);
    assert_int_equal(rep->rows_loaded, n - invalid);
    assert_int_equal(rep->rows_load_failed, 0);
    assert_int_equal(rep->bundles, (n - invalid + 99) / 100);
    assert_int_equal(t.sunk, rep->bundles);
    assert_int_equal(t.prepared, rep->bundles);
    assert_int_equal(rep->nerrors, invalid);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (people_invalid(i)) {
            assert_int_equal(rep->errors[k].line, LINE(i));
            assert_string_equal(rep->errors[k].column, "date_of_birth");
            k++;
        }
    assert_int_equal(rep->nwarnings, n / 1000);
    for (size_t j = 0; j < rep->nwarnings; j++)
        assert_int_equal(rep->warnings[j].line, LINE(j * 1000 + 7));
    assert_string_equal(socialcare_report_status(rep), "partial");
    socialcare_report_free(rep);
    free(csv);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "P%06zu", i);
        assert_int_equal(stored_version(d.s, "Patient", id), people_invalid(i) ? 0 : 1);
    }

    /* contacts: load failures reported by the pipeline, per row */
    size_t nc = 2500;
    csv = contacts_csv(nc, &len);
    rep = load(d.s, csv, len, "contacts.csv", 1000, true, &t);
    size_t *want = calloc(nc, sizeof *want), *fails = calloc(100, sizeof *fails);
    size_t nwant = 0, nfails = 0, mapped = 0, nobody = 0, bad = 0;
    for (size_t i = 0; i < nc; i++) {
        if (contact_invalid(i) && !contact_nobody(i)) {
            want[nwant++] = LINE(i);
            bad++;
            continue;
        }
        if (contact_nobody(i) || people_invalid(i)) { /* no such Patient in the store */
            fails[nfails++] = LINE(i);
            nobody++;
        }
        if (++mapped % 100 == 0) { /* the Bundle's load failures after its rows' errors */
            memcpy(want + nwant, fails, nfails * sizeof *fails);
            nwant += nfails;
            nfails = 0;
        }
    }
    memcpy(want + nwant, fails, nfails * sizeof *fails);
    nwant += nfails;
    assert_int_equal(rep->rows_rejected, bad);
    assert_int_equal(rep->rows_load_failed, nobody);
    assert_int_equal(rep->rows_loaded, nc - bad - nobody);
    assert_int_equal(rep->nerrors, nwant);
    for (size_t j = 0; j < nwant; j++) {
        assert_int_equal(rep->errors[j].line, want[j]);
        bool load_failure = strncmp(rep->errors[j].reason, "load failed: ", 13) == 0;
        size_t i = want[j] - 2;
        assert_int_equal(load_failure, contact_nobody(i) || people_invalid(i));
    }
    socialcare_report_free(rep);
    free(csv);
    free(want);
    free(fails);
    for (size_t i = 0; i < nc; i++) {
        char id[16];
        snprintf(id, sizeof id, "K%zu", i);
        bool stored = !contact_nobody(i) && !contact_invalid(i) && !people_invalid(i);
        assert_int_equal(stored_version(d.s, "RelatedPerson", id), stored ? 1 : 0);
    }
    db_close(&d);
}

/* The same file into two fresh stores, on one thread and on two, with the
 * same failure: the same report, the same rows stored. */
static void compare_with_failure(size_t break_bundle, size_t fail_commit)
{
    size_t n = 3050, len;
    char *csv = people_csv(n, &len);
    struct db one, two;
    db_open(&one, "one");
    db_open(&two, "two");
    struct test_sink t1 = {.break_batch = break_bundle ? 2 : 0,
                           .break_bundle = break_bundle,
                           .fail_commit = fail_commit};
    struct test_sink t2 = t1;
    struct socialcare_report *r1 = load(one.s, csv, len, "people.csv", 1000, false, &t1);
    struct socialcare_report *r2 = load(two.s, csv, len, "people.csv", 1000, true, &t2);
    assert_same_report(r1, r2);
    assert_int_equal(t1.sunk, t2.sunk);
    /* the valid rows of batch 2 (mapped rows 1000..1999) */
    bool *in2 = calloc(n, sizeof *in2);
    size_t mapped = 0, failed = 0;
    for (size_t i = 0; i < n; i++)
        if (!people_invalid(i)) {
            in2[i] = mapped / 1000 == 1;
            failed += in2[i];
            mapped++;
        }
    assert_int_equal(failed, 1000);
    assert_int_equal(r1->rows_load_failed, failed);
    assert_int_equal(r1->rows_loaded, mapped - failed);
    size_t nfail = 0;
    for (size_t j = 0; j < r1->nerrors; j++)
        if (strncmp(r1->errors[j].reason, "load failed: ", 13) == 0) {
            size_t i = r1->errors[j].line - 2;
            assert_true(i < n && in2[i]);
            in2[i] = false; /* once */
            nfail++;
        }
    assert_int_equal(nfail, failed);
    mapped = 0;
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "P%06zu", i);
        int want = 0;
        if (!people_invalid(i))
            want = mapped++ / 1000 == 1 ? 0 : 1;
        assert_int_equal(stored_version(one.s, "Patient", id), want);
        assert_int_equal(stored_version(two.s, "Patient", id), want);
    }
    free(in2);
    if (break_bundle) {
        /* on one thread nothing after the break is prepared; on two, at most
         * the Bundles already queued or being built when it broke */
        size_t after = 10 - break_bundle;
        assert_int_equal(t1.prepared, t1.sunk - after);
        assert_true(t2.prepared <= t2.sunk);
        size_t skipped = t2.sunk - t2.prepared;
        assert_true(skipped <= after);
        assert_true(skipped + SOCIALCARE_PIPE_DEPTH + 1 >= after);
        fprintf(stderr, "store broke at Bundle %zu of 10: %zu of the %zu after it prepared\n",
                break_bundle, after - skipped, after);
    } else {
        assert_int_equal(t1.prepared, t1.sunk);
        assert_int_equal(t2.prepared, t2.sunk);
    }
    assert_string_equal(socialcare_report_status(r2), "partial");
    socialcare_report_free(r1);
    socialcare_report_free(r2);
    db_close(&one);
    db_close(&two);
    free(csv);
}

/* The second batch's commit fails: exactly its rows fail, the batches
 * before and after it are stored, as on one thread. */
static void test_commit_failure_same_as_one_thread(void **state)
{
    (void)state;
    compare_with_failure(0, 2);
}

/* The store breaks at the third Bundle of the second batch: the rest of
 * the batch is refused unprepared (the reading thread stops preparing it),
 * the batch's rows all fail, the next batch loads; as on one thread. */
static void test_store_breaks_mid_batch(void **state)
{
    (void)state;
    compare_with_failure(3, 0);
}

/* ---- edge sizes, store-less -------------------------------------------------------------- */

/* Prepared form: the Bundle's entry count, checked by the sink (the right
 * prep reaches the right Bundle). */
static void *count_prepare(void *ctx, json_t *bundle)
{
    (void)ctx;
    size_t *n = malloc(sizeof *n);
    *n = json_array_size(json_object_get(bundle, "entry"));
    return n;
}

struct fake {
    size_t commits;
    size_t fail_commit;
};

/* Refuses entries whose row is on a line divisible by 7; a Bundle whose
 * first row is on a line divisible by 501 is refused whole. */
static int fake_sink(void *ctx, json_t *bundle, struct socialcare_batch *b)
{
    (void)ctx;
    size_t n = socialcare_batch_entries(b);
    size_t *prep = socialcare_batch_prep(b);
    assert_non_null(prep);
    assert_int_equal(*prep, n);
    assert_int_equal(json_array_size(json_object_get(bundle, "entry")), n);
    if (socialcare_batch_line(b, 0) % 501 == 0)
        return WEFT_EBUSY;
    for (size_t i = 0; i < n; i++)
        if (socialcare_batch_line(b, i) % 7 == 0)
            socialcare_batch_fail(b, i, "line divisible by 7");
    return 0;
}

static int fake_commit(void *ctx)
{
    struct fake *f = ctx;
    return ++f->commits == f->fail_commit ? WEFT_EDB : 0;
}

/* n rows; every invalid_every-th row (0: none) invalid, every
 * warn_every-th (0: none) with a warning. */
static char *mixed_csv(size_t n, size_t invalid_every, size_t warn_every, size_t *len)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n");
    for (size_t i = 0; i < n; i++) {
        bool bad = invalid_every && i % invalid_every == 0;
        bool warn = warn_every && i % warn_every == 0;
        buf_addf(&b, "Q%zu,%s,Fam,Amy,%s,F,CT1 1AA\n", i, warn ? "123" : "",
                 bad ? "31/02/1950" : "1950-02-03");
    }
    if (n % 3 == 1)
        buf_addf(&b, ",,,,,,\n\n"); /* blank lines at the end */
    return buf_detach(&b, len);
}

static struct socialcare_report *run_fake(const char *csv, size_t len, size_t batch_rows,
                                          bool pipeline, size_t after, size_t fail_commit)
{
    struct fake f = {.fail_commit = fail_commit};
    struct socialcare_opts o = {.ods = ODS,
                                .feed = FEED,
                                .today = TODAY,
                                .batch_rows = batch_rows,
                                .bundle_rows = 100,
                                .commit = fake_commit,
                                .prepare = count_prepare,
                                .prep_free = free,
                                .pipeline = pipeline,
                                .pipeline_after = after};
    struct socialcare_report *rep = NULL;
    assert_int_equal(socialcare_process_mem(csv, len, "people.csv", &o, fake_sink, &f, &rep), 0);
    return rep;
}

static void same_both_ways(size_t n, size_t invalid_every, size_t warn_every, size_t batch_rows)
{
    size_t len;
    char *csv = mixed_csv(n, invalid_every, warn_every, &len);
    struct socialcare_report *one = run_fake(csv, len, batch_rows, false, 0, 2);
    const size_t afters[] = {0, 1, 150, 100000};
    for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
        struct socialcare_report *two = run_fake(csv, len, batch_rows, true, afters[i], 2);
        assert_same_report(one, two);
        socialcare_report_free(two);
    }
    assert_int_equal(one->rows_read, n);
    socialcare_report_free(one);
    free(csv);
}

static void test_edge_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 99, 100, 101, 1000, 20000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        same_both_ways(sizes[i], 0, 0, 20000);
        same_both_ways(sizes[i], 13, 17, 1000);
    }
}

static void test_all_rows_invalid(void **state)
{
    (void)state;
    size_t len;
    char *csv = mixed_csv(3000, 1, 0, &len);
    struct socialcare_report *two = run_fake(csv, len, 1000, true, 0, 0);
    assert_int_equal(two->rows_rejected, 3000);
    assert_int_equal(two->bundles, 0);
    assert_int_equal(two->nerrors, 3000);
    for (size_t i = 0; i < 3000; i++)
        assert_int_equal(two->errors[i].line, LINE(i));
    assert_string_equal(socialcare_report_status(two), "failed");
    socialcare_report_free(two);
    free(csv);
    same_both_ways(3000, 1, 0, 1000);
}

/* More issues than the report keeps, from both sides (row errors, warnings
 * and the sink's load failures): the same counts, list and truncation. */
static void test_more_issues_than_kept(void **state)
{
    (void)state;
    same_both_ways(30000, 3, 2, 1000);
    same_both_ways(12000, 1, 1, 20000);
}

/* A file error (no header, unknown kind) on the pipelined path: no thread
 * needed, the same report. */
static void test_file_errors(void **state)
{
    (void)state;
    const char *bad[] = {"", "\n\n", "a,b,c\n1,2,3\n"};
    for (size_t i = 0; i < 3; i++) {
        struct fake f = {0};
        struct socialcare_opts o = {.ods = ODS,
                                    .today = TODAY,
                                    .commit = fake_commit,
                                    .prepare = count_prepare,
                                    .prep_free = free,
                                    .pipeline = true};
        struct socialcare_report *rep = NULL;
        assert_int_equal(
            socialcare_process_mem(bad[i], strlen(bad[i]), "x.csv", &o, fake_sink, &f, &rep),
            WEFT_EPARSE);
        assert_non_null(rep->file_error);
        assert_int_equal(f.commits, 0);
        socialcare_report_free(rep);
    }
    /* prepare without prep_free: refused */
    struct socialcare_opts o = {.ods = ODS, .prepare = count_prepare, .pipeline = true};
    struct socialcare_report *rep = NULL;
    assert_int_equal(socialcare_process_mem("x", 1, "people.csv", &o, fake_sink, NULL, &rep),
                     WEFT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_sizes),
        cmocka_unit_test(test_all_rows_invalid),
        cmocka_unit_test(test_more_issues_than_kept),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_commit_failure_same_as_one_thread),
        cmocka_unit_test(test_store_breaks_mid_batch),
        cmocka_unit_test(test_multi_batch_into_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
