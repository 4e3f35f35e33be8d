/* test_load_jobs.c - weft load --jobs (fhir/load_jobs.c): the shared queue
 * of work units (each taken once, in order, none after stop), reports
 * added up in unit order whatever order the units finish in, a sender's
 * units in turn, a failure stopping the rest, and
 * fhir_load_jobs over two store handles reporting as one loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "store/store.h"

#include "unit/testdb.h"

static void test_queue_order_and_stop(void **state)
{
    (void)state;
    struct load_queue q;
    load_queue_init(&q, 3);
    int i = -1;
    for (int want = 0; want < 3; want++) {
        assert_true(load_queue_take(&q, &i));
        assert_int_equal(i, want);
    }
    assert_false(load_queue_take(&q, &i));
    load_queue_free(&q);

    load_queue_init(&q, 5);
    assert_true(load_queue_take(&q, &i));
    load_queue_stop(&q);
    assert_false(load_queue_take(&q, &i));
    assert_int_equal(i, 0);
    load_queue_free(&q);
}

#define QN 20000
struct taker {
    struct load_queue *q;
    unsigned char *seen;
    int got;
};

static void *take_all(void *arg)
{
    struct taker *t = arg;
    int i;
    while (load_queue_take(t->q, &i)) {
        t->seen[i]++;
        t->got++;
    }
    return NULL;
}

/* Four threads at once: every unit taken exactly once. */
static void test_queue_threads(void **state)
{
    (void)state;
    struct load_queue q;
    load_queue_init(&q, QN);
    unsigned char *seen = calloc(QN, 1);
    struct taker t[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        t[k] = (struct taker){.q = &q, .seen = seen};
        assert_int_equal(pthread_create(&th[k], NULL, take_all, &t[k]), 0);
    }
    int got = 0;
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        got += t[k].got;
    }
    assert_int_equal(got, QN);
    for (int i = 0; i < QN; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
    load_queue_free(&q);
}

static void reject(struct load_report *r, const char *file, long entry, const char *type)
{
    add_rejection(r, file, entry, type, "why");
}

static void test_report_merge(void **state)
{
    (void)state;
    struct load_report a, b, all;
    load_report_init(&a);
    load_report_init(&b);
    load_report_init(&all);
    type_row(&a, "Patient")->stored = 2;
    a.entries = 3;
    a.files = 1;
    reject(&a, "a.json", 1, "Observation");
    type_row(&b, "Observation")->stored = 5;
    type_row(&b, "Patient")->updated = 1;
    b.entries = 7;
    b.files = 2;
    b.persons_linked = 1;
    reject(&b, "b.json", 0, "Patient");
    reject(&b, "c.json", 4, NULL);
    load_report_merge(&all, &a);
    load_report_merge(&all, &b);
    assert_int_equal(all.entries, 10);
    assert_int_equal(all.files, 3);
    assert_int_equal(all.persons_linked, 1);
    assert_int_equal(all.rejected, 3);
    assert_int_equal(all.nrejections, 3);
    assert_string_equal(all.rejections[0].file, "a.json");
    assert_string_equal(all.rejections[1].file, "b.json");
    assert_string_equal(all.rejections[2].file, "c.json");
    assert_null(all.rejections[2].type);
    assert_int_equal(type_row(&all, "Patient")->stored, 2);
    assert_int_equal(type_row(&all, "Patient")->updated, 1);
    assert_int_equal(type_row(&all, "Patient")->rejected, 1);
    assert_int_equal(type_row(&all, "Observation")->stored, 5);
    assert_int_equal(type_row(&all, "Observation")->rejected, 1);
    /* b unchanged */
    assert_int_equal(b.nrejections, 2);
    assert_int_equal(type_row(&b, "Patient")->updated, 1);
    /* at most LOAD_MAX_REJECTIONS kept, all counted */
    struct load_report many;
    load_report_init(&many);
    for (int i = 0; i < LOAD_MAX_REJECTIONS; i++)
        reject(&many, "m.json", i, "Patient");
    load_report_merge(&all, &many);
    assert_int_equal(all.nrejections, LOAD_MAX_REJECTIONS);
    assert_int_equal(all.rejected, LOAD_MAX_REJECTIONS + 3);
    assert_string_equal(all.rejections[3].file, "m.json");
    assert_int_equal(all.rejections[LOAD_MAX_REJECTIONS - 1].entry, LOAD_MAX_REJECTIONS - 4);
    load_report_free(&many);
    load_report_free(&a);
    load_report_free(&b);
    load_report_free(&all);
}

