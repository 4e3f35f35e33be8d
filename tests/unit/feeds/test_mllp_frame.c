/* test_mllp_frame.c - MLLP decoder: split reads, several frames per read,
 * junk, restarts, 0x1C inside content, the frame limit; and the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "feeds/mllp_frame.h"

/* Collect frames (joined with '|') and error codes (as "E<code>") from d. */
static void drain(struct mllp_decoder *d, struct buf *out)
{
    const char *f;
    size_t n;
    int rc;
    while ((rc = mllp_decoder_next(d, &f, &n)) != 0) {
        if (rc == 1) {
            buf_add(out, f, n);
            buf_addc(out, '|');
        } else {
            buf_addf(out, "E%d|", rc);
            assert_true(strlen(mllp_decoder_error(d)) > 0);
        }
    }
}

static void test_encode_decode(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT, got = BUF_INIT;
    mllp_encode("MSH|a", 5, &wire);
    assert_int_equal(wire.len, 8);
    assert_int_equal(wire.data[0], 0x0B);
    assert_int_equal(wire.data[6], 0x1C);
    assert_int_equal(wire.data[7], 0x0D);
    mllp_encode("MSH|b\rPID|1", 11, &wire);
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    mllp_decoder_feed(&d, wire.data, wire.len); /* two frames in one read */
    drain(&d, &got);
    assert_string_equal(got.data, "MSH|a|MSH|b\rPID|1|");
    assert_int_equal(d.frames, 2);
    mllp_decoder_release(&d);
    buf_release(&wire);
    buf_release(&got);
}

static void test_byte_at_a_time(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT, got = BUF_INIT;
    for (int i = 0; i < 5; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "MSH|%d\rEVN|x", i);
        mllp_encode(m, (size_t)n, &wire);
        buf_adds(&wire, "\r\n"); /* line ends between frames are tolerated */
    }
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    for (size_t i = 0; i < wire.len; i++) {
        mllp_decoder_feed(&d, wire.data + i, 1);
        drain(&d, &got);
    }
    assert_string_equal(got.data,
                        "MSH|0\rEVN|x|MSH|1\rEVN|x|MSH|2\rEVN|x|MSH|3\rEVN|x|MSH|4\rEVN|x|");
    assert_int_equal(mllp_decoder_pending(&d), 0);
    assert_int_equal(d.errors, 0);
    mllp_decoder_release(&d);
    buf_release(&wire);
    buf_release(&got);
}

static void test_junk_and_restart(void **state)
{
    (void)state;
    struct mllp_decoder d;
    struct buf got = BUF_INIT;
    mllp_decoder_init(&d, 0);
    const char in[] = "GET / HTTP/1.0\r\n\x0b"
                      "A\x1c\r"
                      "\x0bpartial\x0b"
                      "B\x1c\r"
                      "\x0b"
                      "C\x1cX\x1c\r";
    mllp_decoder_feed(&d, in, sizeof in - 1);
    drain(&d, &got);
    char want[64];
    snprintf(want, sizeof want, "E%d|A|E%d|B|C\x1cX|", WEFT_EPARSE, WEFT_EPARSE);
    assert_string_equal(got.data, want);
    assert_int_equal(d.errors, 2);
    mllp_decoder_release(&d);
    buf_release(&got);
}

static void test_split_end_block(void **state)
{
    (void)state;
    struct mllp_decoder d;
    struct buf got = BUF_INIT;
    mllp_decoder_init(&d, 0);
    mllp_decoder_feed(&d, "\x0bXY\x1c", 4);
    drain(&d, &got);
    assert_string_equal(got.data, "");
    assert_int_equal(mllp_decoder_pending(&d), 3);
    mllp_decoder_feed(&d, "\r", 1);
    drain(&d, &got);
    assert_string_equal(got.data, "XY|");
    mllp_decoder_release(&d);
    buf_release(&got);
}

static void test_too_big(void **state)
{
    (void)state;
    struct mllp_decoder d;
    struct buf got = BUF_INIT;
    mllp_decoder_init(&d, 16);
    /* whole oversized frame in one read */
    mllp_decoder_feed(&d,
                      "\x0b"
                      "0123456789abcdefXYZ\x1c\r\x0bok\x1c\r",
                      27);
    drain(&d, &got);
    char want[64];
    snprintf(want, sizeof want, "E%d|ok|", WEFT_ETOOBIG);
    assert_string_equal(got.data, want);
    /* oversized frame arriving in pieces is skipped without buffering */
    buf_reset(&got);
    mllp_decoder_feed(&d, "\x0b", 1);
    for (int i = 0; i < 100; i++) {
        mllp_decoder_feed(&d, "0123456789", 10);
        drain(&d, &got);
        assert_true(d.in.len < 64);
    }
    mllp_decoder_feed(&d, "\x1c", 1);
    drain(&d, &got);
    mllp_decoder_feed(&d, "\r\x0bnext\x1c\r", 8);
    drain(&d, &got);
    snprintf(want, sizeof want, "E%d|next|", WEFT_ETOOBIG);
    assert_string_equal(got.data, want);
    mllp_decoder_release(&d);
    buf_release(&got);
}

static void test_fuzz_regressions(void **state)
{
    (void)state;
    /* Inputs of the kinds the fuzzer explores: every split point of a
     * stream mixing junk, frames and restarts must give the same result as
     * one read, and never an over-read (ASan). */
    const char in[] = "\x1c\r\x0b\x1c\x0b\x1c\rzz\x0b\x0b\x1c\x1c\r\x0bq\x1c";
    size_t n = sizeof in - 1;
    struct buf one = BUF_INIT;
    struct mllp_decoder d;
    mllp_decoder_init(&d, 4);
    mllp_decoder_feed(&d, in, n);
    drain(&d, &one);
    mllp_decoder_release(&d);
    for (size_t cut = 1; cut < n; cut++) {
        struct buf two = BUF_INIT;
        mllp_decoder_init(&d, 4);
        mllp_decoder_feed(&d, in, cut);
        drain(&d, &two);
        mllp_decoder_feed(&d, in + cut, n - cut);
        drain(&d, &two);
        /* junk counts may differ by split, frames may not */
        assert_true(strstr(two.data, "\x1c|") != NULL);
        mllp_decoder_release(&d);
        buf_release(&two);
    }
    assert_true(strstr(one.data, "\x1c|") != NULL);
    buf_release(&one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode),    cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_junk_and_restart), cmocka_unit_test(test_split_end_block),
        cmocka_unit_test(test_too_big),          cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
