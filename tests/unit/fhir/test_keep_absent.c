/* test_keep_absent.c - the keep-absent merge on its own (fhir/keep_absent.h):
 * which lists are accepted, when the stored text needs parsing, and what
 * each form of name ("name", "?name", "name[x]", "name.part", "+name")
 * copies from the stored version; an Encounter's locations following its
 * status.  test_load.c covers the same rules through the loading pipeline
 * and the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fhir/keep_absent.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("test JSON invalid at %d:%d: %s", e.line, e.column, e.text);
    return j;
}

/* Merge keep (JSON text) into res from old; assert the result and the
 * changed flag. */
static void check_merge(const char *keep, const char *res, const char *old, const char *want,
                        bool changed)
{
    json_t *k = parse(keep), *r = parse(res), *o = parse(old), *w = parse(want);
    json_t *o_copy = json_deep_copy(o);
    assert_true(keep_absent_list_valid(k));
    bool got = keep_absent_merge(r, k, o);
    if (!json_equal(r, w)) {
        char *s = json_dumps(r, JSON_SORT_KEYS);
        fail_msg("keep %s: got %s, want %s", keep, s, want);
    }
    assert_int_equal(got, changed);
    assert_true(json_equal(o, o_copy)); /* the stored version is not changed */
    json_decref(k);
    json_decref(r);
    json_decref(o);
    json_decref(w);
    json_decref(o_copy);
}

static void test_list_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "[]", "[\"address\"]",
        "[\"address\",\"deceased[x]\",\"period.end\",\"?status\",\"+identifier\"]",
        "[\"?period.end\",\"?deceased[x]\",\"name2\"]"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        json_t *k = parse(good[i]);
        if (!keep_absent_list_valid(k))
            fail_msg("refused %s", good[i]);
        json_decref(k);
    }
    const char *bad[] = {
        "{\"a\":1}",
        "[42]",
        "[\"meta\"]",
        "[\"id\"]",
        "[\"resourceType\"]",
        "[\"?meta\"]",
        "[\"deceased[y]\"]",
        "[\"Gender\"]",
        "[\"+deceased[x]\"]",
        "[\"+p.end\"]",
        "[\"period.End\"]",
        "[\"period.\"]",
        "[\"a-b\"]",
        "[\"\"]",
        "[\"?\"]",
        "[\"gender\",null]",
        "[\"a.b.c\"]",
        "[\"?+name\"]",
        "[\"name[x]extra\"]",
        "[\"_name\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *k = parse(bad[i]);
        if (keep_absent_list_valid(k))
            fail_msg("accepted %s", bad[i]);
        json_decref(k);
    }
    /* names of 64 characters or more are refused, 63 accepted */
    char name[80];
    memset(name, 'a', 63);
    name[63] = 0;
    json_t *k = json_pack("[s]", name);
    assert_true(keep_absent_list_valid(k));
    json_decref(k);
    memset(name, 'a', 64);
    name[64] = 0;
    k = json_pack("[s]", name);
    assert_false(keep_absent_list_valid(k));
    json_decref(k);
    /* not a list at all: a string */
    k = json_string("gender");
    assert_false(keep_absent_list_valid(k));
    json_decref(k);
}

