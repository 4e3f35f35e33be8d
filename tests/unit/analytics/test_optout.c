/* test_optout.c - the national data opt-out for secondary uses over a real
 * store: import refuses bad files whole and stale or older lists; the gate
 * refuses to run with no list or an expired one and says why; a secondary
 * output counts only cleared people and records whom it counted; the
 * compliance report re-checks that record against the list and catches a
 * count of someone outside it. */
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

#include "analytics/optout.h"
#include "analytics/secondary.h"
#include "core/buf.h"
#include "core/err.h"
#include "fhir/load.h"
#include "store/analytics.h"
#include "store/access.h"
#include "store/store.h"
#include "../testdb.h"

/* The k-th valid NHS number of a test range (modulus 11). */
static void nhs_make(int k, char out[11])
{
    for (int base = 400000000 + k * 7;; base++) {
        char d[16];
        snprintf(d, sizeof d, "%09d", base);
        int sum = 0;
        for (int i = 0; i < 9; i++)
            sum += (d[i] - '0') * (10 - i);
        int check = 11 - sum % 11;
        if (check == 11)
            check = 0;
        if (check == 10)
            continue;
        memcpy(out, d, 9);
        out[9] = (char)('0' + check);
        out[10] = '\0';
        return;
    }
}

static int load_patients(struct store *s, int n, char nhs[][11])
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[");
    for (int i = 0; i < n; i++) {
        buf_addf(&b,
                 "%s{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p%d\","
                 "\"identifier\":[",
                 i ? "," : "", i);
        if (nhs[i][0])
            buf_addf(&b, "{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"%s\"},",
                     nhs[i]);
        buf_addf(&b,
                 "{\"system\":\"urn:test:mrn\",\"value\":\"M%d\"}],"
                 "\"name\":[{\"family\":\"Test%c\",\"given\":[\"P\"]}],"
                 "\"birthDate\":\"%d-05-01\","
                 "\"generalPractitioner\":[{\"identifier\":{\"system\":"
                 "\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"G1\"}}]}}",
                 i, 'A' + i, i % 2 ? 1940 : 1990);
    }
    buf_adds(&b, "]}");
    json_t *j = json_loads(b.data, 0, NULL);
    buf_release(&b);
    struct load_ctx lc = {.org = "G1", .feed = "test"};
    struct load_report rep;
    load_report_init(&rep);
    int rc = fhir_load_bundle(s, j, &lc, &rep, NULL);
    long rejected = rep.rejected;
    for (int i = 0; i < rep.nrejections; i++)
        fprintf(stderr, "rejected: %s\n", rep.rejections[i].reason);
    load_report_free(&rep);
    json_decref(j);
    return rc == 0 && rejected == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_lists(struct store *s)
{
    struct store_optout_list *l;
    int n;
    assert_int_equal(store_optout_list_all(s, &l, &n), 0);
    store_optout_lists_free(l, n);
    return n;
}

static void test_optout(void **state)
{
    (void)state;
    char path[] = "/tmp/weft-test-optout-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    testdb_remove(path);
    const char *url = testdb_pick(path); /* PostgreSQL under --backend postgres */
    assert_non_null(url);
    struct store *s = NULL;
    char *serr = NULL;
    int v0, v1;
    assert_int_equal(store_open(&s, url, true, &serr), 0);
    assert_int_equal(store_migrate(s, &v0, &v1), 0);
    assert_int_equal(store_org_put(s, "G1", "Test Practice", "gp"), 0);

    /* 10 people with NHS numbers, one without */
    char nhs[11][11];
    for (int i = 0; i < 10; i++)
        nhs_make(i, nhs[i]);
    nhs[10][0] = '\0';
    assert_int_equal(load_patients(s, 11, nhs), 0);

    char err[2048];
    struct optout_gate g;
    /* no list: refused, saying why */
    assert_int_equal(optout_gate(s, "2026-11-10", &g, err, sizeof err), WEFT_EDENIED);
    assert_non_null(strstr(err, "no national data opt-out list"));
    struct secondary_options so = {"population", "2026-11-10", "2026-11-10", "test", NULL, NULL};
    struct secondary_table t;
    assert_int_equal(secondary_run(s, &so, &t, err, sizeof err), WEFT_EDENIED);

    /* the list clears people 0..7 (a blank line and a repeat are fine) */
    char file[] = "/tmp/weft-test-optout-list-XXXXXX";
    fd = mkstemp(file);
    close(fd);
    struct buf b = BUF_INIT;
    for (int i = 0; i < 8; i++)
        buf_addf(&b, "%s\r\n", nhs[i]);
    buf_addf(&b, "\n%s\n", nhs[3]);
    write_file(file, b.data);
    buf_release(&b);

    struct optout_import in = {file, "2026-11-01", 0, "test", "2026-11-10"};
    struct optout_import_result res;
    /* refusals first: nothing stored by any of them */
    in.checked = "2026-11-31";
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), WEFT_EINVAL);
    in.checked = "2026-11-11";
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), WEFT_EINVAL);
    assert_non_null(strstr(err, "future"));
    in.checked = "2026-10-01"; /* + 30 days = 2026-10-31, before today */
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), WEFT_EINVAL);
    assert_non_null(strstr(err, "expired on 2026-10-31"));
    char bad[] = "/tmp/weft-test-optout-bad-XXXXXX";
    fd = mkstemp(bad);
    close(fd);
    struct buf bb = BUF_INIT;
    buf_addf(&bb, "%s\n1234567890\n%s\nnot a number\n", nhs[0], nhs[1]);
    write_file(bad, bb.data);
    buf_release(&bb);
    in.cleared_path = bad;
    in.checked = "2026-11-01";
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), WEFT_EINVAL);
    assert_non_null(strstr(err, "line 2:"));
    assert_non_null(strstr(err, "line 4:"));
    assert_int_equal(count_lists(s), 0);

    in.cleared_path = file;
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), 0);
    assert_int_equal(res.count, 8);
    assert_int_equal(res.duplicates, 1);
    assert_string_equal(res.expires, "2026-12-01");
    /* an older answer cannot replace it */
    in.checked = "2026-10-25";
    assert_int_equal(optout_import(s, &in, &res, err, sizeof err), WEFT_EINVAL);
    assert_non_null(strstr(err, "older"));
    assert_int_equal(count_lists(s), 1);

    /* in force through its last day, refused the day after */
    assert_int_equal(optout_gate(s, "2026-12-01", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 8);
    assert_int_equal(optout_gate(s, "2026-12-02", &g, err, sizeof err), WEFT_EDENIED);
    assert_non_null(strstr(err, "expired on 2026-12-01"));
    so.today = "2026-12-02";
    assert_int_equal(secondary_run(s, &so, &t, err, sizeof err), WEFT_EDENIED);
    assert_non_null(strstr(err, "expired"));

    /* within its days: 8 counted (people 0..7), 3 not (8, 9, no number) */
    so.today = "2026-11-15";
    assert_int_equal(secondary_run(s, &so, &t, err, sizeof err), 0);
    assert_int_equal(t.counted, 8);
    assert_int_equal(t.excluded, 3);
    assert_int_equal(t.rows, 1);
    assert_string_equal(t.row_labels[0], "G1");
    /* people 0,2,4,6 born 1990 (36 on 2026-11-10: 18-64), 1,3,5,7 in 1940
     * (86: 85+): 4 and 4, each suppressed (two in the row: the total, 8,
     * may show, rounded to 10) */
    struct buf csv = BUF_INIT;
    secondary_table_csv(&t, &csv);
    assert_string_equal(csv.data, "practice,0-17,18-64,65-74,75-84,85+,age unknown,total\n"
                                  "G1,0,*,0,0,*,0,10\n"
                                  "total,0,*,0,0,*,0,10\n");
    buf_release(&csv);
    secondary_table_free(&t);

    /* frailty: only the cleared people aged 65+ (1, 3, 5, 7), all fit */
    const char *root = getenv("WEFT_ROOT");
    struct buf codes = BUF_INIT;
    buf_addf(&codes, "%s/policy/efi.codes", root ? root : ".");
    struct secondary_options fo = {"frailty", "2026-11-10", "2026-11-15", "test", codes.data, NULL};
    assert_int_equal(secondary_run(s, &fo, &t, err, sizeof err), 0);
    buf_release(&codes);
    assert_int_equal(t.counted, 4);
    struct buf fcsv = BUF_INIT;
    secondary_table_csv(&t, &fcsv);
    assert_string_equal(fcsv.data, "practice,fit,mild,moderate,severe,total\n"
                                   "G1,*,0,0,0,*\n"
                                   "total,*,0,0,0,*\n");
    buf_release(&fcsv);
    secondary_table_free(&t);

    /* the compliance report: two outputs, nobody outside the list */
    struct buf rep = BUF_INIT;
    int64_t outside = -1;
    assert_int_equal(secondary_compliance(s, &rep, &outside, err, sizeof err), 0);
    assert_int_equal(outside, 0);
    assert_non_null(strstr(rep.data, ",population,"));
    assert_non_null(strstr(rep.data, ",2026-11-01,2026-12-01,8,8,3,0\n"));
    assert_non_null(strstr(rep.data, ",frailty,"));
    assert_non_null(strstr(rep.data, ",2026-11-01,2026-12-01,8,4,3,0\n"));
    buf_release(&rep);

    /* an output that counted person 9 (not cleared) is caught */
    uint64_t v[2] = {optout_nhs_key(nhs[0]), optout_nhs_key(nhs[9])};
    if (v[0] > v[1]) {
        uint64_t x = v[0];
        v[0] = v[1];
        v[1] = x;
    }
    size_t blen;
    unsigned char *blob = optout_set_encode(v, 2, &blen);
    struct store_analytics_output o = {.name = "forged",
                                       .computed = "2026-11-15T00:00:00Z",
                                       .by = "test",
                                       .list_id = 1,
                                       .counted = 2,
                                       .counted_set = blob,
                                       .counted_set_len = blen};
    assert_int_equal(store_analytics_output_add(s, &o, NULL), 0);
    free(blob);
    struct buf rep2 = BUF_INIT;
    assert_int_equal(secondary_compliance(s, &rep2, &outside, err, sizeof err), 0);
    assert_int_equal(outside, 1);
    assert_non_null(strstr(rep2.data, ",forged,"));
    buf_release(&rep2);

    /* the encoding round-trips */
    uint64_t many[1000], *back;
    size_t nback;
    for (int i = 0; i < 1000; i++)
        many[i] = 4000000000ULL + (uint64_t)i * (uint64_t)i * 977;
    blob = optout_set_encode(many, 1000, &blen);
    assert_int_equal(optout_set_decode(blob, blen, &back, &nback), 0);
    assert_int_equal(nback, 1000);
    assert_memory_equal(back, many, sizeof many);
    free(back);
    assert_int_equal(optout_set_decode(blob, blen - 1, &back, &nback), WEFT_EPARSE);
    free(blob);

    store_close(s);
    testdb_remove(path);
    unlink(file);
    unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
