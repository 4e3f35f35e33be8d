/* test_hl7.c - the HL7 v2 parser: delimiters, line ends, escapes, accessors,
 * errors with their location, re-encoding, the batch splitter, and every
 * shared sample file ($WEFT_DATA/hl7v2, skipped when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>

#include "core/err.h"
#include "feeds/hl7.h"

static const char ADT[] =
    "MSH|^~\\&|PAS|RVV|WEFT|REG|202611241530||ADT^A01^ADT_A01|MSG0001|P|2.4\r"
    "EVN|A01|202611241529\r"
    "PID|1||123456^^^RVV^MR~9434765919^^^NHS^NH||Smith&Jr^John^Q||19700101|M|||"
    "1 High St^^Canterbury^^CT1 1AA\r"
    "ZU1|custom|x^y&z\r";

/* Value as a NUL-terminated string (raw span) in a static buffer. */
static const char *val(const struct hl7_msg *m, const char *seg, size_t f, size_t r, size_t c,
                       size_t s)
{
    static char out[256];
    struct hl7_span v;
    if (hl7_get(m, seg, 1, f, r, c, s, &v))
        return "<absent>";
    snprintf(out, sizeof out, "%.*s", (int)v.len, v.p);
    return out;
}

static void test_basic_access(void **state)
{
    (void)state;
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    assert_int_equal(hl7_msg_parse(m, ADT, sizeof ADT - 1, 0, &e), 0);
    assert_int_equal(hl7_seg_count(m), 4);
    assert_string_equal(hl7_seg_name(m, 0), "MSH");
    assert_string_equal(hl7_seg_name(m, 3), "ZU1"); /* Z-segments kept */
    assert_string_equal(val(m, "MSH", 1, 0, 0, 0), "|");
    assert_string_equal(val(m, "MSH", 2, 0, 0, 0), "^~\\&");
    assert_string_equal(val(m, "MSH", 9, 1, 2, 0), "A01");
    assert_string_equal(val(m, "MSH", 10, 0, 0, 0), "MSG0001");
    assert_string_equal(val(m, "PID", 3, 0, 0, 0), "123456^^^RVV^MR~9434765919^^^NHS^NH");
    assert_string_equal(val(m, "PID", 3, 2, 1, 0), "9434765919");
    assert_string_equal(val(m, "PID", 3, 2, 5, 0), "NH");
    assert_string_equal(val(m, "PID", 5, 1, 1, 0), "Smith&Jr");
    assert_string_equal(val(m, "PID", 5, 1, 1, 2), "Jr");
    assert_string_equal(val(m, "PID", 5, 1, 1, 3), "<absent>");
    assert_string_equal(val(m, "PID", 3, 3, 0, 0), "<absent>");
    assert_string_equal(val(m, "PID", 2, 0, 0, 0), ""); /* present, empty */
    assert_string_equal(val(m, "PID", 40, 0, 0, 0), "<absent>");
    assert_string_equal(val(m, "PV1", 1, 0, 0, 0), "<absent>");
    assert_string_equal(val(m, "ZU1", 2, 1, 2, 2), "z");
    assert_int_equal(hl7_seg_field_count(m, 2), 11);
    assert_int_equal(hl7_seg_rep_count(m, 2, 3), 2);
    assert_int_equal(hl7_seg_rep_count(m, 2, 2), 0);
    assert_int_equal(hl7_seg_find(m, "PID", 1), 2);
    assert_int_equal(hl7_seg_find(m, "PID", 2), -1);
    struct hl7_span raw = hl7_seg_raw(m, 1);
    assert_int_equal(raw.len, strlen("EVN|A01|202611241529"));
    hl7_msg_free(m);
}

static void test_line_endings(void **state)
{
    (void)state;
    const char *variants[] = {
        "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3\rPID|1||X\rPV1|1|I\r",
        "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3\nPID|1||X\nPV1|1|I\n",
        "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3\r\nPID|1||X\r\nPV1|1|I\r\n",
        "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3\r\n\r\nPID|1||X\n\n \t\nPV1|1|I",
        "\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3\rPID|1||X\rPV1|1|I\r\n \r\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        struct hl7_msg *m = hl7_msg_new();
        struct hl7_error e;
        assert_int_equal(hl7_msg_parse(m, variants[i], strlen(variants[i]), 0, &e), 0);
        assert_int_equal(hl7_seg_count(m), 3);
        assert_string_equal(val(m, "PID", 3, 1, 1, 0), "X");
        assert_string_equal(val(m, "PV1", 2, 0, 0, 0), "I");
        assert_string_equal(val(m, "MSH", 12, 0, 0, 0), "2.3");
        hl7_msg_free(m);
    }
}

