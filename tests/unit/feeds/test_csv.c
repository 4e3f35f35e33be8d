/* test_csv.c - the RFC 4180 reader: quoting, line ends, BOM, blank lines,
 * ragged rows, limits, invalid UTF-8, line numbers, file vs memory input. */
#define _GNU_SOURCE /* fopencookie */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/csv.h"

/* Read all of s into a printable transcript: one line per record,
 * "L<line>-<end_line>:" then the fields in [] or "ERR(<code>,f<field>):msg". */
static char *transcript_r(struct csv_reader *r)
{
    struct buf b = BUF_INIT;
    struct csv_row row;
    int rc;
    while ((rc = csv_reader_next(r, &row)) == 1) {
        buf_addf(&b, "L%zu-%zu:", row.line, row.end_line);
        if (row.err) {
            buf_addf(&b, "ERR(%d,f%zu):%s\n", row.err, row.err_field, row.errmsg);
            continue;
        }
        for (size_t i = 0; i < row.nfields; i++) {
            assert_int_equal(strlen(row.fields[i]), row.lens[i]);
            buf_addf(&b, "[%s]", row.fields[i]);
        }
        buf_addc(&b, '\n');
    }
    assert_int_equal(rc, 0);
    buf_addf(&b, "blank=%zu", csv_reader_blank_lines(r));
    return buf_detach(&b, NULL);
}

static char *transcript(const char *s, size_t len, const struct csv_opts *o)
{
    struct csv_reader *r;
    assert_int_equal(csv_reader_open_mem(&r, s, len, o), 0);
    char *t = transcript_r(r);
    csv_reader_close(r);
    return t;
}

#define CHECK(input, expect)                                                                       \
    do {                                                                                           \
        char *t_ = transcript(input, sizeof(input) - 1, NULL);                                     \
        assert_string_equal(t_, expect);                                                           \
        free(t_);                                                                                  \
    } while (0)

static void test_simple_lf(void **state)
{
    (void)state;
    CHECK("a,b,c\n1,2,3\n", "L1-1:[a][b][c]\nL2-2:[1][2][3]\nblank=0");
    /* no final line end */
    CHECK("a,b\n1,2", "L1-1:[a][b]\nL2-2:[1][2]\nblank=0");
    /* empty input, and input that is only line ends */
    CHECK("", "blank=0");
    CHECK("\n\r\n\n", "blank=3");
}

static void test_quotes(void **state)
{
    (void)state;
    CHECK("\"a,b\",\"say \"\"hi\"\"\",c\n", "L1-1:[a,b][say \"hi\"][c]\nblank=0");
    /* quoted empty field and quoted field with only a quote */
    CHECK("\"\",\"\"\"\"\n", "L1-1:[][\"]\nblank=0");
    /* spaces around an unquoted field are data (trimming is the mapper's job) */
    CHECK(" a , b \n", "L1-1:[ a ][ b ]\nblank=0");
}

static void test_embedded_newlines_and_line_numbers(void **state)
{
    (void)state;
    /* the second record spans lines 2-4 and is reported at line 2; the third
     * starts at line 5 */
    CHECK("id,text\n1,\"first\nsecond\r\nthird\"\n2,x\n",
          "L1-1:[id][text]\nL2-4:[1][first\nsecond\r\nthird]\nL5-5:[2][x]\nblank=0");
}

static void test_crlf_and_bare_cr(void **state)
{
    (void)state;
    CHECK("a,b\r\n1,2\r\n", "L1-1:[a][b]\nL2-2:[1][2]\nblank=0");
    CHECK("a,b\r1,2\r", "L1-1:[a][b]\nL2-2:[1][2]\nblank=0");
    /* mixed, and a quoted field followed by CRLF */
    CHECK("a,\"b\"\r\n1,2\n3,4\r", "L1-1:[a][b]\nL2-2:[1][2]\nL3-3:[3][4]\nblank=0");
}

