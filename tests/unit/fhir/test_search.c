/* test_search.c - FHIR search parameter parsing, date ranges, cursors and
 * paging links (fhir/search.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"
#include "fhir/search.h"
#include "store/records.h"

#define KV(n, v)                                                                                   \
    {                                                                                              \
        (char *)(n), (char *)(v)                                                                   \
    }
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void date_range(const char *in, const char *ge, const char *lt)
{
    char g[32], l[32];
    int rc = fhir_search_date_range(in, g, l);
    if (rc != 0)
        fail_msg("'%s' was refused (%d)", in, rc);
    assert_string_equal(g, ge);
    assert_string_equal(l, lt);
}

static void test_date_prefixes(void **state)
{
    (void)state;
    date_range("2020", "2020", "2021");
    date_range("eq2020-02", "2020-02", "2020-03");
    date_range("2020-12", "2020-12", "2021-01");
    date_range("2020-02-28", "2020-02-28", "2020-02-29");
    date_range("2021-02-28", "2021-02-28", "2021-03-01");
    date_range("2020-12-31", "2020-12-31", "2021-01-01");
    date_range("ge2020-03-04", "2020-03-04", "");
    date_range("gt2020-03-04", "2020-03-05", "");
    date_range("gt2020", "2021", "");
    date_range("lt2020-03", "", "2020-03");
    date_range("le2020-03", "", "2020-04");
    date_range("le2020-03-31T23:59", "", "2020-04-01T00:00");
    date_range("2020-03-04T10:00:00Z", "2020-03-04T10:00:00", "2020-03-04T10:00:01");
    date_range("ge2020-03-04T10:00:59.123+01:00", "2020-03-04T10:00:59", "");
    date_range("2020-03-04T23:59:59-05:00", "2020-03-04T23:59:59", "2020-03-05T00:00:00");
    /* the last year: nothing is later (found by fuzz_search: the next
     * interval "10000" sorted before "9999" and matched nothing) */
    date_range("9999", "9999", "");
    date_range("le9999-12-31", "", "");
    date_range("gt9999-12-31T23:59:59", "~", "");
}

static void test_date_bad(void **state)
{
    (void)state;
    char g[32], l[32];
    const char *bad[] = {"",
                         "20",
                         "2020-13",
                         "2020-02-30",
                         "2021-02-29",
                         "2020-1",
                         "2020-01-01T10",
                         "2020-01-01T25:00",
                         "xx2020",
                         "2020-01-01x",
                         "ge",
                         "2020-01-01T10:00+0100",
                         "2020/01/01",
                         "2020-01-01T10:00:00.",
                         "gte2020"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fhir_search_date_range(bad[i], g, l) != WEFT_EINVAL)
            fail_msg("'%s' should be refused as invalid", bad[i]);
    const char *unsupported[] = {"ne2020", "sa2020", "eb2020", "ap2020"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fhir_search_date_range(unsupported[i], g, l), WEFT_EUNSUPPORTED);
}

/* patient=a,b: comma = OR over patients, each kept (once) for its own scope */
static void test_several_patients(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("patient", "Patient/a1,b2,http://x.org/fhir/Patient/c3,a1")};
    struct fhir_search fs;
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", args, NARGS(args), false), 0);
    assert_null(fs.patient_id);
    assert_int_equal(fs.npatient_ids, 3);
    assert_string_equal(fs.patient_ids[0], "a1");
    assert_string_equal(fs.patient_ids[1], "b2");
    assert_string_equal(fs.patient_ids[2], "c3");
    fhir_search_free(&fs);
    struct url_kv one[] = {KV("subject", "Patient/a1,a1")};
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", one, NARGS(one), false), 0);
    assert_string_equal(fs.patient_id, "a1");
    assert_int_equal(fs.npatient_ids, 0);
    fhir_search_free(&fs);
    struct url_kv twice[] = {KV("patient", "a1"), KV("patient", "b2")};
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", twice, NARGS(twice), false),
        WEFT_EINVAL);
    fhir_search_free(&fs);
}

