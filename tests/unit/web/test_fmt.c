/* test_fmt.c - display formats and FHIR text: NHS number, dates, ages,
 * names, values, reference ranges and out-of-range judgement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "web/fmt.h"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    assert_non_null(j);
    return j;
}

#define CHECK(expr, want)                                                                          \
    do {                                                                                           \
        struct buf b_ = BUF_INIT;                                                                  \
        expr;                                                                                      \
        assert_string_equal(b_.data, want);                                                        \
        buf_release(&b_);                                                                          \
    } while (0)

static void test_nhs_number(void **state)
{
    (void)state;
    CHECK(fmt_nhs_number(&b_, "9434765919"), "943 476 5919");
    CHECK(fmt_nhs_number(&b_, "94347659"), "94347659");
    CHECK(fmt_nhs_number(&b_, "94347659x9"), "94347659x9");
    CHECK(fmt_nhs_number(&b_, NULL), "");
}

static void test_dates(void **state)
{
    (void)state;
    CHECK(fmt_date(&b_, "2023-04-05", false), "5 Apr 2023");
    CHECK(fmt_date(&b_, "2023-04-05T14:30:00+01:00", true), "5 Apr 2023 14:30");
    CHECK(fmt_date(&b_, "2023-04-05T14:30:00+01:00", false), "5 Apr 2023");
    CHECK(fmt_date(&b_, "2019-03", false), "Mar 2019");
    CHECK(fmt_date(&b_, "2019", false), "2019");
    CHECK(fmt_date(&b_, "yesterday", false), "yesterday");
    CHECK(fmt_date(&b_, "2019-13-01", false), "2019-13-01");
}

static void test_age(void **state)
{
    (void)state;
    CHECK(assert_true(fmt_age(&b_, "1970-06-15", "2026-06-14")), "55 years");
    CHECK(assert_true(fmt_age(&b_, "1970-06-15", "2026-06-15")), "56 years");
    CHECK(assert_true(fmt_age(&b_, "2025-11-30", "2026-07-01")), "7 months");
    CHECK(assert_true(fmt_age(&b_, "2026-06-01", "2026-06-20")), "2 weeks");
    CHECK(assert_true(fmt_age(&b_, "2026-06-19", "2026-06-20")), "1 day");
    CHECK(assert_false(fmt_age(&b_, "2027-01-01", "2026-06-20")), "");
    CHECK(assert_false(fmt_age(&b_, "garbage", "2026-06-20")), "");
}

static void test_names_and_address(void **state)
{
    (void)state;
    json_t *p = J("{\"resourceType\":\"Patient\",\"name\":[{\"use\":\"usual\",\"given\":[\"Jo\"],"
                  "\"family\":\"Bloggs\"},{\"use\":\"official\",\"prefix\":[\"Mrs\"],\"given\":"
                  "[\"Joanna\",\"May\"],\"family\":\"Bloggs\"}],\"address\":[{\"use\":\"work\","
                  "\"line\":[\"1 Work St\"]},{\"use\":\"home\",\"line\":[\"2 Home Rd\",\"\"],"
                  "\"city\":\"Maidstone\",\"postalCode\":\"ME1 1AA\"}],\"identifier\":[{"
                  "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765919\"}]}");
    CHECK(fmt_patient_name(&b_, p), "BLOGGS, Joanna May (Mrs)");
    CHECK(fmt_address(&b_, p), "2 Home Rd, Maidstone, ME1 1AA");
    assert_string_equal(fmt_identifier(p, "https://fhir.nhs.uk/Id/nhs-number"), "9434765919");
    assert_null(fmt_identifier(p, "urn:other"));
    CHECK(fmt_resource_title(&b_, p), "BLOGGS, Joanna May (Mrs)");
    json_decref(p);
}

static void test_observation_values(void **state)
{
    (void)state;
    json_t *o = J("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":"
                  "[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\",\"display\":\"HbA1c\"}]},"
                  "\"effectiveDateTime\":\"2024-01-02\",\"valueQuantity\":{\"value\":58,"
                  "\"unit\":\"mmol/mol\"},\"referenceRange\":[{\"low\":{\"value\":20,\"unit\":"
                  "\"mmol/mol\"},\"high\":{\"value\":41,\"unit\":\"mmol/mol\"}}]}");
    CHECK(fmt_obs_value(&b_, o), "58 mmol/mol");
    CHECK(fmt_ref_range(&b_, o), "20 to 41 mmol/mol");
    assert_int_equal(fmt_obs_flag(o), FMT_FLAG_HIGH);
    CHECK(fmt_resource_title(&b_, o), "HbA1c");
    assert_string_equal(fmt_resource_date(o), "2024-01-02");
    assert_string_equal(fmt_resource_status(o), "final");
    double v;
    assert_true(fmt_obs_number(o, NULL, &v));
    assert_true(v == 58);
    json_decref(o);

    /* Interpretation wins over the range; low. */
    o = J("{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":3.1,\"unit\":\"mmol/L\"},"
          "\"interpretation\":[{\"coding\":[{\"code\":\"L\"}]}]}");
    assert_int_equal(fmt_obs_flag(o), FMT_FLAG_LOW);
    CHECK(fmt_ref_range(&b_, o), "");
    json_decref(o);

    /* Blood pressure from components. */
    o = J("{\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"code\":\"85354-9\"}]},"
          "\"component\":[{\"code\":{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":"
          "{\"value\":142,\"unit\":\"mm[Hg]\"}},{\"code\":{\"coding\":[{\"code\":\"8462-4\"}]},"
          "\"valueQuantity\":{\"value\":91,\"unit\":\"mm[Hg]\"}}]}");
    CHECK(fmt_obs_value(&b_, o), "142/91 mmHg");
    assert_true(fmt_obs_number(o, "8462-4", &v));
    assert_true(v == 91);
    assert_false(fmt_obs_number(o, NULL, &v));
    json_decref(o);

    /* Comparator, coded value, absent value, upper-only range. */
    o = J("{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":5,\"comparator\":\"<\","
          "\"unit\":\"mg/L\"},\"referenceRange\":[{\"high\":{\"value\":10}}]}");
    CHECK(fmt_obs_value(&b_, o), "<5 mg/L");
    CHECK(fmt_ref_range(&b_, o), "< 10");
    assert_int_equal(fmt_obs_flag(o), FMT_FLAG_NONE);
    json_decref(o);
    o = J("{\"resourceType\":\"Observation\",\"valueCodeableConcept\":{\"text\":\"Positive\"},"
          "\"interpretation\":[{\"coding\":[{\"code\":\"POS\"}]}]}");
    CHECK(fmt_obs_value(&b_, o), "Positive");
    assert_int_equal(fmt_obs_flag(o), FMT_FLAG_ABNORMAL);
    json_decref(o);
    o = J("{\"resourceType\":\"Observation\",\"dataAbsentReason\":{\"text\":\"sample "
          "haemolysed\"}}");
    CHECK(fmt_obs_value(&b_, o), "not recorded: sample haemolysed");
    json_decref(o);
}

