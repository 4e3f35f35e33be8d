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
#include "store/paging.h"

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
    "\"serviceProvider\":{\"reference\":\"Organization/org1\"},"
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

/* ---- the search index ---------------------------------------------------------------------- */

/* Does one of rows (of x) satisfy condition value v of param? */
static bool ix_selects(const struct fhir_sp_ixrows *x, const char *param,
                       const struct store_ixval *v)
{
    const char *pairs[512];
    assert_true(x->n <= 256);
    int n = fhir_sp_ixrows_pairs(x, pairs);
    for (int i = 0; i < n; i++) {
        const char *val = pairs[2 * i + 1];
        if (strcmp(pairs[2 * i], param) != 0)
            continue;
        bool ok = v->op == STORE_IX_EQ ? strcmp(val, v->a) == 0
                  : v->op == STORE_IX_PREFIX
                      ? strncmp(val, v->a, strlen(v->a)) == 0
                      : (!v->a || strcmp(val, v->a) >= 0) && (!v->b || strcmp(val, v->b) <= 0);
        if (ok)
            return true;
    }
    return false;
}

/* name=value against json: "match" (fhir_sp_match) and "selected" (the
 * resource's index rows satisfy the filter's index condition); returns
 * whether the index can narrow the filter at all. */
static bool ix_check(const char *json, const char *type, const char *name, const char *value,
                     bool *matched, bool *selected)
{
    json_error_t e;
    json_t *r = json_loads(json, 0, &e);
    assert_non_null(r);
    char code[64];
    snprintf(code, sizeof code, "%s", name);
    char *colon = strchr(code, ':');
    int mod = FHIR_SP_MOD_NONE;
    const char *ref_type = NULL;
    const struct fhir_sp *sp;
    if (colon)
        *colon = 0;
    sp = fhir_sp_find(type, code);
    assert_non_null(sp);
    if (colon)
        mod = fhir_sp_mod_parse(sp, colon + 1, &ref_type);
    assert_true(mod >= 0);
    struct fhir_sp_filter f;
    char err[256];
    assert_int_equal(
        fhir_sp_filter_parse(&f, sp, (enum fhir_sp_mod)mod, ref_type, value, err, sizeof err), 0);
    struct fhir_sp_ixrows x = FHIR_SP_IXROWS_INIT;
    fhir_sp_ixrows_resource(&x, type, r);
    struct store_ixcond c;
    bool indexable = fhir_sp_index_cond(&f, &c);
    *matched = fhir_sp_match(&f, r);
    *selected = false;
    for (int i = 0; indexable && i < c.nvals; i++)
        *selected = *selected || ix_selects(&x, c.param, &c.vals[i]);
    if (indexable)
        fhir_sp_index_cond_free(&c);
    fhir_sp_ixrows_release(&x);
    fhir_sp_filter_free(&f);
    json_decref(r);
    return indexable;
}

/* The index never loses a match: for every indexable search below that
 * matches, the resource's rows satisfy the condition; and searches that do
 * not match are told apart by the index where it can (so it narrows). */