static void test_other_delimiters_and_truncation(void **state)
{
    (void)state;
    /* Unusual but legal delimiters, and the v2.7 truncation character. */
    const char a[] = "MSH#*@!%#APP#FAC####ORU*R01#7#P#2.3\rPID#1##A*B*C@D%E##x!F!y\r";
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    assert_int_equal(hl7_msg_parse(m, a, sizeof a - 1, 0, &e), 0);
    const struct hl7_delims *d = hl7_msg_delims(m);
    assert_int_equal(d->field, '#');
    assert_int_equal(d->comp, '*');
    assert_int_equal(d->rep, '@');
    assert_int_equal(d->esc, '!');
    assert_int_equal(d->sub, '%');
    assert_int_equal(d->trunc, 0);
    assert_string_equal(val(m, "PID", 3, 2, 1, 2), "E");
    assert_string_equal(val(m, "PID", 3, 1, 3, 0), "C");
    struct hl7_span v;
    hl7_get(m, "PID", 1, 5, 0, 0, 0, &v);
    char out[32];
    assert_int_equal(hl7_unescape(d, v, out, sizeof out), 3);
    assert_string_equal(out, "x#y");

    const char b[] = "MSH|^~\\&#|A|B|C|D|1||ORU^R01|1|P|2.7\rOBX|1|ST|X||long valu#|\\P\\\r";
    assert_int_equal(hl7_msg_parse(m, b, sizeof b - 1, 0, &e), 0);
    assert_int_equal(hl7_msg_delims(m)->trunc, '#');
    assert_string_equal(val(m, "MSH", 2, 0, 0, 0), "^~\\&#");
    assert_string_equal(val(m, "OBX", 5, 0, 0, 0), "long valu#");
    hl7_get(m, "OBX", 1, 6, 0, 0, 0, &v);
    hl7_unescape(hl7_msg_delims(m), v, out, sizeof out);
    assert_string_equal(out, "#");
    hl7_msg_free(m);
}

static const struct hl7_delims STD = {'|', '^', '~', '\\', '&', 0};

static const char *unesc(const char *s)
{
    static char out[256];
    struct hl7_span v = {s, strlen(s)};
    size_t n = hl7_unescape(&STD, v, out, sizeof out);
    assert_true(n < sizeof out);
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_escapes(void **state)
{
    (void)state;
    assert_string_equal(unesc("Smith\\F\\\\S\\\\R\\\\E\\\\T\\"), "Smith|^~\\&");
    assert_string_equal(unesc("a\\.br\\b\\.sp\\c\\.sp2\\d"), "a\nb\nc\nd");
    assert_string_equal(unesc("\\X0D0A\\"), "\r\n");
    assert_string_equal(unesc("\\X41424344\\"), "ABCD");
    assert_string_equal(unesc("\\H\\bold\\N\\ \\.in+4\\x\\.ce\\"), "bold x");
    assert_string_equal(unesc("\\C2842\\a\\M248442\\b\\Zlocal\\c"), "abc");
    /* unknown or malformed sequences are kept literally */
    assert_string_equal(unesc("\\Q\\"), "\\Q\\");
    assert_string_equal(unesc("\\X4\\"), "\\X4\\");
    assert_string_equal(unesc("\\XZZ\\"), "\\XZZ\\");
    assert_string_equal(unesc("\\.zz\\"), "\\.zz\\");
    assert_string_equal(unesc("\\\\"), "\\\\");
    assert_string_equal(unesc("\\P\\"), "\\P\\");       /* no truncation char defined */
    assert_string_equal(unesc("C:\\temp"), "C:\\temp"); /* unclosed: text */
    assert_string_equal(unesc("\\E\\T\\E\\"), "\\T\\"); /* double escaped stays once */
    /* long hex run bigger than the small buffer */
    char big[512] = "\\X";
    for (int i = 0; i < 200; i++)
        memcpy(big + 2 + 2 * i, "41", 2);
    memcpy(big + 402, "\\", 2);
    struct hl7_span v = {big, strlen(big)};
    char out[128];
    size_t n = hl7_unescape(&STD, v, out, sizeof out);
    assert_int_equal(n, 200);
    assert_int_equal(strlen(out), 127); /* truncated, still terminated */
    assert_int_equal(out[0], 'A');
    /* cap 0 computes the length only */
    assert_int_equal(hl7_unescape(&STD, v, NULL, 0), 200);
}

static void test_escape_roundtrip(void **state)
{
    (void)state;
    /* escape(text) then unescape gives text back, for every byte value */
    srand(7);
    for (int round = 0; round < 500; round++) {
        char text[64];
        size_t n = (size_t)(rand() % 63);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)(1 + rand() % 255);
        struct buf b = BUF_INIT, back = BUF_INIT;
        hl7_escape_buf(&STD, text, n, &b);
        for (size_t i = 0; i < b.len; i++) /* no delimiter survives unescaped */
            assert_true(b.data[i] != '|' && b.data[i] != '^' && b.data[i] != '~' &&
                        b.data[i] != '&' && b.data[i] != '\r' && b.data[i] != '\n');
        struct hl7_span v = {b.data, b.len};
        hl7_unescape_buf(&STD, v, &back);
        assert_int_equal(back.len, n);
        assert_memory_equal(back.data, text, n);
        buf_release(&b);
        buf_release(&back);
    }
}