static void test_mentioned(void **state)
{
    (void)state;
    const char *stored = "{\"address\":[{\"city\":\"Leeds\"}],\"deceasedBoolean\":false,"
                         "\"period\":{\"end\":\"2026\"},\"resourceType\":\"Patient\"}";
    struct {
        const char *keep;
        bool want;
    } cases[] = {
        {"[\"address\"]", true},
        {"[\"telecom\"]", false},
        {"[\"?deceased[x]\"]", true},
        {"[\"period.end\"]", true},
        {"[\"+identifier\"]", false},
        {"[\"telecom\",\"+address\"]", true},
        {"[\"city\"]", true}, /* a key anywhere in the text: parsed, then not found */
        {"[]", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *k = parse(cases[i].keep);
        if (keep_absent_mentioned(k, stored) != cases[i].want)
            fail_msg("%s: want %d", cases[i].keep, cases[i].want);
        json_decref(k);
    }
}

/* "name": copied when the incoming resource lacks it, with its primitive
 * extension; never replaces what was sent. */
static void test_merge_plain(void **state)
{
    (void)state;
    const char *old = "{\"address\":[{\"city\":\"Leeds\"}],\"birthDate\":\"1970\","
                      "\"_birthDate\":{\"extension\":[]},\"gender\":\"female\"}";
    check_merge("[\"address\",\"birthDate\"]", "{\"gender\":\"male\"}", old,
                "{\"gender\":\"male\",\"address\":[{\"city\":\"Leeds\"}],\"birthDate\":\"1970\","
                "\"_birthDate\":{\"extension\":[]}}",
                true);
    check_merge("[\"gender\"]", "{\"gender\":\"male\"}", old, "{\"gender\":\"male\"}", false);
    /* nothing stored of it: nothing to copy */
    check_merge("[\"telecom\"]", "{\"gender\":\"male\"}", old, "{\"gender\":\"male\"}", false);
    /* only the extension twin stored: the twin is copied */
    check_merge("[\"birthDate\"]", "{}", "{\"_birthDate\":{\"id\":\"x\"}}",
                "{\"_birthDate\":{\"id\":\"x\"}}", true);
}

/* "?name": the stored value wins when there is one, else the incoming stands. */
static void test_merge_weak(void **state)
{
    (void)state;
    check_merge("[\"?status\"]", "{\"status\":\"in-progress\"}", "{\"status\":\"finished\"}",
                "{\"status\":\"finished\"}", true);
    check_merge("[\"?status\"]", "{\"status\":\"in-progress\"}", "{\"class\":{}}",
                "{\"status\":\"in-progress\"}", false);
    check_merge("[\"?status\"]", "{}", "{\"status\":\"finished\"}", "{\"status\":\"finished\"}",
                true);
}

/* "name[x]": any choice type; the incoming one (if any) is replaced as a
 * whole only under '?'. */
static void test_merge_choice(void **state)
{
    (void)state;
    const char *old = "{\"deceasedDateTime\":\"2020-01-01\",\"_deceasedDateTime\":{\"id\":\"d\"},"
                      "\"deceased\":\"not a choice\"}";
    check_merge("[\"deceased[x]\"]", "{}", old,
                "{\"deceasedDateTime\":\"2020-01-01\",\"_deceasedDateTime\":{\"id\":\"d\"}}", true);
    check_merge("[\"deceased[x]\"]", "{\"deceasedBoolean\":false}", old,
                "{\"deceasedBoolean\":false}", false);
    check_merge("[\"?deceased[x]\"]", "{\"deceasedBoolean\":false}", old,
                "{\"deceasedDateTime\":\"2020-01-01\",\"_deceasedDateTime\":{\"id\":\"d\"}}", true);
    /* the bare name is not one of the choices */
    check_merge("[\"deceased[x]\"]", "{}", "{\"deceased\":true}", "{}", false);
}

/* "name.part": one member of an object element. */
static void test_merge_part(void **state)
{
    (void)state;
    const char *old = "{\"period\":{\"start\":\"2026-01-01\",\"end\":\"2026-01-05\"}}";
    check_merge("[\"period.end\"]", "{\"period\":{\"start\":\"2026-01-02\"}}", old,
                "{\"period\":{\"start\":\"2026-01-02\",\"end\":\"2026-01-05\"}}", true);
    check_merge("[\"period.end\"]", "{}", old, "{\"period\":{\"end\":\"2026-01-05\"}}", true);
    check_merge("[\"period.end\"]", "{\"period\":{\"end\":\"2026-02-01\"}}", old,
                "{\"period\":{\"end\":\"2026-02-01\"}}", false);
    check_merge("[\"?period.end\"]", "{\"period\":{\"end\":\"2026-02-01\"}}", old,
                "{\"period\":{\"end\":\"2026-01-05\"}}", true);
    check_merge("[\"period.end\"]", "{\"period\":{}}", "{\"period\":{\"start\":\"2026\"}}",
                "{\"period\":{}}", false);
}

/* "+name": merged by system, in the stored order; a missing system is one
 * more system. */
static void test_merge_union(void **state)
{
    (void)state;
    const char *old = "{\"identifier\":[{\"system\":\"A\",\"value\":\"1\"},"
                      "{\"system\":\"B\",\"value\":\"2\"},{\"value\":\"n\"}]}";
    check_merge("[\"+identifier\"]",
                "{\"identifier\":[{\"system\":\"C\",\"value\":\"9\"},"
                "{\"system\":\"B\",\"value\":\"3\"}]}",
                old,
                "{\"identifier\":[{\"system\":\"A\",\"value\":\"1\"},"
                "{\"system\":\"B\",\"value\":\"3\"},{\"value\":\"n\"},"
                "{\"system\":\"C\",\"value\":\"9\"}]}",
                true);
    /* a restatement in another order is no change */
    check_merge("[\"+identifier\"]",
                "{\"identifier\":[{\"value\":\"n\"},{\"system\":\"B\",\"value\":\"2\"},"
                "{\"system\":\"A\",\"value\":\"1\"}]}",
                old, old, true);
    check_merge("[\"+identifier\"]", old, old, old, false);
    /* nothing sent: the stored array */
    check_merge("[\"+identifier\"]", "{}", old, old, true);
    /* a system-less member replaces the stored system-less one */
    check_merge("[\"+identifier\"]", "{\"identifier\":[{\"value\":\"m\"}]}", old,
                "{\"identifier\":[{\"system\":\"A\",\"value\":\"1\"},"
                "{\"system\":\"B\",\"value\":\"2\"},{\"value\":\"m\"}]}",
                true);
    /* nothing stored: what was sent */
    check_merge("[\"+identifier\"]", "{\"identifier\":[{\"value\":\"m\"}]}", "{\"identifier\":[]}",
                "{\"identifier\":[{\"value\":\"m\"}]}", false);
}

static void test_location_status(void **state)
{
    (void)state;
    json_t *k = parse("[\"?status\",\"period.end\"]");
    assert_true(keep_absent_follows("Encounter", k));
    assert_false(keep_absent_follows("Patient", k));
    json_decref(k);
    k = parse("[\"status\"]");
    assert_false(keep_absent_follows("Encounter", k));
    json_decref(k);

    struct {
        const char *status, *want;
    } cases[] = {{"finished", "completed"},         {"cancelled", "completed"},
                 {"entered-in-error", "completed"}, {"planned", "planned"},
                 {"in-progress", "active"},         {"arrived", "active"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *r = json_pack("{s:s,s:[{s:s},{s:s,s:s},s]}", "status", cases[i].status, "location",
                              "display", "Ward 1", "display", "Ward 2", "status", "reserved",
                              "not an object");
        assert_true(keep_absent_location_status(r));
        json_t *locs = json_object_get(r, "location");
        assert_string_equal(json_string_value(json_object_get(json_array_get(locs, 0), "status")),
                            cases[i].want);
        assert_string_equal(json_string_value(json_object_get(json_array_get(locs, 1), "status")),
                            "reserved");
        assert_false(keep_absent_location_status(r)); /* every location has one now */
        json_decref(r);
    }
    json_t *r = parse("{\"location\":[{\"display\":\"Ward 1\"}]}"); /* no status: nothing */
    assert_false(keep_absent_location_status(r));
    assert_null(json_object_get(json_array_get(json_object_get(r, "location"), 0), "status"));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_valid),   cmocka_unit_test(test_mentioned),
        cmocka_unit_test(test_merge_plain),  cmocka_unit_test(test_merge_weak),
        cmocka_unit_test(test_merge_choice), cmocka_unit_test(test_merge_part),
        cmocka_unit_test(test_merge_union),  cmocka_unit_test(test_location_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
