/* test_deid_text.c - the single-pass de-identifying rewriter (deid_text,
 * analytics/deid.h) against the tree-based reference (deid_json_tree):
 * byte for byte the same text under the same key, on every resource of the
 * shared Synthea bundles ($WEFT_DATA/synthea-r4; skipped when absent) in
 * the form the store holds them (references resolved as the loader does,
 * canonical: canon_dump), in jansson's unsorted compact form and (a sample)
 * indented, and on edge cases (white space, escapes, reals,
 * duplicate keys, short dates, invalid JSON) - where the single pass must
 * either agree or hand the resource to the tree. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "analytics/deid.h"
#include "core/buf.h"
#include "core/err.h"
#include "fhir/canon.h"

/* deid_text and the tree agree on text (rc and bytes); returns whether the
 * single pass alone did it. */
static bool agree(struct deid_text *t, const char *text, size_t len)
{
    struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
    buf_adds(&a, "prefix"); /* appended after what is there */
    buf_adds(&b, "prefix");
    int rt = deid_json_tree(t->key, text, len, &a);
    int rs = deid_text(t, text, len, &b);
    if (rt != rs || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fail_msg("differ on %.*s\n tree (%d): %s\n pass (%d): %s", (int)len, text, rt, a.data, rs,
                 b.data);
    bool fast = deid_text_fast(t, text, len, &c) == 0;
    if (fast && (c.len != a.len - 6 || memcmp(c.data, a.data + 6, c.len) != 0))
        fail_msg("fast path differs on %.*s", (int)len, text);
    if (!fast)
        assert_int_equal((int)c.len, 0); /* nothing appended when it declines */
    buf_release(&a);
    buf_release(&b);
    buf_release(&c);
    return fast;
}

static bool agree_s(struct deid_text *t, const char *text)
{
    return agree(t, text, strlen(text));
}

static void test_edge_cases(void **state)
{
    (void)state;
    struct deid_key k;
    deid_key_init(&k);
    struct deid_text t;
    deid_text_init(&t, &k);
    /* taken by the single pass */
    const char *fast[] = {
        "{}",
        "{\"resourceType\":\"Patient\"}",
        " {\n \"resourceType\" : \"Patient\", \"id\":\"p1\" ,\"birthDate\":\"1941-03-12\"}\n",
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"birthDate\":\"19\",\"deceasedDateTime\":"
        "\"2020-01-01T00:00:00Z\",\"name\":[{\"family\":\"X\"}],\"gender\":\"male\"}",
        "{\"id\":\"p1\",\"birthDate\":\"1941-01-01\",\"resourceType\":\"Patient\","
        "\"deceasedBoolean\":true,\"deceasedDateTime\":7}",
        "{\"resourceType\":\"RelatedPerson\",\"id\":\"r1\",\"birthDate\":\"1941\","
        "\"link\":[],\"communication\":[{}],\"contact\":null}",
        "{\"resourceType\":\"Person\",\"id\":\"x\",\"birthDate\":\"\"}",
        "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":71.5},\"a\":0.1,"
        "\"b\":1e5,\"c\":-0,\"d\":1E-7,\"e\":-12,\"f\":0,\"h\":2.50}",
        "{\"subject\":{\"display\":\"Jane\",\"reference\":\"Patient/p1\"}}",
        "{\"subject\":{\"display\":\"Jane\",\"reference\":7}}",
        "{\"subject\":{\"reference\":\"Patient/\",\"display\":\"x\"}}",
        "{\"a\":{\"reference\":\"https://h/fhir/Patient/p9/_history/3\"},\"b\":{\"reference\":"
        "\"Practitioner/p1\"},\"c\":{\"reference\":\"urn:uuid:Patient/x\"}}",
        "{\"text\":{\"status\":\"generated\",\"div\":null},\"x\":1}",
        "{\"text\":{\"status\":\"generated\"},\"x\":1}",
        "{\"text\":\"plain\",\"div\":1}",
        "{\"note\":[{\"text\":\"a\"}],\"identifier\":{\"x\":[1,2,{\"identifier\":1}]},"
        "\"photo\":[],\"telecom\":[],\"address\":{}}",
        "{\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"c\",\"name\":[]}],\"nested\":[[[{"
        "\"reference\":\"Patient/c\"}]]]}",
        "{\"s\":\"tab\\there \\\"q\\\" \\\\ \\n \\r \\b \\f\",\"u\":\"caf\xc3\xa9 \xe2\x82\xac "
        "\xf0\x9f\x98\x80\"}",
        "{\"resourceType\":\"Patient\",\"id\":\"\xc3\xa9t\xc3\xa9\",\"birthDate\":"
        "\"1999\xc3\xa9\"}",
        "{\"a\":true,\"b\":false,\"c\":null,\"d\":[],\"e\":[true,false,null]}",
    };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (!agree_s(&t, fast[i]))
            fail_msg("the single pass declined %s", fast[i]);
    /* handed to the tree (and the same result) */
    const char *slow[] = {
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"x\\/y\"}",
        "{\"a\":1,\"a\":2}",
        "{\"resourceType\":\"Patient\",\"id\":\"p\\n1\"}",
        "{\"resourceType\":\"Patient\",\"birthDate\":\"1\\t41-01-01\"}",
        "{\"resourceType\":\"Patient\",\"birthDate\":\"19\xc3\xa9\"}",
        "{\"reference\":\"Patient/a\\\"b\"}",
        "{\"a\":1e999}",
        "{\"a\":123456789012345678901}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xe0\x80\x80\"}",
        "{\"a\":\"raw\x01\"}",
        "[1]",
        "{bad",
        "{\"a\":1",
        "{\"a\":1} x",
        "{\"a\":tru}",
        "{\"a\" 1}",
        "{\"a\":[1,]}",
        "{\"a\":1,}",
        "",
        "   ",
        "\"s\"",
    };
    for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
        if (agree_s(&t, slow[i]))
            fail_msg("the single pass vouched for %s", slow[i]);
    /* nesting deeper than the single pass goes */
    struct buf deep = BUF_INIT;
    for (int i = 0; i < 600; i++)
        buf_adds(&deep, "{\"a\":");
    buf_adds(&deep, "1");
    for (int i = 0; i < 600; i++)
        buf_adds(&deep, "}");
    assert_false(agree(&t, deep.data, deep.len));
    buf_release(&deep);
    deid_text_free(&t);
    deid_key_clear(&k);
}