/* A unit loader that finishes unit 0 last (it waits 300 ms), fails the unit
 * named "fail" with a store error, and notes the order units finish in. */
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static int fake_done[16], fake_ndone;

static int fake_unit(struct store *s, struct load_unit *u, const struct load_ctx *ctx,
                     load_progress_fn progress, void *arg)
{
    (void)s;
    (void)ctx;
    if (strcmp(u->name, "u0") == 0) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    u->rep.files++;
    u->rep.entries += 2;
    type_row(&u->rep, "Patient")->stored++;
    add_rejection(&u->rep, u->name, 1, "Observation", "why");
    progress(arg, &u->rep, 1, 1);
    pthread_mutex_lock(&fake_mu);
    fake_done[fake_ndone++] = u->name[1] - '0';
    pthread_mutex_unlock(&fake_mu);
    return strcmp(u->org, "FAIL1") == 0 ? WEFT_EDB : 0;
}

static long fake_progress_calls;
static void fake_progress(void *arg, const struct load_report *rep, long long done, long long total)
{
    (void)arg;
    assert_true(done <= total);
    assert_true(rep->entries >= 2);
    fake_progress_calls++;
}

static int open_two(struct store *s[2], char *path, size_t cap)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(path, cap, "%s/load-jobs-fake-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    testdb_remove(path);
    if (store_open(&s[0], path, true, NULL) != 0 || store_migrate(s[0], NULL, NULL) != 0)
        return -1;
    return store_open(&s[1], path, false, NULL);
}

/* Units finishing out of order (unit 0 last) are reported in unit order. */
static void test_jobs_report_in_unit_order(void **state)
{
    (void)state;
    struct store *s[2];
    char path[256];
    assert_int_equal(open_two(s, path, sizeof path), 0);
    struct load_unit u[4];
    const char *names[4] = {"u0", "u1", "u2", "u3"};
    const char *orgs[4] = {"AAA01", "BBB01", "CCC01", "DDD01"};
    for (int i = 0; i < 4; i++) {
        u[i] = (struct load_unit){.org = orgs[i], .name = names[i], .bytes = 1};
        load_report_init(&u[i].rep);
    }
    struct load_ctx ctx = {.org = NULL};
    struct load_report rep;
    load_report_init(&rep);
    int failed = 99;
    char msg[64];
    fake_ndone = 0;
    fake_progress_calls = 0;
    int rc = load_jobs_run(s, 2, u, 4, &ctx, &rep, fake_progress, NULL, &failed, msg, sizeof msg,
                           fake_unit);
    assert_int_equal(rc, 0);
    assert_int_equal(failed, -1);
    assert_int_equal(fake_ndone, 4);
    assert_int_not_equal(fake_done[0], 0); /* unit 0 did not finish first */
    assert_int_equal(fake_progress_calls, 4);
    assert_int_equal(rep.files, 4);
    assert_int_equal(rep.entries, 8);
    assert_int_equal(rep.nrejections, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(rep.rejections[i].file, names[i]);
        assert_int_equal(u[i].state, LOAD_UNIT_LOADED);
        load_report_free(&u[i].rep);
    }
    load_report_free(&rep);
    store_close(s[1]);
    store_close(s[0]);
    testdb_remove(path);
}

