/* test_dq.c - the data-quality checks: the pure tests (UCUM, postcodes, name
 * distance, dates), the rules file's validation with line numbers and the
 * shipped rules, and the engine over a real store holding a person sent by
 * two organisations with known faults - every fault found, clean records
 * not reported, an organisation's run limited to its own records, and
 * every run kept. */
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
#include "dq/check.h"
#include "dq/dq.h"
#include "dq/rules.h"
#include "fhir/load.h"
#include "store/access.h"
#include "store/dq.h"
#include "store/store.h"
#include "../testdb.h"

static void test_ucum(void **state)
{
    (void)state;
    const char *good[] = {"mmol/L",   "mm[Hg]",  "10*9/L",  "mL/min/{1.73_m2}",
                          "kg/m2",    "%",       "/min",    "Cel",
                          "g/L",      "umol/L",  "{score}", "kg",
                          "mmol/mol", "10*12/L", "[IU]/L",  "m2",
                          "ug/L",     "1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(dq_ucum_valid(good[i]) || (fprintf(stderr, "%s\n", good[i]), 0));
    const char *bad[] = {"mmHg",  "mls",       "kg/m^2", "10*", "mmol//L", "",
                         "mm[Hg", "beats/min", "degC",   "{a",  "kg.",     "mmol/L "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(dq_ucum_valid(bad[i]) && (fprintf(stderr, "%s\n", bad[i]), 1));
    assert_false(dq_ucum_valid(NULL));
}

static void test_postcode(void **state)
{
    (void)state;
    const char *good[] = {"ME14 5XF", "CT2 3ES", "SW1A 1AA", "EC1A1BB",  "W1A 0AX",
                          "M1 1AE",   "b33 8th", "CR2 6XH",  "DN55 1PT", "GIR 0AA"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(dq_postcode_valid(good[i]) || (fprintf(stderr, "%s\n", good[i]), 0));
    const char *bad[] = {"ME14 5X", "QE1 1AA",  "ME14 5CX", "12345",
                         "",        "ME145XFF", "M1 AAE",   "V1 1AA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(dq_postcode_valid(bad[i]) && (fprintf(stderr, "%s\n", bad[i]), 1));
}

static void test_names_and_dates(void **state)
{
    (void)state;
    assert_int_equal(dq_edit_distance("Wright", "Wrght", 2), 1);
    assert_int_equal(dq_edit_distance("Helen", "heen", 2), 1);
    assert_int_equal(dq_edit_distance("William", "Bill", 2), 3);
    assert_int_equal(dq_edit_distance("Smith", "SMITH", 2), 0);
    char out[11];
    assert_true(dq_date_swap_day_month("1970-03-05", out));
    assert_string_equal(out, "1970-05-03");
    assert_false(dq_date_swap_day_month("1970-03-25", out)); /* day > 12 */
    assert_false(dq_date_swap_day_month("1970-04-04", out)); /* the same date */
    int64_t d1, d2;
    assert_true(dq_day_number("1970-01-01", &d1));
    assert_int_equal(d1, 0);
    assert_true(dq_day_number("2024-03-01T10:00:00Z", &d2));
    assert_true(dq_day_number("2024-02-29", &d1));
    assert_int_equal(d2 - d1, 1);
    assert_false(dq_day_number("2023-02-29", &d1));
    assert_false(dq_day_number("2024", &d1));
}

static void expect_rules_error(const char *text, const char *want)
{
    struct dq_rules r;
    char err[256] = "";
    assert_int_equal(dq_rules_parse(text, strlen(text), &r, err, sizeof err), WEFT_EINVAL);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_rules_validation(void **state)
{
    (void)state;
    expect_rules_error("check nhs-present 0.9\ncheck nhs-presnt 0.9\n",
                       "line 2: unknown check 'nhs-presnt'");
    expect_rules_error("# c\n\ncheck nhs-present 1.5\n", "line 3: threshold '1.5'");
    expect_rules_error("check nhs-present 0.9\ncheck nhs-present 0.8\n",
                       "line 2: check 'nhs-present' given twice");
    expect_rules_error("check nhs-present 0.9\nplausible 4548-4 % 20 3\n",
                       "line 2: LOW 20 is above HIGH 3");
    expect_rules_error("check nhs-present 0.9\nplausible 4548-4 % x 3\n", "line 2: LOW and HIGH");
    expect_rules_error("check nhs-present 0.9\nlag hl7 3\n", "line 2: unknown feed kind 'hl7'");
    expect_rules_error("check nhs-present 0.9\nthreshold x\n",
                       "line 2: unknown statement 'threshold'");
    expect_rules_error("# nothing\n", "no check is turned on");
    /* the shipped rules parse, and turn on every check */
    const char *root = getenv("WEFT_ROOT");
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/policy/dq.rules", root ? root : ".");
    struct dq_rules r;
    char err[512];
    int rc = dq_rules_load(p.data, &r, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    for (int c = 0; c < DQ_NCHECKS; c++)
        assert_true(r.on[c]);
    assert_non_null(dq_rules_plausible(&r, "4548-4", "mmol/mol"));
    assert_true(dq_rules_code_system_known(&r, "http://snomed.info/sct", 22));
    assert_false(dq_rules_code_system_known(&r, "99LOC", 5));
    assert_true(dq_rules_future_ok(&r, "Appointment"));
    dq_rules_free(&r);
    buf_release(&p);
}

/* ---- the engine over a store --------------------------------------------------------- */
#define NHS_OK "9434765919"
#define VERIFIED                                                                                   \
    "\"extension\":[{\"url\":\"https://fhir.hl7.org.uk/StructureDefinition/"                       \
    "Extension-UKCore-NHSNumberVerificationStatus\",\"valueCodeableConcept\":{\"coding\":[{"       \
    "\"code\":\"01\"}]}}],"

static const char *gp_bundle =
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000001\",\"resource\":{"
    "\"resourceType\":\"Patient\",\"id\":\"p1\",\"identifier\":[{" VERIFIED
    "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS_OK "\"},"
    "{\"system\":\"urn:g1:patient\",\"value\":\"G1-LOCAL-1\"}],"
    "\"name\":[{\"family\":\"Smith\",\"given\":[\"John\"]}],\"gender\":\"male\","
    "\"birthDate\":\"1970-03-05\",\"address\":[{\"postalCode\":\"ME14 5XF\"}],"
    "\"generalPractitioner\":[{\"display\":\"G1\"}]}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000002\",\"resource\":{"
    "\"resourceType\":\"Observation\",\"id\":\"hba1c-bad\",\"status\":\"final\","
    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\"}]},"
    "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-0000-0000-000000000001\"},"
    "\"effectiveDateTime\":\"2025-01-01T10:00:00Z\",\"valueQuantity\":{\"value\":900,"
    "\"unit\":\"mmol/mol\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmol/mol\"}}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000003\",\"resource\":{"
    "\"resourceType\":\"Observation\",\"id\":\"hba1c-ok\",\"status\":\"final\","
    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\"}]},"
    "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-0000-0000-000000000001\"},"
    "\"effectiveDateTime\":\"2025-02-01T10:00:00Z\",\"valueQuantity\":{\"value\":48,"
    "\"unit\":\"mmol/mol\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmol/mol\"}}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000004\",\"resource\":{"
    "\"resourceType\":\"Observation\",\"id\":\"bp-unit\",\"status\":\"final\","
    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},"
    "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-0000-0000-000000000001\"},"
    "\"effectiveDateTime\":\"2025-03-01\",\"valueQuantity\":{\"value\":120,"
    "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmHg\"}}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000005\",\"resource\":{"
    "\"resourceType\":\"Condition\",\"id\":\"cond-unknown\","
    "\"code\":{\"coding\":[{\"system\":\"urn:oid:1.2.3.99\",\"code\":\"X1\"}]},"
    "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-0000-0000-000000000001\"},"
    "\"onsetDateTime\":\"2027-06-01\"}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000006\",\"resource\":{"
    "\"resourceType\":\"Condition\",\"id\":\"cond-before-birth\","
    "\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"44054006\"}]},"
    "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-0000-0000-000000000001\"},"
    "\"onsetDateTime\":\"1960-01-01\"}}]}";

/* The same person at the GP again under a second local id: a duplicate. */
static const char *gp_dup_bundle =
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000011\",\"resource\":{"
    "\"resourceType\":\"Patient\",\"id\":\"p2\",\"identifier\":[{" VERIFIED
    "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS_OK "\"},"
    "{\"system\":\"urn:g1:patient\",\"value\":\"G1-LOCAL-2\"}],"
    "\"name\":[{\"family\":\"Smith\",\"given\":[\"John\"]}],\"gender\":\"male\","
    "\"birthDate\":\"1970-03-05\",\"address\":[{\"postalCode\":\"ME14 5XF\"}],"
    "\"generalPractitioner\":[{\"display\":\"G1\"}]}}]}";

/* The hospital: the name with a typing error, day and month swapped, no
 * postcode, no GP; and a second person with no NHS number. */
static const char *rx_bundle =
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000021\",\"resource\":{"
    "\"resourceType\":\"Patient\",\"id\":\"r1\",\"identifier\":["
    "{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS_OK "\"},"
    "{\"system\":\"urn:rx:mr\",\"value\":\"RX-MR-1\"}],"
    "\"name\":[{\"family\":\"Smtih\",\"given\":[\"John\"]}],\"gender\":\"male\","
    "\"birthDate\":\"1970-05-03\",\"address\":[{\"line\":[\"1 Road\"]}]}},"
    "{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-000000000022\",\"resource\":{"
    "\"resourceType\":\"Patient\",\"id\":\"r2\",\"identifier\":["
    "{\"system\":\"urn:rx:mr\",\"value\":\"RX-MR-2\"}],"
    "\"name\":[{\"family\":\"Jones\",\"given\":[\"Ann\"]}],\"gender\":\"female\","
    "\"birthDate\":\"1980-01-20\",\"address\":[{\"postalCode\":\"CT2 3ES\"}],"
    "\"generalPractitioner\":[{\"display\":\"G1\"}]}}]}";

static int load(struct store *s, const char *text, const char *org)
{
    json_error_t jerr;
    json_t *b = json_loads(text, 0, &jerr);
    if (!b) {
        fprintf(stderr, "fixture json: %s line %d\n", jerr.text, jerr.line);
        return -1;
    }
    struct load_ctx lc = {.org = org, .feed = "test"};
    struct load_report rep;
    load_report_init(&rep);
    int rc = fhir_load_bundle(s, b, &lc, &rep, NULL);
    for (int i = 0; i < rep.nrejections; i++)
        fprintf(stderr, "rejected entry %ld: %s\n", rep.rejections[i].entry,
                rep.rejections[i].reason);
    long rejected = rep.rejected;
    load_report_free(&rep);
    json_decref(b);
    return rc == 0 && rejected == 0 ? 0 : -1;
}

struct seen {
    struct buf rows; /* "org check type source_id local\n" */
    int n;
};

static int collect(const struct store_dq_failure *f, void *ctx)
{
    struct seen *s = ctx;
    buf_addf(&s->rows, "%s %s %s %s %s\n", f->org, f->check, f->resource_type, f->source_id,
             f->patient_local_id);
    s->n++;
    return 0;
}

static void expect_row(struct seen *s, const char *row)
{
    if (!strstr(s->rows.data, row))
        fail_msg("missing failure '%s' in:\n%s", row, s->rows.data);
}

static void test_engine(void **state)
{
    (void)state;
    char path[] = "/tmp/weft-test-dq-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    testdb_remove(path);
    struct store *s = NULL, *wr = NULL;
    char *err = NULL;
    int v0, v1;
    assert_int_equal(store_open(&s, path, true, &err), 0);
    assert_int_equal(store_migrate(s, &v0, &v1), 0);
    assert_int_equal(store_open(&wr, path, false, &err), 0);
    assert_int_equal(store_org_put(s, "G1", "Test Practice", "gp"), 0);
    assert_int_equal(store_org_put(s, "RX1", "Test Trust", "acute"), 0);
    assert_int_equal(load(s, gp_bundle, "G1"), 0);
    assert_int_equal(load(s, gp_dup_bundle, "G1"), 0);
    assert_int_equal(load(s, rx_bundle, "RX1"), 0);

    const char *root = getenv("WEFT_ROOT");
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/policy/dq.rules", root ? root : ".");
    struct dq_rules r;
    char e[512];
    assert_int_equal(dq_rules_load(p.data, &r, e, sizeof e), 0);
    struct dq_options o = {NULL, "2026-11-01", &r};
    struct dq_summary sum;
    int rc = dq_run(s, wr, &o, &sum, e, sizeof e);
    if (rc)
        fail_msg("%s", e);
    assert_int_equal(sum.patients, 4);

    struct seen seen = {BUF_INIT, 0};
    assert_int_equal(store_dq_failure_list(s, sum.run_id, NULL, collect, &seen), 0);
    expect_row(&seen, "G1 value-plausible Observation hba1c-bad G1-LOCAL-1");
    expect_row(&seen, "G1 unit-ucum Observation bp-unit G1-LOCAL-1");
    expect_row(&seen, "G1 code-system-known Condition cond-unknown G1-LOCAL-1");
    expect_row(&seen, "G1 date-not-future Condition cond-unknown G1-LOCAL-1");
    expect_row(&seen, "G1 event-after-birth Condition cond-before-birth G1-LOCAL-1");
    expect_row(&seen, "G1 duplicate-record Patient p2 G1-LOCAL-2");
    expect_row(&seen, "RX1 name-typo Patient r1 RX-MR-1");
    expect_row(&seen, "RX1 dob-day-month-swapped Patient r1 RX-MR-1");
    expect_row(&seen, "RX1 postcode-present Patient r1 RX-MR-1");
    expect_row(&seen, "RX1 gp-present Patient r1 RX-MR-1");
    expect_row(&seen, "RX1 nhs-verified Patient r1 RX-MR-1");
    expect_row(&seen, "RX1 nhs-present Patient r2 RX-MR-2");
    /* clean records and values are not reported */
    assert_null(strstr(seen.rows.data, "hba1c-ok"));
    assert_null(strstr(seen.rows.data, "G1 name-"));
    assert_null(strstr(seen.rows.data, "G1 dob-"));
    assert_null(strstr(seen.rows.data, "G1 nhs-"));
    assert_null(strstr(seen.rows.data, "G1 postcode-"));
    assert_null(strstr(seen.rows.data, "duplicate-record Patient p1"));
    int all = seen.n;

    /* report: scores exist and the trend holds the run */
    struct buf rep = BUF_INIT;
    assert_int_equal(dq_report(s, "RX1", "json", 10, &rep, e, sizeof e), 0);
    json_error_t je;
    json_t *j = json_loads(rep.data, 0, &je);
    assert_non_null(j);
    assert_true(json_number_value(json_object_get(j, "overall")) < 100);
    assert_int_equal(json_array_size(json_object_get(j, "trend")), 1);
    json_decref(j);

    /* one organisation's run: only its records, consistency still judged */
    struct dq_options o2 = {"RX1", "2026-11-01", &r};
    struct dq_summary sum2;
    assert_int_equal(dq_run(s, wr, &o2, &sum2, e, sizeof e), 0);
    assert_true(sum2.run_id > sum.run_id);
    buf_reset(&seen.rows);
    seen.n = 0;
    assert_int_equal(store_dq_failure_list(s, sum2.run_id, NULL, collect, &seen), 0);
    assert_null(strstr(seen.rows.data, "G1 "));
    expect_row(&seen, "RX1 name-typo Patient r1 RX-MR-1");
    assert_true(seen.n < all);
    /* both runs are kept; RX1's report now trends over two */
    buf_reset(&rep);
    assert_int_equal(dq_report(s, "RX1", "json", 10, &rep, e, sizeof e), 0);
    j = json_loads(rep.data, 0, &je);
    assert_int_equal(json_array_size(json_object_get(j, "trend")), 2);
    json_decref(j);
    /* G1's newest run is still the first (the RX1 run did not cover it) */
    struct store_dq_run *runs = NULL;
    int nr = 0;
    assert_int_equal(store_dq_run_list(s, "G1", 10, &runs, &nr), 0);
    assert_int_equal(nr, 1);
    assert_int_equal(runs[0].id, sum.run_id);
    store_dq_runs_free(runs, nr);

    buf_release(&rep);
    buf_release(&seen.rows);
    buf_release(&p);
    dq_rules_free(&r);
    store_close(wr);
    store_close(s);
    testdb_remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ucum),
        cmocka_unit_test(test_postcode),
        cmocka_unit_test(test_names_and_dates),
        cmocka_unit_test(test_rules_validation),
        cmocka_unit_test(test_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