static void test_escape_dot_escape_char(void **state)
{
    (void)state;
    /* found by fuzz_hl7: with '.' as the escape character a line feed was
     * written as "..br." which does not decode back */
    const struct hl7_delims dot = {'|', '^', '~', '.', '&', 0};
    struct buf b = BUF_INIT, back = BUF_INIT;
    hl7_escape_buf(&dot, "a\nb.c", 5, &b);
    assert_string_equal(b.data, "a.X0A.b.E.c");
    struct hl7_span v = {b.data, b.len};
    hl7_unescape_buf(&dot, v, &back);
    assert_string_equal(back.data, "a\nb.c");
    buf_release(&b);
    buf_release(&back);
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    /* canonical escapes: re-encoding gives the same bytes */
    const char msg[] = "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\r"
                       "OBX|1|FT|X^Y^LN||line1\\.br\\line2 \\F\\ \\S\\ \\T\\ \\R\\ \\E\\|~a^b&c~|\r"
                       "NTE|1||\\X0D\\\r";
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    assert_int_equal(hl7_msg_parse(m, msg, sizeof msg - 1, 0, &e), 0);
    struct buf out = BUF_INIT;
    hl7_msg_encode(m, NULL, &out);
    assert_int_equal(out.len, sizeof msg - 1);
    assert_memory_equal(out.data, msg, out.len);
    /* other delimiters: same decoded values after parsing again */
    struct hl7_delims d2 = {'#', '*', '@', '!', '%', 0};
    struct buf out2 = BUF_INIT;
    hl7_msg_encode(m, &d2, &out2);
    assert_non_null(memchr(out2.data, '#', out2.len));
    struct hl7_msg *m2 = hl7_msg_new();
    assert_int_equal(hl7_msg_parse(m2, out2.data, out2.len, 0, &e), 0);
    assert_int_equal(hl7_seg_count(m2), hl7_seg_count(m));
    for (size_t s = 0; s < hl7_seg_count(m); s++) {
        assert_int_equal(hl7_seg_field_count(m, s), hl7_seg_field_count(m2, s));
        for (size_t f = 3; f <= hl7_seg_field_count(m, s); f++)
            for (size_t r = 1; r <= 3; r++)
                for (size_t c = 1; c <= 3; c++)
                    for (size_t sub = 1; sub <= 3; sub++) {
                        struct hl7_span a, b;
                        int ra = hl7_seg_get(m, s, f, r, c, sub, &a);
                        int rb = hl7_seg_get(m2, s, f, r, c, sub, &b);
                        assert_int_equal(ra, rb);
                        char xa[128], xb[128];
                        hl7_unescape(hl7_msg_delims(m), a, xa, sizeof xa);
                        hl7_unescape(hl7_msg_delims(m2), b, xb, sizeof xb);
                        assert_string_equal(xa, xb);
                    }
    }
    /* non-canonical input re-encodes to the canonical form */
    const char nc[] = "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\rNTE|1||a\\.sp\\b\\H\\c\\N\\\r";
    buf_reset(&out);
    assert_int_equal(hl7_msg_parse(m, nc, sizeof nc - 1, 0, &e), 0);
    hl7_msg_encode(m, NULL, &out);
    assert_string_equal(out.data,
                        "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\rNTE|1||a\\.br\\b\\H\\c\\N\\\r");
    /* found by fuzz_hl7: a control id made only of \H\ and \Zxx\ must not
     * re-encode to an empty (unparseable) one; new escape char applied */
    const char fz[] = "MSH|^~\\&#|A|B|C|D|1||ORU^R|\\H\\\\Zx\\|P|2.7\r";
    assert_int_equal(hl7_msg_parse(m, fz, sizeof fz - 1, 0, &e), 0);
    struct hl7_delims d3 = {'|', '^', '~', '!', '&', 0};
    buf_reset(&out);
    hl7_msg_encode(m, &d3, &out);
    assert_string_equal(out.data, "MSH|^~!&|A|B|C|D|1||ORU^R|!H!!Zx!|P|2.7\r");
    assert_int_equal(hl7_msg_parse(m2, out.data, out.len, 0, &e), 0);
    buf_release(&out);
    buf_release(&out2);
    hl7_msg_free(m);
    hl7_msg_free(m2);
}

