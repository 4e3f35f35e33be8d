/* test_drop_claim.c - one processor per drop file (ingest_csv_claim,
 * feeds/ingest.h): a claim excludes every other claim (another open file
 * description, as another process or thread has), is released by closing,
 * and is refused for a name that no longer names the locked file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "feeds/ingest.h"

static char dir[256], path[300], moved[300];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dir, sizeof dir, "%s/claim-%d", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(path, sizeof path, "%s/people.csv", dir);
    snprintf(moved, sizeof moved, "%s/people.csv.done", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("person_id,family_name\nA1,Test\n", f);
    return fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_exclusive(void **state)
{
    (void)state;
    int a = -1, b = -1;
    assert_int_equal(ingest_csv_claim(path, &a), 0);
    assert_true(a >= 0);
    /* a second claimant (its own open file description) is refused */
    assert_int_equal(ingest_csv_claim(path, &b), WEFT_ECONFLICT);
    assert_int_equal(b, -1);
    close(a); /* released: as when the holder ends or dies */
    assert_int_equal(ingest_csv_claim(path, &b), 0);
    close(b);
}

static void test_gone_or_replaced(void **state)
{
    (void)state;
    int a = -1, b = -1;
    assert_int_equal(ingest_csv_claim(moved, &a), WEFT_ENOTFOUND);
    assert_int_equal(ingest_csv_claim(path, &a), 0);
    /* the holder moves it away (done/) before releasing: the name is gone */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(ingest_csv_claim(path, &b), WEFT_ENOTFOUND);
    /* a new file of the same name is a different file: claimable while the
     * old one is still held */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("person_id,family_name\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ingest_csv_claim(path, &b), 0);
    close(b);
    close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_or_replaced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