/* A sender's units in turn: unit 1 (quick) waits for unit 0 (slow, same
 * org); without the wait it finishes first.  (The waiting thread takes
 * nothing else meanwhile: another sender's unit 2 waits too.) */
static void test_jobs_same_org_in_turn(void **state)
{
    (void)state;
    struct store *s[2];
    char path[256];
    assert_int_equal(open_two(s, path, sizeof path), 0);
    struct load_unit u[3] = {
        {.org = "AAA01", .name = "u0"},
        {.org = "AAA01", .name = "u1"},
        {.org = "BBB01", .name = "u2"},
    };
    for (int i = 0; i < 3; i++)
        load_report_init(&u[i].rep);
    struct load_ctx ctx = {.org = NULL};
    struct load_report rep;
    load_report_init(&rep);
    int failed = 99;
    char msg[64];
    fake_ndone = 0;
    int rc = load_jobs_run(s, 2, u, 3, &ctx, &rep, NULL, NULL, &failed, msg, sizeof msg, fake_unit);
    assert_int_equal(rc, 0);
    assert_int_equal(fake_ndone, 3);
    assert_int_equal(fake_done[0], 0); /* unit 1, quick, waited for unit 0 */
    for (int i = 0; i < 3; i++)
        load_report_free(&u[i].rep);
    load_report_free(&rep);
    store_close(s[1]);
    store_close(s[0]);
    testdb_remove(path);
}

/* A store failure in unit 1 while unit 0 is still loading: unit 0
 * finishes, no thread takes units 2-4, the report holds units 0 and 1. */
static void test_jobs_failure_stops(void **state)
{
    (void)state;
    struct store *s[2];
    char path[256];
    assert_int_equal(open_two(s, path, sizeof path), 0);
    struct load_unit u[5];
    const char *names[5] = {"u0", "u1", "u2", "u3", "u4"};
    for (int i = 0; i < 5; i++) {
        u[i] = (struct load_unit){.org = i == 1 ? "FAIL1" : names[i], .name = names[i]};
        load_report_init(&u[i].rep);
    }
    struct load_ctx ctx = {.org = NULL};
    struct load_report rep;
    load_report_init(&rep);
    int failed = 99;
    char msg[64];
    fake_ndone = 0;
    int rc = load_jobs_run(s, 2, u, 5, &ctx, &rep, NULL, NULL, &failed, msg, sizeof msg, fake_unit);
    assert_int_equal(rc, WEFT_EDB);
    assert_int_equal(failed, 1);
    assert_int_equal(fake_ndone, 2);
    assert_int_equal(u[0].state, LOAD_UNIT_LOADED);
    assert_int_equal(u[1].state, LOAD_UNIT_FAILED);
    for (int i = 2; i < 5; i++)
        assert_int_equal(u[i].state, LOAD_UNIT_NOT_LOADED);
    assert_int_equal(rep.nrejections, 2);
    assert_string_equal(rep.rejections[0].file, "u0");
    assert_string_equal(rep.rejections[1].file, "u1");
    assert_int_equal(rep.files, 2);
    for (int i = 0; i < 5; i++)
        load_report_free(&u[i].rep);
    load_report_free(&rep);
    store_close(s[1]);
    store_close(s[0]);
    testdb_remove(path);
}

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_of(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return xstrdup(p);
}

/* A batch of n Observations of Patient pid (sent in the same bundle), the
 * last one naming a Patient nobody sent when bad. */
static void write_bundle(const char *name, const char *pid, int n, bool bad)
{
    struct buf t = BUF_INIT;
    buf_addf(&t,
             "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
             "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"%s\"},"
             "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/%s\"}}",
             pid, pid);
    for (int i = 0; i < n; i++)
        buf_addf(&t,
                 ",{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"%s-o%d\","
                 "\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                 "\"subject\":{\"reference\":\"Patient/%s\"}},"
                 "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/%s-o%d\"}}",
                 pid, i, bad && i == n - 1 ? "nobody" : pid, pid, i);
    buf_addf(&t, "]}");
    write_file(name, t.data);
    buf_release(&t);
}