static void test_clinical_search(void **state)
{
    (void)state;
    struct url_kv args[] = {
        KV("patient", "Patient/abc123"),
        KV("code", "http://loinc.org|8867-4,http://loinc.org|9279-1,|local,plain"),
        KV("_record-category", "results,observations"),
        KV("date", "ge2019"),
        KV("date", "lt2020-06"),
        KV("_lastUpdated", "gt2026-01-01"),
        KV("_count", "20"),
        KV("_sort", "-date"),
    };
    struct fhir_search fs;
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", args, NARGS(args), false), 0);
    assert_string_equal(fs.patient_id, "abc123");
    assert_string_equal(fs.q.type, "Observation");
    assert_int_equal(fs.q.ncodes, 4);
    assert_string_equal(fs.q.codes[0], "http://loinc.org|8867-4");
    assert_string_equal(fs.q.codes[1], "http://loinc.org|9279-1");
    assert_string_equal(fs.q.codes[2], "|local");
    assert_string_equal(fs.q.codes[3], "plain");
    assert_int_equal(fs.q.ncategories, 2);
    assert_string_equal(fs.q.categories[0], "results");
    assert_string_equal(fs.q.categories[1], "observations");
    assert_string_equal(fs.q.date_ge, "2019");
    assert_string_equal(fs.q.date_lt, "2020-06");
    assert_string_equal(fs.q.lastupd_ge, "2026-01-02");
    assert_null(fs.q.lastupd_lt);
    assert_int_equal(fs.q.limit, 20);
    assert_int_equal(fs.q.sort, STORE_SORT_DATE_DESC);
    assert_true(fs.sort_given);
    assert_true(fs.q.want_total);
    assert_int_equal(fs.nwarnings, 0);
    fhir_search_free(&fs);
}

static void test_dates_intersect(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("date", "2019"), KV("date", "ge2019-06"), KV("date", "le2020-03"),
                            KV("subject", "http://example.org/fhir/Patient/p1")};
    struct fhir_search fs;
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Condition", args, NARGS(args), false), 0);
    assert_string_equal(fs.q.date_ge, "2019-06");
    assert_string_equal(fs.q.date_lt, "2020");
    assert_string_equal(fs.patient_id, "p1");
    assert_false(fs.sort_given);
    fhir_search_free(&fs);
}

static void test_patient_search(void **state)
{
    (void)state;
    struct url_kv args[] = {
        KV("identifier", "https://fhir.nhs.uk/Id/nhs-number|9990000018"),
        KV("family", "Smi"),
        KV("given", "Jo"),
        KV("birthdate", "1970-01"),
    };
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", args, NARGS(args), false),
                     0);
    assert_int_equal(fs.q.nterms, 4);
    assert_string_equal(fs.q.terms[0].param, "identifier");
    assert_string_equal(fs.q.terms[0].value, "https://fhir.nhs.uk/Id/nhs-number|9990000018");
    assert_false(fs.q.terms[0].prefix);
    assert_string_equal(fs.q.terms[1].param, "family");
    assert_true(fs.q.terms[1].prefix);
    assert_string_equal(fs.q.terms[2].value, "Jo");
    assert_string_equal(fs.q.terms[3].param, "birthdate");
    assert_string_equal(fs.q.terms[3].value, "1970-01");
    assert_true(fs.q.terms[3].prefix);
    assert_int_equal(fs.q.limit, FHIR_COUNT_DEFAULT);
    fhir_search_free(&fs);

    struct url_kv full[] = {KV("birthdate", "1970-01-31")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", full, 1, false), 0);
    assert_false(fs.q.terms[0].prefix);
    fhir_search_free(&fs);
}

