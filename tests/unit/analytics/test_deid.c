/* test_deid.c - de-identification for secondary-use exports
 * (analytics/deid.h): direct identifiers removed at any depth, birth date
 * cut to the year, Patient ids and references to them replaced by one
 * pseudonym per export key (stable within a key, different across keys),
 * clinical content kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "analytics/deid.h"
#include "core/buf.h"
#include "core/err.h"

static const char patient[] =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"text\":{\"status\":\"generated\","
    "\"div\":\"<div>Jane Smith</div>\"},\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/"
    "nhs-number\",\"value\":\"9434765919\"}],\"name\":[{\"family\":\"Smith\",\"given\":[\"Jane\"]}]"
    ","
    "\"telecom\":[{\"system\":\"phone\",\"value\":\"01632 960001\"}],\"gender\":\"female\","
    "\"birthDate\":\"1941-03-12\",\"address\":[{\"line\":[\"1 High St\"],\"postalCode\":\"ME1 "
    "1AA\"}],"
    "\"photo\":[{\"data\":\"AAAA\"}],\"contact\":[{\"name\":{\"family\":\"Smith\"}}],"
    "\"generalPractitioner\":[{\"reference\":\"Organization/o1\",\"display\":\"Dr Brown\"}],"
    "\"contained\":[{\"resourceType\":\"RelatedPerson\",\"id\":\"rp\",\"name\":[{\"family\":"
    "\"Smith\"}],\"patient\":{\"reference\":\"Patient/p1\"}}]}";

static const char obs[] =
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
    "\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"27113001\","
    "\"display\":\"Body weight\"}]},\"subject\":{\"reference\":\"Patient/p1\",\"display\":"
    "\"Jane Smith\"},\"performer\":[{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/"
    "nhs-number\",\"value\":\"9434765919\"}}],\"encounter\":{\"reference\":\"http://x/fhir/"
    "Patient/p1/_history/2\"},\"effectiveDateTime\":\"2024-05-01T10:00:00Z\","
    "\"valueQuantity\":{\"value\":71.5,\"unit\":\"kg\"},\"note\":[{\"text\":\"seen with husband "
    "John Smith\"}]}";

static json_t *deid(const struct deid_key *k, const char *in)
{
    struct buf b = BUF_INIT;
    assert_int_equal(deid_json(k, in, strlen(in), &b), 0);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    /* nothing identifying anywhere in the text */
    const char *bad[] = {"Smith",   "Jane",    "9434765919", "01632",  "ME1 1AA",
                         "High St", "1941-03", "Dr Brown",   "\"p1\"", "Patient/p1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(b.data, bad[i]))
            fail_msg("'%s' survived in %s", bad[i], b.data);
    buf_release(&b);
    return j;
}

static void test_patient(void **state)
{
    (void)state;
    struct deid_key k;
    deid_key_init(&k);
    json_t *p = deid(&k, patient);
    char ps[DEID_PSEUDONYM_LEN + 1];
    deid_pseudonym(&k, "p1", ps);
    assert_int_equal(strlen(ps), DEID_PSEUDONYM_LEN);
    assert_string_equal(json_string_value(json_object_get(p, "id")), ps);
    assert_string_equal(json_string_value(json_object_get(p, "birthDate")), "1941");
    assert_string_equal(json_string_value(json_object_get(p, "gender")), "female");
    const char *gone[] = {"identifier", "name", "telecom", "address", "photo", "contact", "text"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        assert_null(json_object_get(p, gone[i]));
    /* the practice reference stays (not a person), its display goes */
    json_t *gp = json_array_get(json_object_get(p, "generalPractitioner"), 0);
    assert_string_equal(json_string_value(json_object_get(gp, "reference")), "Organization/o1");
    assert_null(json_object_get(gp, "display"));
    /* contained person: name gone, its reference to the patient pseudonymised */
    json_t *rp = json_array_get(json_object_get(p, "contained"), 0);
    assert_null(json_object_get(rp, "name"));
    char want[64];
    snprintf(want, sizeof want, "Patient/%s", ps);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rp, "patient"), "reference")), want);
    json_decref(p);
    deid_key_clear(&k);
}

static void test_observation(void **state)
{
    (void)state;
    struct deid_key k;
    deid_key_init(&k);
    json_t *o = deid(&k, obs);
    char ps[DEID_PSEUDONYM_LEN + 1], want[64];
    deid_pseudonym(&k, "p1", ps);
    snprintf(want, sizeof want, "Patient/%s", ps);
    json_t *subj = json_object_get(o, "subject");
    assert_string_equal(json_string_value(json_object_get(subj, "reference")), want);
    assert_null(json_object_get(subj, "display"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "encounter"), "reference")), want);
    assert_null(json_object_get(json_array_get(json_object_get(o, "performer"), 0), "identifier"));
    assert_null(json_object_get(o, "note"));
    /* clinical content kept */
    assert_string_equal(json_string_value(json_object_get(o, "effectiveDateTime")),
                        "2024-05-01T10:00:00Z");
    assert_true(json_real_value(json_object_get(json_object_get(o, "valueQuantity"), "value")) ==
                71.5);
    json_t *coding = json_array_get(json_object_get(json_object_get(o, "code"), "coding"), 0);
    assert_string_equal(json_string_value(json_object_get(coding, "display")), "Body weight");
    json_decref(o);
}

static void test_pseudonym_per_key(void **state)
{
    (void)state;
    struct deid_key a, b;
    deid_key_init(&a);
    deid_key_init(&b);
    char x1[DEID_PSEUDONYM_LEN + 1], x2[DEID_PSEUDONYM_LEN + 1], y[DEID_PSEUDONYM_LEN + 1],
        z[DEID_PSEUDONYM_LEN + 1];
    deid_pseudonym(&a, "p1", x1);
    deid_pseudonym(&a, "p1", x2);
    deid_pseudonym(&b, "p1", y);
    deid_pseudonym(&a, "p2", z);
    assert_string_equal(x1, x2);    /* stable within an export */
    assert_string_not_equal(x1, y); /* unlinkable across exports */
    assert_string_not_equal(x1, z);
    /* the construction is HMAC-SHA256 of the id, first 128 bits in hex:
     * with the all-zero key, as computed independently by
     *   printf p1 | openssl dgst -sha256 -mac HMAC -macopt hexkey:00...00 (64 zeros) */
    struct deid_key zero;
    memset(&zero, 0, sizeof zero);
    deid_pseudonym(&zero, "p1", x1);
    assert_string_equal(x1, "9241cf755cdfa1e282b744ce2c79c7d1");
}

static void test_not_object(void **state)
{
    (void)state;
    struct deid_key k;
    deid_key_init(&k);
    struct buf b = BUF_INIT;
    assert_int_equal(deid_json(&k, "[1]", 3, &b), WEFT_EPARSE);
    assert_int_equal(deid_json(&k, "{bad", 4, &b), WEFT_EPARSE);
    assert_int_equal((int)b.len, 0);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patient),
        cmocka_unit_test(test_observation),
        cmocka_unit_test(test_pseudonym_per_key),
        cmocka_unit_test(test_not_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
