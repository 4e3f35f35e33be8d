/* test_contrib.c - a person's own contributions (domain/contrib.h): plausible
 * ranges, dates, texts, and the FHIR shapes (UCUM units, LOINC codes, the
 * patient-entered mark, the person as performer / expressedBy), and that the
 * record category the loader gives them is the one the pages expect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain/category.h"
#include "domain/contrib.h"

#define NOW "2026-03-15T10:20:30.000Z"
#define PAT "Patient/0123456789abcdef0123456789abcdef"

static json_t *build(enum contrib_kind k, const char *v, const char *v2, const char *when,
                     const char *text, const char **why)
{
    struct contrib_input in = {.kind = k, .value = v, .value2 = v2, .when = when, .text = text};
    return contrib_build(&in, "c-1", PAT, NOW, why);
}

static void refused(enum contrib_kind k, const char *v, const char *v2, const char *when,
                    const char *text, const char *words)
{
    const char *why = NULL;
    json_t *r = build(k, v, v2, when, text, &why);
    if (r) {
        char *s = json_dumps(r, JSON_COMPACT);
        fail_msg("accepted %s/%s at %s: %s", v ? v : "-", v2 ? v2 : "-", when ? when : "-", s);
    }
    assert_non_null(why);
    if (!strstr(why, words))
        fail_msg("reason '%s' lacks '%s'", why, words);
}

static const char *str(const json_t *r, const char *path)
{
    /* a dotted path of object members and [0] indexes, e.g. "code.coding.0.code" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = r;
    for (char *save = NULL, *p = strtok_r(buf, ".", &save); p && cur;
         p = strtok_r(NULL, ".", &save))
        cur = (*p >= '0' && *p <= '9') ? json_array_get(cur, (size_t)atoi(p))
                                       : json_object_get(cur, p);
    return json_string_value(cur);
}

static double num(const json_t *r, const char *member_path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", member_path);
    const json_t *cur = r;
    for (char *save = NULL, *p = strtok_r(buf, ".", &save); p && cur;
         p = strtok_r(NULL, ".", &save))
        cur = (*p >= '0' && *p <= '9') ? json_array_get(cur, (size_t)atoi(p))
                                       : json_object_get(cur, p);
    assert_true(json_is_number(cur));
    return json_number_value(cur);
}

static void test_ranges(void **state)
{
    (void)state;
    const char *d = "2026-03-14";
    refused(CONTRIB_BP, "49", "30", d, NULL, "systolic");
    refused(CONTRIB_BP, "301", "80", d, NULL, "systolic");
    refused(CONTRIB_BP, "120.5", "80", d, NULL, "whole number");
    refused(CONTRIB_BP, "120", "29", d, NULL, "diastolic");
    refused(CONTRIB_BP, "120", "201", d, NULL, "diastolic");
    refused(CONTRIB_BP, "80", "120", d, NULL, "higher than");
    refused(CONTRIB_BP, "120", "120", d, NULL, "higher than");
    refused(CONTRIB_BP, "12O", "80", d, NULL, "systolic"); /* letter O */
    refused(CONTRIB_BP, "", "80", d, NULL, "systolic");
    refused(CONTRIB_BP, NULL, "80", d, NULL, "systolic");
    refused(CONTRIB_BP, "-120", "80", d, NULL, "systolic");
    refused(CONTRIB_BP, "nan", "80", d, NULL, "systolic");
    refused(CONTRIB_WEIGHT, "1.9", NULL, d, NULL, "weight");
    refused(CONTRIB_WEIGHT, "400.1", NULL, d, NULL, "weight");
    refused(CONTRIB_WEIGHT, "70kg", NULL, d, NULL, "weight");
    refused(CONTRIB_WEIGHT, "inf", NULL, d, NULL, "weight");
    refused(CONTRIB_GLUCOSE, "0.9", NULL, d, NULL, "glucose");
    refused(CONTRIB_GLUCOSE, "40.1", NULL, d, NULL, "glucose");
    refused(CONTRIB_GLUCOSE, "1e1x", NULL, d, NULL, "glucose");
    /* the edges are accepted */
    const char *why = NULL;
    json_t *r;
    assert_non_null(r = build(CONTRIB_BP, "300", "200", d, NULL, &why));
    json_decref(r);
    assert_non_null(r = build(CONTRIB_BP, " 51 ", "30", d, NULL, &why));
    json_decref(r);
    assert_non_null(r = build(CONTRIB_WEIGHT, "2", NULL, d, NULL, &why));
    json_decref(r);
    assert_non_null(r = build(CONTRIB_GLUCOSE, "40.0", NULL, d, NULL, &why));
    json_decref(r);
}

static void test_dates(void **state)
{
    (void)state;
    refused(CONTRIB_WEIGHT, "70", NULL, NULL, NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "2026-03-16", NULL, "future");       /* tomorrow */
    refused(CONTRIB_WEIGHT, "70", NULL, "2026-03-15T10:21", NULL, "future"); /* in a minute */
    refused(CONTRIB_WEIGHT, "70", NULL, "1899-12-31", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "2025-02-29", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "2026-13-01", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "2026-03-14T24:00", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "14/03/2026", NULL, "date");
    refused(CONTRIB_WEIGHT, "70", NULL, "2026-03-14T09:00:00Z", NULL, "date");
    const char *why = NULL;
    json_t *r = build(CONTRIB_WEIGHT, "70", NULL, "2024-02-29", NULL, &why);
    assert_non_null(r);
    assert_string_equal(str(r, "effectiveDateTime"), "2024-02-29");
    json_decref(r);
    r = build(CONTRIB_WEIGHT, "70", NULL, "2026-03-15T10:20", NULL, &why);
    assert_non_null(r);
    assert_string_equal(str(r, "effectiveDateTime"), "2026-03-15T10:20:00Z");
    json_decref(r);
}