/* Each bad input is refused, naming the parameter at fault. */
static void expect_error(const char *type, const char *name, const char *value,
                         const char *want_param, const char *want_text)
{
    struct url_kv args[] = {KV(name, value)};
    struct fhir_search fs;
    int rc = fhir_search_parse(&fs, FHIR_SEARCH_TYPE, type, args, 1, false);
    if (rc != WEFT_EINVAL)
        fail_msg("%s=%s accepted for %s", name, value, type);
    assert_string_equal(fs.err_param, want_param);
    if (!strstr(fs.err_msg, want_text))
        fail_msg("message '%s' lacks '%s'", fs.err_msg, want_text);
    fhir_search_free(&fs);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_error("Observation", "colour", "red", "colour", "unknown search parameter 'colour'");
    expect_error("Observation", "code:below", "x", "code:below",
                 "modifier ':below' is not supported");
    expect_error("Observation", "date", "yesterday", "date", "not a valid date");
    expect_error("Observation", "date", "ne2020-13", "date", "not a date");
    expect_error("Observation", "value-quantity:exact", "1", "value-quantity:exact",
                 "not supported");
    expect_error("Observation", "subject.name", "x", "subject.name", "name one");
    expect_error("Observation", "subject:Patient.colour", "x", "subject:Patient.colour",
                 "unknown search parameter 'colour'");
    expect_error("Patient", "_has:Observation:colour:code", "x", "_has:Observation:colour:code",
                 "no reference parameter");
    expect_error("Observation", "_count", "-1", "_count", "non-negative");
    expect_error("Observation", "_count", "ten", "_count", "non-negative");
    expect_error("Observation", "_sort", "colour", "_sort", "not supported");
    expect_error("Observation", "_sort", "code-value-quantity", "_sort", "not supported");
    expect_error("Observation", "patient", "Group/7", "patient", "not a Patient reference");
    expect_error("Observation", "patient", "Patient/a b", "patient", "not a valid resource id");
    expect_error("Observation", "patient", "a,Group/7", "patient", "not a Patient reference");
    expect_error("Observation", "patient", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "patient",
                 "at most 16 patients");
    expect_error("Observation", "_record-category", "lab-stuff", "_record-category",
                 "not a record category");
    expect_error("Observation", "code", "a,,b", "code", "empty value");
    expect_error("Observation", "code", "http://loinc.org|", "code", "not a token");
    expect_error("Observation", "given", "x", "given", "unknown search parameter");
    expect_error("Patient", "birthdate", "ge1970-13", "birthdate", "not a date");
    expect_error("Patient", "birthdate", "1970-02-30", "birthdate", "not a date");
    expect_error("Patient", "identifier", "sys|", "identifier", "has no value");
    expect_error("Patient", "code", "x", "code", "unknown search parameter");
    expect_error("Observation", "_cursor", "not-a-cursor", "_cursor", "not a paging cursor");
    expect_error("Observation", "_format", "xml", "_format", "only JSON");
    expect_error("Observation", "_id", "bad id!", "_id", "not a valid resource id");
}

static void test_lenient(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("colour", "red"), KV("code:below", "x"), KV("code", "1234-5")};
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", args, 3, true), 0);
    assert_int_equal(fs.nwarnings, 2);
    assert_non_null(strstr(fs.warnings[0], "'colour'"));
    assert_non_null(strstr(fs.warnings[1], "'code:below'"));
    assert_int_equal(fs.q.ncodes, 1);
    fhir_search_free(&fs);
}

static void test_count_limits(void **state)
{
    (void)state;
    struct url_kv big[] = {KV("_count", "100000")};
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", big, 1, false), 0);
    assert_int_equal(fs.q.limit, FHIR_COUNT_MAX);
    assert_int_equal(fs.nwarnings, 1);
    fhir_search_free(&fs);
    struct url_kv zero[] = {KV("_count", "0")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", zero, 1, false), 0);
    assert_true(fs.summary_count);
    fhir_search_free(&fs);
    struct url_kv summary[] = {KV("_summary", "count")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", summary, 1, false), 0);
    assert_true(fs.summary_count);
    fhir_search_free(&fs);
    struct url_kv text[] = {KV("_summary", "text")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", text, 1, false),
                     WEFT_EINVAL);
    assert_string_equal(fs.err_param, "_summary");
    fhir_search_free(&fs);
}

static void test_everything(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("_count", "100"), KV("_since", "2026-01-01T00:00:00Z")};
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_EVERYTHING, NULL, args, 2, false), 0);
    assert_null(fs.q.type);
    assert_int_equal(fs.q.limit, 100);
    assert_string_equal(fs.q.lastupd_ge, "2026-01-01T00:00:00");
    fhir_search_free(&fs);
    struct url_kv bad[] = {KV("code", "x")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_EVERYTHING, NULL, bad, 1, false),
                     WEFT_EINVAL);
    assert_non_null(strstr(fs.err_msg, "$everything"));
    fhir_search_free(&fs);
    /* default page size of $everything is 100 */
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_EVERYTHING, NULL, NULL, 0, false), 0);
    assert_int_equal(fs.q.limit, 100);
    fhir_search_free(&fs);
}

