/* test_category.c - resource -> record category (BRIEF §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fhir/category.h"

static const char *cat(const char *json)
{
    json_error_t e;
    json_t *r = json_loads(json, 0, &e);
    assert_non_null(r);
    const char *c = fhir_category_of(r);
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
        assert_true(fhir_category_valid(pairs[i][1]));
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

static void test_lists(void **state)
{
    (void)state;
    int n = 0;
    while (fhir_categories[n])
        n++;
    assert_int_equal(n, 24);
    assert_false(fhir_category_valid("billing"));
    assert_false(fhir_category_valid(NULL));
    assert_true(fhir_category_restricted("safeguarding"));
    assert_true(fhir_category_restricted("mental-health-act"));
    assert_true(fhir_category_restricted("legal-status"));
    assert_false(fhir_category_restricted("results"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_type),
        cmocka_unit_test(test_not_shareable),
        cmocka_unit_test(test_by_content),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
