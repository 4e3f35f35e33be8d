/* test_ndjson.c - the NDJSON writer of bulk exports (analytics/ndjson.h):
 * one resource per line, line breaks inside a resource's white space
 * flattened, non-objects refused, files created new only, removed on
 * abort, and a large file (past the flush threshold) written whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "analytics/ndjson.h"
#include "core/err.h"

static char dir[512], path[600];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dir, sizeof dir, "%s/ndjson-%d", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(path, sizeof path, "%s/Patient.ndjson", dir);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    *len = got;
    return b;
}

static void test_lines(void **state)
{
    (void)state;
    struct ndjson_writer w;
    assert_int_equal(ndjson_writer_open(&w, path), 0);
    const char *a = "{\"resourceType\":\"Patient\",\"id\":\"a\"}";
    /* pretty-printed, with a Windows line end and an escaped \n in a string */
    const char *b = "\n  {\r\n  \"resourceType\": \"Patient\",\n  \"id\": \"b\",\n"
                    "  \"x\": \"line\\nbreak\"\n}";
    assert_int_equal(ndjson_writer_add(&w, a, strlen(a)), 0);
    assert_int_equal(ndjson_writer_add(&w, b, strlen(b)), 0);
    assert_int_equal(ndjson_writer_add(&w, "[1,2]", 5), WEFT_EINVAL);
    assert_int_equal(ndjson_writer_add(&w, "  ", 2), WEFT_EINVAL);
    assert_int_equal(w.lines, 2);
    assert_int_equal(ndjson_writer_close(&w), 0);
    size_t len;
    char *text = slurp(path, &len);
    assert_non_null(text);
    assert_int_equal((int64_t)len, w.bytes);
    /* exactly two lines, each a JSON object, the escape kept */
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        assert_true(json_is_object(j));
        if (lines == 1)
            assert_string_equal(json_string_value(json_object_get(j, "x")), "line\nbreak");
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, 2);
    free(text);
    /* never over an existing file */
    assert_int_equal(ndjson_writer_open(&w, path), WEFT_EEXIST);
}

static void test_abort_removes(void **state)
{
    (void)state;
    struct ndjson_writer w;
    assert_int_equal(ndjson_writer_open(&w, path), 0);
    assert_int_equal(ndjson_writer_add(&w, "{}", 2), 0);
    ndjson_writer_abort(&w);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_large(void **state)
{
    (void)state;
    struct ndjson_writer w;
    assert_int_equal(ndjson_writer_open(&w, path), 0);
    char line[200];
    for (int i = 0; i < 30000; i++) {
        int n =
            snprintf(line, sizeof line,
                     "{\"resourceType\":\"Observation\",\"id\":\"o%d\",\"pad\":\"%060d\"}", i, i);
        assert_int_equal(ndjson_writer_add(&w, line, (size_t)n), 0);
    }
    assert_int_equal(ndjson_writer_close(&w), 0);
    size_t len;
    char *text = slurp(path, &len);
    assert_true(len > (1u << 20)); /* past one flush */
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 30000);
    assert_non_null(strstr(text, "\"id\":\"o29999\""));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