static void test_bom(void **state)
{
    (void)state;
    CHECK("\xEF\xBB\xBFid,name\n1,x\n", "L1-1:[id][name]\nL2-2:[1][x]\nblank=0");
    struct csv_reader *r;
    const char s[] = "\xEF\xBB\xBF"
                     "a\n";
    assert_int_equal(csv_reader_open_mem(&r, s, sizeof s - 1, NULL), 0);
    struct csv_row row;
    assert_int_equal(csv_reader_next(r, &row), 1);
    assert_string_equal(row.fields[0], "a");
    assert_int_equal(csv_reader_had_bom(r), 1);
    csv_reader_close(r);
    /* a UTF-16 byte order mark is not skipped but is reported */
    const char u16[] = "\xFF\xFE"
                       "a\0\n\0";
    assert_int_equal(csv_reader_open_mem(&r, u16, sizeof u16 - 1, NULL), 0);
    assert_int_equal(csv_reader_next(r, &row), 1);
    assert_int_equal(row.err, WEFT_EPARSE);
    assert_int_equal(csv_reader_had_bom(r), 2);
    csv_reader_close(r);
    /* a BOM later in the file is data (and valid UTF-8) */
    CHECK("a\n\xEF\xBB\xBF"
          "b\n",
          "L1-1:[a]\nL2-2:[\xEF\xBB\xBF"
          "b]\nblank=0");
}

static void test_empty_fields_and_blank_lines(void **state)
{
    (void)state;
    CHECK("a,,\n,,\n", "L1-1:[a][][]\nL2-2:[][][]\nblank=0");
    /* blank lines are skipped but still counted for line numbers */
    CHECK("h1,h2\n\n1,2\r\n\r\n\n3,4\n", "L1-1:[h1][h2]\nL3-3:[1][2]\nL6-6:[3][4]\nblank=3");
    /* a single empty quoted field is a record, not a blank line */
    CHECK("\"\"\n", "L1-1:[]\nblank=0");
}

static void test_ragged_rows(void **state)
{
    (void)state;
    /* the reader reports what is there; the mapper compares with the header */
    CHECK("a,b,c\n1,2\n1,2,3,4\n", "L1-1:[a][b][c]\nL2-2:[1][2]\nL3-3:[1][2][3][4]\nblank=0");
}

static void test_syntax_errors_resync(void **state)
{
    (void)state;
    CHECK("a,b\"c,d\n1,2\n",
          "L1-1:ERR(-8,f2):quote inside an unquoted field\nL2-2:[1][2]\nblank=0");
    CHECK("\"ab\"c,d\n1,2\n", "L1-1:ERR(-8,f1):text after a closing quote\nL2-2:[1][2]\nblank=0");
    /* an unterminated quote swallows the rest: one error at the line it started */
    CHECK("1,2\n3,\"open\n4,5\n",
          "L1-1:[1][2]\nL2-4:ERR(-8,f2):unterminated quoted field at end of file\nblank=0");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    CHECK("ok,\xC3\xA9\n"        /* é: fine */
          "bad,\xC3\n"           /* truncated sequence */
          "x,\xC0\xAF\n"         /* overlong '/' */
          "y,\xED\xA0\x80\n"     /* surrogate U+D800 */
          "z,\xF4\x90\x80\x80\n" /* above U+10FFFF */
          "w,\xF0\x9F\x98\x80\n" /* emoji: fine */
          "v,\xFF\n",
          "L1-1:[ok][\xC3\xA9]\n"
          "L2-2:ERR(-8,f2):invalid UTF-8 or NUL byte\n"
          "L3-3:ERR(-8,f2):invalid UTF-8 or NUL byte\n"
          "L4-4:ERR(-8,f2):invalid UTF-8 or NUL byte\n"
          "L5-5:ERR(-8,f2):invalid UTF-8 or NUL byte\n"
          "L6-6:[w][\xF0\x9F\x98\x80]\n"
          "L7-7:ERR(-8,f2):invalid UTF-8 or NUL byte\nblank=0");
    /* NUL byte */
    const char nul[] = "a,b\0c\nd,e\n";
    char *t = transcript(nul, sizeof nul - 1, NULL);
    assert_string_equal(t, "L1-1:ERR(-8,f2):invalid UTF-8 or NUL byte\nL2-2:[d][e]\nblank=0");
    free(t);

    assert_true(csv_utf8_valid("", 0));
    assert_true(csv_utf8_valid("plain ascii text, long enough for the fast path", 47));
    assert_false(csv_utf8_valid("plain ascii text\0 long enough for the fast path", 47));
    assert_true(csv_utf8_valid("\xE2\x82\xAC", 3)); /* euro */
    assert_false(csv_utf8_valid("\xE2\x82", 2));
    assert_false(csv_utf8_valid("\xE0\x80\x80", 3)); /* overlong */
    assert_false(csv_utf8_valid("\x80", 1));
}

