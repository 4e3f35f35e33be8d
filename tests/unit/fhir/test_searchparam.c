/* test_searchparam.c - the generated FHIR R4 search parameter table and
 * matching one resource against one filter, for every parameter type and
 * modifier (fhir/searchparam.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/err.h"
#include "fhir/searchparam.h"

/* An Observation shaped as Synthea writes them, plus what the tests need. */
static const char *obs_json =
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
    "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
    "observation-category\",\"code\":\"vital-signs\",\"display\":\"Vital signs\"}]}],"
    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\","
    "\"display\":\"Heart rate\"}],\"text\":\"Heart rate\"},"
    "\"subject\":{\"reference\":\"Patient/p1\"},"
    "\"encounter\":{\"reference\":\"http://example.org/fhir/Encounter/e1\"},"
    "\"effectiveDateTime\":\"2020-03-04T10:15:00+00:00\","
    "\"valueQuantity\":{\"value\":101.5,\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\","
    "\"code\":\"/min\"},"
    "\"meta\":{\"profile\":[\"http://hl7.org/fhir/StructureDefinition/vitalsigns\"]}}";

static const char *pat_json =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\","
    "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9000000009\","
    "\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0203\","
    "\"code\":\"NH\"}]}},{\"system\":\"urn:local\",\"value\":\"L1\"}],"
    "\"name\":[{\"use\":\"official\",\"family\":\"Kihn\",\"given\":[\"Zo\\u00eb\",\"Anne\"]}],"
    "\"telecom\":[{\"system\":\"phone\",\"value\":\"555-1234\"}],"
    "\"gender\":\"female\",\"birthDate\":\"1970-05\","
    "\"generalPractitioner\":[{\"reference\":\"Practitioner/gp1\","
    "\"identifier\":{\"system\":\"urn:gp\",\"value\":\"G123\"}}]}";

static const char *enc_json =
    "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"status\":\"finished\","
    "\"subject\":{\"reference\":\"Patient/p1\"},"
    "\"period\":{\"start\":\"2020-01-10T09:00:00Z\",\"end\":\"2020-01-12T17:00:00Z\"}}";

static const char *risk_json = "{\"resourceType\":\"RiskAssessment\",\"id\":\"r1\","
                               "\"prediction\":[{\"probabilityDecimal\":0.25}]}";

static bool match(const char *json, const char *type, const char *name, const char *value)
{
    json_error_t e;
    json_t *r = json_loads(json, 0, &e);
    assert_non_null(r);
    char code[64];
    snprintf(code, sizeof code, "%s", name);
    char *colon = strchr(code, ':');
    const char *modname = NULL;
    if (colon) {
        *colon = 0;
        modname = colon + 1;
    }
    const struct fhir_sp *sp = fhir_sp_find(type, code);
    if (!sp)
        fail_msg("no parameter %s for %s", code, type);
    int mod = FHIR_SP_MOD_NONE;
    const char *ref_type = NULL;
    if (modname) {
        mod = fhir_sp_mod_parse(sp, modname, &ref_type);
        if (mod < 0)
            fail_msg("modifier %s refused for %s", modname, code);
    }
    struct fhir_sp_filter f;
    char err[256];
    int rc = fhir_sp_filter_parse(&f, sp, (enum fhir_sp_mod)mod, ref_type, value, err, sizeof err);
    if (rc != 0)
        fail_msg("%s=%s refused: %s", name, value, err);
    bool m = fhir_sp_match(&f, r);
    /* the text pre-check never drops a match */
    if (m && !fhir_sp_may_match(&f, json, strlen(json)))
        fail_msg("%s=%s matches but the text pre-check said it cannot", name, value);
    fhir_sp_filter_free(&f);
    json_decref(r);
    return m;
}

static bool refused(const char *type, const char *name, const char *value)
{
    const struct fhir_sp *sp = fhir_sp_find(type, name);
    assert_non_null(sp);
    struct fhir_sp_filter f;
    char err[256];
    int rc = fhir_sp_filter_parse(&f, sp, FHIR_SP_MOD_NONE, NULL, value, err, sizeof err);
    fhir_sp_filter_free(&f);
    return rc == WEFT_EINVAL && strstr(err, name) != NULL;
}

