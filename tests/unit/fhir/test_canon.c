/* test_canon.c - canon_dump writes exactly what jansson's json_dumpb writes
 * with JSON_COMPACT | JSON_SORT_KEYS (the text the store hashes): edge
 * cases, and every entry and whole bundle of the shared Synthea set
 * ($WEFT_DATA/synthea-r4, skipped when absent). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "fhir/canon.h"

#define FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* canon_dump(j) == json_dumpb(j); returns 1 when they agree. */
static int agree(const json_t *j, struct buf *b)
{
    size_t want = json_dumpb(j, NULL, 0, FLAGS);
    char *ref = malloc(want + 1);
    assert_non_null(ref);
    assert_int_equal(json_dumpb(j, ref, want, FLAGS), want);
    size_t got = canon_dump(j, b);
    int ok = got == want && memcmp(b->data, ref, want) == 0 && b->data[got] == 0;
    if (!ok)
        print_message("canon:  %.300s\njansson: %.*s\n", b->data, (int)(want < 300 ? want : 300),
                      ref);
    free(ref);
    return ok;
}

static void test_edge_cases(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    static const char *const texts[] = {
        "{}",
        "[]",
        "{\"a\":[],\"b\":{},\"c\":[{}],\"d\":null,\"e\":true,\"f\":false}",
        "{\"z\":1,\"y\":-2,\"x\":0,\"w\":9223372036854775807,\"v\":-9223372036854775808}",
        "{\"r\":[0.1,1.0,-2.5,1e300,1e-300,123456789.123456789,0.0,-0.0,3.14159,1E5,2.5e-7]}",
        "{\"s\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"}",
        "{\"c\":\"\\u0000\\u0001\\u001f\\u007f \\u2028 \\u2029 \\u00e9 \\ud83d\\ude00 "
        "caf\\u00e9\"}",
        "{\"b\":1,\"a\":2,\"aa\":3,\"A\":4,\"_\":5,\"\\u00e9\":6,\"ab\":7,\"a b\":8}",
        "{\"resourceType\":\"Patient\",\"meta\":{\"tag\":[{\"system\":\"s\",\"code\":\"c\"}]},"
        "\"name\":[{\"given\":[\"J\\u00f6rg\",\"\"],\"family\":\"O'Brien\"}]}",
        "[1,[2,[3,[4,{\"k\":[5]}]]]]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_error_t err;
        json_t *j = json_loads(texts[i], JSON_ALLOW_NUL, &err);
        if (!j)
            print_message("%zu: %s\n", i, err.text);
        assert_non_null(j);
        assert_true(agree(j, &b));
        json_decref(j);
    }
    /* more keys than the stack sort holds, inserted in reverse order */
    json_t *big = json_object();
    for (int i = 200; i > 0; i--) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(big, k, json_integer(i));
    }
    assert_true(agree(big, &b));
    /* keys added after parsing (as the loader adds meta) still sorted */
    json_object_set_new(big, "0first", json_pack("{s:s,s:s}", "system", "x", "code", "y"));
    assert_true(agree(big, &b));
    json_decref(big);
    /* deep nesting: within jansson's limit it agrees */
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 500; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    assert_true(agree(deep, &b));
    json_decref(deep);
    buf_release(&b);
}

static void test_shared_synthea(void **state)
{
    (void)state;
    const char *d = getenv("WEFT_DATA");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/synthea-r4", d ? d : "/nonexistent");
    DIR *h = opendir(dir);
    if (!d || !h) {
        print_message("skipped: $WEFT_DATA/synthea-r4 is absent\n");
        skip();
    }
    struct buf b = BUF_INIT;
    struct dirent *de;
    long files = 0, resources = 0;
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t err;
        json_t *bundle = json_load_file(path, 0, &err);
        if (!bundle)
            continue; /* not JSON: nothing to compare */
        files++;
        assert_true(agree(bundle, &b));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(bundle, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "resource");
            if (r) {
                resources++;
                assert_true(agree(r, &b));
            }
        }
        json_decref(bundle);
    }
    closedir(h);
    buf_release(&b);
    assert_true(files > 0);
    print_message("%ld files, %ld resources: identical\n", files, resources);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_shared_synthea),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