static void test_limits(void **state)
{
    (void)state;
    struct csv_opts o = {.max_field = 8, .max_row = 20, .max_fields = 3};
    const char s[] = "12345678,ok\n"
                     "123456789,x\n"             /* field of 9 > 8 */
                     "\"12345\n789\",x\n"        /* quoted field of 9 bytes spanning a line */
                     "1234567,1234567,1234567\n" /* 21 bytes of data > 20 */
                     "a,b,c,d\n"                 /* 4 fields > 3 */
                     "last,row\n";
    char *t = transcript(s, sizeof s - 1, &o);
    assert_string_equal(t, "L1-1:[12345678][ok]\n"
                           "L2-2:ERR(-9,f1):field exceeds the maximum field size\n"
                           "L3-4:ERR(-9,f1):field exceeds the maximum field size\n"
                           "L5-5:ERR(-9,f3):row exceeds the maximum row size\n"
                           "L6-6:ERR(-9,f4):row has more fields than the maximum\n"
                           "L7-7:[last][row]\nblank=0");
    free(t);
}

static void test_huge_field_default_limit(void **state)
{
    (void)state;
    /* a 200 KiB field: rejected with the default 64 KiB limit, memory stays
     * bounded, and the next row is read normally */
    size_t n = 200 * 1024;
    struct buf b = BUF_INIT;
    buf_adds(&b, "id,text\n1,\"");
    for (size_t i = 0; i < n; i++)
        buf_addc(&b, (char)('a' + i % 26));
    buf_adds(&b, "\"\n2,short\n");
    char *t = transcript(b.data, b.len, NULL);
    assert_string_equal(t, "L1-1:[id][text]\nL2-2:ERR(-9,f2):field exceeds the maximum field "
                           "size\nL3-3:[2][short]\nblank=0");
    free(t);
    buf_release(&b);
}

/* The FILE reader refills a 64 KiB window: records, quotes, CRLF pairs and
 * UTF-8 sequences that straddle the window edge must read exactly as from
 * memory. */
static void test_file_matches_memory(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_adds(&b, "\xEF\xBB\xBFid,text,note\r\n");
    for (int i = 0; i < 12000; i++) {
        switch (i % 5) {
        case 0:
            buf_addf(&b, "%d,\"multi\r\nline \"\"%d\"\"\",\xC3\xA9t\xC3\xA9\r\n", i, i);
            break;
        case 1:
            buf_addf(&b, "%d,plain %d,\r\n", i, i);
            break;
        case 2:
            buf_addf(&b, "%d,\"a,b\",\xE2\x82\xAC%d\n", i, i);
            break;
        case 3:
            buf_addf(&b, "\r\n%d,,x\r", i);
            break;
        default:
            buf_addf(&b, "%d,\"\",\"\"\"\"\n", i);
            break;
        }
    }
    char *mem = transcript(b.data, b.len, NULL);

    FILE *fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
    rewind(fp);
    struct csv_reader *r;
    assert_int_equal(csv_reader_open(&r, fp, NULL), 0);
    char *file = transcript_r(r);
    assert_int_equal(csv_reader_offset(r), b.len);
    csv_reader_close(r);
    fclose(fp);

    assert_true(b.len > 3 * 65536);
    assert_string_equal(mem, file);
    /* spot checks: 12001 records, 2400 blank lines, line numbers advance by
     * two for multi-line records */
    size_t recs = 0;
    for (char *p = mem; *p; p++)
        if (*p == 'L' && (p == mem || p[-1] == '\n'))
            recs++;
    assert_int_equal(recs, 12001);
    assert_non_null(strstr(mem, "blank=2400"));
    assert_non_null(strstr(mem, "L2-3:[0][multi\r\nline \"0\"][\xC3\xA9t\xC3\xA9]\n"));
    assert_non_null(strstr(mem, "L4-4:[1][plain 1][]\n"));
    free(mem);
    free(file);
    buf_release(&b);
}

