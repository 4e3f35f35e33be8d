/* test_vfs.c - the "weft" VFS (src/store/sqlite/sqlite_vfs.c), which gathers
 * write-ahead-log writes into large writes: a second connection sees every
 * commit whole, and a process killed after a commit - with or without an
 * fsync at commit - leaves every committed transaction in the file. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_vfs.h"

#include "unit/testdb.h"

static char dbpath[256];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/vfs-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    testdb_remove(dbpath);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testdb_remove(dbpath);
    return 0;
}

static sqlite3 *open_db(const char *sync)
{
    sqlite3 *db = NULL;
    assert_non_null(sqlite_vfs_name());
    assert_int_equal(
        sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, sqlite_vfs_name()),
        SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA busy_timeout=5000;"
             " CREATE TABLE IF NOT EXISTS t (txn INTEGER, k INTEGER, v BLOB)",
             sync);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

/* One transaction of rows rows of 1 KiB (more than the 128 KiB the VFS
 * gathers, so its buffer is written out mid-transaction too). */
static void write_txn(sqlite3 *db, int txn, int rows)
{
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO t (txn, k, v) VALUES (?, ?, ?)", -1, &st, NULL),
        SQLITE_OK);
    unsigned char v[1024];
    for (int k = 0; k < rows; k++) {
        memset(v, (txn * 31 + k) & 0xff, sizeof v);
        sqlite3_bind_int(st, 1, txn);
        sqlite3_bind_int(st, 2, k);
        sqlite3_bind_blob(st, 3, v, sizeof v, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void assert_intact(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* Every row's bytes are what its transaction wrote. */
static void assert_rows(sqlite3 *db, int txns, int rows)
{
    assert_int_equal(one_int(db, "SELECT count(*) FROM t"), (int64_t)txns * rows);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT txn, k, v FROM t", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int txn = sqlite3_column_int(st, 0), k = sqlite3_column_int(st, 1);
        const unsigned char *v = sqlite3_column_blob(st, 2);
        assert_int_equal(sqlite3_column_bytes(st, 2), 1024);
        for (int i = 0; i < 1024; i++)
            assert_int_equal(v[i], (txn * 31 + k) & 0xff);
    }
    sqlite3_finalize(st);
}

static void test_vfs_in_use(void **state)
{
    (void)state;
    sqlite3 *db = open_db("FULL");
    char *name = NULL;
    assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &name), SQLITE_OK);
    assert_non_null(name);
    assert_string_equal(name, "weft/unix");
    sqlite3_free(name);
    sqlite3_close(db);
}

/* A reader on another connection sees each commit whole, at once. */
static void test_reader_sees_every_commit(void **state)
{
    (void)state;
    sqlite3 *w = open_db("NORMAL"), *r = open_db("NORMAL");
    for (int txn = 1; txn <= 40; txn++) {
        write_txn(w, txn, txn % 2 ? 300 : 3);
        int64_t want = 0;
        for (int t = 1; t <= txn; t++)
            want += t % 2 ? 300 : 3;
        assert_int_equal(one_int(r, "SELECT count(*) FROM t"), want);
        assert_int_equal(one_int(r, "SELECT max(txn) FROM t"), txn);
    }
    assert_intact(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A child commits, reports each commit on a pipe, then is killed in the
 * middle of the next transaction; every reported commit is in the file. */
static void crash_after_commits(const char *sync)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sqlite3 *db = open_db(sync);
        for (int txn = 1; txn <= 12; txn++) {
            write_txn(db, txn, 200);
            char c = 1;
            if (write(fds[1], &c, 1) != 1)
                _exit(3);
        }
        /* a transaction in flight: its frames partly written, partly held */
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_exec(db, "INSERT INTO t (txn, k, v) VALUES (99, 0, zeroblob(1024))", NULL, NULL,
                     NULL);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    close(fds[1]);
    int commits = 0;
    char c;
    while (read(fds[0], &c, 1) == 1)
        commits++;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(commits, 12);
    sqlite3 *db = open_db(sync);
    assert_rows(db, 12, 200);
    assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE txn = 99"), 0);
    assert_intact(db);
    sqlite3_close(db);
}

static void test_crash_full(void **state)
{
    (void)state;
    crash_after_commits("FULL");
}

/* synchronous=NORMAL: no fsync at commit, so only the write-out before the
 * wal-index header is published keeps the last commits */
static void test_crash_normal(void **state)
{
    (void)state;
    crash_after_commits("NORMAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vfs_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_sees_every_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_normal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
