/* test_citizen_policy.c - what issue 17 added to the policy (capability
 * objection-decide, citizen-withhold rules: parse errors and answers, the
 * shipped default's choices) and the calendar-month arithmetic behind
 * objection and subject access due dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access/org.h"
#include "access/policy.h"
#include "core/buf.h"
#include "core/err.h"

static struct policy *parse(const char *text)
{
    struct policy *p = NULL;
    char *err = NULL;
    int rc = policy_parse(text, strlen(text), &p, &err);
    if (rc)
        fail_msg("parse: %s", err ? err : "?");
    free(err);
    return p;
}

static void test_default_citizen_rules(void **state)
{
    (void)state;
    const char *root = getenv("WEFT_ROOT");
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/policy/default.policy", root ? root : ".");
    struct policy *p = NULL;
    char *err = NULL;
    assert_int_equal(policy_parse_file(path.data, &p, &err), 0);
    buf_release(&path);
    /* only clinicians decide objections */
    assert_true(policy_role_caps(p, "R8000") & POLICY_CAP_OBJECTION_DECIDE);
    const char * not [] = {"R8001",    "R8003", "R8004",      "R8006",
                           "R0001",    "R5105", "IG-OFFICER", "SAFEGUARDING-LEAD",
                           "PARAMEDIC"};
    for (size_t i = 0; i < sizeof not / sizeof not [0]; i++)
        assert_false(policy_role_caps(p, not [i]) & POLICY_CAP_OBJECTION_DECIDE);
    /* withheld from the citizen: safeguarding, NOPAT, third-party; not results */
    assert_non_null(policy_citizen_withhold(p, "safeguarding", NULL, 0));
    assert_null(policy_citizen_withhold(p, "results", NULL, 0));
    const char *nopat[] = {"http://example.org|x",
                           "http://terminology.hl7.org/CodeSystem/v3-ActCode|NOPAT"};
    assert_non_null(strstr(policy_citizen_withhold(p, "results", nopat, 2), "not for disclosure"));
    const char *third[] = {"https://weft.nhs.uk/CodeSystem/information-source|third-party"};
    assert_non_null(strstr(policy_citizen_withhold(p, "documents", third, 1), "third party"));
    policy_free(p);
}

static void test_withhold_rules(void **state)
{
    (void)state;
    struct policy *p = parse("profile a results\nrole R8000 a\n"
                             "citizen-withhold category results Pending review by the clinician\n"
                             "citizen-withhold label urn:x|secret Marked secret\n");
    assert_string_equal(policy_citizen_withhold(p, "results", NULL, 0),
                        "Pending review by the clinician");
    const char *l[] = {"urn:x|secret"};
    assert_string_equal(policy_citizen_withhold(p, "conditions", l, 1), "Marked secret");
    const char *other[] = {"urn:x|open"};
    assert_null(policy_citizen_withhold(p, "conditions", other, 1));
    assert_false(policy_role_caps(p, "R8000") & POLICY_CAP_OBJECTION_DECIDE);
    policy_free(p);

    struct {
        const char *text, *msg;
    } bad[] = {
        {"profile a\nrole R8000 a\ncitizen-withhold category resluts why\n",
         "line 3: unknown category 'resluts'"},
        {"profile a\nrole R8000 a\ncitizen-withhold label nobar why\n", "is not SYSTEM|CODE"},
        {"profile a\nrole R8000 a\ncitizen-withhold label |x why\n", "is not SYSTEM|CODE"},
        {"profile a\nrole R8000 a\ncitizen-withhold category results\n", "needs"},
        {"profile a\nrole R8000 a\ncitizen-withhold tag x why\n", "is not 'category' or 'label'"},
        {"profile a\ncapability a decide-all\n", "objection-decide"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        p = NULL;
        assert_int_equal(policy_parse(bad[i].text, strlen(bad[i].text), &p, &err), WEFT_EPARSE);
        assert_null(p);
        if (!err || !strstr(err, bad[i].msg))
            fail_msg("case %zu: got '%s', want '%s'", i, err ? err : "(null)", bad[i].msg);
        free(err);
    }
    p = parse("profile a\ncapability a objection-decide\nrole R8000 a\n");
    assert_int_equal(policy_role_caps(p, "R8000"), POLICY_CAP_OBJECTION_DECIDE);
    policy_free(p);
}

/* The summary's pre-filter: false only when no label rule's code occurs in
 * the text, so an item it lets through unparsed can match no label rule. */
static void test_withhold_maybe(void **state)
{
    (void)state;
    struct policy *p = parse("profile clinician results\nrole R8000 clinician Doctor\n"
                             "citizen-withhold category safeguarding kept back\n"
                             "citizen-withhold label http://x.org/s|NOPAT not for the patient\n"
                             "citizen-withhold label https://y.org/t|third-party about others\n");
    const char *plain = "{\"meta\":{\"tag\":[{\"system\":\"urn:a\",\"code\":\"G1\"}]}}";
    const char *nopat = "{\"meta\":{\"security\":[{\"system\":\"http://x.org/s\",\"code\":"
                        "\"NOPAT\"}]}}";
    const char *third = "{\"meta\":{\"tag\":[{\"code\":\"third-party\"}]}}";
    assert_false(policy_citizen_withhold_maybe(p, plain, strlen(plain)));
    assert_true(policy_citizen_withhold_maybe(p, nopat, strlen(nopat)));
    assert_true(policy_citizen_withhold_maybe(p, third, strlen(third)));
    /* the code at the very end and cut off by the length */
    assert_true(policy_citizen_withhold_maybe(p, "NOPAT", 5));
    assert_false(policy_citizen_withhold_maybe(p, "NOPAT", 4));
    assert_false(policy_citizen_withhold_maybe(p, "", 0));
    assert_false(policy_citizen_withhold_maybe(NULL, nopat, strlen(nopat)));
    /* a category rule alone never asks for parsing */
    struct policy *cat = parse("profile clinician results\nrole R8000 clinician Doctor\n"
                               "citizen-withhold category safeguarding kept back\n");
    assert_false(policy_citizen_withhold_maybe(cat, nopat, strlen(nopat)));
    policy_free(cat);
    policy_free(p);
}

static void test_add_months(void **state)
{
    (void)state;
    struct {
        const char *from;
        int months;
        const char *want;
    } cases[] = {
        {"2026-01-15", 1, "2026-02-15"}, {"2026-01-31", 1, "2026-02-28"},
        {"2024-01-31", 1, "2024-02-29"}, {"2026-12-06", 1, "2027-01-06"},
        {"2026-03-31", 1, "2026-04-30"}, {"2026-11-30", 3, "2027-02-28"},
        {"2026-05-20", 0, "2026-05-20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[11];
        assert_true(org_date_add_months(cases[i].from, cases[i].months, out));
        assert_string_equal(out, cases[i].want);
    }
    char out[11];
    assert_false(org_date_add_months("2026-02-30", 1, out));
    assert_false(org_date_add_months("yesterday", 1, out));
    assert_false(org_date_add_months("2026-01-01", -1, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_citizen_rules),
        cmocka_unit_test(test_withhold_rules),
        cmocka_unit_test(test_withhold_maybe),
        cmocka_unit_test(test_add_months),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