static void test_total(void **state)
{
    (void)state;
    struct url_kv none[] = {KV("_total", "none")};
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", none, 1, false), 0);
    assert_true(fs.no_total);
    assert_false(fs.q.want_total);
    fhir_search_free(&fs);
    struct url_kv acc[] = {KV("_total", "accurate")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", acc, 1, false), 0);
    assert_true(fs.q.want_total);
    fhir_search_free(&fs);
    /* a later page carries the total in its cursor: no count again */
    struct buf b = BUF_INIT;
    fhir_search_cursor_encode(&b, 9, 40, "k.id");
    struct url_kv later[] = {KV("_cursor", b.data)};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", later, 1, false), 0);
    assert_false(fs.q.want_total);
    assert_int_equal(fs.total, 40);
    assert_int_equal(fs.q.snapshot, 9);
    assert_string_equal(fs.q.after, "k.id");
    fhir_search_free(&fs);
    buf_release(&b);
    struct url_kv bad[] = {KV("_total", "lots")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", bad, 1, false),
                     WEFT_EINVAL);
    fhir_search_free(&fs);
}

static void test_ids(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("_id", "a1,b2")};
    struct fhir_search fs;
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", args, 1, false), 0);
    assert_int_equal(fs.nids, 2);
    assert_string_equal(fs.ids[1], "b2");
    fhir_search_free(&fs);
    struct url_kv mixed[] = {KV("_id", "a1"), KV("family", "x")};
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", mixed, 2, false),
                     WEFT_EINVAL);
    assert_string_equal(fs.err_param, "_id");
    fhir_search_free(&fs);
}

static void test_cursor_roundtrip(void **state)
{
    (void)state;
    const char *afters[] = {"a", "ab", "abc", "abcd", "6132303230.0f3a9e|x y/z", NULL};
    for (int i = 0; i < 6; i++) {
        struct buf b = BUF_INIT;
        fhir_search_cursor_encode(&b, 4242, 977, afters[i]);
        for (size_t k = 0; k < b.len; k++)
            assert_non_null(strchr(
                "0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_", b.data[k]));
        int64_t snap = 0, total = 0;
        char *after = NULL;
        assert_int_equal(fhir_search_cursor_decode(b.data, &snap, &total, &after), 0);
        assert_int_equal(snap, 4242);
        assert_int_equal(total, 977);
        if (afters[i])
            assert_string_equal(after, afters[i]);
        else
            assert_null(after);
        free(after);
        buf_release(&b);
    }
    const char *bad[] = {"",        "x.1.YQ",  "1",     "1.2",      "0.1.YQ",
                         "-1.1.YQ", "1.-2.YQ", "1.2.Y", "1.2.Y*==", "1.2.AA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t snap = 0, total = 0;
        char *after = NULL;
        if (fhir_search_cursor_decode(bad[i], &snap, &total, &after) != WEFT_EINVAL)
            fail_msg("cursor '%s' accepted", bad[i]);
        assert_null(after);
    }
}

