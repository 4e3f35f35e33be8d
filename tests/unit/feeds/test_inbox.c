/* test_inbox.c - the inbound message store: bytes kept verbatim (also
 * non-UTF-8), filters (feed, outcome, since, paging), outcomes and attempts,
 * de-duplication claims, savepoints, and the helpers of feeds/inbox.h
 * (--since parsing, lag, JSON rendering). */
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

#include "core/err.h"
#include "feeds/inbox.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static char dbpath[256];

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/inbox-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    struct store *s;
    char *err = NULL;
    if (store_open(&s, dbpath, true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return -1;
    }
    if (store_migrate(s, NULL, NULL) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    testdb_remove(dbpath);
    return 0;
}

static int64_t add(struct store *s, int64_t feed, const char *arrived, const char *ctrl,
                   const char *body, size_t len)
{
    struct store_inbox_msg m = {.feed_id = feed,
                                .kind = "hl7v2",
                                .arrived = (char *)arrived,
                                .sender = "RVV01",
                                .control_id = (char *)ctrl,
                                .msg_type = "ADT^A01",
                                .body = (char *)body,
                                .body_len = len};
    int64_t id = 0;
    assert_int_equal(store_inbox_add(s, &m, &id), 0);
    return id;
}

static void test_verbatim(void **state)
{
    struct store *s = *state;
    /* Latin-1 byte, CR segment ends, an embedded NUL: all kept */
    static const char body[] = "MSH|^~\\&|A|RVV01|||2026||ADT^A01|1|P|2.4\rPID|1||X\xe9\0Z\r";
    size_t len = sizeof body - 1;
    int64_t id = add(s, 1, NULL, "1", body, len);
    struct store_inbox_msg m;
    assert_int_equal(store_inbox_get(s, id, true, &m), 0);
    assert_int_equal(m.body_len, len);
    assert_memory_equal(m.body, body, len);
    assert_string_equal(m.outcome, INBOX_PENDING);
    assert_int_equal(m.attempts, 0);
    assert_non_null(m.arrived); /* defaulted to now */
    json_t *j = inbox_msg_json(&m, "rvv");
    assert_null(json_object_get(j, "body")); /* not UTF-8: base64 */
    assert_non_null(json_string_value(json_object_get(j, "body_base64")));
    assert_string_equal(json_string_value(json_object_get(j, "feed")), "rvv");
    json_decref(j);
    store_inbox_msg_clear(&m);
    /* without the body */
    assert_int_equal(store_inbox_get(s, id, false, &m), 0);
    assert_null(m.body);
    store_inbox_msg_clear(&m);
    assert_int_equal(store_inbox_get(s, id + 100, false, &m), WEFT_ENOTFOUND);
}

static void test_outcome_and_filters(void **state)
{
    struct store *s = *state;
    int64_t a = add(s, 1, "2026-11-20T10:00:00.000Z", "a", "x", 1);
    int64_t b = add(s, 1, "2026-11-22T10:00:00.000Z", "b", "y", 1);
    int64_t c = add(s, 2, "2026-11-23T10:00:00.000Z", "c", "z", 1);
    int64_t d = add(s, 1, "2026-11-24T10:00:00.000Z", "d", "w", 1);
    assert_int_equal(store_inbox_set_outcome(s, a, INBOX_APPLIED, NULL, 3, 0, true), 0);
    assert_int_equal(store_inbox_set_outcome(s, b, INBOX_REJECTED, "bad PID-3", 0, 0, true), 0);
    assert_int_equal(store_inbox_set_outcome(s, d, INBOX_REJECTED, "bad PV1", 0, 0, true), 0);
    assert_int_equal(store_inbox_set_outcome(s, d, INBOX_REJECTED, "still bad", 0, 0, true), 0);
    assert_int_equal(store_inbox_set_outcome(s, 9999, INBOX_APPLIED, NULL, 0, 0, true),
                     WEFT_ENOTFOUND);

    struct store_inbox_msg *ms;
    int n;
    struct store_inbox_filter f = {.feed_id = 1, .outcome = INBOX_REJECTED};
    assert_int_equal(store_inbox_list(s, &f, &ms, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms[0].id, b);
    assert_int_equal(ms[1].id, d);
    assert_string_equal(ms[1].error, "still bad");
    assert_int_equal(ms[1].attempts, 2);
    store_inbox_msgs_free(ms, n);

    struct store_inbox_filter g = {.feed_id = 1, .since = "2026-11-22"};
    assert_int_equal(store_inbox_list(s, &g, &ms, &n), 0);
    assert_int_equal(n, 2); /* b, d: a is older, c another feed */
    store_inbox_msgs_free(ms, n);

    struct store_inbox_filter all = {.limit = 2};
    assert_int_equal(store_inbox_list(s, &all, &ms, &n), 0);
    assert_int_equal(n, 2);
    all.after_id = ms[1].id;
    store_inbox_msgs_free(ms, n);
    assert_int_equal(store_inbox_list(s, &all, &ms, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms[0].id, c);
    store_inbox_msgs_free(ms, n);

    int64_t counts[5];
    assert_int_equal(store_inbox_outcomes(s, 1, counts), 0);
    assert_int_equal(counts[0], 0); /* pending */
    assert_int_equal(counts[1], 1); /* applied */
    assert_int_equal(counts[2], 2); /* rejected */
    assert_int_equal(store_inbox_outcomes(s, 0, counts), 0);
    assert_int_equal(counts[0], 1); /* c */
}

static void test_claims_and_savepoints(void **state)
{
    struct store *s = *state;
    int64_t a = add(s, 1, NULL, "MSG1", "x", 1);
    int64_t b = add(s, 1, NULL, "MSG1", "x", 1);
    int64_t first = 0;
    assert_int_equal(store_inbox_claim(s, 1, "MSG1", a, &first), 0);
    assert_int_equal(first, a);
    assert_int_equal(store_inbox_claim(s, 1, "MSG1", b, &first), WEFT_EEXIST);
    assert_int_equal(first, a);
    /* the same control id from another feed (facility) is another message */
    assert_int_equal(store_inbox_claim(s, 2, "MSG1", b, &first), 0);

    /* a claim inside a savepoint that is rolled back is gone */
    assert_int_equal(store_savepoint(s, "x"), WEFT_EINVAL); /* outside a transaction */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_savepoint(s, "m1"), 0);
    assert_int_equal(store_inbox_claim(s, 1, "MSG2", b, &first), 0);
    assert_int_equal(store_rollback_to(s, "m1"), 0);
    assert_int_equal(store_release(s, "m1"), 0);
    assert_int_equal(store_savepoint(s, "m2"), 0);
    assert_int_equal(store_inbox_claim(s, 1, "MSG3", b, &first), 0);
    assert_int_equal(store_release(s, "m2"), 0);
    assert_int_equal(store_savepoint(s, "Bad;Name"), WEFT_EINVAL);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_inbox_claim(s, 1, "MSG2", a, &first), 0); /* free again */
    assert_int_equal(store_inbox_claim(s, 1, "MSG3", a, &first), WEFT_EEXIST);
    assert_int_equal(first, b);
}

static void test_since(void **state)
{
    (void)state;
    char out[32];
    time_t now = 1795559552; /* 2026-11-24T...Z */
    assert_int_equal(inbox_parse_since("2026-11-24", now, out), 0);
    assert_string_equal(out, "2026-11-24");
    assert_int_equal(inbox_parse_since("2026-11-24T22:00", now, out), 0);
    assert_string_equal(out, "2026-11-24T22:00");
    assert_int_equal(inbox_parse_since("2026-11-24T22:00:05Z", now, out), 0);
    assert_string_equal(out, "2026-11-24T22:00:05");
    assert_int_equal(inbox_parse_since("2h", now, out), 0);
    struct tm tm;
    time_t t = now - 7200;
    gmtime_r(&t, &tm);
    char want[32];
    strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    assert_string_equal(out, want);
    assert_int_equal(inbox_parse_since("7d", now, out), 0);
    const char *bad[] = {"",   "yesterday", "2026-1-2",     "2026-11-24 22:00",
                         "5y", "h",         "2026-11-24T2", "2026-11-24T22:00:0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(inbox_parse_since(bad[i], now, out), WEFT_EINVAL);
    assert_true(inbox_outcome_valid("rejected"));
    assert_false(inbox_outcome_valid("failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_and_savepoints, setup, teardown),
        cmocka_unit_test(test_since),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
