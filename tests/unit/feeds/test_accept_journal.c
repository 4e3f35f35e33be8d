/* test_accept_journal.c - the accept journal of enhanced mode: records read
 * back in order with every field; a torn last record (a crash mid-write,
 * cut at every byte of it, or a flipped byte) dropped at open and never
 * read; sequence numbers continuing across reopen, rotation and pruning;
 * one writer per directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/accept_journal.h"

static char *tmpdir(void)
{
    const char *base = getenv("WEFT_TMP") ? getenv("WEFT_TMP") : "/tmp";
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s/ajXXXXXX", base);
    char *d = buf_detach(&b, NULL);
    assert_non_null(mkdtemp(d));
    struct buf j = BUF_INIT;
    buf_addf(&j, "%s/j", d);
    free(d);
    return buf_detach(&j, NULL);
}

static void append_n(struct accept_journal *j, int from, int n)
{
    struct accept_rec *r = calloc((size_t)n, sizeof *r);
    char(*bodies)[64] = calloc((size_t)n, 64);
    char(*ctl)[16] = calloc((size_t)n, 16);
    for (int i = 0; i < n; i++) {
        snprintf(bodies[i], 64, "MSH|^~\\&|PAS|RVV|||||ADT^A01|C%d|P|2.5\r", from + i);
        snprintf(ctl[i], 16, "C%d", from + i);
        r[i] = (struct accept_rec){.feed_id = 7,
                                   .arrived = "2026-12-06T10:00:00.000Z",
                                   .peer = "127.0.0.1:5000",
                                   .facility = "RVV",
                                   .control = ctl[i],
                                   .mtype = "ADT^A01",
                                   .body = bodies[i],
                                   .body_len = strlen(bodies[i])};
    }
    assert_int_equal(accept_journal_append(j, r, (size_t)n), 0);
    assert_int_equal(r[0].seq + (uint64_t)n - 1, r[n - 1].seq);
    free(r);
    free(bodies);
    free(ctl);
}

/* Records of dir after after_seq: their count, checking they are in order
 * and whole. */
static int read_all(const char *dir, uint64_t after, uint64_t *last)
{
    struct accept_cursor *c = NULL;
    assert_int_equal(accept_cursor_open(&c, dir, after), 0);
    struct accept_rec r;
    int n = 0, rc;
    uint64_t prev = after;
    while ((rc = accept_cursor_next(c, UINT64_MAX, &r)) == 1) {
        assert_true(r.seq > prev);
        prev = r.seq;
        char want[16];
        snprintf(want, sizeof want, "|%s|", r.control);
        assert_non_null(strstr(r.body, want) ? r.body : NULL);
        assert_int_equal(r.feed_id, 7);
        assert_string_equal(r.facility, "RVV");
        assert_string_equal(r.mtype, "ADT^A01");
        assert_string_equal(r.peer, "127.0.0.1:5000");
        n++;
    }
    assert_int_equal(rc, 0);
    accept_cursor_close(c);
    if (last)
        *last = prev;
    return n;
}

static char *seg_file(const char *dir)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s/seg-%020d.waj", dir, 1);
    return buf_detach(&b, NULL);
}