/* Parse text expecting failure; check code, segment, field and offset. */
static void expect_error(const char *text, size_t len, int code, const char *seg, int field,
                         long offset, const char *phrase)
{
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    int rc = hl7_msg_parse(m, text, len, 0, &e);
    if (rc != code)
        fail_msg("expected %d, got %d for input starting %.20s", code, rc, text);
    assert_int_equal(e.code, code);
    assert_string_equal(e.segment, seg);
    assert_int_equal(e.field, field);
    if (offset >= 0)
        assert_int_equal(e.offset, (size_t)offset);
    if (!strstr(e.text, phrase))
        fail_msg("error text '%s' lacks '%s'", e.text, phrase);
    assert_int_equal(hl7_seg_count(m), 0);
    hl7_msg_free(m);
}

#define EXPECT(lit, code, seg, field, off, phrase)                                                 \
    expect_error(lit, sizeof lit - 1, code, seg, field, off, phrase)

static void test_errors(void **state)
{
    (void)state;
    EXPECT("", WEFT_EPARSE, "", 0, 0, "empty input");
    EXPECT("\r\n  \r\n", WEFT_EPARSE, "", 0, -1, "empty input");
    EXPECT("PID|1||x\r", WEFT_EPARSE, "", 0, 0, "does not start with an MSH");
    EXPECT("MSHH0\r", WEFT_EPARSE, "MSH", 1, 3, "field separator");
    EXPECT("MSH|^~&|A|B\r", WEFT_EPARSE, "MSH", 2, 4, "4 characters");
    EXPECT("MSH|^|||||||^A|||2.2\r", WEFT_EPARSE, "MSH", 2, 4, "4 characters");
    EXPECT("MSH|^~\\\\&|A\r", WEFT_EPARSE, "MSH", 2, 7, "not distinct");
    EXPECT("MSH|^~A&|A\r", WEFT_EPARSE, "MSH", 2, 6, "letter, digit");
    EXPECT("MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.4\r", WEFT_EPARSE, "MSH", 10, 0, "MSH-10");
    EXPECT("MSH|^~\\&|A|B|C|D|1||^A01|1|P|2.4\r", WEFT_EPARSE, "MSH", 9, 0, "MSH-9");
    EXPECT("MSH|^~\\&|A\r", WEFT_EPARSE, "MSH", 9, 0, "MSH-9");
    EXPECT("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rZZ1|1|BSV 4\\5 re.||x\r", WEFT_EPARSE, "ZZ1", 2,
           47, "unterminated escape");
    EXPECT("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rPID|1\rMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.4\r",
           WEFT_EPARSE, "MSH", 0, 42, "second MSH");
    EXPECT("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rBHS|^~\\&\r", WEFT_EPARSE, "BHS", 0, 36,
           "envelope");
    /* the error text names the segment position too */
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    const char t[] = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rEVN|A01\rZZ1|1|\\bad\r";
    assert_int_equal(hl7_msg_parse(m, t, sizeof t - 1, 0, &e), WEFT_EPARSE);
    assert_int_equal(e.seg_index, 3);
    assert_string_equal(e.text, "segment 3 (ZZ1) field 2 at byte 50: unterminated escape sequence");
    /* ...and lax mode keeps the text instead */
    assert_int_equal(hl7_msg_parse(m, t, sizeof t - 1, HL7_PARSE_LAX_ESCAPES, &e), 0);
    assert_string_equal(val(m, "ZZ1", 2, 0, 0, 0), "\\bad");
    /* too big */
    assert_int_equal(hl7_msg_parse(m, t, (size_t)HL7_MAX_MSG_BYTES + 1, 0, &e), WEFT_ETOOBIG);
    assert_int_equal(e.code, WEFT_ETOOBIG);
    hl7_msg_free(m);
}

static void test_continuation_and_bare_segment(void **state)
{
    (void)state;
    /* a line that does not start a segment continues the field before it */
    const char t[] = "MSH|^~\\&|A|B|C|D|1||RSP^K11|1|P|2.5\rRXA|0|1|X\r999|||00^New\rPID\rEVN|A\r";
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    assert_int_equal(hl7_msg_parse(m, t, sizeof t - 1, 0, &e), 0);
    assert_int_equal(hl7_seg_count(m), 4);
    assert_string_equal(val(m, "RXA", 3, 0, 0, 0), "X\r999");
    assert_string_equal(val(m, "RXA", 6, 1, 1, 0), "00");
    assert_int_equal(hl7_seg_field_count(m, 2), 0); /* bare "PID" */
    assert_string_equal(val(m, "PID", 1, 0, 0, 0), "<absent>");
    hl7_msg_free(m);
}

