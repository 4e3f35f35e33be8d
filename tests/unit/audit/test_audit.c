/* test_audit.c - the audit hash chain: synchronous and group-commit appends,
 * verification of an intact log, and detection of every kind of tampering
 * done behind Weft's back with SQLite directly (edit, delete, insert,
 * reorder, truncate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sqlite3.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/audit.h"
#include "store/store.h"
#include "store/txn.h"

static char dbpath[512];

static void fresh_db(const char *name)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/%s-%d.db", tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(dbpath);
    struct store *s = NULL;
    char *err = NULL;
    assert_int_equal(store_open(&s, dbpath, true, &err), 0);
    int from, to;
    assert_int_equal(store_migrate(s, &from, &to), 0);
    store_close(s);
}

static void append_n(int n)
{
    struct store *s = NULL;
    assert_int_equal(store_open(&s, dbpath, false, NULL), 0);
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "Observation/%d", i);
        struct audit_event ev = {.action = AUDIT_READ,
                                 .outcome = AUDIT_OK,
                                 .user_id = "u1",
                                 .role = "R8000",
                                 .org = "RVV",
                                 .person_id = "p1",
                                 .what = what,
                                 .count = 1};
        int64_t seq;
        assert_int_equal(audit_append(s, &ev, &seq), 0);
        assert_int_equal(seq, i + 1);
    }
    assert_int_equal(store_commit(s), 0);
    store_close(s);
}

static int verify(struct audit_verify_result *r)
{
    return audit_verify(dbpath, 2, r);
}

static void raw_sql(const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("sql failed: %s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

static int raw_sql_rc(const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void test_intact_and_canonical(void **state)
{
    (void)state;
    fresh_db("intact");
    struct audit_verify_result r;
    assert_int_equal(verify(&r), 0); /* empty log is intact */
    assert_int_equal(r.entries, 0);
    append_n(100);
    assert_int_equal(verify(&r), 0);
    assert_int_equal(r.entries, 100);
    assert_int_equal(audit_verify(dbpath, 5, &r), 0);
    assert_int_equal(r.entries, 100);
    /* NULL and "" differ; field boundaries are unambiguous */
    struct store_audit_row a = {.seq = 1,
                                .time = "t",
                                .action = "read",
                                .outcome = "success",
                                .user_id = "ab",
                                .role = "c"};
    struct store_audit_row b = a;
    b.user_id = "a";
    b.role = "bc";
    struct buf ca = BUF_INIT, cb = BUF_INIT;
    audit_row_canonical(&a, &ca);
    audit_row_canonical(&b, &cb);
    assert_string_not_equal(ca.data, cb.data);
    b = a;
    b.role = "";
    struct buf cc = BUF_INIT;
    audit_row_canonical(&b, &cc);
    a.role = NULL;
    buf_reset(&ca);
    audit_row_canonical(&a, &ca);
    assert_string_not_equal(ca.data, cc.data);
    buf_release(&ca);
    buf_release(&cb);
    buf_release(&cc);
}

static void test_append_only_triggers(void **state)
{
    (void)state;
    fresh_db("triggers");
    append_n(3);
    assert_int_not_equal(raw_sql_rc("UPDATE audit_entry SET user_id = 'x' WHERE seq = 2"),
                         SQLITE_OK);
    assert_int_not_equal(raw_sql_rc("DELETE FROM audit_entry WHERE seq = 2"), SQLITE_OK);
}

static void untrigger(void)
{
    raw_sql("DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete;");
}

struct tamper_case {
    const char *name;
    const char *sql;
    int64_t bad_seq;
    const char *phrase;
};

