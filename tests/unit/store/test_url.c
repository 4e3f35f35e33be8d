/* test_url.c - store_url_parse (src/store/store.c): the one parser of store
 * URLs every command uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/store.h"

static void test_sqlite_forms(void **state)
{
    (void)state;
    struct store_url u;
    assert_int_equal(store_url_parse("sqlite:/var/lib/weft/weft.db", &u), 0);
    assert_int_equal(u.kind, STORE_KIND_SQLITE);
    assert_string_equal(u.path, "/var/lib/weft/weft.db");
    assert_int_equal(store_url_parse("weft.db", &u), 0);
    assert_int_equal(u.kind, STORE_KIND_SQLITE);
    assert_string_equal(u.path, "weft.db");
    assert_int_equal(store_url_parse("sqlite:", &u), WEFT_EINVAL);
}

static void test_postgres_forms(void **state)
{
    (void)state;
    struct store_url u;
    assert_int_equal(store_url_parse("postgres://weft@localhost/weft", &u), 0);
    assert_int_equal(u.kind, STORE_KIND_POSTGRES);
    assert_null(u.path);
    assert_int_equal(store_url_parse("postgresql://localhost/weft", &u), 0);
    assert_int_equal(u.kind, STORE_KIND_POSTGRES);
}

static void test_empty(void **state)
{
    (void)state;
    struct store_url u;
    assert_int_equal(store_url_parse("", &u), WEFT_EINVAL);
    assert_int_equal(store_url_parse(NULL, &u), WEFT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_forms),
        cmocka_unit_test(test_postgres_forms),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
