/* test_policy.c - the policy parser, its validation messages and the
 * shipped default policy's decisions for restricted and administrative
 * categories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access/policy.h"
#include "core/buf.h"
#include "core/err.h"

static struct policy *load_default(void)
{
    const char *root = getenv("WEFT_ROOT");
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/policy/default.policy", root ? root : ".");
    struct policy *p = NULL;
    char *err = NULL;
    int rc = policy_parse_file(path.data, &p, &err);
    if (rc)
        fprintf(stderr, "default policy: %s\n", err ? err : "?");
    assert_int_equal(rc, 0);
    free(err);
    buf_release(&path);
    return p;
}

static void test_default_roles(void **state)
{
    (void)state;
    struct policy *p = load_default();
    const char *national[] = {"R8000", "R8001", "R8003", "R8004", "R8006", "R8008",
                              "R8009", "R8010", "R8012", "R0001", "R5105"};
    for (size_t i = 0; i < sizeof national / sizeof national[0]; i++)
        assert_true(policy_role_known(p, national[i]));
    const char *local[] = {"SOCIAL-CARE-PRACTITIONER", "PARAMEDIC", "HOSPICE-CLINICIAN",
                           "SAFEGUARDING-LEAD", "ANALYST"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        assert_true(policy_role_known(p, local[i]));
    assert_false(policy_role_known(p, "R9999"));
    assert_false(policy_role_known(p, NULL));
    policy_free(p);
}

static void test_default_decisions(void **state)
{
    (void)state;
    struct policy *p = load_default();
    /* clinical detail for clinicians, not for admin */
    assert_true(policy_allows(p, "R8000", "results"));
    assert_true(policy_allows(p, "R8001", "results"));
    const char *admin[] = {"R8006", "R8008", "R8009", "R8010", "R8012"};
    int n;
    const char *const *all = policy_categories(&n);
    for (size_t r = 0; r < sizeof admin / sizeof admin[0]; r++)
        for (int c = 0; c < n; c++) {
            bool want = strcmp(all[c], "demographics") == 0 || strcmp(all[c], "contacts") == 0 ||
                        strcmp(all[c], "appointments") == 0;
            assert_int_equal(policy_allows(p, admin[r], all[c]), want);
        }
    /* restricted categories only where needed */
    assert_false(policy_allows(p, "R8001", "safeguarding"));
    assert_false(policy_allows(p, "R8001", "mental-health-act"));
    assert_false(policy_allows(p, "R8004", "legal-status"));
    assert_true(policy_allows(p, "SAFEGUARDING-LEAD", "safeguarding"));
    assert_true(policy_allows(p, "SAFEGUARDING-LEAD", "legal-status"));
    assert_true(policy_allows(p, "R8000", "mental-health-act"));
    assert_false(policy_allows(p, "R8000", "safeguarding"));
    /* governance: audit review, demographics only, no break-glass */
    assert_true(policy_role_caps(p, "R5105") & POLICY_CAP_AUDIT_REVIEW);
    /* data-quality leads: their own organisation's reports, not the audit log */
    assert_true(policy_role_caps(p, "R8012") & POLICY_CAP_DQ_REVIEW);
    assert_false(policy_role_caps(p, "R8012") & POLICY_CAP_AUDIT_REVIEW);
    assert_true(policy_role_caps(p, "DQ-LEAD") & POLICY_CAP_DQ_REVIEW);
    assert_false(policy_role_caps(p, "R8009") & POLICY_CAP_DQ_REVIEW);
    assert_false(policy_role_caps(p, "R5105") & POLICY_CAP_BREAK_GLASS);
    assert_false(policy_allows(p, "R0001", "results"));
    assert_true(policy_role_caps(p, "R8000") & POLICY_CAP_BREAK_GLASS);
    assert_false(policy_role_caps(p, "R8009") & POLICY_CAP_BREAK_GLASS);
    /* analysts see no one */
    const char *cats[POLICY_MAX_CATEGORIES];
    assert_int_equal(policy_role_categories(p, "ANALYST", cats), 0);
    assert_false(policy_allows(p, "R8000", "no-such-category"));
    struct buf b = BUF_INIT;
    policy_describe(p, &b);
    assert_non_null(strstr(b.data, "R5105"));
    buf_release(&b);
    policy_free(p);
}

struct bad_case {
    const char *text;
    const char *msg; /* expected error text */
};

static void test_validation_errors(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {"profile a results\nprofile b resluts\nrole R8000 a\n",
         "line 2: unknown category 'resluts'"},
        {"profile a results\nrole R9999 a\n", "line 2: unknown role 'R9999'"},
        {"profile a results\nrole R8000 b\n", "line 2: unknown profile 'b'"},
        {"profile a results\nlocal-role R1234 a\n", "line 2: local role 'R1234' looks like"},
        {"profile a\nprofile a\n", "line 2: profile 'a' defined twice"},
        {"profile a\nrole R8000 a\nrole R8000 a\n", "line 3: role 'R8000' defined twice"},
        {"# only a comment\n", "defines no roles"},
        {"grant everything\n", "line 1: unknown statement 'grant'"},
        {"profile a\ncapability a fly\nrole R8000 a\n", "line 2: unknown capability 'fly'"},
        {"profile a\ncapability b break-glass\n", "line 2: unknown profile 'b'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct policy *p = NULL;
        char *err = NULL;
        int rc = policy_parse(cases[i].text, strlen(cases[i].text), &p, &err);
        assert_int_equal(rc, WEFT_EPARSE);
        assert_null(p);
        assert_non_null(err);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].msg);
        free(err);
    }
    /* NUL byte */
    struct policy *p = NULL;
    char *err = NULL;
    assert_int_equal(policy_parse("profile a\0", 10, &p, &err), WEFT_EPARSE);
    free(err);
    /* missing file */
    assert_int_equal(policy_parse_file("/nonexistent/x.policy", &p, &err), WEFT_EIO);
    assert_non_null(strstr(err, "cannot read"));
    free(err);
}

static void test_small_policy(void **state)
{
    (void)state;
    const char *t = "profile x results observations # trailing comment\n"
                    "capability x break-glass audit-review\n"
                    "\n   \t\n"
                    "role R8000 x Doctors\r\n"
                    "local-role NIGHT-NURSE x\n";
    struct policy *p = NULL;
    char *err = NULL;
    assert_int_equal(policy_parse(t, strlen(t), &p, &err), 0);
    assert_null(err);
    assert_true(policy_allows(p, "NIGHT-NURSE", "observations"));
    assert_false(policy_allows(p, "NIGHT-NURSE", "demographics"));
    assert_int_equal(policy_role_caps(p, "R8000"),
                     POLICY_CAP_BREAK_GLASS | POLICY_CAP_AUDIT_REVIEW);
    assert_string_equal(policy_role_profile(p, "R8000"), "x");
    assert_true(policy_category_restricted("mental-health-act"));
    assert_false(policy_category_restricted("results"));
    assert_int_equal(policy_category_index("nope"), -1);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_roles),
        cmocka_unit_test(test_default_decisions),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_small_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
