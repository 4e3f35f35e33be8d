/* test_datatype.c - the FHIR datatype builders (fhir/datatype.h): each
 * datatype's exact JSON (keys in the FHIR element order, empty elements
 * left out), NULL for a datatype without content, and ownership of the
 * values passed in (stolen on every path: LeakSanitizer checks the paths
 * that return NULL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fhir/datatype.h"
#include "domain/systems.h"

/* j's compact text (key order as built) equals want; j is freed. */
static void assert_json(json_t *j, const char *want)
{
    assert_non_null(j);
    char *got = json_dumps(j, JSON_COMPACT);
    if (strcmp(got, want) != 0)
        fail_msg("got  %s\nwant %s", got, want);
    free(got);
    json_decref(j);
}

static json_t *strs(const char *a, const char *b)
{
    json_t *arr = json_array();
    if (a)
        json_array_append_new(arr, json_string(a));
    if (b)
        json_array_append_new(arr, json_string(b));
    return arr;
}

static void test_coding(void **state)
{
    (void)state;
    assert_json(fhir_coding(LOINC_SYSTEM, "2951-2", "Sodium"),
                "{\"system\":\"http://loinc.org\",\"code\":\"2951-2\",\"display\":\"Sodium\"}");
    assert_json(fhir_coding(NULL, "x", NULL), "{\"code\":\"x\"}");
    assert_null(fhir_coding("s", NULL, "d"));
    assert_json(fhir_coding_j(json_string("s"), json_string("c"), NULL),
                "{\"system\":\"s\",\"code\":\"c\"}");
    /* no code: no Coding, and the system and display given are freed */
    assert_null(fhir_coding_j(json_string("s"), NULL, json_string("d")));
}

static void test_concept(void **state)
{
    (void)state;
    assert_json(fhir_concept1(RECORD_CATEGORY_SYSTEM, "services", "Services", NULL),
                "{\"coding\":[{\"system\":\"https://weft.nhs.uk/CodeSystem/record-category\","
                "\"code\":\"services\",\"display\":\"Services\"}]}");
    assert_json(fhir_concept1("s", "c", NULL, json_string("free text")),
                "{\"coding\":[{\"system\":\"s\",\"code\":\"c\"}],\"text\":\"free text\"}");
    /* an empty coding list is left out; text alone is a concept */
    assert_json(fhir_concept(json_array(), json_string("t")), "{\"text\":\"t\"}");
    assert_null(fhir_concept(json_array(), NULL));
    assert_null(fhir_concept(NULL, NULL));
}

static void test_identifier(void **state)
{
    (void)state;
    assert_json(fhir_identifier(&(struct fhir_identifier){.system = NHS_NUMBER_SYSTEM,
                                                          .value = json_string("9434765919")}),
                "{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765919\"}");
    json_t *ext = NULL;
    fhir_extension_add(&ext, "u", "valueCode", json_string("v"));
    assert_json(
        fhir_identifier(&(struct fhir_identifier){
            .extension = ext,
            .type = fhir_concept1(HL7_V2_TABLE_SYSTEM_PREFIX "0203", "MR", NULL, NULL),
            .system = "urn:weft:id:RVV:mr",
            .value = json_string("H1")}),
        "{\"extension\":[{\"url\":\"u\",\"valueCode\":\"v\"}],\"type\":{\"coding\":[{\"system\":"
        "\"http://terminology.hl7.org/CodeSystem/v2-0203\",\"code\":\"MR\"}]},\"system\":"
        "\"urn:weft:id:RVV:mr\",\"value\":\"H1\"}");
    assert_json(fhir_identifier(&(struct fhir_identifier){.value = json_string("G1")}),
                "{\"value\":\"G1\"}");
    /* no value: no Identifier; extension and type are freed */
    ext = NULL;
    fhir_extension_add(&ext, "u", "valueCode", json_string("v"));
    assert_null(fhir_identifier(&(struct fhir_identifier){
        .extension = ext, .type = fhir_concept1("s", "c", NULL, NULL), .system = "s"}));
}

static void test_reference(void **state)
{
    (void)state;
    assert_json(fhir_reference(&(struct fhir_reference){.reference = "Patient/p1"}),
                "{\"reference\":\"Patient/p1\"}");
    assert_json(fhir_reference(&(struct fhir_reference){
                    .type = "Organization",
                    .identifier = fhir_identifier(&(struct fhir_identifier){
                        .system = ODS_SYSTEM, .value = json_string("G82001")}),
                    .display = json_string("A Practice")}),
                "{\"type\":\"Organization\",\"identifier\":{\"system\":"
                "\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"G82001\"},"
                "\"display\":\"A Practice\"}");
    assert_json(fhir_reference(&(struct fhir_reference){.display = json_string("Team A")}),
                "{\"display\":\"Team A\"}");
    /* a type alone refers to nothing */
    assert_null(fhir_reference(&(struct fhir_reference){.type = "Practitioner"}));
}

