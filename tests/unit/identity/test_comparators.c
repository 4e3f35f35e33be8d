/* test_comparators.c - the identity comparators: Jaro-Winkler, Soundex,
 * the nickname table, date of birth and postcode levels, the comparison
 * vector of a pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "identity/compare.h"
#include "identity/dob.h"
#include "identity/jaro.h"
#include "identity/nickname.h"
#include "identity/phonetic.h"
#include "identity/postcode.h"

static void test_jaro_winkler(void **state)
{
    (void)state;
    /* the textbook values (Winkler 1990; Cohen et al.) */
    assert_float_equal(jaro_winkler("MARTHA", "MARHTA"), 0.9611, 0.0001);
    assert_float_equal(jaro_winkler("DWAYNE", "DUANE"), 0.84, 0.0001);
    assert_float_equal(jaro_winkler("DIXON", "DICKSONX"), 0.8133, 0.0001);
    assert_float_equal(jaro_winkler("OKAFOR", "OKAFOR"), 1.0, 1e-9);
    assert_float_equal(jaro_winkler("ABC", "XYZ"), 0.0, 1e-9);
    assert_float_equal(jaro_winkler("", "ABC"), 0.0, 1e-9);
    /* symmetric */
    assert_float_equal(jaro_winkler("THOMSON", "THOMPSON"), jaro_winkler("THOMPSON", "THOMSON"),
                       1e-12);
    /* long names are compared on their first 64 bytes without overrun */
    char a[100], b[100];
    memset(a, 'A', 99);
    a[99] = 0;
    memcpy(b, a, sizeof b);
    b[98] = 'B';
    assert_float_equal(jaro_winkler(a, b), 1.0, 1e-9);
}

static void test_soundex(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"Robert", "R163"},   {"Rupert", "R163"},  {"Rubin", "R150"},   {"Ashcraft", "A261"},
        {"Ashcroft", "A261"}, {"Tymczak", "T522"}, {"Pfister", "P236"}, {"Okafor", "O216"},
        {"Smith", "S530"},    {"Smyth", "S530"},   {"Lee", "L000"},     {"o'brien", "O165"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char c[PHONETIC_LEN];
        phonetic_code(cases[i][0], c);
        assert_string_equal(c, cases[i][1]);
    }
    char c[PHONETIC_LEN];
    phonetic_code("123 -", c);
    assert_string_equal(c, "");
}