static void test_reuse_handle(void **state)
{
    (void)state;
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    /* many segments and fields: arrays grow, then shrink back on reuse */
    struct buf big = BUF_INIT;
    buf_adds(&big, "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\r");
    for (int i = 0; i < 2000; i++)
        buf_addf(&big, "OBX|%d|NM|X||%d|||||||||||||||||||||||||||||||\r", i + 1, i);
    assert_int_equal(hl7_msg_parse(m, big.data, big.len, 0, &e), 0);
    assert_int_equal(hl7_seg_count(m), 2001);
    struct hl7_span v;
    assert_int_equal(hl7_get(m, "OBX", 2000, 5, 0, 0, 0, &v), 0);
    assert_true(hl7_span_eq(v, "1999"));
    assert_int_equal(hl7_msg_parse(m, ADT, sizeof ADT - 1, 0, &e), 0);
    assert_int_equal(hl7_seg_count(m), 4);
    assert_string_equal(val(m, "PID", 3, 2, 1, 0), "9434765919");
    buf_release(&big);
    hl7_msg_free(m);
}

/* Split text; returns messages found, or -(messages before the error + 1). */
static int split_count(const char *text, size_t len, struct hl7_error *e)
{
    struct hl7_split s;
    struct hl7_span msg;
    hl7_split_init(&s, text, len);
    int n = 0, rc;
    while ((rc = hl7_split_next(&s, &msg, e)) == 1) {
        n++;
        assert_int_equal(memcmp(msg.p, "MSH", 3), 0);
    }
    return rc < 0 ? -(n + 1) : n;
}

#define SPLIT(lit, e) split_count(lit, sizeof lit - 1, e)

static void test_splitter(void **state)
{
    (void)state;
    struct hl7_error e;
    assert_int_equal(SPLIT("MSH|^~\\&|1\rPID|x MSH|y\rMSH|^~\\&|2\r", &e), 2);
    assert_int_equal(SPLIT("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|1\rEVN|x\rMSH|^~\\&|2\rBTS|2\r"
                           "BHS|^~\\&\rMSH|^~\\&|3\rBTS|1\rFTS|2\r",
                           &e),
                     3);
    assert_int_equal(SPLIT("MSH|^~\\&|1\n\nMSH|^~\\&|2\r\nFTS|1\r\n", &e), 2); /* lone trailer */
    assert_int_equal(SPLIT("BHS|^~\\&\rEVN|A04\rPID|1\r", &e), -1);
    assert_string_equal(e.segment, "EVN");
    assert_true(strstr(e.text, "outside a message") != NULL);
    assert_int_equal(SPLIT("BHS|^~\\&\rMSH|^~\\&|1\rEVN|x\rBHS|^~\\&\rMSH|^~\\&|2\r", &e), -2);
    assert_true(strstr(e.text, "BHS inside an open batch") != NULL);
    assert_int_equal(SPLIT("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|1\rFHS|^~\\&\r", &e), -2);
    assert_int_equal(SPLIT("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|1\rFTS|1\r", &e), -2);
    assert_true(strstr(e.text, "FTS inside an open batch") != NULL);
    assert_int_equal(SPLIT("", &e), -1);
    assert_true(strstr(e.text, "no message") != NULL);
    assert_int_equal(SPLIT("/* comment */\rMSH|^~\\&|1\r", &e), -1);
    assert_int_equal(e.offset, 0);
}

/* ---- the shared sample files ------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_detach(&b, len);
}

/* Outcome of a whole file: number of messages, or -1 if any error. */
static int file_outcome(const char *path, char *why, size_t cap)
{
    size_t len;
    char *data = read_file(path, &len);
    assert_non_null(data);
    struct hl7_split s;
    struct hl7_span msg;
    struct hl7_error e;
    struct hl7_msg *m = hl7_msg_new();
    hl7_split_init(&s, data, len);
    int n = 0, rc;
    why[0] = 0;
    while ((rc = hl7_split_next(&s, &msg, &e)) == 1) {
        if (hl7_msg_parse(m, msg.p, msg.len, 0, &e) != 0) {
            rc = -1;
            break;
        }
        /* every field of every segment can be reached */
        for (size_t k = 0; k < hl7_seg_count(m); k++)
            for (size_t f = 1; f <= hl7_seg_field_count(m, k); f++) {
                struct hl7_span v;
                assert_int_equal(hl7_seg_get(m, k, f, 0, 0, 0, &v), 0);
                assert_true(v.p >= data && v.p + v.len <= data + len);
            }
        n++;
    }
    if (rc < 0) {
        snprintf(why, cap, "%s", e.text);
        assert_true(strlen(e.text) > 10);
        assert_true(e.code == WEFT_EPARSE || e.code == WEFT_ETOOBIG);
    }
    hl7_msg_free(m);
    free(data);
    return rc < 0 ? -1 : n;
}