static void test_table(void **state)
{
    (void)state;
    const struct fhir_sp *sp = fhir_sp_find("Observation", "value-quantity");
    assert_non_null(sp);
    assert_int_equal(sp->kind, FHIR_SP_QUANTITY);
    assert_string_equal(sp->path, "valueQuantity");
    sp = fhir_sp_find("Observation", "date");
    assert_non_null(sp);
    assert_string_equal(sp->path, "effective[x]");
    sp = fhir_sp_find("Condition", "patient");
    assert_non_null(sp);
    assert_string_equal(sp->path, "subject@Patient");
    assert_string_equal(sp->targets, "Patient");
    sp = fhir_sp_find("Observation", "code-value-quantity");
    assert_non_null(sp);
    assert_int_equal(sp->kind, FHIR_SP_COMPOSITE);
    assert_string_equal(sp->components, "token:code;quantity:valueQuantity");
    assert_null(fhir_sp_find("Observation", "no-such-param"));
    assert_null(fhir_sp_find("Nonsense", "code"));
    int n = 0;
    const struct fhir_sp *rows = fhir_sp_of_type("Immunization", &n);
    assert_true(n > 10);
    bool vaccine = false;
    for (int i = 0; i < n; i++) {
        assert_string_equal(rows[i].type, "Immunization");
        if (i > 0)
            assert_true(strcmp(rows[i - 1].code, rows[i].code) < 0);
        vaccine |= strcmp(rows[i].code, "vaccine-code") == 0;
    }
    assert_true(vaccine);
    assert_null(fhir_sp_of_type("Nonsense", &n));
    assert_int_equal(n, 0);
}

static void test_token(void **state)
{
    (void)state;
    assert_true(match(obs_json, "Observation", "code", "8867-4"));
    assert_true(match(obs_json, "Observation", "code", "http://loinc.org|8867-4"));
    assert_false(match(obs_json, "Observation", "code", "http://snomed.info/sct|8867-4"));
    assert_false(match(obs_json, "Observation", "code", "|8867-4")); /* has a system */
    assert_true(match(obs_json, "Observation", "code", "http://loinc.org|"));
    assert_true(match(obs_json, "Observation", "code", "1234-5,8867-4")); /* OR */
    assert_true(match(obs_json, "Observation", "category", "vital-signs"));
    assert_false(match(obs_json, "Observation", "category", "laboratory"));
    assert_true(match(obs_json, "Observation", "status", "final"));
    assert_true(match(pat_json, "Patient", "gender", "female"));
    assert_true(match(pat_json, "Patient", "identifier", "urn:local|L1"));
    assert_true(match(pat_json, "Patient", "phone", "555-1234"));
    assert_false(match(pat_json, "Patient", "email", "555-1234"));
    /* :text */
    assert_true(match(obs_json, "Observation", "code:text", "heart"));
    assert_true(match(obs_json, "Observation", "category:text", "SIGNS"));
    assert_false(match(obs_json, "Observation", "code:text", "glucose"));
    /* :not: no element matches (and an item without the element matches) */
    assert_true(match(obs_json, "Observation", "status:not", "preliminary"));
    assert_false(match(obs_json, "Observation", "status:not", "final"));
    assert_true(match(obs_json, "Observation", "data-absent-reason:not", "unknown"));
    /* :missing */
    assert_true(match(obs_json, "Observation", "data-absent-reason:missing", "true"));
    assert_false(match(obs_json, "Observation", "code:missing", "true"));
    assert_true(match(obs_json, "Observation", "code:missing", "false"));
    /* :of-type */
    assert_true(match(pat_json, "Patient", "identifier:of-type",
                      "http://terminology.hl7.org/CodeSystem/v2-0203|NH|9000000009"));
    assert_false(match(pat_json, "Patient", "identifier:of-type",
                       "http://terminology.hl7.org/CodeSystem/v2-0203|MR|9000000009"));
    assert_false(match(pat_json, "Patient", "identifier:of-type",
                       "http://terminology.hl7.org/CodeSystem/v2-0203|NH|L1"));
    assert_true(refused("Observation", "code", "a|b|c"));
}

static void test_string(void **state)
{
    (void)state;
    assert_true(match(pat_json, "Patient", "family", "kih")); /* starts with, any case */
    assert_false(match(pat_json, "Patient", "family", "ihn"));
    assert_true(match(pat_json, "Patient", "given", "zoe")); /* accent-insensitive */
    assert_true(match(pat_json, "Patient", "name", "ann"));
    assert_true(match(pat_json, "Patient", "name:contains", "IH"));
    assert_false(match(pat_json, "Patient", "name:contains", "xyz"));
    assert_true(match(pat_json, "Patient", "family:exact", "Kihn"));
    assert_false(match(pat_json, "Patient", "family:exact", "kihn"));
    assert_false(match(pat_json, "Patient", "family:exact", "Kih"));
    assert_true(match(pat_json, "Patient", "given:exact", "Zo\xc3\xab"));
    assert_true(match(pat_json, "Patient", "address:missing", "true"));
}

