/* test_efi.c - the electronic Frailty Index on hand-built records: deficits
 * from SNOMED CT codes (any coding of the item), polypharmacy from distinct
 * current medicines, care needs from social care services and carers, social
 * vulnerability from safeguarding flags; items entered in error or dated
 * after the day assessed not counted; the triggering items named; bands at
 * the thresholds; the code-set file's validation, and the shipped
 * policy/efi.codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/day.h"
#include "analytics/efi.h"
#include "core/buf.h"
#include "core/err.h"

#define SCT "http://snomed.info/sct|"

static struct efi_codes *shipped(void)
{
    const char *root = getenv("WEFT_ROOT");
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/policy/efi.codes", root ? root : ".");
    struct efi_codes *c = NULL;
    char err[512];
    int rc = efi_codes_load(p.data, &c, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    buf_release(&p);
    return c;
}

static int deficit_index(const struct efi_codes *c, const char *id)
{
    for (int i = 0; i < EFI_NDEFICITS; i++)
        if (!strcmp(efi_deficit_id(c, i), id))
            return i;
    fail_msg("no deficit %s", id);
    return -1;
}

static struct analytics_item item(const char *type, const char *id, const char *status,
                                  const char *effective, const char *code1, const char *code2)
{
    struct analytics_item it = {.type = type, .id = id, .status = status, .effective = effective};
    if (code1)
        it.codes[it.ncodes++] = code1;
    if (code2)
        it.codes[it.ncodes++] = code2;
    return it;
}

static void test_bands(void **state)
{
    (void)state;
    assert_int_equal(efi_band_of(0), EFI_FIT);
    assert_int_equal(efi_band_of(4), EFI_FIT);       /* 0.111 */
    assert_int_equal(efi_band_of(5), EFI_MILD);      /* 0.139 */
    assert_int_equal(efi_band_of(8), EFI_MILD);      /* 0.222 */
    assert_int_equal(efi_band_of(9), EFI_MODERATE);  /* 0.25 */
    assert_int_equal(efi_band_of(12), EFI_MODERATE); /* 0.333 */
    assert_int_equal(efi_band_of(13), EFI_SEVERE);   /* 0.361 */
    assert_string_equal(efi_band_name(EFI_SEVERE), "severe");
}