static const char *data_dir(void)
{
    static char dir[1024];
    const char *d = getenv("WEFT_DATA");
    if (!d)
        return NULL;
    snprintf(dir, sizeof dir, "%s/hl7v2", d);
    DIR *h = opendir(dir);
    if (!h)
        return NULL;
    closedir(h);
    return dir;
}

static void test_shared_samples_parse(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) {
        print_message("skipped: $WEFT_DATA/hl7v2 is absent\n");
        skip();
    }
    DIR *h = opendir(dir);
    struct dirent *de;
    int files = 0, msgs = 0;
    while ((de = readdir(h))) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (l < 5 || (strcmp(n + l - 4, ".hl7") && strcmp(n + l - 4, ".txt")))
            continue;
        char path[2048], why[256];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        int k = file_outcome(path, why, sizeof why);
        if (k <= 0)
            fail_msg("%s: expected to parse, got: %s", n, why);
        /* multi-message files as SOURCES.md counts them */
        if (strstr(n, "sample_file1"))
            assert_int_equal(k, 3);
        files++;
        msgs += k;
    }
    closedir(h);
    print_message("%d sample files, %d messages parsed\n", files, msgs);
    assert_true(files >= 50);
}

/* Every leaf of a and b decodes to the same text. */
static void assert_same_values(struct hl7_msg *a, struct hl7_msg *b)
{
    assert_int_equal(hl7_seg_count(a), hl7_seg_count(b));
    struct buf x = BUF_INIT, y = BUF_INIT;
    for (size_t k = 0; k < hl7_seg_count(a); k++) {
        assert_string_equal(hl7_seg_name(a, k), hl7_seg_name(b, k));
        assert_int_equal(hl7_seg_field_count(a, k), hl7_seg_field_count(b, k));
        for (size_t f = 3; f <= hl7_seg_field_count(a, k); f++) {
            size_t nr = hl7_seg_rep_count(a, k, f);
            assert_int_equal(nr, hl7_seg_rep_count(b, k, f));
            for (size_t r = 1; r <= nr; r++) {
                struct hl7_span ra, rb;
                hl7_seg_get(a, k, f, r, 0, 0, &ra);
                hl7_seg_get(b, k, f, r, 0, 0, &rb);
                size_t nc = hl7_span_count(ra, hl7_msg_delims(a)->comp);
                assert_int_equal(nc, hl7_span_count(rb, hl7_msg_delims(b)->comp));
                for (size_t c = 1; c <= nc; c++) {
                    struct hl7_span ca, cb;
                    hl7_seg_get(a, k, f, r, c, 0, &ca);
                    hl7_seg_get(b, k, f, r, c, 0, &cb);
                    size_t ns = hl7_span_count(ca, hl7_msg_delims(a)->sub);
                    assert_int_equal(ns, hl7_span_count(cb, hl7_msg_delims(b)->sub));
                    for (size_t sb = 1; sb <= ns; sb++) {
                        struct hl7_span va, vb;
                        hl7_seg_get(a, k, f, r, c, sb, &va);
                        hl7_seg_get(b, k, f, r, c, sb, &vb);
                        buf_reset(&x);
                        buf_reset(&y);
                        hl7_unescape_buf(hl7_msg_delims(a), va, &x);
                        hl7_unescape_buf(hl7_msg_delims(b), vb, &y);
                        assert_int_equal(x.len, y.len);
                        assert_memory_equal(x.data, y.data, x.len);
                    }
                }
            }
        }
    }
    buf_release(&x);
    buf_release(&y);
}