static void test_nicknames(void **state)
{
    (void)state;
    assert_true(nickname_groups() > 100);
    const char *same[][2] = {{"BILL", "WILLIAM"},
                             {"WILLIAM", "BILL"},
                             {"PEGGY", "MARGARET"},
                             {"TOM", "THOMAS"},
                             {"BOB", "ROBERT"},
                             {"BOB", "ROB"},
                             {"LIZ", "ELIZABETH"},
                             {"BETTY", "LIZ"},
                             {"CHRIS", "CHRISTINE"},
                             {"TED", "EDWARD"},
                             {"JACK", "JOHN"},
                             {"SALLY", "SARAH"},
                             /* a word in four groups: each of them, either way round */
                             {"BERT", "ALBERT"},
                             {"GILBERT", "BERT"},
                             {"BERT", "HERBERT"},
                             {"ROBERT", "BERT"},
                             {"BOBBY", "BERT"},
                             {"ZACHARY", "ZAK"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_true(nickname_same(same[i][0], same[i][1]));
    const char *differ[][2] = {
        {"BILL", "ROBERT"},     {"TOM", "TIMOTHY"}, {"PEGGY", "PATRICIA"},
        {"WILL", "WILLIAMSON"}, {"", "BILL"},       {"BIL", "WILLIAM"},
        {"ALBERT", "HERBERT"},  {"BILL", ""},       {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "BILL"}};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++)
        assert_false(nickname_same(differ[i][0], differ[i][1]));
}

static void test_dob(void **state)
{
    (void)state;
    assert_int_equal(dob_compare("20130707", "20130707"), DOB_EXACT);
    assert_int_equal(dob_compare("20130703", "20130307"), DOB_SWAPPED);
    assert_int_equal(dob_compare("20130707", "20130708"), DOB_TYPO); /* one digit */
    assert_int_equal(dob_compare("20130707", "20120707"), DOB_TYPO); /* year - 1 */
    assert_int_equal(dob_compare("20130707", "20030707"), DOB_TYPO); /* year - 10 */
    assert_int_equal(dob_compare("19890101", "19980101"), DOB_TYPO); /* adjacent transposition */
    assert_int_equal(dob_compare("20130707", "20160905"), DOB_DIFFER);
    assert_int_equal(dob_compare("20130707", "19700101"), DOB_DIFFER);
    assert_int_equal(dob_compare("2013070", "20130707"), DOB_DIFFER);
    assert_int_equal(dob_compare("", ""), DOB_DIFFER);
}

static void test_postcode(void **state)
{
    (void)state;
    char n[12];
    postcode_norm(" me14 1ab ", n, sizeof n);
    assert_string_equal(n, "ME141AB");
    assert_int_equal(postcode_compare("ME141AB", "ME141AB"), POSTCODE_FULL);
    assert_int_equal(postcode_compare("ME141AB", "ME141ZZ"), POSTCODE_SECTOR);
    assert_int_equal(postcode_compare("ME141AB", "ME149AB"), POSTCODE_DISTRICT);
    assert_int_equal(postcode_compare("ME141AB", "ME151AB"), POSTCODE_DIFFER);
    /* outward codes of different lengths never agree by prefix */
    assert_int_equal(postcode_compare("M11AA", "M111AA"), POSTCODE_DIFFER);
    /* not UK shaped: whole string only */
    assert_int_equal(postcode_compare("2612", "2612"), POSTCODE_FULL);
    assert_int_equal(postcode_compare("2612", "2613"), POSTCODE_DIFFER);
    /* two neighbouring characters swapped: a keying slip, taken as district */
    assert_int_equal(postcode_compare("2450", "2405"), POSTCODE_DISTRICT);
    assert_int_equal(postcode_compare("ME141AB", "EM141AB"), POSTCODE_DISTRICT);
    assert_int_equal(postcode_compare("ME141AB", "ME141BA"), POSTCODE_SECTOR); /* as before */
    assert_int_equal(postcode_compare("2450", "4205"), POSTCODE_DIFFER);
    assert_int_equal(postcode_compare("2450", "245"), POSTCODE_DIFFER);
    char o[8];
    postcode_outward("CT201AB", o);
    assert_string_equal(o, "CT20");
    postcode_outward("2612", o);
    assert_string_equal(o, "2612");
}

static void test_compare_pair(void **state)
{
    (void)state;
    struct demog a = {.given = "WILLIAM",
                      .family = "OKAFOR",
                      .dob = "20130707",
                      .sex = 'M',
                      .postcode = "ME141AB",
                      .addr = "1 HIGH STREET"};
    struct demog b = a;
    signed char g[CF_N];
    compare_pair(&a, &b, g);
    assert_int_equal(g[CF_GIVEN], 0);
    assert_int_equal(g[CF_FAMILY], 0);
    assert_int_equal(g[CF_DOB], 0);
    assert_int_equal(g[CF_SEX], 0);
    assert_int_equal(g[CF_POSTCODE], 0);
    assert_int_equal(g[CF_PHONE], COMPARE_MISSING);
    assert_int_equal(g[CF_EMAIL], COMPARE_MISSING);
    snprintf(b.given, sizeof b.given, "BILL");
    snprintf(b.family, sizeof b.family, "OKAFER");
    snprintf(b.dob, sizeof b.dob, "20130707");
    b.postcode[0] = 0;
    compare_pair(&a, &b, g);
    assert_int_equal(g[CF_GIVEN], 1);  /* nickname */
    assert_int_equal(g[CF_FAMILY], 1); /* JW 0.93 */
    assert_int_equal(g[CF_POSTCODE], COMPARE_MISSING);
    /* an initial */
    snprintf(b.given, sizeof b.given, "W");
    compare_pair(&a, &b, g);
    assert_int_equal(g[CF_GIVEN], 2);
    /* names the wrong way round */
    struct demog c = a;
    snprintf(c.given, sizeof c.given, "OKAFOR");
    snprintf(c.family, sizeof c.family, "WILLIAM");
    compare_pair(&a, &c, g);
    assert_int_equal(g[CF_GIVEN], 1);
    assert_int_equal(g[CF_FAMILY], 1);
    /* swapped and misspelt (FEBRL "nguy en, elixa" for "eliza nguyen") */
    struct demog e = a, h = a;
    snprintf(e.given, sizeof e.given, "ELIZA");
    snprintf(e.family, sizeof e.family, "NGUYEN");
    snprintf(h.given, sizeof h.given, "NGUYEN");
    snprintf(h.family, sizeof h.family, "ELIXA");
    compare_pair(&e, &h, g);
    assert_int_equal(g[CF_GIVEN], 2);  /* ELIZA ~ ELIXA: similar */
    assert_int_equal(g[CF_FAMILY], 1); /* NGUYEN = NGUYEN, but swapped: close at best */
    /* a half swap: the given name written as the family name, the other
     * name replaced - one name agrees, the other differs */
    snprintf(e.given, sizeof e.given, "TIMOTHY");
    snprintf(e.family, sizeof e.family, "COFFEY");
    snprintf(h.given, sizeof h.given, "DOMINEY");
    snprintf(h.family, sizeof h.family, "TIMOTHY");
    compare_pair(&e, &h, g);
    assert_int_equal(g[CF_GIVEN], 3);
    assert_int_equal(g[CF_FAMILY], 1);
    /* two different people of one household: both names differ, no crossing */
    snprintf(h.given, sizeof h.given, "PERSON");
    snprintf(h.family, sizeof h.family, "OTHER");
    compare_pair(&e, &h, g);
    assert_int_equal(g[CF_GIVEN], 3);
    assert_int_equal(g[CF_FAMILY], 3);
    /* a different person */
    struct demog d = {
        .given = "GRACE", .family = "HUGHES", .dob = "19500101", .sex = 'F', .postcode = "CT201AB"};
    compare_pair(&a, &d, g);
    for (int f = 0; f < CF_N; f++)
        if (g[f] != COMPARE_MISSING)
            assert_int_equal(g[f], compare_levels(f) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jaro_winkler), cmocka_unit_test(test_soundex),
        cmocka_unit_test(test_nicknames),    cmocka_unit_test(test_dob),
        cmocka_unit_test(test_postcode),     cmocka_unit_test(test_compare_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
