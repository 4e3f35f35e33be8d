/* test_registry.c - the feed registry (feeds/registry.h) against the SQLite
 * store: validation of every kind, credentials (fhir token usable as an API
 * client, stored only as a hash), drop folders created, name and facility
 * uniqueness, counters and status JSON, agreements in status. */
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

#include <sodium.h>

#include "core/err.h"
#include "feeds/registry.h"
#include "store/access.h"
#include "store/feeds.h"
#include "store/store.h"

static char dir[256], dbpath[300];

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dir, sizeof dir, "%s/registry-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(dir, 0700);
    snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
    unlink(dbpath);
    struct store *s;
    char *err = NULL;
    if (store_open(&s, dbpath, true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return -1;
    }
    if (store_migrate(s, NULL, NULL) != 0 || store_org_put(s, "RVV", "East Kent", "acute") != 0 ||
        store_org_put(s, "KENTCC", "Kent CC", "social-care") != 0 ||
        store_agreement_add(s, "RVV", "jca", "2020-01-01", NULL, NULL) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_hl7_feed(void **state)
{
    struct store *s = *state;
    char err[256];
    int64_t id = 0;
    char *tok = (char *)"unset";
    struct feed_spec sp = {.org = "RVV", .kind = "hl7v2", .facility = "RVV01"};
    assert_int_equal(feed_registry_add(s, &sp, &id, &tok, err, sizeof err), 0);
    assert_null(tok); /* no token for hl7v2 */
    assert_true(id > 0);
    struct store_feed f;
    assert_int_equal(store_feed_get(s, id, &f), 0);
    assert_string_equal(f.name, "rvv-hl7v2"); /* default name */
    assert_string_equal(f.facility, "RVV01");
    assert_null(f.folder);
    store_feed_clear(&f);
    assert_int_equal(store_feed_by_facility(s, "RVV01", &f), 0);
    assert_int_equal(f.id, id);
    store_feed_clear(&f);
    assert_int_equal(store_feed_by_facility(s, "rvv01", &f), WEFT_ENOTFOUND);

    /* the same facility again, even under another name, is refused */
    struct feed_spec again = {.org = "RVV", .kind = "hl7v2", .name = "other", .facility = "RVV01"};
    assert_int_equal(feed_registry_add(s, &again, NULL, NULL, err, sizeof err), WEFT_EEXIST);
    assert_non_null(strstr(err, "RVV01"));
    /* the same name again */
    struct feed_spec dup = {.org = "RVV", .kind = "hl7v2", .facility = "RVV02"};
    assert_int_equal(feed_registry_add(s, &dup, NULL, NULL, err, sizeof err), WEFT_EEXIST);
}

static void test_validation(void **state)
{
    struct store *s = *state;
    char err[256];
    struct feed_spec bad[] = {
        {.org = "RVV", .kind = "hl7v2"},                    /* no facility */
        {.org = "RVV", .kind = "hl7v2", .facility = "A|B"}, /* delimiter */
        {.org = "RVV", .kind = "smtp"},                     /* kind */
        {.org = "rvv", .kind = "fhir"},                     /* ODS */
        {.org = "RVV", .kind = "csv"},                      /* no folder */
        {.org = "RVV", .kind = "fhir", .folder = "/tmp/x"}, /* folder on fhir */
        {.org = "RVV", .kind = "fhir", .name = "Bad Name"}, /* name */
        {.org = "RVV", .kind = "hl7v2", .facility = "F", .from_address = "host name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(feed_registry_add(s, &bad[i], NULL, NULL, err, sizeof err), WEFT_EINVAL);
        assert_true(strlen(err) > 10);
    }
    struct feed_spec unknown = {.org = "ZZZ99", .kind = "fhir"};
    assert_int_equal(feed_registry_add(s, &unknown, NULL, NULL, err, sizeof err), WEFT_ENOTFOUND);
    assert_non_null(strstr(err, "weft org add"));
    struct store_feed *fs;
    int n;
    assert_int_equal(store_feed_list(s, &fs, &n), 0);
    assert_int_equal(n, 0); /* nothing half-registered */
    free(fs);
    assert_true(feed_name_valid("kent-sc.1"));
    assert_false(feed_name_valid("-x"));
    assert_false(feed_name_valid(""));
}

static void test_fhir_feed_token(void **state)
{
    struct store *s = *state;
    char err[256];
    int64_t id;
    char *tok = NULL;
    struct feed_spec sp = {.org = "RVV", .kind = "fhir", .name = "rvv-gp"};
    assert_int_equal(feed_registry_add(s, &sp, &id, &tok, err, sizeof err), 0);
    assert_non_null(tok);
    assert_true(strlen(tok) >= 40);
    /* the token works as an API client bound to the org with write scope ... */
    unsigned char d[32];
    char hex[65];
    crypto_hash_sha256(d, (const unsigned char *)tok, strlen(tok));
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    struct store_client c;
    assert_int_equal(store_client_by_hash(s, hex, &c), 0);
    assert_string_equal(c.org, "RVV");
    assert_string_equal(c.name, "feed:rvv-gp");
    assert_non_null(strstr(c.scopes, "system/*.cud"));
    assert_null(strstr(c.scopes, ".rs")); /* write only */
    /* ... and the feed finds it, storing only the hash */
    struct store_feed f;
    assert_int_equal(store_feed_by_client(s, c.id, &f), 0);
    assert_int_equal(f.id, id);
    assert_string_equal(f.token_hash, hex);
    assert_null(strstr(f.token_hash, tok));
    store_feed_clear(&f);
    store_client_clear(&c);
    free(tok);
}

static void test_csv_folder(void **state)
{
    struct store *s = *state;
    char err[256], folder[400], sub[450];
    snprintf(folder, sizeof folder, "%s/drops/kent", dir);
    struct feed_spec sp = {.org = "KENTCC", .kind = "csv", .folder = folder};
    int64_t id;
    assert_int_equal(feed_registry_add(s, &sp, &id, NULL, err, sizeof err), 0);
    struct stat st;
    snprintf(sub, sizeof sub, "%s/done", folder);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(sub, sizeof sub, "%s/failed", folder);
    assert_int_equal(stat(sub, &st), 0);
    struct store_feed f;
    assert_int_equal(store_feed_by_name(s, "kentcc-csv", &f), 0);
    assert_true(f.folder[0] == '/'); /* absolute */
    store_feed_clear(&f);
}

static void test_counters_and_status(void **state)
{
    struct store *s = *state;
    char err[256];
    int64_t rvv, kent;
    struct feed_spec a = {.org = "RVV", .kind = "hl7v2", .facility = "RVV01"};
    struct feed_spec b = {.org = "KENTCC", .kind = "fhir"};
    assert_int_equal(feed_registry_add(s, &a, &rvv, NULL, err, sizeof err), 0);
    char *tok = NULL;
    assert_int_equal(feed_registry_add(s, &b, &kent, &tok, err, sizeof err), 0);
    free(tok);
    time_t now = time(NULL);
    char day[11], yday[11];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    time_t y = now - 86400;
    gmtime_r(&y, &tm);
    strftime(yday, sizeof yday, "%Y-%m-%d", &tm);
    struct store_feed_counts c1 = {.received = 10,
                                   .applied = 7,
                                   .rejected = 2,
                                   .duplicate = 1,
                                   .lag_n = 4,
                                   .lag_sum_ms = 4000,
                                   .lag_max_ms = 2500,
                                   .lag_recent_n = 2,
                                   .lag_recent_sum_ms = 1000,
                                   .lag_recent_max_ms = 600};
    struct store_feed_counts c2 = {
        .received = 5, .applied = 5, .lag_n = 1, .lag_sum_ms = 9000, .lag_max_ms = 9000};
    assert_int_equal(store_feed_count(s, rvv, yday, &c2, "2020-01-01T00:00:00.000Z", NULL), 0);
    assert_int_equal(store_feed_count(s, rvv, day, &c1, "2030-01-01T00:00:00.000Z",
                                      "message type ZZZ^Z01 is not accepted"),
                     0);
    /* an older arrival never moves last_received back */
    assert_int_equal(store_feed_count(s, rvv, day, &c1, "2021-01-01T00:00:00.000Z", NULL), 0);
    struct store_feed_counts today, total;
    assert_int_equal(store_feed_counts_get(s, rvv, day, &today, &total), 0);
    assert_int_equal(today.applied, 14);
    assert_int_equal(today.rejected, 4);
    assert_int_equal(today.duplicate, 2);
    assert_int_equal(total.received, 25);
    assert_int_equal(total.applied, 19);
    assert_int_equal(total.lag_max_ms, 9000);
    assert_int_equal(today.lag_recent_n, 4);
    assert_int_equal(total.lag_recent_sum_ms, 2000);
    assert_int_equal(total.lag_recent_max_ms, 600);

    json_t *st = NULL;
    assert_int_equal(feed_registry_status_all(s, now, &st), 0);
    json_t *feeds = json_object_get(st, "feeds");
    assert_int_equal(json_array_size(feeds), 2);
    json_t *kj = json_array_get(feeds, 0), *rj = json_array_get(feeds, 1);
    assert_string_equal(json_string_value(json_object_get(kj, "name")), "kentcc-fhir");
    assert_false(json_is_true(json_object_get(kj, "agreement_in_force"))); /* none for KENTCC */
    assert_true(json_is_null(json_object_get(kj, "last_received")));
    assert_true(json_is_true(json_object_get(rj, "agreement_in_force")));
    assert_string_equal(json_string_value(json_object_get(rj, "last_received")),
                        "2030-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(rj, "last_error")),
                        "message type ZZZ^Z01 is not accepted");
    json_t *td = json_object_get(rj, "today");
    assert_int_equal(json_integer_value(json_object_get(td, "applied")), 14);
    assert_int_equal(json_integer_value(json_object_get(td, "lag_mean_ms")), 1000);
    assert_int_equal(json_integer_value(json_object_get(td, "lag_events")), 8);
    assert_int_equal(json_integer_value(json_object_get(td, "lag_recent_events")), 4);
    assert_int_equal(json_integer_value(json_object_get(td, "lag_recent_mean_ms")), 500);
    assert_int_equal(json_integer_value(json_object_get(td, "lag_recent_max_ms")), 600);
    json_t *tt = json_object_get(rj, "total");
    assert_int_equal(json_integer_value(json_object_get(tt, "received")), 25);
    assert_int_equal(json_integer_value(json_object_get(tt, "lag_mean_ms")), 17000 / 9);
    /* yesterday's event was not recent: the recent figure is today's only */
    assert_int_equal(json_integer_value(json_object_get(tt, "lag_recent_events")), 4);
    assert_true(json_is_null(json_object_get(json_object_get(kj, "total"), "lag_recent_mean_ms")));
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hl7_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fhir_feed_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_and_status, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