static void test_shared_samples_roundtrip(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) {
        print_message("skipped: $WEFT_DATA/hl7v2 is absent\n");
        skip();
    }
    static const struct hl7_delims other = {'#', '*', '@', '!', '%', 0};
    DIR *h = opendir(dir);
    struct dirent *de;
    int msgs = 0, identical = 0;
    struct hl7_msg *m = hl7_msg_new(), *m2 = hl7_msg_new(), *m3 = hl7_msg_new();
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || (strcmp(de->d_name + l - 4, ".hl7") && strcmp(de->d_name + l - 4, ".txt")))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *data = read_file(path, &len);
        struct hl7_split s;
        struct hl7_span msg;
        struct hl7_error e;
        hl7_split_init(&s, data, len);
        while (hl7_split_next(&s, &msg, &e) == 1) {
            assert_int_equal(hl7_msg_parse(m, msg.p, msg.len, 0, &e), 0);
            /* own delimiters: same values, and mostly the same bytes */
            struct buf out = BUF_INIT, out2 = BUF_INIT;
            hl7_msg_encode(m, NULL, &out);
            if (hl7_msg_parse(m2, out.data, out.len, 0, &e))
                fail_msg("%s: re-encoded message does not parse: %s", de->d_name, e.text);
            assert_same_values(m, m2);
            struct hl7_span raw = hl7_msg_raw(m);
            identical += raw.len == out.len && !memcmp(raw.p, out.data, out.len);
            /* other delimiters (a 5th, truncation, character is dropped by
             * `other`, so only messages without one are compared) */
            if (!hl7_msg_delims(m)->trunc) {
                hl7_msg_encode(m, &other, &out2);
                assert_int_equal(hl7_msg_parse(m3, out2.data, out2.len, 0, &e), 0);
                assert_int_equal(hl7_msg_delims(m3)->field, '#');
                assert_same_values(m, m3);
            }
            buf_release(&out);
            buf_release(&out2);
            msgs++;
        }
        free(data);
    }
    closedir(h);
    hl7_msg_free(m);
    hl7_msg_free(m2);
    hl7_msg_free(m3);
    print_message("%d messages re-encoded, %d byte-identical\n", msgs, identical);
    assert_true(msgs >= 60);
    assert_true(identical >= msgs - 10);
}

/* The decision for every file in malformed/: 1 = parses (EDGE), 0 = error. */
static const struct {
    const char *name;
    int parses;
    const char *phrase; /* for errors: a phrase the error must contain */
} MALFORMED[] = {
    {"Efferent-Health__HL7-dotnetcore__Program.cs__BypassValidationParseMessage.hl7", 0, "MSH-10"},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__DoubleEncoding.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__EmptyAndNullFieldsTest.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__GenerateAckNoEscapeDelimiterTest.hl7", 0,
     "MSH-2"},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__InvalidRepetitionTest.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__MessageWithDoubleNewlineTest.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__MessageWithSegmentNameOnly.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__MessageWithTabsIsReversable.hl7", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Program.cs__SkipInvalidEscapeSequenceTest.hl7", 0,
     "unterminated escape"},
    {"Efferent-Health__HL7-dotnetcore__Sample-ADT.txt", 1, NULL},
    {"Efferent-Health__HL7-dotnetcore__Sample-BrokenCharacterMessage.txt", 1, NULL},
    {"LinuxForHealth__hl7v2-fhir-converter__sample_unix.hl7", 0, "not distinct"},
    {"LinuxForHealth__hl7v2-fhir-converter__sample_win.hl7", 0, "not distinct"},
    {"Virtually-Healthcare__virtually-healthcare.github.com__DHCW-Example-Pathology-Report-"
     "HL7v2ORU.txt",
     0, "MSH-2"},
    {"Virtually-Healthcare__virtually-healthcare.github.com__DHCW-Example-PathologyReport-"
     "withAttachementsAndRanges-HL7v2ORU.txt",
     0, "MSH-2"},
    {"hapifhir__hapi-hl7v2__messages.txt", 0, "outside a message"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_batch.hl7", 0, "outside a message"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_batch1.hl7", 0, "BHS inside"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_file.hl7", 0, "outside a message"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_file1.hl7", 0, "BHS inside"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_file2.hl7", 0, "FHS inside"},
    {"johnpaulett__python-hl7__samples.py__sample_bad_file3.hl7", 0, "outside a message"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_EncodingNotSupportedException_aoor1", 0,
     "no message"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_EncodingNotSupportedException_nullref1", 0,
     "outside a message"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_hang1", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_ioor1", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_stackoverflow1", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_stackoverflow2", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_sys1", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_HL7Exception_sys2", 0, "MSH-2"},
    {"nHapiNET__nHapi__BadInputs_LegacyPipeParser_NoException_regex1", 0, "MSH-2"},
};