static void test_texts(void **state)
{
    (void)state;
    char big[CONTRIB_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    refused(CONTRIB_MATTERS, NULL, NULL, NULL, " \t\n ", "write");
    refused(CONTRIB_MATTERS, NULL, NULL, NULL, NULL, "write");
    refused(CONTRIB_PREFERENCE, NULL, NULL, NULL, big, "1000");
    big[CONTRIB_TEXT_MAX] = 0;
    const char *why = NULL;
    json_t *r = build(CONTRIB_PREFERENCE, NULL, NULL, NULL, big, &why);
    assert_non_null(r);
    json_decref(r);
    struct contrib_input in = {.kind = (enum contrib_kind)99};
    assert_null(contrib_build(&in, "c-1", PAT, NOW, &why));
    assert_non_null(why);
    assert_int_equal(contrib_kind_parse("bp"), CONTRIB_BP);
    assert_int_equal(contrib_kind_parse("matters"), CONTRIB_MATTERS);
    assert_int_equal(contrib_kind_parse("BP"), -1);
    assert_int_equal(contrib_kind_parse(NULL), -1);
}

static void test_shapes(void **state)
{
    (void)state;
    const char *why = NULL;
    json_t *bp = build(CONTRIB_BP, "128", "84", "2026-03-15T08:05", NULL, &why);
    assert_non_null(bp);
    assert_string_equal(str(bp, "resourceType"), "Observation");
    assert_string_equal(str(bp, "status"), "final");
    assert_string_equal(str(bp, "code.coding.0.system"), "http://loinc.org");
    assert_string_equal(str(bp, "code.coding.0.code"), "85354-9");
    assert_string_equal(str(bp, "component.0.code.coding.0.code"), "8480-6");
    assert_string_equal(str(bp, "component.1.code.coding.0.code"), "8462-4");
    assert_true(num(bp, "component.0.valueQuantity.value") == 128.0);
    assert_true(num(bp, "component.1.valueQuantity.value") == 84.0);
    assert_string_equal(str(bp, "component.0.valueQuantity.system"), "http://unitsofmeasure.org");
    assert_string_equal(str(bp, "component.0.valueQuantity.code"), "mm[Hg]");
    assert_string_equal(str(bp, "subject.reference"), PAT);
    assert_string_equal(str(bp, "performer.0.reference"), PAT);
    assert_string_equal(str(bp, "category.0.coding.0.code"), "vital-signs");
    assert_string_equal(str(bp, "category.1.coding.0.code"), "patient-entered");
    assert_string_equal(str(bp, "meta.tag.0.system"),
                        "https://weft.nhs.uk/CodeSystem/information-source");
    assert_string_equal(str(bp, "meta.tag.0.code"), "patient-entered");
    assert_true(contrib_is_patient_entered(bp));
    assert_string_equal(category_of(bp), "observations");
    json_decref(bp);

    json_t *w = build(CONTRIB_WEIGHT, "72.46", NULL, "2026-03-15", NULL, &why);
    assert_string_equal(str(w, "code.coding.0.code"), "29463-7");
    assert_true(num(w, "valueQuantity.value") == 72.5);
    assert_string_equal(str(w, "valueQuantity.code"), "kg");
    assert_string_equal(category_of(w), "observations");
    json_decref(w);

    json_t *g = build(CONTRIB_GLUCOSE, "6.1", NULL, "2026-03-15", NULL, &why);
    assert_string_equal(str(g, "code.coding.0.code"), "15074-8");
    assert_string_equal(str(g, "valueQuantity.code"), "mmol/L");
    assert_true(num(g, "valueQuantity.value") == 6.1);
    /* not a laboratory result: never filed with the clinical results */
    assert_string_equal(category_of(g), "observations");
    assert_string_equal(str(g, "category.0.coding.0.code"), "patient-entered");
    json_decref(g);

    json_t *p = build(CONTRIB_PREFERENCE, NULL, NULL, NULL, "Morning appointments, please", &why);
    assert_string_equal(str(p, "resourceType"), "Observation");
    assert_string_equal(str(p, "code.coding.0.code"), "care-preference");
    assert_string_equal(str(p, "valueString"), "Morning appointments, please");
    assert_string_equal(str(p, "effectiveDateTime"), "2026-03-15T10:20:30Z");
    json_decref(p);

    json_t *m = build(CONTRIB_MATTERS, NULL, NULL, NULL, "Walking my dog every day", &why);
    assert_string_equal(str(m, "resourceType"), "Goal");
    assert_string_equal(str(m, "lifecycleStatus"), "active");
    assert_string_equal(str(m, "description.text"), "Walking my dog every day");
    assert_string_equal(str(m, "expressedBy.reference"), PAT);
    assert_string_equal(str(m, "startDate"), "2026-03-15");
    assert_true(contrib_is_patient_entered(m));
    assert_non_null(category_of(m));
    json_decref(m);

    /* an item without the mark is not patient-entered */
    json_t *clin =
        json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "resourceType", "Observation", "meta", "tag",
                  "system", "https://fhir.nhs.uk/Id/ods-organization-code", "code", "G82001");
    assert_false(contrib_is_patient_entered(clin));
    json_decref(clin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