/* Unit 0 is long (many files, a rejection in its last), unit 1 short (a
 * rejection): with two threads unit 1 finishes first, yet the report lists
 * unit 0's rejection first, as one loader would. */
static void test_jobs_ordered_report(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dir, sizeof dir, "%s/load-jobs-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(dir, 0700);
    char dbpath[512];
    snprintf(dbpath, sizeof dbpath, "%s/jobs.db", dir);
    const char *url = testdb_pick(dbpath);
    assert_non_null(url);
    struct store *s[2];
    assert_int_equal(store_open(&s[0], url, true, NULL), 0);
    assert_int_equal(store_migrate(s[0], NULL, NULL), 0);
    assert_int_equal(store_open(&s[1], url, false, NULL), 0);

    enum { LONG = 40 };
    char *files0[LONG], *files1[1];
    for (int i = 0; i < LONG; i++) {
        char name[64], pid[64];
        snprintf(name, sizeof name, "u0-%02d.json", i);
        snprintf(pid, sizeof pid, "p0-%02d", i);
        write_bundle(name, pid, 20, i == LONG - 1);
        files0[i] = path_of(name);
    }
    write_bundle("u1.json", "p1", 2, true);
    files1[0] = path_of("u1.json");
    struct load_unit u[2] = {
        {.org = "AAA01", .name = "u0", .files = files0, .nfiles = LONG, .bytes = 1},
        {.org = "BBB01", .name = "u1", .files = files1, .nfiles = 1, .bytes = 1},
    };
    load_report_init(&u[0].rep);
    load_report_init(&u[1].rep);
    struct load_ctx ctx = {.org = NULL};
    struct load_report rep;
    load_report_init(&rep);
    int failed = 99;
    char msg[128];
    fhir_load_bulk_begin();
    int rc = fhir_load_jobs(s, 2, u, 2, &ctx, &rep, NULL, NULL, &failed, msg, sizeof msg);
    fhir_load_bulk_end();
    assert_int_equal(rc, 0);
    assert_int_equal(failed, -1);
    assert_int_equal(u[0].state, LOAD_UNIT_LOADED);
    assert_int_equal(u[1].state, LOAD_UNIT_LOADED);
    assert_int_equal(rep.files, LONG + 1);
    assert_int_equal(rep.entries, LONG * 21 + 3);
    assert_int_equal(rep.rejected, 2);
    assert_int_equal(rep.nrejections, 2);
    assert_non_null(strstr(rep.rejections[0].file, "u0-39.json"));
    assert_int_equal(rep.rejections[0].entry, 20);
    assert_non_null(strstr(rep.rejections[1].file, "u1.json"));
    assert_int_equal(rep.rejections[1].entry, 2);
    struct load_type_count sum;
    load_report_total(&rep, &sum);
    assert_int_equal(sum.stored, LONG * 21 + 3 - 2);
    /* the types sorted, as one loader's report */
    assert_int_equal(rep.ntypes, 2);
    assert_string_equal(rep.types[0].type, "Observation");

    load_report_free(&rep);
    for (int i = 0; i < 2; i++)
        load_report_free(&u[i].rep);
    for (int i = 0; i < LONG; i++) {
        unlink(files0[i]);
        free(files0[i]);
    }
    unlink(files1[0]);
    free(files1[0]);
    store_close(s[1]);
    store_close(s[0]);
    testdb_remove(dbpath);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order_and_stop),
        cmocka_unit_test(test_queue_threads),
        cmocka_unit_test(test_report_merge),
        cmocka_unit_test(test_jobs_report_in_unit_order),
        cmocka_unit_test(test_jobs_failure_stops),
        cmocka_unit_test(test_jobs_same_org_in_turn),
        cmocka_unit_test(test_jobs_ordered_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