static void test_date(void **state)
{
    (void)state;
    /* a point: 2020-03-04T10:15:00 */
    assert_true(match(obs_json, "Observation", "date", "2020"));
    assert_true(match(obs_json, "Observation", "date", "2020-03-04"));
    assert_false(match(obs_json, "Observation", "date", "2020-03-05"));
    assert_true(match(obs_json, "Observation", "date", "ne2020-03-05"));
    assert_false(match(obs_json, "Observation", "date", "ne2020-03"));
    assert_true(match(obs_json, "Observation", "date", "gt2020-03-03"));
    assert_false(match(obs_json, "Observation", "date", "gt2020-03-04"));
    assert_true(match(obs_json, "Observation", "date", "ge2020-03-04"));
    assert_true(match(obs_json, "Observation", "date", "ge2020-03-04T10:15:00Z"));
    assert_false(match(obs_json, "Observation", "date", "ge2020-03-04T10:15:01Z"));
    assert_true(match(obs_json, "Observation", "date", "lt2020-03-05"));
    assert_false(match(obs_json, "Observation", "date", "lt2020-03-04"));
    assert_true(match(obs_json, "Observation", "date", "le2020-03-04"));
    assert_false(match(obs_json, "Observation", "date", "le2020-03-03"));
    assert_true(match(obs_json, "Observation", "date", "sa2020-03-03"));
    assert_false(match(obs_json, "Observation", "date", "sa2020-03-04"));
    assert_true(match(obs_json, "Observation", "date", "eb2020-03-05"));
    assert_false(match(obs_json, "Observation", "date", "eb2020-03-04"));
    assert_true(match(obs_json, "Observation", "date", "ap2020-03-01"));
    assert_false(match(obs_json, "Observation", "date", "ap1990-03-01"));
    /* a period [2020-01-10T09:00, 2020-01-12T17:00] */
    assert_true(match(enc_json, "Encounter", "date", "ge2020-01-11"));  /* overlaps */
    assert_true(match(enc_json, "Encounter", "date", "le2020-01-11"));  /* overlaps */
    assert_false(match(enc_json, "Encounter", "date", "2020-01-11"));   /* not within */
    assert_true(match(enc_json, "Encounter", "date", "2020-01"));       /* within */
    assert_false(match(enc_json, "Encounter", "date", "sa2020-01-11")); /* starts before */
    assert_true(match(enc_json, "Encounter", "date", "sa2020-01-09"));
    assert_true(match(enc_json, "Encounter", "date", "eb2020-01-13"));
    assert_false(match(enc_json, "Encounter", "date", "gt2020-01-13"));
    assert_true(match(pat_json, "Patient", "birthdate", "1970"));
    assert_false(match(pat_json, "Patient", "birthdate", "1970-05-03")); /* wider than a day */
    assert_true(refused("Observation", "date", "2020-13"));
    assert_true(refused("Observation", "date", "xx2020"));
}

static void test_quantity_number(void **state)
{
    (void)state;
    assert_true(match(obs_json, "Observation", "value-quantity", "gt100"));
    assert_false(match(obs_json, "Observation", "value-quantity", "gt101.5"));
    assert_true(match(obs_json, "Observation", "value-quantity", "ge101.5"));
    assert_true(match(obs_json, "Observation", "value-quantity", "lt102"));
    assert_true(match(obs_json, "Observation", "value-quantity", "le101.5"));
    assert_true(match(obs_json, "Observation", "value-quantity", "101.5"));
    assert_true(match(obs_json, "Observation", "value-quantity", "102"));  /* [101.5, 102.5) */
    assert_false(match(obs_json, "Observation", "value-quantity", "101")); /* [100.5, 101.5) */
    assert_true(match(obs_json, "Observation", "value-quantity", "ne101"));
    assert_true(match(obs_json, "Observation", "value-quantity", "ap100"));
    assert_false(match(obs_json, "Observation", "value-quantity", "ap80"));
    assert_true(
        match(obs_json, "Observation", "value-quantity", "gt100|http://unitsofmeasure.org|/min"));
    assert_false(
        match(obs_json, "Observation", "value-quantity", "gt100|http://unitsofmeasure.org|mmol/L"));
    assert_true(match(obs_json, "Observation", "value-quantity", "101.5||/min"));
    assert_false(match(obs_json, "Observation", "value-quantity", "101.5|urn:other|/min"));
    assert_true(match(risk_json, "RiskAssessment", "probability", "gt0.2"));
    assert_false(match(risk_json, "RiskAssessment", "probability", "lt0.2"));
    assert_true(match(risk_json, "RiskAssessment", "probability", "0.25"));
    assert_true(refused("Observation", "value-quantity", "gtabc"));
    assert_true(refused("RiskAssessment", "probability", "1|a|b"));
}