/* A FILE that produces rows on the fly: a 40 MB input never held anywhere. */
struct gen {
    long row, rows;
    char pending[256];
    size_t plen, ppos;
};

static ssize_t gen_read(void *cookie, char *out, size_t size)
{
    struct gen *g = cookie;
    size_t n = 0;
    while (n < size) {
        if (g->ppos == g->plen) {
            if (g->row == g->rows)
                break;
            int k = snprintf(g->pending, sizeof g->pending,
                             "%ld,\"name %ld, with comma\",\"multi\nline \"\"%ld\"\"\",%s\r\n",
                             g->row, g->row, g->row, g->row % 7 ? "x" : "");
            g->plen = (size_t)k;
            g->ppos = 0;
            g->row++;
        }
        size_t take = g->plen - g->ppos < size - n ? g->plen - g->ppos : size - n;
        memcpy(out + n, g->pending + g->ppos, take);
        g->ppos += take;
        n += take;
    }
    return (ssize_t)n;
}

static void test_constant_memory(void **state)
{
    (void)state;
    struct gen g = {.rows = 800000};
    cookie_io_functions_t io = {.read = gen_read};
    FILE *fp = fopencookie(&g, "r", io);
    assert_non_null(fp);
    struct csv_reader *r;
    assert_int_equal(csv_reader_open(&r, fp, NULL), 0);
    struct csv_row row;
    long n = 0;
    size_t peak = 0;
    while (csv_reader_next(r, &row) == 1) {
        assert_int_equal(row.err, 0);
        assert_int_equal(row.nfields, 4);
        assert_int_equal(row.line, (size_t)(2 * n + 1)); /* every record spans two lines */
        if (n == 123456) {
            assert_string_equal(row.fields[1], "name 123456, with comma");
            assert_string_equal(row.fields[2], "multi\nline \"123456\"");
        }
        size_t m = csv_reader_memory(r);
        if (m > peak)
            peak = m;
        n++;
    }
    assert_int_equal(n, 800000);
    assert_true(csv_reader_offset(r) > 40u * 1000 * 1000);
    /* the input window plus one small record: nothing grows with the input */
    assert_true(peak < 80 * 1024);
    csv_reader_close(r);
    fclose(fp);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct csv_reader *r = NULL;
    assert_int_equal(csv_reader_open(&r, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(csv_reader_open_mem(&r, NULL, 3, NULL), WEFT_EINVAL);
    assert_int_equal(csv_reader_open_mem(&r, NULL, 0, NULL), 0);
    struct csv_row row;
    assert_int_equal(csv_reader_next(r, &row), 0);
    assert_int_equal(csv_reader_next(r, &row), 0);
    csv_reader_close(r);
    csv_reader_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_lf),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_embedded_newlines_and_line_numbers),
        cmocka_unit_test(test_crlf_and_bare_cr),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_empty_fields_and_blank_lines),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_syntax_errors_resync),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_huge_field_default_limit),
        cmocka_unit_test(test_file_matches_memory),
        cmocka_unit_test(test_constant_memory),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