static void test_shared_malformed(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) {
        print_message("skipped: $WEFT_DATA/hl7v2 is absent\n");
        skip();
    }
    char mdir[1100];
    snprintf(mdir, sizeof mdir, "%s/malformed", dir);
    DIR *h = opendir(mdir);
    assert_non_null(h);
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(h))) {
        if (de->d_name[0] == '.')
            continue;
        int idx = -1;
        for (size_t i = 0; i < sizeof MALFORMED / sizeof MALFORMED[0]; i++)
            if (!strcmp(MALFORMED[i].name, de->d_name))
                idx = (int)i;
        if (idx < 0)
            fail_msg("no decision recorded for malformed/%s", de->d_name);
        char path[2200], why[256];
        snprintf(path, sizeof path, "%s/%s", mdir, de->d_name);
        int k = file_outcome(path, why, sizeof why);
        if (MALFORMED[idx].parses && k <= 0)
            fail_msg("%s: EDGE file should parse, got: %s", de->d_name, why);
        if (!MALFORMED[idx].parses) {
            if (k >= 0)
                fail_msg("%s: MALFORMED file parsed without error", de->d_name);
            if (!strstr(why, MALFORMED[idx].phrase))
                fail_msg("%s: error '%s' lacks '%s'", de->d_name, why, MALFORMED[idx].phrase);
        }
        seen++;
    }
    closedir(h);
    assert_int_equal(seen, (int)(sizeof MALFORMED / sizeof MALFORMED[0]));
}

static void test_edge_values(void **state)
{
    (void)state;
    /* EDGE files' particular points, written out */
    const char tabs[] = "MSH|^~\\&|SA\tX|SF\t|RA|RF|20110613083617||ADT^A04|123|P|2.7\r\n";
    const char null[] =
        "MSH|^~\\&|SA|SF|RA|RF|20110613083617||ADT^A04|123|P|2.7\r\nEVN|A04|1||\"\"\r\n";
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    assert_int_equal(hl7_msg_parse(m, tabs, sizeof tabs - 1, 0, &e), 0);
    assert_string_equal(val(m, "MSH", 3, 0, 0, 0), "SA\tX");
    struct buf out = BUF_INIT;
    hl7_msg_encode(m, NULL, &out); /* tabs survive a round trip */
    assert_memory_equal(out.data, tabs, sizeof tabs - 3);
    assert_int_equal(hl7_msg_parse(m, null, sizeof null - 1, 0, &e), 0);
    struct hl7_span v;
    hl7_get(m, "EVN", 1, 4, 0, 0, 0, &v);
    assert_true(hl7_span_is_null(v));
    hl7_get(m, "EVN", 1, 3, 0, 0, 0, &v);
    assert_false(hl7_span_is_null(v));
    assert_int_equal(v.len, 0);
    buf_release(&out);
    hl7_msg_free(m);
}

static void test_fuzz_regressions(void **state)
{
    (void)state;
    /* short and odd inputs: must fail cleanly, never over-read (ASan) */
    const char *inputs[] = {"M",
                            "MS",
                            "MSH",
                            "MSH|",
                            "MSH|^~\\&",
                            "MSH|^~\\&|",
                            "MSH|^~\\&\r",
                            "MSH|^~\\&#|",
                            "MSH|^~\\&|\\",
                            "MSH|^~\\&|a|b|c|d|e|f|g^h|i\rA",
                            "MSH|^~\\&|a|b|c|d|e|f|g^h|i\rAB",
                            "MSH|^~\\&|a|b|c|d|e|f|g^h|i\r\\",
                            "MSH|^~\\&|a|b|c|d|e|f|g^h|i\rABC|\\X\\"};
    struct hl7_msg *m = hl7_msg_new();
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        char *copy = malloc(n ? n : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, inputs[i], n);
        struct hl7_error e;
        int rc = hl7_msg_parse(m, copy, n, 0, &e);
        if (rc) {
            assert_true(strlen(e.text) > 0);
        } else { /* reachable values can be decoded */
            for (size_t k = 0; k < hl7_seg_count(m); k++)
                for (size_t f = 1; f <= hl7_seg_field_count(m, k); f++) {
                    struct hl7_span v;
                    hl7_seg_get(m, k, f, 1, 1, 1, &v);
                    char out[64];
                    hl7_unescape(hl7_msg_delims(m), v, out, sizeof out);
                }
        }
        struct hl7_split s;
        struct hl7_span msg;
        hl7_split_init(&s, copy, n);
        while (hl7_split_next(&s, &msg, &e) == 1)
            ;
        free(copy);
    }
    hl7_msg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_access),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_other_delimiters_and_truncation),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_escape_roundtrip),
        cmocka_unit_test(test_escape_dot_escape_char),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_continuation_and_bare_segment),
        cmocka_unit_test(test_reuse_handle),
        cmocka_unit_test(test_splitter),
        cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_shared_samples_parse),
        cmocka_unit_test(test_shared_malformed),
        cmocka_unit_test(test_shared_samples_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
