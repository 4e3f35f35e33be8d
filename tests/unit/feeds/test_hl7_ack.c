/* test_hl7_ack.c - ACK/NAK building: swapped header, MSA, ERR in the v2.5+
 * and the v2.3/2.4 styles, escaped text, NAKs for unparseable input.  Every
 * ACK built is parsed back with the real parser and checked field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "feeds/hl7_ack.h"

static struct hl7_msg *parse(const char *text)
{
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    if (hl7_msg_parse(m, text, strlen(text), 0, &e))
        fail_msg("parse: %s", e.text);
    return m;
}

/* Decoded value of the ACK at seg/field/rep/comp/sub. */
static const char *get(struct hl7_msg *m, const char *seg, size_t f, size_t r, size_t c, size_t s)
{
    static char out[512];
    struct hl7_span v;
    if (hl7_get(m, seg, 1, f, r, c, s, &v))
        return "<absent>";
    hl7_unescape(hl7_msg_delims(m), v, out, sizeof out);
    return out;
}

static const char V24[] = "MSH|^~\\&|PAS|RVV^1.2.3^ISO|WEFT|REGION|20260301101500||ADT^A01^ADT_A01|"
                          "CTL-7|P|2.4\rPID|1||1^^^^MR\r";
static const char V251[] = "MSH|^~\\&|LAB|RVV|WEFT|REGION|20260301101500||ORU^R01^ORU_R01|L-9|T|"
                           "2.5.1\rPID|1||1^^^^MR\r";

static void test_aa(void **state)
{
    (void)state;
    struct hl7_msg *m = parse(V24);
    struct buf out = BUF_INIT;
    assert_int_equal(hl7_ack_build(m, "AA", NULL, &out), 0);
    struct hl7_msg *a = parse(out.data);
    assert_int_equal(hl7_seg_count(a), 2);
    assert_string_equal(get(a, "MSH", 3, 0, 0, 0), "WEFT");
    assert_string_equal(get(a, "MSH", 4, 0, 0, 0), "REGION");
    assert_string_equal(get(a, "MSH", 5, 0, 0, 0), "PAS");
    assert_string_equal(get(a, "MSH", 6, 1, 2, 0), "1.2.3"); /* components kept */
    assert_string_equal(get(a, "MSH", 9, 1, 1, 0), "ACK");
    assert_string_equal(get(a, "MSH", 9, 1, 2, 0), "A01");
    assert_string_not_equal(get(a, "MSH", 10, 0, 0, 0), "CTL-7");
    assert_true(strlen(get(a, "MSH", 10, 0, 0, 0)) <= 20);
    assert_string_equal(get(a, "MSH", 11, 0, 0, 0), "P");
    assert_string_equal(get(a, "MSH", 12, 0, 0, 0), "2.4");
    assert_int_equal(strlen(get(a, "MSH", 7, 0, 0, 0)), 19); /* YYYYMMDDHHMMSS+0000 */
    assert_string_equal(get(a, "MSA", 1, 0, 0, 0), "AA");
    assert_string_equal(get(a, "MSA", 2, 0, 0, 0), "CTL-7");
    assert_int_equal(hl7_seg_find(a, "ERR", 1), -1);
    /* two ACKs get different control ids */
    struct buf out2 = BUF_INIT;
    hl7_ack_build(m, "AA", NULL, &out2);
    struct hl7_msg *a2 = parse(out2.data);
    char first[64];
    snprintf(first, sizeof first, "%.63s", get(a, "MSH", 10, 0, 0, 0));
    assert_string_not_equal(first, get(a2, "MSH", 10, 0, 0, 0));
    assert_int_equal(out.data[out.len - 1], '\r');
    buf_release(&out);
    buf_release(&out2);
    hl7_msg_free(m);
    hl7_msg_free(a);
    hl7_msg_free(a2);
}

static void test_ae_v25_escaped(void **state)
{
    (void)state;
    struct hl7_msg *m = parse(V251);
    struct buf out = BUF_INIT;
    const char *why = "bad value | in ^ field & with ~ and \\ and\nnewline";
    struct hl7_ack_detail d = {
        .segment = "OBX", .seg_seq = 2, .field = 5, .code = 102, .control_id = "ACK-1"};
    assert_int_equal(hl7_ack_build_ex(m, "AE", why, &d, &out), 0);
    struct hl7_msg *a = parse(out.data);
    assert_int_equal(hl7_seg_count(a), 3); /* the text broke nothing */
    assert_string_equal(get(a, "MSH", 10, 0, 0, 0), "ACK-1");
    assert_string_equal(get(a, "MSH", 11, 0, 0, 0), "T");
    assert_string_equal(get(a, "MSA", 1, 0, 0, 0), "AE");
    assert_string_equal(get(a, "MSA", 2, 0, 0, 0), "L-9");
    assert_string_equal(get(a, "MSA", 3, 0, 0, 0), why);
    assert_string_equal(get(a, "ERR", 1, 0, 0, 0), "");
    assert_string_equal(get(a, "ERR", 2, 1, 1, 0), "OBX");
    assert_string_equal(get(a, "ERR", 2, 1, 2, 0), "2");
    assert_string_equal(get(a, "ERR", 2, 1, 3, 0), "5");
    assert_string_equal(get(a, "ERR", 3, 1, 1, 0), "102");
    assert_string_equal(get(a, "ERR", 3, 1, 2, 0), why);
    assert_string_equal(get(a, "ERR", 3, 1, 3, 0), "HL70357");
    assert_string_equal(get(a, "ERR", 4, 0, 0, 0), "E");
    assert_string_equal(get(a, "ERR", 8, 0, 0, 0), why);
    buf_release(&out);
    hl7_msg_free(m);
    hl7_msg_free(a);
}

