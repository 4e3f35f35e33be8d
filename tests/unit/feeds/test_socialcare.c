/* test_socialcare.c - social care CSV extracts: kind recognition, header
 * validation, per-row errors with line numbers, the FHIR produced for every
 * extract kind, batching and sink failures, the JSON report.
 * Fixtures: tests/data/csv/ (hand-written; see docs/feeds/csv-social-care.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/socialcare.h"

#define TODAY "2026-11-24"

/* ---- helpers ------------------------------------------------------------- */

/* Follow a path like "identifier[1].extension[0].url" from root. */
static json_t *jp(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *s = path;
    while (cur && *s) {
        if (*s == '.')
            s++;
        if (*s == '[') {
            char *end;
            long i = strtol(s + 1, &end, 10);
            cur = json_array_get(cur, (size_t)i);
            s = end + 1;
            continue;
        }
        size_t n = strcspn(s, ".[");
        char key[64];
        assert_true(n < sizeof key);
        memcpy(key, s, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        s += n;
    }
    return cur;
}

static void check_str(json_t *root, const char *path, const char *want, const char *file, int line)
{
    json_t *v = jp(root, path);
    if (!json_is_string(v)) {
        char *dump = json_dumps(root, JSON_INDENT(1));
        fprintf(stderr, "%s:%d: %s is not a string in\n%s\n", file, line, path, dump);
        free(dump);
        fail();
    }
    if (strcmp(json_string_value(v), want) != 0) {
        fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", file, line, path, json_string_value(v),
                want);
        fail();
    }
}
#define JSTR(root, path, want) check_str(root, path, want, __FILE__, __LINE__)
#define JABSENT(root, path) assert_null(jp(root, path))

struct collect {
    json_t *bundles;       /* array of the bundles seen */
    int fail_call;         /* 1-based call to refuse as a whole (0: none) */
    const char *fail_type; /* refuse entries of this resourceType one by one */
    int calls;
};

static int collect_sink(void *ctx, json_t *bundle, struct socialcare_batch *batch)
{
    struct collect *c = ctx;
    c->calls++;
    assert_string_equal(json_string_value(json_object_get(bundle, "resourceType")), "Bundle");
    assert_string_equal(json_string_value(json_object_get(bundle, "type")), "batch");
    assert_int_equal(json_array_size(json_object_get(bundle, "entry")),
                     socialcare_batch_entries(batch));
    if (c->fail_call == c->calls)
        return WEFT_EDB;
    json_array_append(c->bundles, bundle);
    if (c->fail_type) {
        json_t *entries = json_object_get(bundle, "entry");
        for (size_t i = 0; i < json_array_size(entries); i++) {
            const char *t = json_string_value(json_object_get(
                json_object_get(json_array_get(entries, i), "resource"), "resourceType"));
            if (!strcmp(t, c->fail_type))
                socialcare_batch_fail(batch, i, "unresolved reference");
        }
    }
    return 0;
}

/* The resource of type/id in any collected bundle (borrowed), or NULL; also
 * checks the entry's request. */
static json_t *find(struct collect *c, const char *type, const char *id)
{
    size_t i, j;
    json_t *b, *e;
    json_array_foreach(c->bundles, i, b)
    {
        json_array_foreach(json_object_get(b, "entry"), j, e)
        {
            json_t *r = json_object_get(e, "resource");
            if (!strcmp(json_string_value(json_object_get(r, "resourceType")), type) &&
                !strcmp(json_string_value(json_object_get(r, "id")), id)) {
                char url[160];
                snprintf(url, sizeof url, "%s/%s", type, id);
                JSTR(e, "request.method", "PUT");
                JSTR(e, "request.url", url);
                return r;
            }
        }
    }
    return NULL;
}

static size_t count_resources(struct collect *c)
{
    size_t n = 0, i;
    json_t *b;
    json_array_foreach(c->bundles, i, b) n += json_array_size(json_object_get(b, "entry"));
    return n;
}

static const char *fixture(const char *name, char *out, size_t outsz)
{
    const char *root = getenv("WEFT_ROOT");
    snprintf(out, outsz, "%s/tests/data/csv/%s", root ? root : ".", name);
    return out;
}

static struct socialcare_report *run_file(const char *name, struct collect *c, size_t batch,
                                          int *rc_out)
{
    char path[512];
    struct socialcare_opts o = {
        .ods = "KENTCC", .feed = "kent-sc", .today = TODAY, .batch_rows = batch};
    struct socialcare_report *rep = NULL;
    int rc = socialcare_process_file(fixture(name, path, sizeof path), &o, c ? collect_sink : NULL,
                                     c, &rep);
    assert_non_null(rep);
    if (rc_out)
        *rc_out = rc;
    else
        assert_int_equal(rc, 0);
    return rep;
}

/* The error/warning at line with column, or NULL. */
static const struct socialcare_issue *issue(const struct socialcare_report *rep, int errors,
                                            size_t line, const char *column)
{
    const struct socialcare_issue *is = errors ? rep->errors : rep->warnings;
    size_t n = errors ? rep->nerrors : rep->nwarnings;
    for (size_t i = 0; i < n; i++)
        if (is[i].line == line && ((!column && !is[i].column) ||
                                   (column && is[i].column && !strcmp(column, is[i].column))))
            return &is[i];
    return NULL;
}

static void expect_issue(const struct socialcare_report *rep, int errors, size_t line,
                         const char *column, const char *reason_part)
{
    const struct socialcare_issue *is = issue(rep, errors, line, column);
    if (!is) {
        fprintf(stderr, "no %s at line %zu column %s; have:\n", errors ? "error" : "warning", line,
                column ? column : "(none)");
        for (size_t i = 0; i < (errors ? rep->nerrors : rep->nwarnings); i++) {
            const struct socialcare_issue *x = errors ? &rep->errors[i] : &rep->warnings[i];
            fprintf(stderr, "  %zu %s: %s\n", x->line, x->column ? x->column : "-", x->reason);
        }
        fail();
    }
    if (!strstr(is->reason, reason_part)) {
        fprintf(stderr, "line %zu: reason \"%s\" lacks \"%s\"\n", line, is->reason, reason_part);
        fail();
    }
}