static void test_index(void **state)
{
    (void)state;
    static const struct {
        const char **json;
        const char *type, *name, *value;
        int indexable, match, selected; /* expected */
    } cases[] = {
        {&obs_json, "Observation", "code", "8867-4", 1, 1, 1},
        {&obs_json, "Observation", "code", "http://loinc.org|8867-4", 1, 1, 1},
        {&obs_json, "Observation", "code", "|8867-4", 1, 0, 1}, /* narrows, does not decide */
        {&obs_json, "Observation", "code", "8480-6,8867-4", 1, 1, 1},
        {&obs_json, "Observation", "code", "8480-6", 1, 0, 0},
        {&obs_json, "Observation", "code", "http://loinc.org|", 0, 1, 0},
        {&obs_json, "Observation", "code:text", "heart", 0, 1, 0},
        {&obs_json, "Observation", "code:not", "8480-6", 0, 1, 0},
        {&obs_json, "Observation", "category", "VITAL-SIGNS", 1, 0, 1}, /* case: narrows */
        {&obs_json, "Observation", "category", "vital-signs", 1, 1, 1},
        /* coarse tokens (a handful of fixed codes over every item): not indexed */
        {&obs_json, "Observation", "status", "final", 0, 1, 0},
        {&obs_json, "Observation", "value-string", "x", 1, 0, 0},    /* a union of its own */
        {&obs_json, "Observation", "combo-code", "8867-4", 0, 1, 0}, /* code | component.code */
        /* references to a patient's own items: their person answers */
        {&obs_json, "Observation", "encounter", "Encounter/e1", 0, 1, 0},
        {&obs_json, "Observation", "encounter", "e1", 0, 1, 0},
        {&obs_json, "Observation", "encounter:Encounter", "e1", 0, 1, 0},
        {&obs_json, "Observation", "subject", "Patient/p1", 0, 1, 0}, /* the store's person */
        {&obs_json, "Observation", "subject:Patient", "p1", 0, 1, 0},
        {&obs_json, "Observation", "date", "2020-03-04", 1, 1, 1},
        {&obs_json, "Observation", "date", "ge2020-03-04T10:15", 1, 1, 1},
        {&obs_json, "Observation", "date", "gt2020-03-04", 1, 0, 0},
        {&obs_json, "Observation", "date", "le2020-03-03", 1, 0, 1}, /* the day after: narrows */
        {&obs_json, "Observation", "date", "lt2020-03-05", 1, 1, 1},
        {&obs_json, "Observation", "date", "sa2020-03-03", 1, 1, 1},
        {&obs_json, "Observation", "date", "eb2020-03-05", 1, 1, 1},
        {&obs_json, "Observation", "date", "eb2020-03-01", 1, 0, 0},
        {&obs_json, "Observation", "date", "ne2019", 0, 1, 0},
        {&obs_json, "Observation", "date", "ap2020-03-04", 0, 1, 0},
        {&obs_json, "Observation", "value-quantity", "gt100", 0, 1, 0},
        {&pat_json, "Patient", "family", "kih", 1, 1, 1},
        {&pat_json, "Patient", "family:exact", "Kihn", 1, 1, 1},
        {&pat_json, "Patient", "family:exact", "kihn", 1, 0, 1},
        {&pat_json, "Patient", "family:contains", "ih", 0, 1, 0},
        {&pat_json, "Patient", "given", "zoe", 1, 1, 1},
        {&pat_json, "Patient", "name", "ANN", 1, 1, 1},
        {&pat_json, "Patient", "name", "smith", 1, 0, 0},
        {&pat_json, "Patient", "identifier", "urn:local|L1", 1, 1, 1},
        {&pat_json, "Patient", "identifier:of-type",
         "http://terminology.hl7.org/CodeSystem/v2-0203|NH|9000000009", 0, 1, 0},
        {&pat_json, "Patient", "gender", "female", 0, 1, 0}, /* coarse */
        {&pat_json, "Patient", "birthdate", "1970", 1, 1, 1},
        {&pat_json, "Patient", "birthdate", "ge1970-05-20", 1, 1, 1}, /* May 1970 overlaps */
        {&pat_json, "Patient", "birthdate", "1970-06", 1, 0, 0},
        {&pat_json, "Patient", "general-practitioner", "Practitioner/gp1", 1, 1, 1},
        {&pat_json, "Patient", "general-practitioner:identifier", "urn:gp|G123", 0, 1, 0},
        {&pat_json, "Patient", "phone", "555-1234", 1, 1, 1},
        {&enc_json, "Encounter", "date", "2020-01-11", 1, 0, 1}, /* within: eq narrows only */
        {&enc_json, "Encounter", "date", "ge2020-01-12", 1, 1, 1},
        {&enc_json, "Encounter", "date", "le2020-01-10", 1, 1, 1},
        {&enc_json, "Encounter", "date", "ge2020-01-14", 1, 0, 0},
        {&enc_json, "Encounter", "class", "AMB", 0, 0, 0}, /* coarse */
        {&enc_json, "Encounter", "service-provider", "Organization/org1", 1, 1, 1},
        {&enc_json, "Encounter", "service-provider", "org1", 1, 1, 1},
        {&enc_json, "Encounter", "service-provider", "org2", 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool m, sel;
        bool ix = ix_check(*cases[i].json, cases[i].type, cases[i].name, cases[i].value, &m, &sel);
        if (ix != (cases[i].indexable != 0) || m != (cases[i].match != 0) ||
            (ix && sel != (cases[i].selected != 0)))
            fail_msg("%s?%s=%s: indexable %d match %d selected %d", cases[i].type, cases[i].name,
                     cases[i].value, ix, m, sel);
        /* the rule every case obeys: a match is always selected */
        if (ix && m && !sel)
            fail_msg("%s?%s=%s matches but the index leaves it out", cases[i].type, cases[i].name,
                     cases[i].value);
    }
}

/* Rows: normalised, once each, none for Patient references, bounded. */
static void test_index_rows(void **state)
{
    (void)state;
    json_error_t e;
    json_t *r = json_loads(obs_json, 0, &e);
    struct fhir_sp_ixrows x = FHIR_SP_IXROWS_INIT;
    fhir_sp_ixrows_resource(&x, "Observation", r);
    fhir_sp_ixrows_add(&x, "code", "8867-4"); /* again: once */
    const char *pairs[256];
    int n = fhir_sp_ixrows_pairs(&x, pairs);
    int code = 0, subject = 0, date = 0, coarse = 0;
    for (int i = 0; i < n; i++) {
        code += strcmp(pairs[2 * i], "code") == 0;
        subject += strcmp(pairs[2 * i], "subject") == 0 || strcmp(pairs[2 * i], "patient") == 0 ||
                   strcmp(pairs[2 * i], "encounter") == 0;
        coarse += strcmp(pairs[2 * i], "status") == 0;
        if (strcmp(pairs[2 * i], "date") == 0) {
            date++;
            assert_string_equal(pairs[2 * i + 1], "2020-03-04");
        }
        assert_true(strcmp(pairs[2 * i], "combo-code") != 0);
    }
    assert_int_equal(code, 1);
    assert_int_equal(subject, 0); /* no Patient or Encounter references */
    assert_int_equal(coarse, 0);
    assert_int_equal(n, 3); /* code, category, date: all an Observation like this one costs */
    assert_int_equal(date, 1);
    /* long values are cut on a character boundary */
    char longv[300];
    memset(longv, 'a', sizeof longv);
    memcpy(longv + 127, "\xc3\xa9", 2); /* e-acute across the 128-byte cut */
    longv[299] = 0;
    fhir_sp_ixrows_add(&x, "x", longv);
    n = fhir_sp_ixrows_pairs(&x, pairs);
    assert_int_equal(strlen(pairs[2 * n - 1]), 127);
    fhir_sp_ixrows_release(&x);
    json_decref(r);
}

/* Which references have rows; the rows' integer keys (store/paging.h) are
 * stable and, over the whole table, one per (type, parameter). */
static void test_index_keys(void **state)
{
    (void)state;
    assert_false(fhir_sp_ix_ref_rows("Patient"));
    assert_false(fhir_sp_ix_ref_rows("Encounter"));
    assert_false(fhir_sp_ix_ref_rows("Observation"));
    assert_true(fhir_sp_ix_ref_rows("Organization"));
    assert_true(fhir_sp_ix_ref_rows("Practitioner"));
    assert_true(fhir_sp_ix_ref_rows("Medication"));
    /* FNV-1a: type in the high 15 bits, parameter in the low 16 */
    int32_t lo, hi;
    store_ix_type_range("Observation", &lo, &hi);
    int32_t id = store_ix_param_id("Observation", "code");
    assert_true(id >= lo && id <= hi && hi - lo == 0xffff);
    assert_int_equal(id, store_ix_param_id("Observation", "code"));
    assert_true(id != store_ix_param_id("Observation", "date"));
    assert_true(id != store_ix_param_id("Condition", "code"));
    int32_t *ids = calloc((size_t)fhir_sp_count, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < fhir_sp_count; i++)
        ids[i] = store_ix_param_id(fhir_sp_table[i].type, fhir_sp_table[i].code);
    for (int i = 0; i < fhir_sp_count; i++)
        for (int j = i + 1; j < fhir_sp_count; j++)
            if (ids[i] == ids[j])
                fail_msg("%s.%s and %s.%s share index key %d", fhir_sp_table[i].type,
                         fhir_sp_table[i].code, fhir_sp_table[j].type, fhir_sp_table[j].code,
                         ids[i]);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),           cmocka_unit_test(test_token),
        cmocka_unit_test(test_string),          cmocka_unit_test(test_date),
        cmocka_unit_test(test_quantity_number), cmocka_unit_test(test_reference_uri),
        cmocka_unit_test(test_composite),       cmocka_unit_test(test_fold_sort),
        cmocka_unit_test(test_may_match),       cmocka_unit_test(test_index),
        cmocka_unit_test(test_index_rows),      cmocka_unit_test(test_index_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