static void test_person(void **state)
{
    (void)state;
    struct efi_codes *c = shipped();
    int64_t as_of, birth;
    assert_true(day_parse("2026-11-01", &as_of));
    assert_true(day_parse("1946-03-02", &birth)); /* 80 */
    struct analytics_item it[32];
    int n = 0;
    it[n++] = item("Condition", "hf", "active", "2020-01-01", SCT "84114007", NULL);
    it[n - 1].display = "Heart failure";
    /* the SNOMED CT code is the item's second coding */
    it[n++] = item("Condition", "dm", "active", "2019-01-01", "http://read.info/readv2|C10F.",
                   SCT "44054006");
    it[n++] = item("Condition", "af", "entered-in-error", "2019-01-01", SCT "49436004", NULL);
    it[n++] = item("Observation", "fall", "final", "2026-06-01", SCT "1912002", NULL);
    it[n++] = item("Condition", "later", "active", "2026-12-01", SCT "64859006", NULL);
    it[n++] = item("Condition", "other", "active", "2020-01-01", SCT "35489007", NULL);
    static const char *const meds[] = {SCT "325278007", SCT "319283006", SCT "320000009",
                                       SCT "318902004", SCT "318590006"};
    char mid[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(mid[i], sizeof mid[i], "m%d", i);
        it[n++] = item("MedicationStatement", mid[i], "active", NULL, meds[i], NULL);
    }
    it[n++] = item("MedicationRequest", "dup", "active", NULL, meds[0], NULL);
    it[n++] = item("MedicationStatement", "stopped", "stopped", NULL, SCT "317972000", NULL);
    it[n++] = item("EpisodeOfCare", "homecare", "active", "2025-01-01",
                   "https://weft.nhs.uk/CodeSystem/social-care-service|home-care", NULL);
    it[n - 1].category = "services";
    it[n++] = item("EpisodeOfCare", "closed", "finished", "2020-01-01", NULL, NULL);
    it[n - 1].category = "services";
    it[n++] = item("RelatedPerson", "daughter", NULL, NULL,
                   "https://weft.nhs.uk/CodeSystem/contact-role|carer", NULL);
    it[n++] = item("Flag", "sg", "active", "2025-05-05", NULL, NULL);
    it[n - 1].category = "safeguarding";
    struct analytics_person p = {.person_id = "x", .birth = birth, .items = it, .nitems = n};

    struct efi_result r;
    assert_int_equal(efi_assess(c, &p, as_of, &r), 0);
    assert_int_equal(r.age, 80);
    /* heart failure, diabetes, falls, polypharmacy, requirement for care,
     * social vulnerability: not AF (entered in error), not osteoporosis
     * (after the day), not depression (no eFI deficit) */
    assert_int_equal(r.count, 6);
    assert_int_equal(r.band, EFI_MILD);
    assert_true(r.score > 0.166 && r.score < 0.167);
    const char *hf = r.triggers[deficit_index(c, "heart-failure")];
    assert_non_null(hf);
    assert_string_equal(hf, "Condition/hf Heart failure (84114007)");
    assert_non_null(strstr(r.triggers[deficit_index(c, "diabetes")], "Condition/dm"));
    assert_null(r.triggers[deficit_index(c, "atrial-fibrillation")]);
    assert_null(r.triggers[deficit_index(c, "osteoporosis")]);
    const char *poly = r.triggers[deficit_index(c, "polypharmacy")];
    assert_non_null(poly);
    assert_non_null(strstr(poly, "5 current medicines"));
    assert_null(strstr(poly, "stopped"));
    assert_null(strstr(poly, "MedicationRequest/dup"));
    const char *care = r.triggers[deficit_index(c, "requirement-for-care")];
    assert_non_null(strstr(care, "EpisodeOfCare/homecare"));
    assert_non_null(strstr(care, "RelatedPerson/daughter"));
    assert_null(strstr(care, "closed"));
    assert_non_null(strstr(r.triggers[deficit_index(c, "social-vulnerability")], "Flag/sg"));
    efi_result_free(&r);

    /* four distinct medicines are not polypharmacy */
    it[9].status = "completed";
    assert_int_equal(efi_assess(c, &p, as_of, &r), 0);
    assert_null(r.triggers[deficit_index(c, "polypharmacy")]);
    assert_int_equal(r.count, 5);
    assert_int_equal(r.band, EFI_MILD);
    efi_result_free(&r);

    /* under 65, or no birth date: not assessed */
    assert_true(day_parse("1961-11-02", &p.birth)); /* 64 on the day */
    assert_int_equal(efi_assess(c, &p, as_of, &r), WEFT_ENOTFOUND);
    assert_true(day_parse("1961-11-01", &p.birth)); /* 65 that day */
    assert_int_equal(efi_assess(c, &p, as_of, &r), 0);
    efi_result_free(&r);
    p.birth = ANALYTICS_NO_BIRTH;
    assert_int_equal(efi_assess(c, &p, as_of, &r), WEFT_ENOTFOUND);
    efi_codes_free(c);
}

static void expect_parse_error(const char *text, const char *want)
{
    struct efi_codes *c = NULL;
    char err[512];
    assert_int_equal(efi_codes_parse(text, strlen(text), &c, err, sizeof err), WEFT_EPARSE);
    assert_null(c);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_codes_file(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int i = 0; i < 35; i++)
        buf_addf(&b, "deficit d%d Deficit %d\ncode %d Thing\n", i, i, 100000 + i);
    expect_parse_error(b.data, "35 deficits defined; the eFI has exactly 36");
    struct buf ok = BUF_INIT;
    buf_addf(&ok, "%sdeficit d35 Last\nrule polypharmacy 5\n", b.data);
    struct efi_codes *c = NULL;
    char err[512];
    assert_int_equal(efi_codes_parse(ok.data, ok.len, &c, err, sizeof err), 0);
    efi_codes_free(c);
    struct buf t = BUF_INIT;
    buf_addf(&t, "%sdeficit d35 Last\nrule telepathy\n", b.data);
    expect_parse_error(t.data, "unknown rule");
    buf_reset(&t);
    buf_addf(&t, "%sdeficit d35 Last\ncode 100003 Again\n", b.data);
    expect_parse_error(t.data, "code 100003 is listed in two deficits (d3, d35)");
    expect_parse_error("code 123456 Orphan\n", "line 1: 'code' before any 'deficit'");
    expect_parse_error("deficit a A\ncode C10F. Read\n", "line 2: not a SNOMED CT concept id");
    expect_parse_error("deficit a A\nweight 3\n", "line 2: unknown statement");
    buf_release(&b);
    buf_release(&ok);
    buf_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bands),
        cmocka_unit_test(test_person),
        cmocka_unit_test(test_codes_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