/* ---- kinds and ids ------------------------------------------------------- */

static void test_kind_from_filename(void **state)
{
    (void)state;
    assert_int_equal(socialcare_kind_from_filename("people.csv"), SOCIALCARE_PEOPLE);
    assert_int_equal(socialcare_kind_from_filename("/in/KENT/People_2026-11-24.CSV"),
                     SOCIALCARE_PEOPLE);
    assert_int_equal(socialcare_kind_from_filename("contacts-weekly.csv"), SOCIALCARE_CONTACTS);
    assert_int_equal(socialcare_kind_from_filename("assessments.csv"), SOCIALCARE_ASSESSMENTS);
    assert_int_equal(socialcare_kind_from_filename("services1.csv"), SOCIALCARE_SERVICES);
    assert_int_equal(socialcare_kind_from_filename("safeguarding.csv"), SOCIALCARE_SAFEGUARDING);
    assert_int_equal(socialcare_kind_from_filename("end_of_life_x.csv"), SOCIALCARE_END_OF_LIFE);
    assert_int_equal(socialcare_kind_from_filename("people.txt"), SOCIALCARE_UNKNOWN);
    assert_int_equal(socialcare_kind_from_filename("my_people.csv"), SOCIALCARE_UNKNOWN);
    assert_int_equal(socialcare_kind_from_filename("people/extract.csv"), SOCIALCARE_UNKNOWN);
    assert_int_equal(socialcare_kind_from_filename(".csv"), SOCIALCARE_UNKNOWN);
    assert_int_equal(socialcare_kind_parse("end_of_life"), SOCIALCARE_END_OF_LIFE);
    assert_int_equal(socialcare_kind_parse("nope"), SOCIALCARE_UNKNOWN);
    assert_string_equal(socialcare_kind_name(SOCIALCARE_SERVICES), "services");
    assert_string_equal(socialcare_kind_name(SOCIALCARE_UNKNOWN), "unknown");
}