static void test_human_name(void **state)
{
    (void)state;
    assert_json(fhir_human_name(&(struct fhir_human_name){.use = "official",
                                                          .family = json_string("Smith"),
                                                          .given = strs("Ann", "Marie"),
                                                          .prefix = strs("Mrs", NULL),
                                                          .suffix = strs("OBE", NULL)}),
                "{\"use\":\"official\",\"family\":\"Smith\",\"given\":[\"Ann\",\"Marie\"],"
                "\"prefix\":[\"Mrs\"],\"suffix\":[\"OBE\"]}");
    /* empty lists are left out */
    assert_json(fhir_human_name(&(struct fhir_human_name){
                    .family = json_string("Jones"), .given = json_array(), .suffix = json_array()}),
                "{\"family\":\"Jones\"}");
    assert_json(fhir_human_name(&(struct fhir_human_name){.given = strs("Kim", NULL)}),
                "{\"given\":[\"Kim\"]}");
    /* a use alone is no name; the empty lists are freed */
    assert_null(fhir_human_name(&(struct fhir_human_name){
        .use = "usual", .given = json_array(), .prefix = json_array(), .suffix = json_array()}));
}

static void test_address(void **state)
{
    (void)state;
    assert_json(fhir_address(&(struct fhir_address){.use = "home",
                                                    .line = strs("1 High St", "Flat 2"),
                                                    .city = json_string("Chatham"),
                                                    .district = json_string("Kent"),
                                                    .postal_code = json_string("ME4 4TR"),
                                                    .country = json_string("GBR")}),
                "{\"use\":\"home\",\"line\":[\"1 High St\",\"Flat 2\"],\"city\":\"Chatham\","
                "\"district\":\"Kent\",\"postalCode\":\"ME4 4TR\",\"country\":\"GBR\"}");
    assert_json(fhir_address(&(struct fhir_address){.line = json_array(),
                                                    .postal_code = json_string("ME1 1AA")}),
                "{\"postalCode\":\"ME1 1AA\"}");
    assert_null(fhir_address(&(struct fhir_address){.use = "work", .line = json_array()}));
    assert_null(fhir_address(&(struct fhir_address){.use = "home"}));
}

static void test_contact_point_period(void **state)
{
    (void)state;
    assert_json(fhir_contact_point("phone", json_string("01634 000000"), "mobile"),
                "{\"system\":\"phone\",\"value\":\"01634 000000\",\"use\":\"mobile\"}");
    assert_json(fhir_contact_point("email", json_string("a@b.example"), NULL),
                "{\"system\":\"email\",\"value\":\"a@b.example\"}");
    assert_null(fhir_contact_point("phone", NULL, "home"));
    assert_json(fhir_period(json_string("2026-01-02"), json_string("2026-02-03")),
                "{\"start\":\"2026-01-02\",\"end\":\"2026-02-03\"}");
    assert_json(fhir_period(NULL, json_string("2026-02-03")), "{\"end\":\"2026-02-03\"}");
    assert_null(fhir_period(NULL, NULL));
}

static void test_extension_and_systems(void **state)
{
    (void)state;
    json_t *ext = NULL;
    fhir_extension_add(&ext, WEFT_EXTENSION_PREFIX "x", "valueString", NULL);
    assert_null(ext); /* no value: nothing, not even the array */
    fhir_extension_add(&ext, WEFT_EXTENSION_PREFIX "x", "valueString", json_string("a"));
    fhir_extension_add(&ext, "u2", "valueBoolean", json_true());
    assert_json(ext, "[{\"url\":\"https://weft.nhs.uk/StructureDefinition/x\",\"valueString\":"
                     "\"a\"},{\"url\":\"u2\",\"valueBoolean\":true}]");
    char sys[96];
    assert_int_equal(fhir_local_id_system(sys, sizeof sys, "RVV", "mr"), 18);
    assert_string_equal(sys, "urn:weft:id:RVV:mr");
    char small[16];
    fhir_local_id_system(small, sizeof small, "KENTCC", "person");
    assert_string_equal(small, "urn:weft:id:KEN"); /* cut to fit, terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coding),
        cmocka_unit_test(test_concept),
        cmocka_unit_test(test_identifier),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_human_name),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_contact_point_period),
        cmocka_unit_test(test_extension_and_systems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