static void test_ar_v24_err1(void **state)
{
    (void)state;
    struct hl7_msg *m = parse(V24);
    struct buf out = BUF_INIT;
    assert_int_equal(hl7_ack_build(m, "AR", "message type not accepted", &out), 0);
    struct hl7_msg *a = parse(out.data);
    assert_string_equal(get(a, "MSA", 1, 0, 0, 0), "AR");
    /* ERR-1: SEG^seq^field^code&text&HL70357, no location given */
    assert_string_equal(get(a, "ERR", 1, 1, 4, 1), "200");
    assert_string_equal(get(a, "ERR", 1, 1, 4, 2), "message type not accepted");
    assert_string_equal(get(a, "ERR", 1, 1, 4, 3), "HL70357");
    assert_string_equal(get(a, "ERR", 2, 0, 0, 0), "<absent>");
    buf_reset(&out);
    struct hl7_ack_detail d = {.segment = "PID", .seg_seq = 1, .field = 3, .code = 101};
    hl7_ack_build_ex(m, "AE", "PID-3 empty", &d, &out);
    hl7_msg_free(a);
    a = parse(out.data);
    assert_string_equal(get(a, "ERR", 1, 1, 1, 0), "PID");
    assert_string_equal(get(a, "ERR", 1, 1, 2, 0), "1");
    assert_string_equal(get(a, "ERR", 1, 1, 3, 0), "3");
    assert_string_equal(get(a, "ERR", 1, 1, 4, 1), "101");
    assert_int_equal(hl7_ack_build(m, "XX", NULL, &out), WEFT_EINVAL);
    buf_release(&out);
    hl7_msg_free(m);
    hl7_msg_free(a);
}

static void test_other_delimiters(void **state)
{
    (void)state;
    struct hl7_msg *m = parse("MSH#*@!%#APP#FAC#R#RF#1##ADT*A01#C1#P#2.5\rPID#1##1\r");
    struct buf out = BUF_INIT;
    hl7_ack_build(m, "AE", "a#b*c", &out);
    assert_int_equal(memcmp(out.data, "MSH#*@!%#R#RF#APP#FAC#", 22), 0);
    struct hl7_msg *a = parse(out.data);
    assert_string_equal(get(a, "MSA", 3, 0, 0, 0), "a#b*c");
    assert_string_equal(get(a, "ERR", 8, 0, 0, 0), "a#b*c");
    buf_release(&out);
    hl7_msg_free(m);
    hl7_msg_free(a);
}

static void test_nak(void **state)
{
    (void)state;
    /* MSH readable but MSH-2 broken: sender, receiver and control id kept */
    const char bad[] = "MSH|^~&|EPIC|HOSP|LAB|X|20191107134803||ORM^O01|23|T|2.3\rPID|1\r";
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error pe;
    assert_int_equal(hl7_msg_parse(m, bad, sizeof bad - 1, 0, &pe), WEFT_EPARSE);
    struct buf out = BUF_INIT;
    assert_int_equal(hl7_ack_build_nak(bad, sizeof bad - 1, "AR", NULL, &pe, &out), 0);
    struct hl7_msg *a = parse(out.data);
    assert_string_equal(get(a, "MSH", 2, 0, 0, 0), "^~\\&");
    assert_string_equal(get(a, "MSH", 3, 0, 0, 0), "LAB");
    assert_string_equal(get(a, "MSH", 5, 0, 0, 0), "EPIC");
    assert_string_equal(get(a, "MSH", 12, 0, 0, 0), "2.3");
    assert_string_equal(get(a, "MSA", 1, 0, 0, 0), "AR");
    assert_string_equal(get(a, "MSA", 2, 0, 0, 0), "23");
    assert_non_null(strstr(get(a, "MSA", 3, 0, 0, 0), "MSH-2"));
    assert_string_equal(get(a, "ERR", 1, 1, 1, 0), "MSH");
    assert_string_equal(get(a, "ERR", 1, 1, 3, 0), "2");
    hl7_msg_free(a);
    /* not HL7 at all */
    buf_reset(&out);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(hl7_msg_parse(m, junk, sizeof junk - 1, 0, &pe), WEFT_EPARSE);
    hl7_ack_build_nak(junk, sizeof junk - 1, "AR", NULL, &pe, &out);
    a = parse(out.data);
    assert_string_equal(get(a, "MSA", 2, 0, 0, 0), "");
    assert_string_equal(get(a, "MSH", 12, 0, 0, 0), "2.5");
    assert_int_equal(hl7_seg_count(a), 3);
    hl7_msg_free(a);
    /* empty input and an explicit text */
    buf_reset(&out);
    hl7_ack_build_nak("", 0, "AR", "frame too large", NULL, &out);
    a = parse(out.data);
    assert_string_equal(get(a, "MSA", 3, 0, 0, 0), "frame too large");
    hl7_msg_free(a);
    buf_release(&out);
    hl7_msg_free(m);
}

static void test_fuzz_regressions(void **state)
{
    (void)state;
    /* found by fuzz_hl7: a long run of digits in MSH-12 overflowed the
     * version number while choosing the ERR style */
    struct hl7_msg *m = parse("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2026030110101010101.99999999999\r");
    struct buf out = BUF_INIT;
    assert_int_equal(hl7_ack_build(m, "AE", "x", &out), 0);
    struct hl7_msg *a = parse(out.data);
    assert_string_equal(get(a, "ERR", 8, 0, 0, 0), "x"); /* treated as a new version */
    buf_release(&out);
    hl7_msg_free(m);
    hl7_msg_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aa),          cmocka_unit_test(test_ae_v25_escaped),
        cmocka_unit_test(test_ar_v24_err1), cmocka_unit_test(test_other_delimiters),
        cmocka_unit_test(test_nak),         cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