static void test_page_url(void **state)
{
    (void)state;
    struct url_kv args[] = {KV("code", "http://loinc.org|8867-4"), KV("_cursor", "old"),
                            KV("given", "Zoë & co")};
    struct buf b = BUF_INIT;
    fhir_search_page_url(&b, "http://h:1/fhir/Observation", args, 3, "12.3.YWJj");
    assert_string_equal(b.data, "http://h:1/fhir/Observation?code=http%3A%2F%2Floinc.org%7C8867-4"
                                "&given=Zo%C3%AB%20%26%20co&_cursor=12.3.YWJj");
    buf_release(&b);
    fhir_search_page_url(&b, "http://h:1/fhir/Observation", NULL, 0, NULL);
    assert_string_equal(b.data, "http://h:1/fhir/Observation");
    buf_release(&b);
    fhir_search_page_url(&b, "http://h/fhir/Patient/x/$everything", NULL, 0, "1.2.YQ");
    assert_string_equal(b.data, "http://h/fhir/Patient/x/$everything?_cursor=1.2.YQ");
    buf_release(&b);

    /* a link's query parses back to the same parameters */
    struct url_kv *back = NULL;
    int nback = 0;
    const char *q = "code=http%3A%2F%2Floinc.org%7C8867-4&given=Zo%C3%AB+%26%20co&&x";
    assert_int_equal(url_query_parse(q, strlen(q), &back, &nback, 10), 0);
    assert_int_equal(nback, 3);
    assert_string_equal(back[0].value, "http://loinc.org|8867-4");
    assert_string_equal(back[1].value, "Zoë & co");
    assert_string_equal(back[2].name, "x");
    assert_string_equal(back[2].value, "");
    url_kv_free(back, nback);
    back = NULL;
    nback = 0;
    assert_int_equal(url_query_parse("a=%zz", 5, &back, &nback, 10), WEFT_EINVAL);
    url_kv_free(back, nback);
    back = NULL;
    nback = 0;
    assert_int_equal(url_query_parse("a=%00", 5, &back, &nback, 10), WEFT_EINVAL);
    url_kv_free(back, nback);
    back = NULL;
    nback = 0;
    assert_int_equal(url_query_parse("a=%4", 4, &back, &nback, 10), WEFT_EINVAL);
    url_kv_free(back, nback);
}

/* Limits: more than FHIR_SEARCH_MAX_TERMS Patient terms or more than
 * FHIR_SEARCH_MAX_PARAMS parameters is a 400 naming the limit; at the limit
 * it is accepted (issue 16 item 9). */
static void test_limits(void **state)
{
    (void)state;
    struct url_kv args[FHIR_SEARCH_MAX_PARAMS + 1];
    struct fhir_search fs;
    for (int i = 0; i < FHIR_SEARCH_MAX_TERMS; i++)
        args[i] = (struct url_kv)KV("family", "a");
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", args, FHIR_SEARCH_MAX_TERMS, false), 0);
    assert_int_equal(fs.q.nterms, FHIR_SEARCH_MAX_TERMS);
    fhir_search_free(&fs);
    args[FHIR_SEARCH_MAX_TERMS] = (struct url_kv)KV("given", "m");
    assert_int_equal(
        fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Patient", args, FHIR_SEARCH_MAX_TERMS + 1, false),
        WEFT_EINVAL);
    assert_non_null(strstr(fs.err_msg, "too many search terms: at most 32"));
    fhir_search_free(&fs);
    for (int i = 0; i <= FHIR_SEARCH_MAX_PARAMS; i++)
        args[i] = (struct url_kv)KV("_count", "5");
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", args,
                                       FHIR_SEARCH_MAX_PARAMS, false),
                     0);
    fhir_search_free(&fs);
    assert_int_equal(fhir_search_parse(&fs, FHIR_SEARCH_TYPE, "Observation", args,
                                       FHIR_SEARCH_MAX_PARAMS + 1, false),
                     WEFT_EINVAL);
    assert_non_null(strstr(fs.err_msg, "too many search parameters: 65 given, at most 64"));
    fhir_search_free(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_prefixes),
        cmocka_unit_test(test_date_bad),
        cmocka_unit_test(test_clinical_search),
        cmocka_unit_test(test_several_patients),
        cmocka_unit_test(test_dates_intersect),
        cmocka_unit_test(test_patient_search),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_count_limits),
        cmocka_unit_test(test_everything),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_cursor_roundtrip),
        cmocka_unit_test(test_page_url),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