static void test_titles_details(void **state)
{
    (void)state;
    json_t *m = J("{\"resourceType\":\"MedicationRequest\",\"status\":\"active\","
                  "\"authoredOn\":\"2020-02-02\",\"medicationCodeableConcept\":{\"coding\":[{"
                  "\"display\":\"Metformin 500mg tablets\"}]},\"dosageInstruction\":[{\"text\":"
                  "\"One tablet twice a day\"}]}");
    CHECK(fmt_resource_title(&b_, m), "Metformin 500mg tablets");
    CHECK(fmt_resource_detail(&b_, m), "One tablet twice a day");
    assert_string_equal(fmt_resource_date(m), "2020-02-02");
    json_decref(m);
    json_t *a = J("{\"resourceType\":\"AllergyIntolerance\",\"clinicalStatus\":{\"coding\":[{"
                  "\"code\":\"active\"}]},\"criticality\":\"high\",\"code\":{\"text\":"
                  "\"Penicillin\"},\"reaction\":[{\"manifestation\":[{\"text\":\"Rash\"}],"
                  "\"severity\":\"severe\"}]}");
    CHECK(fmt_resource_title(&b_, a), "Penicillin");
    CHECK(fmt_resource_detail(&b_, a), "criticality high; reaction: Rash (severe)");
    assert_string_equal(fmt_resource_status(a), "active");
    json_decref(a);
    json_t *e =
        J("{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"AMB\"},\"type\":[{"
          "\"text\":\"GP consultation\"}],\"period\":{\"start\":\"2021-05-06T09:00:00Z\"}}");
    CHECK(fmt_resource_title(&b_, e), "GP consultation");
    assert_string_equal(fmt_resource_date(e), "2021-05-06T09:00:00Z");
    json_decref(e);
    json_t *x = J("{\"resourceType\":\"Basic\"}");
    CHECK(fmt_resource_title(&b_, x), "Basic");
    assert_null(fmt_resource_status(x));
    json_decref(x);
    assert_string_equal(fmt_type_label("MedicationRequest"), "Prescription");
    assert_string_equal(fmt_type_label("Unknown"), "Unknown");
}