static void test_fhir_id(void **state)
{
    (void)state;
    char id[65];
    socialcare_fhir_id("P0001", 5, id);
    assert_string_equal(id, "P0001");
    socialcare_fhir_id("a.b-C9", 6, id);
    assert_string_equal(id, "a.b-C9");
    /* sanitised + hash: deterministic, distinct for keys that sanitise alike */
    socialcare_fhir_id("AB 12/3", 7, id);
    assert_int_equal(strlen(id), 7 + 1 + 16);
    assert_memory_equal(id, "AB-12-3-", 8);
    char id2[65];
    socialcare_fhir_id("AB 12/3", 7, id2);
    assert_string_equal(id, id2);
    socialcare_fhir_id("AB/12 3", 7, id2);
    assert_memory_equal(id2, "AB-12-3-", 8);
    assert_string_not_equal(id, id2);
    /* too long: cut to 40 + '-' + 16 hex = 57 */
    char longkey[100];
    memset(longkey, 'x', sizeof longkey);
    socialcare_fhir_id(longkey, 65, id);
    assert_int_equal(strlen(id), 57);
    socialcare_fhir_id(longkey, 64, id);
    assert_int_equal(strlen(id), 64);
    /* non-ASCII and empty */
    socialcare_fhir_id("\xC3\xA9t\xC3\xA9", 5, id);
    assert_memory_equal(id, "--t---", 6);
    socialcare_fhir_id("", 0, id);
    assert_int_equal(id[0], '-');
    assert_int_equal(strlen(id), 17);
    for (const char *q = id; *q; q++)
        assert_true((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || *q == '-');
}

/* ---- people --------------------------------------------------------------- */

static void test_people_mapping(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("people_good.csv", &c, 0, NULL);
    assert_int_equal(rep->kind, SOCIALCARE_PEOPLE);
    assert_string_equal(rep->file, "people_good.csv");
    assert_null(rep->file_error);
    assert_int_equal(rep->rows_read, 5);
    assert_int_equal(rep->rows_mapped, 5);
    assert_int_equal(rep->rows_rejected, 0);
    assert_int_equal(rep->rows_loaded, 5);
    assert_int_equal(rep->bundles, 1);
    assert_int_equal(rep->resources, 5);
    assert_string_equal(socialcare_report_status(rep), "ok");
    /* the unknown column and the bad check digit are warnings */
    assert_int_equal(rep->warnings_count, 2);
    expect_issue(rep, 0, 1, "religion", "unknown column ignored");
    expect_issue(rep, 0, 4, "nhs_number", "check digit");
    assert_int_equal(rep->errors_count, 0);

    json_t *p = find(&c, "Patient", "P0001");
    assert_non_null(p);
    JSTR(p, "meta.tag[0].system", "urn:weft:category");
    JSTR(p, "meta.tag[0].code", "demographics");
    JSTR(p, "identifier[0].system", "urn:weft:id:KENTCC:person");
    JSTR(p, "identifier[0].value", "P0001");
    JSTR(p, "identifier[1].system", "https://fhir.nhs.uk/Id/nhs-number");
    JSTR(p, "identifier[1].value", "9990000018");
    JSTR(p, "identifier[1].extension[0].url",
         "https://fhir.hl7.org.uk/StructureDefinition/"
         "Extension-UKCore-NHSNumberVerificationStatus");
    JSTR(p, "identifier[1].extension[0].valueCodeableConcept.coding[0].system",
         "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus");
    JSTR(p, "identifier[1].extension[0].valueCodeableConcept.coding[0].code", "01");
    assert_true(json_is_true(jp(p, "active")));
    JSTR(p, "name[0].use", "official");
    JSTR(p, "name[0].family", "Smith");
    JSTR(p, "name[0].given[0]", "Jane");
    JSTR(p, "name[0].given[1]", "Anne");
    JSTR(p, "name[0].prefix[0]", "Mrs");
    JSTR(p, "gender", "female");
    JSTR(p, "birthDate", "1941-03-07");
    JSTR(p, "address[0].line[0]", "Flat 2, Rose Court");
    JSTR(p, "address[0].line[1]", "1 High Street");
    JSTR(p, "address[0].city", "Maidstone");
    JSTR(p, "address[0].postalCode", "ME14 1AA");
    JSTR(p, "telecom[0].system", "phone");
    JSTR(p, "telecom[0].use", "home");
    JSTR(p, "telecom[0].value", "01622 000001");
    JSTR(p, "telecom[1].use", "mobile");
    JSTR(p, "generalPractitioner[0].type", "Organization");
    JSTR(p, "generalPractitioner[0].identifier.system",
         "https://fhir.nhs.uk/Id/ods-organization-code");
    JSTR(p, "generalPractitioner[0].identifier.value", "G82001");
    JSTR(p, "extension[0].url", "https://weft.nhs.uk/StructureDefinition/date-recorded");
    JSTR(p, "extension[0].valueDate", "2026-01-15");
    JABSENT(p, "deceasedDateTime");

    /* N = number present but not traced; DD/MM/YYYY; UTF-8 name; apostrophe */
    p = find(&c, "Patient", "P0002");
    assert_non_null(p);
    JSTR(p, "identifier[1].value", "9990000026");
    JSTR(p, "identifier[1].extension[0].valueCodeableConcept.coding[0].code", "02");
    JSTR(p, "name[0].family", "O'Brien");
    JSTR(p, "name[0].given[0]",
         "S\xC3\xA9"
         "an");
    JSTR(p, "birthDate", "1950-11-07");
    JSTR(p, "gender", "male");
    JSTR(p, "address[0].postalCode", "TN23 1AA");
    JABSENT(p, "address[0].line");
    JABSENT(p, "telecom");
    JABSENT(p, "extension");

    /* invalid check digit: kept as sent, flagged so the linker never uses it */
    p = find(&c, "Patient", "P0003");
    assert_non_null(p);
    JSTR(p, "identifier[1].system", "https://fhir.nhs.uk/Id/nhs-number");
    JSTR(p, "identifier[1].value", "9990000027");
    JSTR(p, "identifier[1].extension[0].url", "urn:weft:data-quality");
    JSTR(p, "identifier[1].extension[0].valueCode", "invalid-nhs-number");
    assert_null(jp(p, "identifier[2]"));

    /* mostly blank */
    p = find(&c, "Patient", "P0004");
    assert_non_null(p);
    assert_int_equal(json_array_size(jp(p, "identifier")), 1);
    JSTR(p, "name[0].family", "Jones");
    JABSENT(p, "name[0].given");
    JABSENT(p, "birthDate");
    JABSENT(p, "gender");
    JABSENT(p, "address");
    JABSENT(p, "generalPractitioner");

    /* an id that needs sanitising; quoted quotes; leap day; separators in NHS number */
    char id[65];
    socialcare_fhir_id("P 0005/x", 8, id);
    p = find(&c, "Patient", id);
    assert_non_null(p);
    assert_memory_equal(id, "P-0005-x-", 9);
    JSTR(p, "identifier[0].value", "P 0005/x");
    JSTR(p, "identifier[1].value", "9990000034");
    JSTR(p, "identifier[1].extension[0].valueCodeableConcept.coding[0].code", "01");
    JSTR(p, "name[0].family", "Smith-Jones");
    JSTR(p, "name[0].given[1]", "\"Molly\"");
    JSTR(p, "birthDate", "1944-02-29");
    JSTR(p, "gender", "unknown");
    JSTR(p, "generalPractitioner[0].identifier.value", "G82001");

    socialcare_report_free(rep);
    json_decref(c.bundles);
}

static void test_people_row_errors(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("people_bad.csv", &c, 0, NULL);
    assert_null(rep->file_error);
    assert_int_equal(rep->rows_read, 14);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->rows_rejected, 11);
    assert_int_equal(rep->rows_read, rep->rows_mapped + rep->rows_rejected);
    assert_string_equal(socialcare_report_status(rep), "partial");
    expect_issue(rep, 1, 3, "date_of_birth", "not a valid date");
    expect_issue(rep, 1, 4, "date_of_birth", "in the future");
    expect_issue(rep, 1, 5, "family_name", "required value is blank");
    expect_issue(rep, 1, 6, "sex", "unknown code \"X\"");
    expect_issue(rep, 1, 6, "sex", "male, female, other, unknown");
    expect_issue(rep, 1, 7, NULL, "row has 5 fields, header has 9");
    expect_issue(rep, 1, 8, "date_of_death", "date_of_death is before date_of_birth");
    expect_issue(rep, 1, 9, "gp_practice_ods", "not an ODS code");
    expect_issue(rep, 1, 10, "date_of_birth", "not a valid date");
    expect_issue(rep, 1, 11, "family_name", "text after a closing quote");
    expect_issue(rep, 1, 12, "person_id", "required value is blank");
    expect_issue(rep, 1, 14, "family_name", "invalid UTF-8");
    expect_issue(rep, 0, 13, "nhs_number", "not 10 digits");
    assert_int_equal(rep->errors_count, 11);
    assert_int_equal(rep->warnings_count, 1);
    /* reasons never carry the values of non-code columns */
    for (size_t i = 0; i < rep->nerrors; i++) {
        assert_null(strstr(rep->errors[i].reason, "Baddate"));
        assert_null(strstr(rep->errors[i].reason, "1950"));
        assert_null(strstr(rep->errors[i].reason, "G8-2001"));
    }
    /* the good rows around the bad ones were all mapped */
    assert_non_null(find(&c, "Patient", "B01"));
    assert_non_null(find(&c, "Patient", "B13"));
    json_t *p = find(&c, "Patient", "B12");
    assert_non_null(p);
    JSTR(p, "identifier[1].value", "12345"); /* not 10 digits: exactly as sent */
    JSTR(p, "identifier[1].extension[0].valueCode", "invalid-nhs-number");
    assert_null(find(&c, "Patient", "B02"));
    assert_int_equal(count_resources(&c), 3);
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

static void test_file_errors(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    int rc;
    struct socialcare_report *rep = run_file("people_missing_column.csv", &c, 0, &rc);
    assert_int_equal(rc, WEFT_EPARSE);
    assert_non_null(rep->file_error);
    assert_non_null(strstr(rep->file_error, "missing required columns \"family_name\""));
    assert_non_null(strstr(rep->file_error, "\"postcode\""));
    assert_string_equal(socialcare_report_status(rep), "failed");
    assert_int_equal(rep->rows_read, 0);
    assert_int_equal(c.calls, 0);
    socialcare_report_free(rep);

    rep = run_file("people_duplicate_column.csv", &c, 0, &rc);
    assert_int_equal(rc, WEFT_EPARSE);
    assert_non_null(strstr(rep->file_error, "duplicated column \"family_name\" (columns 3 and 8)"));
    socialcare_report_free(rep);

    rep = run_file("people_empty.csv", &c, 0, &rc);
    assert_int_equal(rc, WEFT_EPARSE);
    assert_non_null(strstr(rep->file_error, "empty file"));
    socialcare_report_free(rep);

    rep = run_file("notes.csv", &c, 0, &rc);
    assert_int_equal(rc, WEFT_EPARSE);
    assert_non_null(strstr(rep->file_error, "unknown extract kind"));
    assert_int_equal(rep->kind, SOCIALCARE_UNKNOWN);
    socialcare_report_free(rep);

    rep = run_file("people_does_not_exist.csv", &c, 0, &rc);
    assert_int_equal(rc, WEFT_EIO);
    assert_non_null(strstr(rep->file_error, "cannot open the file"));
    assert_int_equal(rep->kind, SOCIALCARE_PEOPLE);
    socialcare_report_free(rep);
    assert_int_equal(c.calls, 0);

    /* a header row that is itself broken */
    struct socialcare_opts o = {.ods = "KENTCC", .today = TODAY};
    const char bad[] = "person_id,\"family_name\n";
    assert_int_equal(
        socialcare_process_mem(bad, sizeof bad - 1, "people.csv", &o, NULL, NULL, &rep),
        WEFT_EPARSE);
    assert_non_null(strstr(rep->file_error, "header row (line 1): unterminated quoted field"));
    socialcare_report_free(rep);

    /* a spreadsheet's "Unicode text" export: UTF-16 with a byte order mark */
    const char u16[] = "\xFF\xFEp\0e\0r\0s\0o\0n\0_\0i\0d\0\r\0\n\0";
    assert_int_equal(
        socialcare_process_mem(u16, sizeof u16 - 1, "people.csv", &o, NULL, NULL, &rep),
        WEFT_EPARSE);
    assert_non_null(strstr(rep->file_error, "UTF-16"));
    socialcare_report_free(rep);

    /* bad arguments: no report */
    rep = NULL;
    struct socialcare_opts bad_ods = {.ods = "KENT:CC"};
    assert_int_equal(socialcare_process_mem("a", 1, "people.csv", &bad_ods, NULL, NULL, &rep),
                     WEFT_EINVAL);
    struct socialcare_opts bad_today = {.ods = "KENTCC", .today = "24/11/2026"};
    assert_int_equal(socialcare_process_mem("a", 1, "people.csv", &bad_today, NULL, NULL, &rep),
                     WEFT_EINVAL);
    assert_int_equal(socialcare_process_mem("a", 1, "people.csv", NULL, NULL, NULL, &rep),
                     WEFT_EINVAL);
    assert_null(rep);
    json_decref(c.bundles);
}

static void test_kind_from_header_and_override(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("extract_2026-11-24.csv", &c, 0, NULL);
    assert_int_equal(rep->kind, SOCIALCARE_SERVICES);
    assert_int_equal(rep->rows_mapped, 1);
    json_t *e = find(&c, "EpisodeOfCare", "S9");
    assert_non_null(e);
    JSTR(e, "type[0].coding[0].code", "day-care");
    socialcare_report_free(rep);
    json_decref(c.bundles);

    /* rows of empty fields (spreadsheet leftovers) are blank lines, not errors */
    struct socialcare_opts ob = {.ods = "KENTCC", .today = TODAY};
    const char blanks[] = "service_id,person_id,service_type,start_date,status\r\n"
                          "S1,P1,meals,2026-01-01,active\r\n"
                          ",,,,\r\n"
                          "\r\n"
                          " , ,\r\n"
                          ",,,,";
    assert_int_equal(
        socialcare_process_mem(blanks, sizeof blanks - 1, "services.csv", &ob, NULL, NULL, &rep),
        0);
    assert_int_equal(rep->rows_read, 1);
    assert_int_equal(rep->rows_mapped, 1);
    assert_int_equal(rep->blank_lines, 4);
    assert_int_equal(rep->errors_count, 0);
    assert_string_equal(socialcare_report_status(rep), "ok");
    socialcare_report_free(rep);

    /* dates with a time of day: the date is kept; a bad time is still an error */
    const char timed[] = "service_id,person_id,service_type,start_date,end_date,status\n"
                         "S1,P1,meals,2026-01-01T10:15:00Z,31/01/2026 00:00,ended\n"
                         "S2,P1,meals,2026-01-01T25,,active\n"
                         "S3,P1,meals,01/02/2026 9am,,active\n";
    struct collect ct = {.bundles = json_array()};
    assert_int_equal(socialcare_process_mem(timed, sizeof timed - 1, "services.csv", &ob,
                                            collect_sink, &ct, &rep),
                     0);
    assert_int_equal(rep->rows_mapped, 1);
    expect_issue(rep, 1, 3, "start_date", "not a valid date");
    expect_issue(rep, 1, 4, "start_date", "not a valid date");
    json_t *t1 = find(&ct, "EpisodeOfCare", "S1");
    assert_non_null(t1);
    JSTR(t1, "period.start", "2026-01-01");
    JSTR(t1, "period.end", "2026-01-31");
    socialcare_report_free(rep);
    json_decref(ct.bundles);

    /* an explicit kind wins over the file name */
    struct socialcare_opts o = {.ods = "KENTCC", .today = TODAY, .kind = SOCIALCARE_SERVICES};
    const char csv[] = "service_id,person_id,service_type,start_date,status\n"
                       "S1,P1,meals,2026-01-01,active\n";
    assert_int_equal(
        socialcare_process_mem(csv, sizeof csv - 1, "people.csv", &o, NULL, NULL, &rep), 0);
    assert_int_equal(rep->kind, SOCIALCARE_SERVICES);
    assert_int_equal(rep->rows_mapped, 1);
    assert_int_equal(rep->rows_loaded, 1); /* no sink: mapped counts as loaded */
    socialcare_report_free(rep);
}

/* ---- contacts ------------------------------------------------------------- */

static void test_contacts(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("contacts_sample.csv", &c, 0, NULL);
    assert_int_equal(rep->rows_read, 5);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->rows_rejected, 2);
    expect_issue(rep, 1, 5, "family_name", "both blank");
    expect_issue(rep, 1, 6, "end_date", "end_date is before start_date");

    json_t *r = find(&c, "RelatedPerson", "C1");
    assert_non_null(r);
    JSTR(r, "meta.tag[0].code", "contacts");
    JSTR(r, "identifier[0].system", "urn:weft:id:KENTCC:contact");
    JSTR(r, "identifier[0].value", "C1");
    JSTR(r, "patient.reference", "Patient/P0001");
    assert_true(json_is_true(jp(r, "active")));
    JSTR(r, "relationship[0].coding[0].system",
         "http://terminology.hl7.org/CodeSystem/v3-RoleCode");
    JSTR(r, "relationship[0].coding[0].code", "HUSB");
    JSTR(r, "relationship[0].text", "Husband");
    JSTR(r, "relationship[1].coding[0].system", "https://weft.nhs.uk/CodeSystem/contact-role");
    JSTR(r, "relationship[1].coding[0].code", "carer");
    JSTR(r, "relationship[2].coding[0].system", "http://terminology.hl7.org/CodeSystem/v2-0131");
    JSTR(r, "relationship[2].coding[0].code", "N");
    JSTR(r, "relationship[3].coding[0].code", "C");
    JSTR(r, "name[0].family", "Smith");
    JSTR(r, "name[0].given[0]", "John");
    JSTR(r, "telecom[0].value", "01622 000002");
    JSTR(r, "period.start", "2020-01-01");
    JABSENT(r, "period.end");
    JSTR(r, "extension[0].url", "https://weft.nhs.uk/StructureDefinition/carer-support");
    JSTR(r, "extension[0].valueString", "Carer's break, 4 hours a week");

    r = find(&c, "RelatedPerson", "C2");
    assert_non_null(r);
    JSTR(r, "relationship[0].coding[0].code", "FRND");
    JSTR(r, "relationship[1].coding[0].code", "C"); /* not a carer, not next of kin */
    assert_null(jp(r, "relationship[2]"));

    /* an uncoded relationship is kept as text; an ended contact is inactive */
    r = find(&c, "RelatedPerson", "C3");
    assert_non_null(r);
    JSTR(r, "relationship[0].text", "Lodger");
    JABSENT(r, "relationship[0].coding");
    assert_true(json_is_false(jp(r, "active")));
    JSTR(r, "period.end", "2021-04-30");
    JSTR(r, "patient.reference", "Patient/P0002");
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

/* ---- assessments ---------------------------------------------------------- */

static void test_assessments(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("assessments_sample.csv", &c, 0, NULL);
    assert_int_equal(rep->rows_read, 5);
    assert_int_equal(rep->rows_mapped, 3);
    /* the quoted summary spans lines 2-3, so the next rows start at 4 */
    expect_issue(rep, 1, 6, "assessment_type", "unknown code \"fitness test\"");
    expect_issue(rep, 1, 7, "eligible_needs", "unknown code \"flying\"");

    json_t *q = find(&c, "QuestionnaireResponse", "A1");
    assert_non_null(q);
    JSTR(q, "meta.tag[0].code", "social-care-assessment");
    JSTR(q, "identifier.system", "urn:weft:id:KENTCC:assessment");
    JSTR(q, "identifier.value", "A1");
    JSTR(q, "questionnaire", "https://weft.nhs.uk/Questionnaire/social-care-assessment");
    JSTR(q, "status", "completed");
    JSTR(q, "subject.reference", "Patient/P0001");
    JSTR(q, "authored", "2026-03-02");
    JSTR(q, "author.display", "Maidstone Older People Team");
    JSTR(q, "item[0].linkId", "type");
    JSTR(q, "item[0].answer[0].valueCoding.system",
         "https://weft.nhs.uk/CodeSystem/social-care-assessment-type");
    JSTR(q, "item[0].answer[0].valueCoding.code", "needs-assessment");
    JSTR(q, "item[0].answer[0].valueCoding.display", "Care Act needs assessment");
    JSTR(q, "item[1].linkId", "outcome");
    JSTR(q, "item[1].answer[0].valueString", "Eligible: home care arranged");
    JSTR(q, "item[2].linkId", "eligible-needs");
    assert_int_equal(json_array_size(jp(q, "item[2].answer")), 3);
    JSTR(q, "item[2].answer[0].valueCoding.code", "nutrition");
    JSTR(q, "item[2].answer[1].valueCoding.code", "hygiene");
    JSTR(q, "item[2].answer[2].valueCoding.code", "home-safety");
    JSTR(q, "item[2].answer[2].valueCoding.system",
         "https://weft.nhs.uk/CodeSystem/care-act-outcome");
    JSTR(q, "item[3].linkId", "assessor-team");
    JSTR(q, "item[4].linkId", "summary");
    JSTR(q, "item[4].answer[0].valueString", "Lives alone.\nNeeds help with meals and washing.");
    JSTR(q, "item[5].linkId", "review-date");
    JSTR(q, "item[5].answer[0].valueDate", "2026-09-02");

    q = find(&c, "QuestionnaireResponse", "A2");
    assert_non_null(q);
    JSTR(q, "item[0].answer[0].valueCoding.code", "carers-assessment");
    JSTR(q, "authored", "2026-04-05");
    JSTR(q, "status", "completed");
    JABSENT(q, "author");
    assert_int_equal(json_array_size(jp(q, "item")), 2);

    q = find(&c, "QuestionnaireResponse", "A3");
    assert_non_null(q);
    JSTR(q, "status", "in-progress");
    assert_int_equal(json_array_size(jp(q, "item")), 1);
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

/* ---- services ------------------------------------------------------------- */

static void test_services(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("services_sample.csv", &c, 0, NULL);
    assert_int_equal(rep->rows_read, 8);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->rows_rejected, 5);
    expect_issue(rep, 1, 5, "end_date", "before start_date");
    expect_issue(rep, 1, 6, "hours_per_week", "more than 168");
    expect_issue(rep, 1, 7, "hours_per_week", "not a decimal");
    expect_issue(rep, 1, 8, "service_type", "unknown code \"teleportation\"");
    expect_issue(rep, 1, 9, "status", "unknown code \"unknown\"");

    json_t *e = find(&c, "EpisodeOfCare", "S1");
    assert_non_null(e);
    JSTR(e, "meta.tag[0].code", "services");
    JSTR(e, "identifier[0].system", "urn:weft:id:KENTCC:service");
    JSTR(e, "status", "active");
    JSTR(e, "type[0].coding[0].system", "https://weft.nhs.uk/CodeSystem/social-care-service");
    JSTR(e, "type[0].coding[0].code", "home-care");
    JSTR(e, "type[0].text", "Home care");
    JSTR(e, "type[1].coding[0].system", "https://weft.nhs.uk/CodeSystem/record-category");
    JSTR(e, "type[1].coding[0].code", "services");
    JSTR(e, "patient.reference", "Patient/P0001");
    JSTR(e, "managingOrganization.display", "Kent Home Care Ltd");
    JSTR(e, "managingOrganization.identifier.value", "ABC12");
    JSTR(e, "period.start", "2026-03-10");
    JABSENT(e, "period.end");
    JSTR(e, "extension[0].url", "https://weft.nhs.uk/StructureDefinition/hours-per-week");
    assert_true(json_real_value(jp(e, "extension[0].valueQuantity.value")) == 10.5);
    JSTR(e, "extension[0].valueQuantity.code", "h/wk");

    e = find(&c, "EpisodeOfCare", "S2");
    assert_non_null(e);
    JSTR(e, "status", "finished");
    JSTR(e, "period.end", "2025-12-31");
    JABSENT(e, "managingOrganization");
    JABSENT(e, "extension");

    e = find(&c, "EpisodeOfCare", "S3");
    assert_non_null(e);
    JSTR(e, "status", "planned");
    JSTR(e, "type[0].coding[0].code", "residential-care");
    JABSENT(e, "managingOrganization.identifier");
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

/* ---- safeguarding --------------------------------------------------------- */

static void test_safeguarding(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("safeguarding_sample.csv", &c, 0, NULL);
    assert_int_equal(rep->rows_read, 4);
    assert_int_equal(rep->rows_mapped, 3);
    /* a concern dated in the future is kept and flagged */
    expect_issue(rep, 0, 5, "date_raised", "in the future; kept");
    assert_non_null(find(&c, "Flag", "G3"));
    expect_issue(rep, 1, 6, "status", "unknown code \"pending\"");

    json_t *f = find(&c, "Flag", "G1");
    assert_non_null(f);
    JSTR(f, "meta.tag[0].system", "urn:weft:category");
    JSTR(f, "meta.tag[0].code", "safeguarding");
    JSTR(f, "meta.security[0].system", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality");
    JSTR(f, "meta.security[0].code", "R");
    JSTR(f, "identifier[0].system", "urn:weft:id:KENTCC:safeguarding-concern");
    JSTR(f, "status", "active");
    JSTR(f, "category[0].coding[0].system", "https://weft.nhs.uk/CodeSystem/record-category");
    JSTR(f, "category[0].coding[0].code", "safeguarding");
    JSTR(f, "category[1].coding[0].code", "safety");
    JSTR(f, "code.coding[0].code", "safeguarding-concern");
    JSTR(f, "code.text",
         "Safeguarding concern: Financial or material abuse; Neglect and acts of omission");
    JSTR(f, "subject.reference", "Patient/P0001");
    JSTR(f, "period.start", "2026-02-01");
    JABSENT(f, "period.end");
    JSTR(f, "author.display", "Safeguarding Adults Team");
    JSTR(f, "extension[0].valueCoding.code", "financial");
    JSTR(f, "extension[1].valueCoding.code", "neglect");
    JSTR(f, "extension[2].url", "https://weft.nhs.uk/StructureDefinition/safeguarding-summary");
    JSTR(f, "extension[2].valueString",
         "Concern raised by home carer:\nunpaid bills, no food in house.");

    f = find(&c, "Flag", "G2");
    assert_non_null(f);
    JSTR(f, "status", "inactive");
    JSTR(f, "code.text", "Safeguarding concern");
    JSTR(f, "period.end", "2025-07-01");
    JSTR(f, "extension[0].url", "https://weft.nhs.uk/StructureDefinition/safeguarding-outcome");
    JSTR(f, "extension[0].valueString", "No further action");
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

/* ---- end of life ---------------------------------------------------------- */

static void test_end_of_life(void **state)
{
    (void)state;
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep = run_file("end_of_life_sample.csv", &c, 0, NULL);
    assert_int_equal(rep->rows_read, 4);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->resources, 7);
    expect_issue(rep, 1, 5, "preferred_place_of_death", "unknown code \"moon\"");

    json_t *cp = find(&c, "CarePlan", "E1");
    assert_non_null(cp);
    JSTR(cp, "meta.tag[0].code", "end-of-life");
    JSTR(cp, "identifier[0].system", "urn:weft:id:KENTCC:end-of-life-record");
    JSTR(cp, "status", "active");
    JSTR(cp, "intent", "plan");
    JSTR(cp, "category[0].coding[0].system", "https://weft.nhs.uk/CodeSystem/record-category");
    JSTR(cp, "category[0].coding[0].code", "end-of-life");
    JSTR(cp, "subject.reference", "Patient/P0001");
    JSTR(cp, "created", "2026-03-01");
    JSTR(cp, "period.start", "2026-03-01");
    JSTR(cp, "description", "Wants to be at peace, with music.");
    JSTR(cp, "extension[0].valueCodeableConcept.coding[0].code", "hospice");
    JSTR(cp, "extension[1].valueCoding.code", "health-and-welfare");
    JSTR(cp, "note[0].text", "Preferred place of death: Hospice");
    JSTR(cp, "note[1].text", "DNACPR decision: yes (2026-02-28)");
    JSTR(cp, "note[2].text", "ReSPECT plan: yes (2026-02-28)");
    JSTR(cp, "note[3].text",
         "Lasting power of attorney: Health and welfare (attorney: John Smith)");

    json_t *co = find(&c, "Consent", "E1-dnacpr");
    assert_non_null(co);
    JSTR(co, "meta.tag[0].code", "end-of-life");
    JSTR(co, "status", "active");
    JSTR(co, "scope.coding[0].code", "adr");
    JSTR(co, "category[0].coding[0].system",
         "http://terminology.hl7.org/CodeSystem/consentcategorycodes");
    JSTR(co, "category[0].coding[0].code", "dnr");
    JSTR(co, "category[1].coding[0].code", "end-of-life");
    JSTR(co, "patient.reference", "Patient/P0001");
    JSTR(co, "dateTime", "2026-02-28");
    JSTR(co, "policyRule.text", "DNACPR decision recorded by KENTCC");
    JSTR(co, "provision.type", "deny");
    JSTR(co, "provision.code[0].coding[0].system", "http://snomed.info/sct");
    JSTR(co, "provision.code[0].coding[0].code", "89666000");

    json_t *d = find(&c, "DocumentReference", "E1-respect");
    assert_non_null(d);
    JSTR(d, "meta.tag[0].code", "end-of-life");
    JSTR(d, "status", "current");
    JSTR(d, "type.coding[0].code", "respect-form");
    JSTR(d, "category[0].coding[0].code", "end-of-life");
    JSTR(d, "subject.reference", "Patient/P0001");
    JSTR(d, "content[0].attachment.title", "ReSPECT form held by KENTCC");
    JSTR(d, "context.period.start", "2026-02-28");

    /* "no" answers withdraw: inactive Consent, superseded DocumentReference */
    co = find(&c, "Consent", "E2-dnacpr");
    assert_non_null(co);
    JSTR(co, "status", "inactive");
    JSTR(co, "dateTime", "2026-03-05");
    d = find(&c, "DocumentReference", "E2-respect");
    assert_non_null(d);
    JSTR(d, "status", "superseded");
    cp = find(&c, "CarePlan", "E2");
    JSTR(cp, "note[1].text", "DNACPR decision: no");
    JSTR(cp, "note[3].text", "Lasting power of attorney: None");

    /* nothing stated: a CarePlan alone, without notes */
    cp = find(&c, "CarePlan", "E3");
    assert_non_null(cp);
    JABSENT(cp, "note");
    JABSENT(cp, "description");
    assert_null(find(&c, "Consent", "E3-dnacpr"));
    assert_null(find(&c, "DocumentReference", "E3-respect"));
    socialcare_report_free(rep);
    json_decref(c.bundles);
}

/* ---- batching, sink failures, determinism --------------------------------- */

static void test_batches_and_load_failures(void **state)
{
    (void)state;
    /* 5 rows in bundles of 2: 3 bundles; the second is refused as a whole */
    struct collect c = {.bundles = json_array(), .fail_call = 2};
    struct socialcare_report *rep = run_file("people_good.csv", &c, 2, NULL);
    assert_int_equal(c.calls, 3);
    assert_int_equal(rep->bundles, 3);
    assert_int_equal(rep->rows_mapped, 5);
    assert_int_equal(rep->rows_loaded, 3);
    assert_int_equal(rep->rows_load_failed, 2);
    expect_issue(rep, 1, 4, NULL, "load failed: ");
    expect_issue(rep, 1, 5, NULL, "load failed: ");
    assert_string_equal(socialcare_report_status(rep), "partial");
    assert_non_null(find(&c, "Patient", "P0001"));
    assert_null(find(&c, "Patient", "P0003"));
    socialcare_report_free(rep);
    json_decref(c.bundles);

    /* single entries refused: a row with two refused entries counts once */
    struct collect c2 = {.bundles = json_array(), .fail_type = "Consent"};
    rep = run_file("end_of_life_sample.csv", &c2, 0, NULL);
    assert_int_equal(rep->rows_mapped, 3);
    assert_int_equal(rep->rows_load_failed, 2); /* E1 and E2 had a Consent */
    assert_int_equal(rep->rows_loaded, 1);
    expect_issue(rep, 1, 2, NULL, "load failed: unresolved reference");
    expect_issue(rep, 1, 3, NULL, "load failed: unresolved reference");
    socialcare_report_free(rep);
    json_decref(c2.bundles);

    /* every bundle refused: the file failed */
    struct collect c3 = {.bundles = json_array(), .fail_call = 1};
    rep = run_file("services_sample.csv", &c3, 0, NULL);
    assert_int_equal(rep->rows_loaded, 0);
    assert_string_equal(socialcare_report_status(rep), "failed");
    socialcare_report_free(rep);
    json_decref(c3.bundles);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct collect a = {.bundles = json_array()}, b = {.bundles = json_array()};
    struct socialcare_report *r1 = run_file("end_of_life_sample.csv", &a, 0, NULL);
    struct socialcare_report *r2 = run_file("end_of_life_sample.csv", &b, 0, NULL);
    assert_true(json_equal(a.bundles, b.bundles));
    socialcare_report_free(r1);
    socialcare_report_free(r2);
    json_decref(a.bundles);
    json_decref(b.bundles);
}

/* ---- the report ----------------------------------------------------------- */

static void test_report_json_and_write(void **state)
{
    (void)state;
    struct socialcare_report *rep = run_file("people_bad.csv", NULL, 0, NULL);
    json_t *j = socialcare_report_json(rep);
    JSTR(j, "file", "people_bad.csv");
    JSTR(j, "kind", "people");
    JSTR(j, "org", "KENTCC");
    JSTR(j, "feed", "kent-sc");
    JSTR(j, "status", "partial");
    assert_true(json_is_null(jp(j, "file_error")));
    assert_int_equal(json_integer_value(jp(j, "rows_read")), 14);
    assert_int_equal(json_integer_value(jp(j, "rows_mapped")), 3);
    assert_int_equal(json_integer_value(jp(j, "rows_rejected")), 11);
    assert_int_equal(json_integer_value(jp(j, "rows_loaded")), 3);
    assert_int_equal(json_array_size(jp(j, "errors")), 11);
    assert_int_equal(json_integer_value(jp(j, "errors[0].line")), 3);
    JSTR(j, "errors[0].column", "date_of_birth");
    assert_true(json_is_null(jp(j, "errors[4].column"))); /* the ragged row */
    assert_true(json_is_false(jp(j, "truncated")));

    const char *tmp = getenv("WEFT_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/people_bad.csv.report.json", tmp ? tmp : "/tmp");
    assert_int_equal(socialcare_report_write(rep, path), 0);
    json_error_t err;
    json_t *back = json_load_file(path, 0, &err);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    unlink(path);
    assert_int_equal(socialcare_report_write(rep, "/nonexistent-dir/x.json"), WEFT_EIO);
    json_decref(back);
    json_decref(j);
    socialcare_report_free(rep);
}

/* Many bad rows: the issue list stops at SOCIALCARE_MAX_ISSUES but the counts
 * stay exact; many good rows stream through in bounded batches. */
static void test_large_extract(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_adds(&b, "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n");
    size_t good = 20000, bad = SOCIALCARE_MAX_ISSUES + 5;
    for (size_t i = 0; i < good; i++)
        buf_addf(&b, "L%zu,,Family%zu,Given,1950-01-01,F,CT1 1AA\n", i, i);
    for (size_t i = 0; i < bad; i++)
        buf_addf(&b, "X%zu,,Family,Given,not-a-date,F,\n", i);
    struct socialcare_opts o = {.ods = "KENTCC", .today = TODAY};
    struct collect c = {.bundles = json_array()};
    struct socialcare_report *rep;
    assert_int_equal(
        socialcare_process_mem(b.data, b.len, "people_big.csv", &o, collect_sink, &c, &rep), 0);
    assert_int_equal(rep->rows_read, good + bad);
    assert_int_equal(rep->rows_mapped, good);
    assert_int_equal(rep->rows_loaded, good);
    assert_int_equal(rep->rows_rejected, bad);
    assert_int_equal(rep->errors_count, bad);
    assert_int_equal(rep->nerrors, SOCIALCARE_MAX_ISSUES);
    assert_true(rep->truncated);
    assert_int_equal(rep->bundles, good / SOCIALCARE_DEFAULT_BATCH);
    assert_int_equal(c.calls, (int)(good / SOCIALCARE_DEFAULT_BATCH));
    assert_non_null(find(&c, "Patient", "L19999"));
    socialcare_report_free(rep);
    json_decref(c.bundles);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_from_filename),
        cmocka_unit_test(test_fhir_id),
        cmocka_unit_test(test_people_mapping),
        cmocka_unit_test(test_people_row_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_kind_from_header_and_override),
        cmocka_unit_test(test_contacts),
        cmocka_unit_test(test_assessments),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_safeguarding),
        cmocka_unit_test(test_end_of_life),
        cmocka_unit_test(test_batches_and_load_failures),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_report_json_and_write),
        cmocka_unit_test(test_large_extract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