static void test_roundtrip_and_reopen(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct accept_journal *j = NULL;
    char *err = NULL;
    int64_t dropped = -1;
    assert_int_equal(accept_journal_open(&j, dir, 0, &dropped, &err), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(strlen(accept_journal_id(j)), 32);
    char id[33];
    snprintf(id, sizeof id, "%s", accept_journal_id(j));
    append_n(j, 0, 10);
    append_n(j, 10, 5);
    /* a second writer on the same directory is refused */
    struct accept_journal *j2 = NULL;
    assert_int_equal(accept_journal_open(&j2, dir, 0, NULL, &err), WEFT_EBUSY);
    assert_non_null(strstr(err, "in use"));
    free(err);
    err = NULL;
    uint64_t last = 0;
    assert_int_equal(read_all(dir, 0, &last), 15);
    assert_int_equal(last, 15);
    assert_int_equal(read_all(dir, 12, NULL), 3);
    accept_journal_close(j);
    /* reopened: same id, numbers go on; min_next_seq wins when higher */
    assert_int_equal(accept_journal_open(&j, dir, 0, &dropped, &err), 0);
    assert_string_equal(accept_journal_id(j), id);
    assert_int_equal(accept_journal_next_seq(j), 16);
    accept_journal_close(j);
    assert_int_equal(accept_journal_open(&j, dir, 100, &dropped, &err), 0);
    assert_int_equal(accept_journal_next_seq(j), 100);
    append_n(j, 15, 1);
    accept_journal_close(j);
    assert_int_equal(read_all(dir, 0, &last), 16);
    assert_int_equal(last, 100);
    char rid[33];
    assert_int_equal(accept_journal_read_id(dir, rid), 0);
    assert_string_equal(rid, id);
    free(dir);
}

/* A crash mid-write: the last record cut at every length, or a byte of it
 * changed; open drops exactly it, the rest reads back, and the next append
 * follows the last whole record. */
static void test_torn_tail(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct accept_journal *j = NULL;
    char *err = NULL;
    assert_int_equal(accept_journal_open(&j, dir, 0, NULL, &err), 0);
    append_n(j, 0, 3);
    accept_journal_close(j);
    char *seg = seg_file(dir);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    off_t whole3 = st.st_size;
    assert_int_equal(accept_journal_open(&j, dir, 0, NULL, &err), 0);
    append_n(j, 3, 1);
    accept_journal_close(j);
    assert_int_equal(stat(seg, &st), 0);
    off_t whole4 = st.st_size;
    int fd = open(seg, O_RDONLY);
    char *full = malloc((size_t)whole4);
    assert_int_equal(pread(fd, full, (size_t)whole4, 0), whole4);
    close(fd);
    for (off_t cut = whole3 + 1; cut < whole4; cut++) {
        fd = open(seg, O_WRONLY | O_TRUNC);
        assert_int_equal(write(fd, full, (size_t)cut), cut);
        close(fd);
        /* a reader before recovery stops at the torn record */
        assert_int_equal(read_all(dir, 0, NULL), 3);
        int64_t dropped = 0;
        assert_int_equal(accept_journal_open(&j, dir, 0, &dropped, &err), 0);
        assert_int_equal(dropped, cut - whole3);
        assert_int_equal(accept_journal_next_seq(j), 4);
        accept_journal_close(j);
        assert_int_equal(stat(seg, &st), 0);
        assert_int_equal(st.st_size, whole3);
    }
    /* whole length, one byte of the body changed: the checksum catches it */
    fd = open(seg, O_WRONLY | O_TRUNC);
    full[whole4 - 3] ^= 0x20;
    assert_int_equal(write(fd, full, (size_t)whole4), whole4);
    close(fd);
    assert_int_equal(read_all(dir, 0, NULL), 3);
    int64_t dropped = 0;
    assert_int_equal(accept_journal_open(&j, dir, 0, &dropped, &err), 0);
    assert_int_equal(dropped, whole4 - whole3);
    append_n(j, 3, 2);
    accept_journal_close(j);
    uint64_t last = 0;
    assert_int_equal(read_all(dir, 0, &last), 5);
    assert_int_equal(last, 5);
    free(full);
    free(seg);
    free(dir);
}

/* A cursor that has read everything sees records appended later; with a
 * max_seq it stops before the first record past it. */
static void test_follow_and_prune(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct accept_journal *j = NULL;
    char *err = NULL;
    assert_int_equal(accept_journal_open(&j, dir, 0, NULL, &err), 0);
    append_n(j, 0, 4);
    struct accept_cursor *c = NULL;
    assert_int_equal(accept_cursor_open(&c, dir, 0), 0);
    struct accept_rec r;
    int n = 0;
    while (accept_cursor_next(c, 2, &r) == 1)
        n++;
    assert_int_equal(n, 2);
    while (accept_cursor_next(c, UINT64_MAX, &r) == 1)
        n++;
    assert_int_equal(n, 4);
    append_n(j, 4, 3);
    uint64_t last = 0;
    while (accept_cursor_next(c, UINT64_MAX, &r) == 1) {
        n++;
        last = r.seq;
    }
    assert_int_equal(n, 7);
    assert_int_equal(last, 7);
    /* the active segment is never pruned */
    assert_int_equal(accept_journal_prune(dir, 7), 0);
    accept_cursor_close(c);
    accept_journal_close(j);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_reopen),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_follow_and_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