/* References to the bundle's entries as the loader stores them: "urn:uuid:X"
 * becomes "Type/id" of the entry whose fullUrl it is. */
static void resolve(json_t *v, json_t *urls)
{
    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "reference");
        json_t *to = json_is_string(ref) ? json_object_get(urls, json_string_value(ref)) : NULL;
        if (to)
            json_object_set(v, "reference", to);
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) resolve(c, urls);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) resolve(c, urls);
    }
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
    struct deid_key k;
    deid_key_init(&k);
    struct deid_text t;
    deid_text_init(&t, &k);
    struct buf b = BUF_INIT;
    struct dirent *de;
    long files = 0, resources = 0, fast = 0, touched = 0, forms = 0;
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t err;
        json_t *bundle = json_load_file(path, 0, &err);
        if (!bundle)
            continue;
        files++;
        size_t i;
        json_t *e;
        json_t *urls = json_object();
        json_array_foreach(json_object_get(bundle, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "resource");
            const char *fu = json_string_value(json_object_get(e, "fullUrl"));
            const char *rt = json_string_value(json_object_get(r, "resourceType"));
            const char *id = json_string_value(json_object_get(r, "id"));
            if (fu && rt && id) {
                char to[512];
                snprintf(to, sizeof to, "%s/%s", rt, id);
                json_object_set_new(urls, fu, json_string(to));
            }
        }
        resolve(bundle, urls);
        json_decref(urls);
        json_array_foreach(json_object_get(bundle, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "resource");
            if (!r)
                continue;
            resources++;
            forms += 2;
            /* as stored */
            size_t n = canon_dump(r, &b);
            assert_true(n > 0);
            fast += agree(&t, b.data, n);
            struct buf plain = BUF_INIT;
            deid_json_tree(&k, b.data, n, &plain);
            touched += plain.len != n || memcmp(plain.data, b.data, n) != 0;
            buf_release(&plain);
            /* in file order, compact and indented */
            char *s = json_dumps(r, JSON_COMPACT);
            fast += agree(&t, s, strlen(s));
            free(s);
            if (resources % 10 == 0) { /* white space: a sample */
                s = json_dumps(r, JSON_INDENT(2));
                fast += agree(&t, s, strlen(s));
                free(s);
                forms++;
            }
        }
        json_decref(bundle);
    }
    closedir(h);
    buf_release(&b);
    deid_text_free(&t);
    assert_true(files > 0);
    print_message("%ld files, %ld resources (%ld changed by de-identification): identical in %ld "
                  "forms; %ld of them by the single pass\n",
                  files, resources, touched, forms, fast);
    /* the single pass is the path taken, not a fallback that happens to agree */
    assert_true(touched > resources / 2);
    assert_true(fast * 100 >= forms * 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_shared_synthea),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