static void test_reference_uri(void **state)
{
    (void)state;
    assert_true(match(obs_json, "Observation", "subject", "Patient/p1"));
    assert_true(match(obs_json, "Observation", "subject", "p1"));
    assert_true(match(obs_json, "Observation", "subject", "http://elsewhere/fhir/Patient/p1"));
    assert_false(match(obs_json, "Observation", "subject", "Group/p1"));
    assert_false(match(obs_json, "Observation", "subject", "Patient/p2"));
    assert_true(match(obs_json, "Observation", "subject:Patient", "p1"));
    assert_false(match(obs_json, "Observation", "subject:Group", "p1"));
    assert_true(match(obs_json, "Observation", "encounter", "Encounter/e1")); /* absolute */
    assert_true(match(obs_json, "Observation", "patient", "p1"));
    assert_true(match(obs_json, "Observation", "specimen:missing", "true"));
    assert_false(match(obs_json, "Observation", "subject:missing", "true"));
    assert_true(match(pat_json, "Patient", "general-practitioner:identifier", "urn:gp|G123"));
    assert_false(match(pat_json, "Patient", "general-practitioner:identifier", "urn:gp|G9"));
    assert_true(match(obs_json, "Observation", "_profile",
                      "http://hl7.org/fhir/StructureDefinition/vitalsigns"));
    assert_false(match(obs_json, "Observation", "_profile", "http://hl7.org/fhir/"));
    assert_true(match(obs_json, "Observation", "_profile:below", "http://hl7.org/fhir/"));
    char type[64], id[65];
    assert_true(fhir_sp_ref_split("http://x/fhir/Patient/abc/_history/2", type, id));
    assert_string_equal(type, "Patient");
    assert_string_equal(id, "abc");
    assert_false(fhir_sp_ref_split("urn:uuid:1234", type, id));
}

static void test_composite(void **state)
{
    (void)state;
    assert_true(match(obs_json, "Observation", "code-value-quantity", "8867-4$gt100"));
    assert_true(match(obs_json, "Observation", "code-value-quantity",
                      "http://loinc.org|8867-4$101.5|http://unitsofmeasure.org|/min"));
    assert_false(match(obs_json, "Observation", "code-value-quantity", "8867-4$lt100"));
    assert_false(match(obs_json, "Observation", "code-value-quantity", "1234-5$gt100"));
    assert_true(match(obs_json, "Observation", "code-value-quantity", "1234-5$gt1,8867-4$gt1"));
    assert_true(refused("Observation", "code-value-quantity", "8867-4"));
}

static void test_may_match(void **state)
{
    (void)state;
    const struct fhir_sp *sp = fhir_sp_find("Observation", "code");
    struct fhir_sp_filter f;
    char err[128];
    assert_int_equal(fhir_sp_filter_parse(&f, sp, FHIR_SP_MOD_NONE, NULL, "http://loinc.org|9999-9",
                                          err, sizeof err),
                     0);
    assert_false(fhir_sp_may_match(&f, obs_json, strlen(obs_json)));
    fhir_sp_filter_free(&f);
    assert_int_equal(fhir_sp_filter_parse(&f, sp, FHIR_SP_MOD_NOT, NULL, "9999-9", err, sizeof err),
                     0);
    assert_true(fhir_sp_may_match(&f, obs_json, strlen(obs_json))); /* :not cannot be told */
    fhir_sp_filter_free(&f);
}

static void test_fold_sort(void **state)
{
    (void)state;
    char *f = fhir_sp_fold("Zo\xc3\xab \xc3\x89LISE");
    assert_string_equal(f, "zoe elise");
    free(f);
    json_t *r = json_loads(obs_json, 0, NULL);
    char key[128];
    fhir_sp_sort_key(fhir_sp_find("Observation", "date"), r, false, key, sizeof key);
    assert_string_equal(key, "2020-03-04T10:15:00");
    char k1[128], k2[128];
    fhir_sp_sort_key(fhir_sp_find("Observation", "value-quantity"), r, false, k1, sizeof k1);
    json_object_set_new(json_object_get(r, "valueQuantity"), "value", json_real(99.0));
    fhir_sp_sort_key(fhir_sp_find("Observation", "value-quantity"), r, false, k2, sizeof k2);
    assert_true(strcmp(k2, k1) < 0);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),           cmocka_unit_test(test_token),
        cmocka_unit_test(test_string),          cmocka_unit_test(test_date),
        cmocka_unit_test(test_quantity_number), cmocka_unit_test(test_reference_uri),
        cmocka_unit_test(test_composite),       cmocka_unit_test(test_fold_sort),
        cmocka_unit_test(test_may_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