static void test_tampering_detected(void **state)
{
    (void)state;
    const struct tamper_case cases[] = {
        {"edit", "UPDATE audit_entry SET person_id = 'p2' WHERE seq = 7", 7, "changed"},
        {"edit-count", "UPDATE audit_entry SET count = 99 WHERE seq = 15", 15, "changed"},
        {"delete", "DELETE FROM audit_entry WHERE seq = 12", 12, "missing"},
        {"delete-first", "DELETE FROM audit_entry WHERE seq = 1", 1, "missing"},
        {"truncate", "DELETE FROM audit_entry WHERE seq >= 18", 18, "truncated"},
        {"insert-end",
         "INSERT INTO audit_entry SELECT 21, time, action, outcome, user_id, user_name, role, org,"
         " launcher, client, purpose, person_id, session_id, request_id, what, count, reason,"
         " hash, hash FROM audit_entry WHERE seq = 20",
         21, "entry 21"},
        {"insert-middle",
         "UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= 10;"
         "UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1000;"
         "INSERT INTO audit_entry SELECT 10, time, action, outcome, user_id, user_name, role, org,"
         " launcher, client, purpose, 'p9', session_id, request_id, what, count, reason,"
         " prev, hash FROM audit_entry WHERE seq = 9",
         10, ""},
        {"reorder",
         "UPDATE audit_entry SET seq = -1 WHERE seq = 5;"
         "UPDATE audit_entry SET seq = 5 WHERE seq = 6;"
         "UPDATE audit_entry SET seq = 6 WHERE seq = -1",
         5, ""},
        {"head", "UPDATE audit_head SET rows = 19", 20, "appended"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fresh_db(cases[i].name);
        append_n(20);
        struct audit_verify_result r;
        assert_int_equal(verify(&r), 0);
        untrigger();
        raw_sql(cases[i].sql);
        int rc = verify(&r);
        if (rc != WEFT_ECONFLICT)
            fail_msg("%s: verify returned %d (%s)", cases[i].name, rc, r.problem);
        if (r.bad_seq != cases[i].bad_seq)
            fail_msg("%s: bad_seq %lld, want %lld (%s)", cases[i].name, (long long)r.bad_seq,
                     (long long)cases[i].bad_seq, r.problem);
        if (!strstr(r.problem, cases[i].phrase))
            fail_msg("%s: problem '%s' lacks '%s'", cases[i].name, r.problem, cases[i].phrase);
    }
}

/* A forger who knows the algorithm appends a correctly chained entry with
 * SQLite directly: the chain itself is intact, the recorded head is not. */
static void test_forged_append_beyond_head(void **state)
{
    (void)state;
    fresh_db("forged");
    append_n(4);
    struct store *s = NULL;
    assert_int_equal(store_open(&s, dbpath, false, NULL), 0);
    int64_t seq, rows;
    unsigned char head[32];
    assert_int_equal(store_audit_head(s, &seq, head, &rows), 0);
    store_close(s);
    struct store_audit_row r = {.seq = 5,
                                .time = "2026-01-01T00:00:00.000Z",
                                .action = "read",
                                .outcome = "success",
                                .user_id = "forger",
                                .count = 0};
    memcpy(r.prev, head, 32);
    audit_row_hash(&r, head, r.hash);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO audit_entry (seq, time, action, outcome,"
                                        " user_id, count, prev, hash) VALUES (5, ?, 'read',"
                                        " 'success', 'forger', 0, ?, ?)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, r.time, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r.prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, r.hash, 32, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct audit_verify_result res;
    assert_int_equal(verify(&res), WEFT_ECONFLICT);
    assert_int_equal(res.bad_seq, 5);
    assert_non_null(strstr(res.problem, "outside Weft"));
}

struct appender {
    struct audit_log *log;
    int n;
    int id;
};

static void *append_thread(void *arg)
{
    struct appender *a = arg;
    char user[32];
    snprintf(user, sizeof user, "user%d", a->id);
    for (int i = 0; i < a->n; i++) {
        struct audit_event ev = {.action = AUDIT_SEARCH,
                                 .outcome = AUDIT_OK,
                                 .user_id = user,
                                 .person_id = "p1",
                                 .count = i};
        if (audit_log_append(a->log, &ev, i % 100 == 0) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    (void)state;
    fresh_db("group");
    append_n(5); /* synchronous entries first: the writer must chain after them */
    struct audit_log *log = NULL;
    assert_int_equal(audit_log_open(&log, dbpath), 0);
    pthread_t th[4];
    struct appender ap[4];
    for (int i = 0; i < 4; i++) {
        ap[i] = (struct appender){log, 2500, i};
        assert_int_equal(pthread_create(&th[i], NULL, append_thread, &ap[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(audit_log_flush(log), 0);
    /* a synchronous append interleaved with the writer keeps one chain */
    append_n(0);
    struct audit_event ev = {.action = AUDIT_ADMIN, .outcome = AUDIT_OK, .client = "cli"};
    assert_int_equal(audit_log_append(log, &ev, true), 0);
    audit_log_close(log);
    struct audit_verify_result r;
    assert_int_equal(verify(&r), 0);
    assert_int_equal(r.entries, 5 + 10000 + 1);
    /* search newest first */
    struct store *s = NULL;
    assert_int_equal(store_open(&s, dbpath, false, NULL), 0);
    int64_t seq, rows;
    unsigned char h[32];
    assert_int_equal(store_audit_head(s, &seq, h, &rows), 0);
    assert_int_equal(seq, 10006);
    assert_int_equal(rows, 10006);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_and_canonical),
        cmocka_unit_test(test_append_only_triggers),
        cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_forged_append_beyond_head),
        cmocka_unit_test(test_group_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
