/* test_category.c - resource -> record category (BRIEF §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/category.h"

static const char *cat(const char *json)
{
    json_error_t e;
    json_t *r = json_loads(json, 0, &e);
    assert_non_null(r);
    const char *c = category_of(r);
    json_decref(r);
    return c;
}

static void expect(const char *json, const char *want)
{
    const char *got = cat(json);
    if (!want) {
        if (got)
            fail_msg("%s: expected not shareable, got %s", json, got);
        return;
    }
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: expected %s, got %s", json, want, got ? got : "(not shareable)");
}

static void test_by_type(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"Patient", "demographics"},
        {"RelatedPerson", "contacts"},
        {"Procedure", "procedures"},
        {"AllergyIntolerance", "allergies"},
        {"MedicationRequest", "medications"},
        {"MedicationStatement", "medications"},
        {"Medication", "medications"},
        {"Encounter", "encounters"},
        {"Appointment", "appointments"},
        {"Immunization", "immunisations"},
        {"Goal", "documents"},
        {"ServiceRequest", "documents"},
        {"ImagingStudy", "imaging-reports"},
        {"Consent", "end-of-life"},
        {"Composition", "service-summaries"},
        {"QuestionnaireResponse", "social-care-assessment"},
        {"EpisodeOfCare", "services"},
        {"Organization", "services"},
        {"Practitioner", "services"},
        {"PractitionerRole", "services"},
        {"Location", "services"},
        {"HealthcareService", "services"},
        {"ResearchSubject", "research"},
        {"RiskAssessment", "alerts"},
        {"Flag", "alerts"},
        {"Condition", "conditions"},
        {"DiagnosticReport", "results"},
        {"DocumentReference", "documents"},
        {"CarePlan", "documents"},
        {"Observation", "observations"},
        {"Specimen", "results"},
        {"Endpoint", "services"},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        snprintf(buf, sizeof buf, "{\"resourceType\":\"%s\"}", pairs[i][0]);
        expect(buf, pairs[i][1]);
        assert_true(category_valid(pairs[i][1]));
    }
}

static void test_not_shareable(void **state)
{
    (void)state;
    expect("{\"resourceType\":\"Claim\"}", NULL);
    expect("{\"resourceType\":\"ExplanationOfBenefit\"}", NULL);
    expect("{\"resourceType\":\"Coverage\"}", NULL);
    expect("{\"resourceType\":\"Basic\"}", NULL);
    expect("{\"resourceType\":\"Bundle\"}", NULL);
    expect("{\"id\":\"x\"}", NULL);
    expect("{\"resourceType\":7}", NULL);
}

static void test_by_content(void **state)
{
    (void)state;
    expect("{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"system\":"
           "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":"
           "\"laboratory\"}]}]}",
           "results");
    expect("{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":"
           "\"vital-signs\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
           "\"code\":\"85354-9\",\"display\":\"Blood pressure panel\"}]}}",
           "observations");
    expect("{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":\"exam\"}]}]}",
           "observations");
    expect("{\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"system\":"
           "\"http://loinc.org\",\"code\":\"8339-4\",\"display\":\"Body weight at birth\"}]}}",
           "birth");
    expect("{\"resourceType\":\"Observation\",\"code\":{\"text\":\"Immigration status\"}}",
           "legal-status");
    expect("{\"resourceType\":\"DiagnosticReport\",\"category\":[{\"coding\":[{\"system\":"
           "\"http://terminology.hl7.org/CodeSystem/v2-0074\",\"code\":\"RAD\"}]}]}",
           "imaging-reports");
    expect("{\"resourceType\":\"DiagnosticReport\",\"category\":[{\"coding\":[{\"code\":"
           "\"LAB\"}]}]}",
           "results");
    expect("{\"resourceType\":\"Flag\",\"code\":{\"text\":\"Child protection plan in place\"}}",
           "safeguarding");
    expect("{\"resourceType\":\"Flag\",\"code\":{\"coding\":[{\"display\":\"Detained under the "
           "Mental Health Act\"}]}}",
           "mental-health-act");
    expect("{\"resourceType\":\"Flag\",\"code\":{\"text\":\"Overseas visitor\"}}", "legal-status");
    expect("{\"resourceType\":\"Flag\",\"code\":{\"text\":\"Violent patient\"}}", "alerts");
    expect("{\"resourceType\":\"DocumentReference\",\"type\":{\"text\":\"ReSPECT form\"}}",
           "end-of-life");
    expect("{\"resourceType\":\"DocumentReference\",\"type\":{\"text\":\"Safeguarding referral\"}}",
           "safeguarding");
    expect("{\"resourceType\":\"DocumentReference\",\"type\":{\"text\":\"Discharge summary\"}}",
           "documents");
    expect("{\"resourceType\":\"CarePlan\",\"title\":\"End of life care plan\"}", "end-of-life");
    expect("{\"resourceType\":\"EpisodeOfCare\",\"type\":[{\"text\":\"Mental Health Act section "
           "3 \"}]}",
           "mental-health-act");
    expect("{\"resourceType\":\"Condition\",\"category\":[{\"text\":\"Past medical history\"}]}",
           "history");
    /* explicit tag wins; an unknown tag code is ignored */
    expect("{\"resourceType\":\"DocumentReference\",\"meta\":{\"tag\":[{\"system\":"
           "\"urn:weft:category\",\"code\":\"safeguarding\"}]}}",
           "safeguarding");
    expect("{\"resourceType\":\"Goal\",\"meta\":{\"tag\":[{\"system\":\"urn:weft:category\","
           "\"code\":\"nonsense\"}]}}",
           "documents");
}

/* A Flag from the HL7 v2 ZMH mapping is Mental Health Act by its codes
 * alone: the section's code system, or the category coded
 * mental-health-act, without any display or text to read. */