/* Issue 11: UCUM codes as people read them; unknown units as sent. */
static void test_units(void **state)
{
    (void)state;
    CHECK(fmt_unit(&b_, "mm[Hg]"), "mmHg");
    CHECK(fmt_unit(&b_, "mL/min/{1.73_m2}"), "mL/min/1.73m\u00b2");
    CHECK(fmt_unit(&b_, "10*9/L"), "\u00d710\u2079/L");
    CHECK(fmt_unit(&b_, "{score}"), "score");
    CHECK(fmt_unit(&b_, "mmol/mol"), "mmol/mol");
    CHECK(fmt_unit(&b_, "furlongs/fortnight"), "furlongs/fortnight"); /* unknown: as sent */
    CHECK(fmt_unit(&b_, "{odd}"), "{odd}");
    CHECK(fmt_unit(&b_, "1"), "");
    CHECK(fmt_unit(&b_, NULL), "");
    json_t *o = J("{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":45,"
                  "\"code\":\"mL/min/{1.73_m2}\"},\"referenceRange\":[{\"low\":{\"value\":60,"
                  "\"unit\":\"mL/min/{1.73_m2}\"}}]}");
    CHECK(fmt_obs_value(&b_, o), "45 mL/min/1.73m\u00b2");
    CHECK(fmt_ref_range(&b_, o), "> 60 mL/min/1.73m\u00b2");
    json_decref(o);
    o = J("{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":7,"
          "\"unit\":\"{score}\"}}");
    CHECK(fmt_obs_value(&b_, o), "7 score");
    json_decref(o);
}

/* Issue 11: no invented dates, and encounters named from what they hold. */
static void test_dates_and_encounters(void **state)
{
    (void)state;
    json_t *a = J("{\"resourceType\":\"AllergyIntolerance\",\"code\":{\"text\":"
                  "\"Penicillin\"},\"meta\":{\"lastUpdated\":\"2026-12-05T10:00:00Z\"}}");
    assert_null(fmt_resource_date(a));
    assert_string_equal(fmt_resource_received(a), "2026-12-05T10:00:00Z");
    json_decref(a);
    json_t *e = J("{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"EMER\",\"display\":"
                  "\"emergency\"},\"serviceType\":{\"coding\":[{\"code\":\"180\"}]},"
                  "\"location\":[{\"location\":{\"display\":\"RPA, AE\"}}]}");
    CHECK(fmt_resource_title(&b_, e), "Emergency department attendance (RPA, AE)");
    json_decref(e);
    e = J("{\"resourceType\":\"Encounter\",\"class\":{\"display\":\"inpatient encounter\"},"
          "\"serviceType\":{\"text\":\"Cardiology\"},\"reasonCode\":[{\"text\":\"chest "
          "pain\"}]}");
    CHECK(fmt_resource_title(&b_, e), "Hospital admission, Cardiology for chest pain");
    json_decref(e);
    e = J("{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"AMB\"}}");
    CHECK(fmt_resource_title(&b_, e), "Outpatient or clinic appointment");
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nhs_number),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_names_and_address),
        cmocka_unit_test(test_observation_values),
        cmocka_unit_test(test_titles_details),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_dates_and_encounters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