static void test_mha_flag_by_code(void **state)
{
    (void)state;
    expect("{\"resourceType\":\"Flag\",\"code\":{\"coding\":[{\"system\":"
           "\"https://weft.nhs.uk/CodeSystem/mha-section\",\"code\":\"17A\"}]}}",
           "mental-health-act");
    expect("{\"resourceType\":\"Flag\",\"category\":[{\"coding\":[{\"system\":"
           "\"https://weft.nhs.uk/CodeSystem/record-category\",\"code\":\"mental-health-act\"}]}],"
           "\"code\":{\"coding\":[{\"system\":\"urn:local\",\"code\":\"S3\"}]}}",
           "mental-health-act");
    /* the code alone, in another system, is not enough */
    expect("{\"resourceType\":\"Flag\",\"category\":[{\"coding\":[{\"system\":"
           "\"urn:local\",\"code\":\"mental-health-act\"}]}]}",
           "alerts");
    expect("{\"resourceType\":\"Flag\",\"code\":{\"coding\":[{\"system\":"
           "\"http://snomed.info/sct\",\"code\":\"129839007\"}]}}",
           "alerts");
}

/* Birth and neonatal codes decide before a laboratory (or vital-signs)
 * category: an HL7 v2 feed calls every OBX laboratory. */
static void test_birth_codes_before_category(void **state)
{
    (void)state;
    static const char *const birth[][2] = {
        {"http://loinc.org", "8339-4"},          /* birth weight */
        {"http://loinc.org", "9272-6"},          /* Apgar 1 minute */
        {"http://loinc.org", "9274-2"},          /* Apgar 5 minutes */
        {"http://loinc.org", "9271-8"},          /* Apgar 10 minutes */
        {"http://loinc.org", "76516-4"},         /* gestational age at birth */
        {"http://snomed.info/sct", "364589006"}, /* birth weight */
        {"http://snomed.info/sct", "169895004"}, /* Apgar at 1 minute */
        {"http://snomed.info/sct", "169909004"}, /* Apgar at 5 minutes */
        {"http://snomed.info/sct", "169922007"}, /* Apgar at 10 minutes */
        {"http://snomed.info/sct", "412726003"}, /* length of gestation at birth */
    };
    static const char *const cats[] = {"laboratory", "vital-signs", "exam"};
    char buf[512];
    for (size_t i = 0; i < sizeof birth / sizeof birth[0]; i++)
        for (size_t k = 0; k < sizeof cats / sizeof cats[0]; k++) {
            snprintf(buf, sizeof buf,
                     "{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"system\":"
                     "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":"
                     "\"%s\"}]}],\"code\":{\"coding\":[{\"system\":\"%s\",\"code\":\"%s\"}]}}",
                     cats[k], birth[i][0], birth[i][1]);
            expect(buf, "birth");
        }
    /* a prenatal screening report's gestational age, and neonatal lab tests,
     * stay results */
    expect("{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":"
           "\"laboratory\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
           "\"code\":\"18185-9\",\"display\":\"Gestational age\"}]}}",
           "results");
    expect("{\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":"
           "\"laboratory\"}]}],\"code\":{\"text\":\"Neonatal bilirubin\"}}",
           "results");
    /* without a category, the generic gestational age is birth as before */
    expect("{\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"system\":"
           "\"http://loinc.org\",\"code\":\"18185-9\"}]}}",
           "birth");
}

/* An explicit urn:weft:category tag naming a valid category wins over every
 * rule that reads content, whatever the type. */
static void test_explicit_tag_wins(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        /* vital signs, laboratory, a birth code, legal status, MHA codes */
        "\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":\"vital-signs\"}]}]",
        "\"resourceType\":\"Observation\",\"category\":[{\"coding\":[{\"code\":\"laboratory\"}]}]",
        "\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"code\":\"8339-4\"}]}",
        "\"resourceType\":\"Observation\",\"code\":{\"text\":\"Immigration status\"}",
        "\"resourceType\":\"Observation\"",
        "\"resourceType\":\"Flag\",\"code\":{\"coding\":[{\"system\":"
        "\"https://weft.nhs.uk/CodeSystem/mha-section\",\"code\":\"3\"}]}",
        "\"resourceType\":\"Condition\",\"category\":[{\"text\":\"Problem list\"}]",
        "\"resourceType\":\"DocumentReference\",\"type\":{\"text\":\"ReSPECT form\"}",
    };
    static const char *const tags[] = {"history", "observations", "birth", "results"};
    char buf[512];
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
            /* the tag after another tag, as the loader stores it */
            snprintf(buf, sizeof buf,
                     "{%s,\"meta\":{\"tag\":[{\"system\":"
                     "\"https://fhir.nhs.uk/Id/ods-organization-code\",\"code\":\"G82001\"},"
                     "{\"system\":\"urn:weft:category\",\"code\":\"%s\"}]}}",
                     bodies[i], tags[k]);
            expect(buf, tags[k]);
        }
}

static void test_lists(void **state)
{
    (void)state;
    int n = 0;
    while (category_names[n])
        n++;
    assert_int_equal(n, 24);
    assert_false(category_valid("billing"));
    assert_false(category_valid(NULL));
    assert_true(category_restricted("safeguarding"));
    assert_true(category_restricted("mental-health-act"));
    assert_true(category_restricted("legal-status"));
    assert_false(category_restricted("results"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_type),
        cmocka_unit_test(test_not_shareable),
        cmocka_unit_test(test_by_content),
        cmocka_unit_test(test_mha_flag_by_code),
        cmocka_unit_test(test_birth_codes_before_category),
        cmocka_unit_test(test_explicit_tag_wins),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
