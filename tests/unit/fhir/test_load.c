/* test_load.c - the loading pipeline: reference resolution, transactions,
 * batches, reload no-op, versions, not-shareable types, person linking,
 * meta, validation errors, the response bundle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "feeds/hl7_map.h"
#include "fhir/load.h"
#include "store/records.h"
#include "store/store.h"

#include "unit/testdb.h"

static char dbpath[256];

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/load-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    struct store *s;
    if (store_open(&s, testdb_pick(dbpath), true, NULL) != 0 || store_migrate(s, NULL, NULL) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    testdb_remove(dbpath);
    return 0;
}

static const struct load_ctx GP = {.org = "A81001", .feed = "gp-fhir"};

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("test JSON invalid at %d:%d: %s", e.line, e.column, e.text);
    return j;
}

static const struct load_type_count *row(const struct load_report *r, const char *type)
{
    for (int i = 0; i < r->ntypes; i++)
        if (strcmp(r->types[i].type, type) == 0)
            return &r->types[i];
    static const struct load_type_count zero;
    return &zero;
}

#define PATIENT_UUID "urn:uuid:6f1c8e0e-0000-4000-8000-000000000001"
static const char *TXN =
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
    "{\"fullUrl\":\"" PATIENT_UUID "\",\"resource\":{\"resourceType\":\"Patient\","
    "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765919\"}],"
    "\"name\":[{\"family\":\"Smith\",\"given\":[\"Anne\"]}],\"birthDate\":\"1970-01-31\"},"
    "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
    "{\"fullUrl\":\"urn:uuid:6f1c8e0e-0000-4000-8000-000000000002\",\"resource\":{"
    "\"resourceType\":\"Observation\",\"status\":\"final\",\"category\":[{\"coding\":[{"
    "\"code\":\"laboratory\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
    "\"code\":\"718-7\"}]},\"subject\":{\"reference\":\"" PATIENT_UUID "\"},"
    "\"effectiveDateTime\":\"2020-03-04T10:11:12.123+01:00\"},"
    "\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
    "{\"fullUrl\":\"urn:uuid:6f1c8e0e-0000-4000-8000-000000000003\",\"resource\":{"
    "\"resourceType\":\"Claim\",\"patient\":{\"reference\":\"" PATIENT_UUID "\"}},"
    "\"request\":{\"method\":\"POST\",\"url\":\"Claim\"}}]}";

static void test_transaction_refs_and_reload(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    load_report_init(&rep);
    json_t *b = parse(TXN), *resp = NULL;
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, &resp), 0);
    assert_int_equal(row(&rep, "Patient")->stored, 1);
    assert_int_equal(row(&rep, "Observation")->stored, 1);
    assert_int_equal(row(&rep, "Claim")->not_shareable, 1);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.persons_linked, 1);

    /* response: one entry per input, in order */
    assert_string_equal(json_string_value(json_object_get(resp, "type")), "transaction-response");
    json_t *re = json_object_get(resp, "entry");
    assert_int_equal(json_array_size(re), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(re, 0), "response"), "status")),
                        "201 Created");
    const char *loc = json_string_value(
        json_object_get(json_object_get(json_array_get(re, 1), "response"), "location"));
    assert_non_null(loc);
    assert_memory_equal(loc, "Observation/", 12);

    /* the observation is stored with the rewritten reference, linked person, columns */
    char pid[STORE_ID_LEN + 1], oid[STORE_ID_LEN + 1];
    store_resource_id("A81001", "Patient", "6f1c8e0e-0000-4000-8000-000000000001", pid);
    store_resource_id("A81001", "Observation", "6f1c8e0e-0000-4000-8000-000000000002", oid);
    struct store_row pr, orow;
    assert_int_equal(store_resource_get(s, "Patient", pid, 0, &pr), 0);
    assert_int_equal(store_resource_get(s, "Observation", oid, 0, &orow), 0);
    assert_non_null(pr.person_id);
    assert_string_equal(orow.person_id, pr.person_id);
    assert_string_equal(orow.category, "results");
    assert_string_equal(orow.code, "http://loinc.org|718-7");
    assert_string_equal(orow.effective, "2020-03-04T10:11:12");
    assert_string_equal(orow.status, "final");
    assert_string_equal(orow.source_org, "A81001");
    assert_string_equal(orow.feed, "gp-fhir");
    json_t *oj = parse(orow.json);
    char want[64];
    snprintf(want, sizeof want, "Patient/%s", pid);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(oj, "subject"), "reference")), want);
    assert_string_equal(json_string_value(json_object_get(oj, "id")), oid);
    json_t *meta = json_object_get(oj, "meta");
    assert_string_equal(json_string_value(json_object_get(meta, "source")),
                        "urn:weft:feed:A81001:gp-fhir");
    assert_string_equal(json_string_value(json_object_get(meta, "versionId")), "1");
    json_t *tag0 = json_array_get(json_object_get(meta, "tag"), 0);
    assert_string_equal(json_string_value(json_object_get(tag0, "system")),
                        "https://fhir.nhs.uk/Id/ods-organization-code");
    assert_string_equal(json_string_value(json_object_get(tag0, "code")), "A81001");
    json_decref(oj);
    /* the Patient is findable by its terms */
    struct store_term t[] = {{"identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919", false},
                             {"family", "smi", true}};
    struct store_query q = {.type = "Patient", .terms = t, .nterms = 2, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 1);
    store_result_clear(&r);
    store_row_clear(&pr);
    store_row_clear(&orow);
    json_decref(b);
    json_decref(resp);

    /* reload: all unchanged */
    struct load_report rep2;
    load_report_init(&rep2);
    b = parse(TXN);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep2, NULL), 0);
    assert_int_equal(row(&rep2, "Patient")->unchanged, 1);
    assert_int_equal(row(&rep2, "Observation")->unchanged, 1);
    assert_int_equal(row(&rep2, "Observation")->stored, 0);
    json_decref(b);

    /* a changed observation is a new version; the same data from another org is another item */
    char *changed = strdup(TXN);
    char *p = strstr(changed, "\"final\"");
    memcpy(p, "\"amend\"", 7);
    b = parse(changed);
    struct load_report rep3;
    load_report_init(&rep3);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep3, NULL), 0);
    assert_int_equal(row(&rep3, "Observation")->updated, 1);
    assert_int_equal(row(&rep3, "Patient")->unchanged, 1);
    json_decref(b);
    free(changed);
    b = parse(TXN);
    const struct load_ctx other = {.org = "RVV01"};
    struct load_report rep4;
    load_report_init(&rep4);
    assert_int_equal(fhir_load_bundle(s, b, &other, &rep4, NULL), 0);
    assert_int_equal(row(&rep4, "Observation")->stored, 1);
    json_decref(b);
    /* both Patients (same NHS number, two senders) are one person */
    char pid2[STORE_ID_LEN + 1];
    store_resource_id("RVV01", "Patient", "6f1c8e0e-0000-4000-8000-000000000001", pid2);
    char *p1 = NULL, *p2 = NULL;
    assert_int_equal(store_resource_person(s, "Patient", pid, &p1), 0);
    assert_int_equal(store_resource_person(s, "Patient", pid2, &p2), 0);
    assert_string_equal(p1, p2);
    free(p1);
    free(p2);
    load_report_free(&rep);
    load_report_free(&rep2);
    load_report_free(&rep3);
    load_report_free(&rep4);
}

/* A sender corrects its Patient's NHS number: the Patient's new version links
 * to another person and takes along that sender's items referring to it;
 * another sender's items stay with the person their own Patient names, and
 * the Patient's old version stays in its history. */
static void test_patient_relink_moves_items(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    load_report_init(&rep);
    static const struct load_ctx OTHER = {.org = "B82001", .feed = "other"};
    json_t *b = parse(TXN);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    json_decref(b);
    b = parse(TXN);
    assert_int_equal(fhir_load_bundle(s, b, &OTHER, &rep, NULL), 0);
    json_decref(b);
    char pid[STORE_ID_LEN + 1], oid[STORE_ID_LEN + 1], oid2[STORE_ID_LEN + 1];
    store_resource_id("A81001", "Patient", "6f1c8e0e-0000-4000-8000-000000000001", pid);
    store_resource_id("A81001", "Observation", "6f1c8e0e-0000-4000-8000-000000000002", oid);
    store_resource_id("B82001", "Observation", "6f1c8e0e-0000-4000-8000-000000000002", oid2);
    char *before = NULL, *after = NULL, *obs = NULL, *other = NULL;
    assert_int_equal(store_resource_person(s, "Observation", oid, &before), 0);

    const char *fix = "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
                      "{\"fullUrl\":\"" PATIENT_UUID "\",\"resource\":{\"resourceType\":"
                      "\"Patient\",\"identifier\":[{\"system\":"
                      "\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765811\"}],"
                      "\"name\":[{\"family\":\"Smith\",\"given\":[\"Anne\"]}],"
                      "\"birthDate\":\"1970-01-31\"},"
                      "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}";
    b = parse(fix);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    json_decref(b);
    assert_int_equal(store_resource_person(s, "Patient", pid, &after), 0);
    assert_string_not_equal(after, before);
    assert_int_equal(store_resource_person(s, "Observation", oid, &obs), 0);
    assert_string_equal(obs, after);
    assert_int_equal(store_resource_person(s, "Observation", oid2, &other), 0);
    assert_string_equal(other, before);
    struct store_row v1;
    assert_int_equal(store_resource_get(s, "Patient", pid, 1, &v1), 0);
    assert_string_equal(v1.person_id, before);
    store_row_clear(&v1);
    free(before);
    free(after);
    free(obs);
    free(other);
    load_report_free(&rep);
}

/* A concept with several codings: search finds the item by any of them,
 * with or without a system, whatever the case of the code. */
static void test_code_search_any_coding(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    load_report_init(&rep);
    const char *text =
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
        "{\"fullUrl\":\"" PATIENT_UUID "\",\"resource\":{\"resourceType\":\"Patient\","
        "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\","
        "\"value\":\"9434765919\"}]},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
        "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"hb1\",\"status\":\"final\","
        "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"718-7\"},"
        "{\"system\":\"http://acme.nhs.uk/lab\",\"code\":\"HB\"}]},"
        "\"subject\":{\"reference\":\"" PATIENT_UUID "\"}},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/hb1\"}},"
        "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"na1\",\"status\":\"final\","
        "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2951-2\"}]},"
        "\"subject\":{\"reference\":\"" PATIENT_UUID "\"}},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/na1\"}}]}";
    json_t *b = parse(text);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    json_decref(b);
    assert_int_equal(row(&rep, "Observation")->stored, 2);
    static const char *const want_hb[] = {
        "http://loinc.org|718-7",   "718-7", "http://acme.nhs.uk/lab|HB", "HB", "hb",
        "http://acme.nhs.uk/lab|hb"};
    for (size_t i = 0; i < sizeof want_hb / sizeof want_hb[0]; i++) {
        const char *codes[] = {want_hb[i]};
        struct store_query q = {
            .type = "Observation", .codes = codes, .ncodes = 1, .want_total = true};
        struct store_result r;
        assert_int_equal(store_search(s, &q, &r), 0);
        if (r.total != 1)
            fail_msg("code %s: %lld results, want 1", want_hb[i], (long long)r.total);
        assert_string_equal(r.rows[0].source_id, "hb1");
        store_result_clear(&r);
    }
    static const char *const none[] = {"http://other|HB", "http://loinc.org|HB", "XX"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        const char *codes[] = {none[i]};
        struct store_query q = {
            .type = "Observation", .codes = codes, .ncodes = 1, .want_total = true};
        struct store_result r;
        assert_int_equal(store_search(s, &q, &r), 0);
        if (r.total != 0)
            fail_msg("code %s: %lld results, want 0", none[i], (long long)r.total);
        store_result_clear(&r);
    }
    const char *both[] = {"HB", "2951-2"};
    struct store_query q = {.type = "Observation", .codes = both, .ncodes = 2, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 2);
    store_result_clear(&r);
    load_report_free(&rep);
}

static void test_transaction_all_or_nothing(void **state)
{
    struct store *s = *state;
    const char *bad =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"fullUrl\":\"urn:uuid:a1\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\"}},"
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"c1\","
        "\"subject\":{\"reference\":\"urn:uuid:missing\"}}}]}";
    json_t *b = parse(bad), *resp = NULL;
    struct load_report rep;
    load_report_init(&rep);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, &resp), WEFT_EINVAL);
    assert_int_equal(rep.rejected, 2);
    assert_int_equal(rep.nrejections, 2);
    /* the broken entry names its reference; the other says why it was not stored */
    int found = 0;
    for (int i = 0; i < rep.nrejections; i++) {
        if (rep.rejections[i].entry == 1) {
            assert_non_null(strstr(rep.rejections[i].reason, "urn:uuid:missing"));
            found++;
        } else {
            assert_int_equal(rep.rejections[i].entry, 0);
            assert_non_null(strstr(rep.rejections[i].reason, "transaction failed at entry 1"));
            found++;
        }
    }
    assert_int_equal(found, 2);
    char pid[STORE_ID_LEN + 1];
    store_resource_id("A81001", "Patient", "p1", pid);
    assert_int_equal(store_resource_person(s, "Patient", pid, NULL), WEFT_ENOTFOUND);
    json_decref(b);
    json_decref(resp);
    load_report_free(&rep);
}

static void test_batch_partial_and_earlier_refs(void **state)
{
    struct store *s = *state;
    const char *first = "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
                        "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"gp-42\"}}]}";
    json_t *b = parse(first);
    struct load_report rep;
    load_report_init(&rep);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    json_decref(b);
    /* later: references to Patient/gp-42 sent before; one broken, one bad id, one no type */
    const char *second =
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
        "{\"resource\":{\"resourceType\":\"AllergyIntolerance\",\"id\":\"al-1\","
        "\"patient\":{\"reference\":\"Patient/gp-42\"}}},"
        "{\"resource\":{\"resourceType\":\"AllergyIntolerance\",\"id\":\"al-2\","
        "\"patient\":{\"reference\":\"Patient/never-sent\"}}},"
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"bad id!\"}},"
        "{\"resource\":{\"id\":\"x\"}},"
        "{\"resource\":{\"resourceType\":\"Flag\",\"id\":\"f1\",\"subject\":{\"identifier\":{"
        "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765919\"}},"
        "\"code\":{\"text\":\"Safeguarding concern\"}}},"
        "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/nobody\"}}]}";
    b = parse(second);
    struct load_report rep2;
    load_report_init(&rep2);
    json_t *resp = NULL;
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep2, &resp), 0);
    assert_int_equal(row(&rep2, "AllergyIntolerance")->stored, 1);
    assert_int_equal(row(&rep2, "AllergyIntolerance")->rejected, 1);
    assert_int_equal(row(&rep2, "Flag")->stored, 1);
    assert_int_equal(rep2.rejected, 4);
    const char *want[] = {"Patient/never-sent", "id is not valid", "no resourceType",
                          "nothing of that id"};
    long idx[] = {1, 2, 3, 5};
    for (int k = 0; k < 4; k++) {
        bool ok = false;
        for (int i = 0; i < rep2.nrejections; i++)
            if (rep2.rejections[i].entry == idx[k] && strstr(rep2.rejections[i].reason, want[k]))
                ok = true;
        if (!ok)
            fail_msg("no rejection of entry %ld mentioning '%s'", idx[k], want[k]);
    }
    json_t *r1 = json_object_get(json_array_get(json_object_get(resp, "entry"), 1), "response");
    assert_string_equal(json_string_value(json_object_get(r1, "status")), "400 Bad Request");
    assert_non_null(json_object_get(r1, "outcome"));
    /* the allergy is linked to the GP patient's person; the flag by NHS number, safeguarding */
    char pat[33], al[33], fl[33];
    store_resource_id("A81001", "Patient", "gp-42", pat);
    store_resource_id("A81001", "AllergyIntolerance", "al-1", al);
    store_resource_id("A81001", "Flag", "f1", fl);
    char *pp = NULL, *ap = NULL;
    assert_int_equal(store_resource_person(s, "Patient", pat, &pp), 0);
    assert_int_equal(store_resource_person(s, "AllergyIntolerance", al, &ap), 0);
    assert_non_null(pp);
    assert_string_equal(pp, ap);
    struct store_row fr;
    assert_int_equal(store_resource_get(s, "Flag", fl, 0, &fr), 0);
    assert_string_equal(fr.category, "safeguarding");
    assert_non_null(fr.person_id);
    store_row_clear(&fr);
    free(pp);
    free(ap);
    json_decref(b);
    json_decref(resp);

    /* DELETE of something sent: a deleted version */
    const char *del = "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
                      "{\"request\":{\"method\":\"DELETE\",\"url\":\"AllergyIntolerance/al-1\"}}]}";
    b = parse(del);
    struct load_report rep3;
    load_report_init(&rep3);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep3, NULL), 0);
    assert_int_equal(row(&rep3, "AllergyIntolerance")->deleted, 1);
    assert_int_equal(store_resource_person(s, "AllergyIntolerance", al, NULL), WEFT_ENOTFOUND);
    json_decref(b);
    load_report_free(&rep);
    load_report_free(&rep2);
    load_report_free(&rep3);
}

static void test_conditional_reference(void **state)
{
    struct store *s = *state;
    json_t *b = parse(TXN);
    struct load_report rep;
    load_report_init(&rep);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    json_decref(b);
    b = parse(
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"cc1\",\"subject\":{"
        "\"reference\":\"Patient?identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%"
        "7C9434765919\"}}},"
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"cc2\",\"subject\":{"
        "\"reference\":\"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9999999999\"}}},"
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"cc3\",\"subject\":{"
        "\"reference\":\"Patient?name=Smith\"}}}]}");
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    assert_int_equal(row(&rep, "Condition")->stored, 1);
    assert_int_equal(row(&rep, "Condition")->rejected, 2);
    char cid[33], pid[33];
    store_resource_id("A81001", "Condition", "cc1", cid);
    store_resource_id("A81001", "Patient", "6f1c8e0e-0000-4000-8000-000000000001", pid);
    struct store_row cr;
    assert_int_equal(store_resource_get(s, "Condition", cid, 0, &cr), 0);
    char want[64];
    snprintf(want, sizeof want, "\"reference\":\"Patient/%s\"", pid);
    assert_non_null(strstr(cr.json, want));
    assert_non_null(cr.person_id);
    store_row_clear(&cr);
    bool none = false, unsupported = false;
    for (int i = 0; i < rep.nrejections; i++) {
        none |= strstr(rep.rejections[i].reason, "matches no Patient") != NULL;
        unsupported |= strstr(rep.rejections[i].reason, "not supported") != NULL;
    }
    assert_true(none);
    assert_true(unsupported);
    json_decref(b);
    load_report_free(&rep);
}

static void test_limits_and_bad_bundles(void **state)
{
    struct store *s = *state;
    /* a 10 MB string field: that entry rejected, nothing else lost */
    size_t big = 10u << 20;
    char *text = malloc(big + 200);
    int n = snprintf(text, 200,
                     "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"resource\":{"
                     "\"resourceType\":\"Goal\",\"id\":\"g1\"}},{\"resource\":{"
                     "\"resourceType\":\"Goal\",\"id\":\"g2\",\"note\":[{\"text\":\"");
    memset(text + n, 'x', big);
    memcpy(text + n + big, "\"}]}}]}", 8);
    json_t *b = parse(text);
    free(text);
    struct load_report rep;
    load_report_init(&rep);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    assert_int_equal(row(&rep, "Goal")->stored, 1);
    assert_int_equal(row(&rep, "Goal")->rejected, 1);
    assert_non_null(strstr(rep.rejections[0].reason, "MB limit"));
    json_decref(b);

    b = parse("{\"resourceType\":\"Bundle\",\"type\":\"searchset\"}");
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), WEFT_EINVAL);
    json_decref(b);
    b = parse("{\"resourceType\":\"Patient\"}");
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), WEFT_EINVAL);
    json_decref(b);
    b = parse("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":{}}");
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), WEFT_EINVAL);
    json_decref(b);
    /* duplicates inside one bundle */
    b = parse("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
              "{\"resource\":{\"resourceType\":\"Goal\",\"id\":\"d\"}},"
              "{\"resource\":{\"resourceType\":\"Goal\",\"id\":\"d\"}}]}");
    long before = rep.rejected;
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    assert_int_equal(rep.rejected, before + 1);
    json_decref(b);
    load_report_free(&rep);
}

static void test_invalid_nhs_kept_flagged(void **state)
{
    struct store *s = *state;
    json_t *b =
        parse("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
              "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok\",\"identifier\":[{"
              "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765919\"}]}},"
              "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"typo\",\"identifier\":[{"
              "\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9434765918\"}]}}]}");
    struct load_report rep;
    load_report_init(&rep);
    assert_int_equal(fhir_load_bundle(s, b, &GP, &rep, NULL), 0);
    assert_int_equal(rep.invalid_nhs, 1);
    assert_int_equal(row(&rep, "Patient")->stored, 2);
    char a[33], c[33];
    store_resource_id("A81001", "Patient", "ok", a);
    store_resource_id("A81001", "Patient", "typo", c);
    struct store_row ra, rc;
    assert_int_equal(store_resource_get(s, "Patient", a, 0, &ra), 0);
    assert_int_equal(store_resource_get(s, "Patient", c, 0, &rc), 0);
    assert_string_not_equal(ra.person_id, rc.person_id);
    assert_non_null(strstr(rc.json, "\"9434765918\""));
    assert_non_null(strstr(rc.json, "invalid-nhs-number"));
    assert_null(strstr(ra.json, "invalid-nhs-number"));
    store_row_clear(&ra);
    store_row_clear(&rc);
    json_decref(b);
    load_report_free(&rep);
}

/* A group of files commits once it has locked LOAD_GROUP_KEYS keys:
 * PostgreSQL holds advisory locks to the commit in one shared table (6,400
 * by default), and a 1,000,000-person region's hospital folder, one group
 * of up to 50,000 entries of new Patients with their identity's blocking
 * keys locked, filled it ("out of shared memory", the load stopped).
 * 3,000 new Patients matched on demographics, a bundle a file in one
 * folder: the loading session is watched from another connection as the
 * files go by and never holds many more than LOAD_GROUP_KEYS advisory locks
 * (without the bound it held thousands).  SQLite locks nothing: its writers
 * take turns. */
struct lockwatch {
    PGconn *c;
    int calls;
    long max;
};

static void watch_locks(void *arg, const struct load_report *rep, long long done, long long total)
{
    (void)rep, (void)done, (void)total;
    struct lockwatch *w = arg;
    if (!w->c || ++w->calls % 50)
        return;
    PGresult *r = PQexec(w->c, "SELECT count(*) FROM pg_locks l JOIN pg_database d"
                               " ON d.oid = l.database WHERE l.locktype = 'advisory'"
                               " AND d.datname = current_database()"
                               " AND l.pid <> pg_backend_pid()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        long n = atol(PQgetvalue(r, 0, 0));
        if (n > w->max)
            w->max = n;
    }
    PQclear(r);
}

static void test_group_keys_bounded(void **state)
{
    struct store *s = *state;
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s.keys", dbpath);
    mkdir(dir, 0700);
    const char cons[] = "BCDFGKLMNPRSTVZ";
    int n = 3000;
    for (int i = 0; i < n; i++) {
        char fam[8], giv[8];
        for (int k = 0, v = i; k < 4; k++, v /= 15)
            fam[k] = cons[v % 15], giv[k] = cons[(v + k + 7) % 15];
        fam[4] = giv[4] = 0;
        snprintf(path, sizeof path, "%s/%05d.json", dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f,
                "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"fullUrl\":"
                "\"urn:uuid:%08d-0000-4000-8000-000000000000\",\"resource\":{\"resourceType\":"
                "\"Patient\",\"id\":\"k%d\",\"name\":[{\"family\":\"A%s\",\"given\":[\"E%s\"]}],"
                "\"gender\":\"female\",\"birthDate\":\"%04d-%02d-%02d\",\"address\":[{"
                "\"postalCode\":\"LS%d %d%c%c\"}]},\"request\":{\"method\":\"PUT\",\"url\":"
                "\"Patient/k%d\"}}]}",
                i, i, fam, giv, 1920 + i % 86, i / 86 % 12 + 1, i / 1032 % 28 + 1, i % 99, i % 10,
                'A' + i / 10 % 26, 'A' + i / 260 % 26, i);
        fclose(f);
    }
    const char *url = testdb_pg();
    struct lockwatch w = {.c = url ? PQconnectdb(url) : NULL};
    if (w.c)
        assert_int_equal(PQstatus(w.c), CONNECTION_OK);
    struct load_report rep;
    load_report_init(&rep);
    const char *paths[] = {dir};
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, watch_locks, &w), 0);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(row(&rep, "Patient")->stored, n);
    load_report_free(&rep);
    if (w.c) {
        fprintf(stderr, "group keys: at most %ld advisory locks held while loading (bound %d)\n",
                w.max, LOAD_GROUP_KEYS);
        assert_true(w.max > 0); /* the watch sees the loader's locks */
        assert_true(w.max <= LOAD_GROUP_KEYS + 16);
        PQfinish(w.c);
    } else {
        fprintf(stderr, "test_group_keys_bounded: the lock count is PostgreSQL's (SQLite locks "
                        "nothing); loaded only\n");
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%05d.json", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

static void test_files(void **state)
{
    struct store *s = *state;
    char dir[300], f1[400], f2[400], f3[400];
    snprintf(dir, sizeof dir, "%s.files", dbpath);
    mkdir(dir, 0700);
    snprintf(f1, sizeof f1, "%s/a.ndjson", dir);
    snprintf(f2, sizeof f2, "%s/b.json", dir);
    snprintf(f3, sizeof f3, "%s/c.json", dir);
    FILE *f = fopen(f1, "w");
    fputs("{\"resourceType\":\"Patient\",\"id\":\"n1\"}\n\n"
          "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"subject\":{\"reference\":"
          "\"Patient/n1\"}}\n"
          "{\"resourceType\":\"Encounter\",\"id\":\"e2\"\n",
          f);
    fclose(f);
    f = fopen(f2, "w");
    fputs("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"resource\":{", f);
    fclose(f);
    f = fopen(f3, "w");
    fputs("{\"resourceType\":\"Immunization\",\"id\":\"i1\"}", f);
    fclose(f);
    struct load_report rep;
    load_report_init(&rep);
    const char *paths[] = {dir};
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, NULL, NULL), 0);
    assert_int_equal(rep.files, 3);
    assert_int_equal(row(&rep, "Patient")->stored, 1);
    assert_int_equal(row(&rep, "Encounter")->stored, 1);
    assert_int_equal(row(&rep, "Immunization")->stored, 1);
    assert_int_equal(rep.rejected, 2);
    bool line4 = false, trunc = false;
    for (int i = 0; i < rep.nrejections; i++) {
        if (strstr(rep.rejections[i].file, "a.ndjson") && rep.rejections[i].entry == 4)
            line4 = true;
        if (strstr(rep.rejections[i].file, "b.json") && rep.rejections[i].entry == -1 &&
            strstr(rep.rejections[i].reason, "line 1"))
            trunc = true;
    }
    assert_true(line4);
    assert_true(trunc);
    load_report_free(&rep);
    unlink(f1);
    unlink(f2);
    unlink(f3);
    rmdir(dir);
}

/* ---- a group's bundles, their puts sent together (load_int.h, struct load_defer) ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define GB_PATIENT(sid, extra)                                                                     \
    "{\"fullUrl\":\"urn:uuid:" sid "\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"" sid   \
    "\",\"name\":[{\"family\":\"Group\",\"given\":[\"" sid "\"]}]" extra "}}"
#define GB_OBS(sid, subject, status)                                                               \
    "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"" sid "\",\"status\":\"" status      \
    "\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"718-7\"}]},"             \
    "\"subject\":{\"reference\":\"" subject "\"},\"effectiveDateTime\":\"2024-01-02\"}}"
#define GB_TXN(...)                                                                                \
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[" __VA_ARGS__ "]}"

/* What the store holds for type/source id of GP: its version (0: nothing)
 * and its person (caller frees; NULL when none). */
static int stored_version(struct store *s, const char *type, const char *sid, char **person)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id(GP.org, type, sid, id);
    struct store_row r;
    if (store_resource_get(s, type, id, 0, &r) != 0) {
        if (person)
            *person = NULL;
        return 0;
    }
    int v = r.version;
    if (person)
        *person = r.person_id ? strdup(r.person_id) : NULL;
    store_row_clear(&r);
    return v;
}

/* The bundles of one `weft load` group: their puts wait and go to the store
 * together, yet each bundle stands or falls alone.  In the middle of the
 * group a bundle whose Patient the store refuses (its id holds another
 * type: only the batch put can tell) must be rejected whole - its
 * Observation not stored - while the bundles before and after it are
 * stored; a bundle the loader itself refuses likewise; a bundle reading an
 * earlier bundle's Patient from the store, and one naming an id still
 * held, see the earlier puts. */
static void test_group_batched_puts(void **state)
{
    struct store *s = *state;
    /* an Observation stored under the id the Patient "gb-clash" derives to */
    char clash_id[STORE_ID_LEN + 1];
    store_resource_id(GP.org, "Patient", "gb-clash", clash_id);
    char json[128];
    snprintf(json, sizeof json, "{\"resourceType\":\"Observation\",\"id\":\"%s\"}", clash_id);
    struct store_put p = {.type = "Observation",
                          .source_org = "X99999",
                          .source_id = "x1",
                          .category = "results",
                          .json = json,
                          .json_len = strlen(json),
                          .id = clash_id};
    enum store_put_outcome oc;
    char got[STORE_ID_LEN + 1];
    assert_int_equal(store_resource_put(s, &p, &oc, got, NULL), 0);

    char dir[300];
    snprintf(dir, sizeof dir, "%s.group", dbpath);
    mkdir(dir, 0700);
    write_file(dir, "01.json",
               GB_TXN(GB_PATIENT("gb-p1", ",\"identifier\":[{\"system\":"
                                          "\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":"
                                          "\"9434765919\"}]") "," GB_OBS("gb-o1", "urn:uuid:gb-p1",
                                                                         "final")));
    write_file(dir, "02.json",
               GB_TXN(GB_PATIENT("gb-p2", "") "," GB_OBS("gb-o2", "urn:uuid:gb-p2", "final")));
    write_file(
        dir, "03.json",
        GB_TXN(GB_OBS("gb-o3", "urn:uuid:gb-clash", "final") "," GB_PATIENT("gb-clash", "")));
    write_file(
        dir, "04.json",
        GB_TXN(GB_PATIENT("gb-p4", "") "," GB_OBS("gb-o4", "urn:uuid:gb-p4", "final") "," GB_OBS(
            "gb-o4b", "Patient/gb-nope", "final")));
    write_file(dir, "05.json",
               GB_TXN(GB_PATIENT("gb-p5", "") "," GB_OBS("gb-o5", "urn:uuid:gb-p5", "final")));
    write_file(dir, "06.json", GB_TXN(GB_OBS("gb-o6", "Patient/gb-p5", "final")));
    write_file(dir, "07.json",
               GB_TXN(GB_PATIENT("gb-p7", "") "," GB_OBS("gb-o7", "urn:uuid:gb-p7", "final")));
    write_file(dir, "08.json",
               GB_TXN(GB_PATIENT("gb-p7", ",\"gender\":\"female\"") "," GB_OBS(
                   "gb-o8", "urn:uuid:gb-p7", "final")));

    struct load_report rep;
    load_report_init(&rep);
    const char *paths[] = {dir};
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, NULL, NULL), 0);
    assert_int_equal(rep.files, 8);
    assert_int_equal(rep.bundles, 8);
    assert_int_equal(rep.entries, 16);
    /* 03 (2 entries) and 04 (3 entries) rejected whole */
    assert_int_equal(rep.rejected, 5);
    assert_int_equal(row(&rep, "Patient")->stored, 4);       /* p1 p2 p5 p7 */
    assert_int_equal(row(&rep, "Patient")->updated, 1);      /* p7 again, while held */
    assert_int_equal(row(&rep, "Observation")->stored, 6);   /* o1 o2 o5 o6 o7 o8 */
    assert_int_equal(row(&rep, "Patient")->rejected, 2);     /* clash, p4 */
    assert_int_equal(row(&rep, "Observation")->rejected, 3); /* o3, o4, o4b */
    /* every Patient resolved, those of refused bundles too (as without
     * batching: counted in pass 2) */
    assert_int_equal(rep.persons_linked, 7);
    bool clash = false, failed_at = false, nope = false;
    for (int i = 0; i < rep.nrejections; i++) {
        const struct load_rejection *j = &rep.rejections[i];
        if (strstr(j->file, "03.json") && j->entry == 1 && strstr(j->reason, "already holds"))
            clash = true;
        if (strstr(j->file, "03.json") && j->entry == 0 &&
            strstr(j->reason, "the transaction failed at entry 1"))
            failed_at = true;
        if (strstr(j->file, "04.json") && j->entry == 2 && strstr(j->reason, "gb-nope"))
            nope = true;
    }
    assert_true(clash);
    assert_true(failed_at);
    assert_true(nope);
    /* the refused bundles left nothing; the others are all there */
    assert_int_equal(stored_version(s, "Observation", "gb-o3", NULL), 0);
    assert_int_equal(stored_version(s, "Patient", "gb-p4", NULL), 0);
    assert_int_equal(stored_version(s, "Observation", "gb-o4", NULL), 0);
    char *pp1, *po1, *pp5, *po6, *pp7, *po8;
    assert_int_equal(stored_version(s, "Patient", "gb-p1", &pp1), 1);
    assert_int_equal(stored_version(s, "Observation", "gb-o1", &po1), 1);
    assert_int_equal(stored_version(s, "Observation", "gb-o2", NULL), 1);
    assert_int_equal(stored_version(s, "Patient", "gb-p5", &pp5), 1);
    assert_int_equal(stored_version(s, "Observation", "gb-o5", NULL), 1);
    assert_int_equal(stored_version(s, "Observation", "gb-o6", &po6), 1);
    assert_int_equal(stored_version(s, "Patient", "gb-p7", &pp7), 2);
    assert_int_equal(stored_version(s, "Observation", "gb-o7", NULL), 1);
    assert_int_equal(stored_version(s, "Observation", "gb-o8", &po8), 1);
    assert_non_null(pp1);
    assert_non_null(pp5);
    assert_non_null(pp7);
    assert_string_equal(po1, pp1);
    assert_string_equal(po6, pp5); /* its Patient read from the store */
    assert_string_equal(po8, pp7);
    free(pp1);
    free(po1);
    free(pp5);
    free(po6);
    free(pp7);
    free(po8);
    /* the stored Observation under the clashing id is untouched */
    struct store_row r;
    assert_int_equal(store_resource_get(s, "Observation", clash_id, 0, &r), 0);
    assert_int_equal(r.version, 1);
    store_row_clear(&r);
    load_report_free(&rep);

    /* again: the same two bundles refused, the rest unchanged but p7, which
     * 07 and 08 change again */
    load_report_init(&rep);
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, NULL, NULL), 0);
    assert_int_equal(rep.rejected, 5);
    assert_int_equal(row(&rep, "Patient")->unchanged, 3);
    assert_int_equal(row(&rep, "Patient")->updated, 2);
    assert_int_equal(row(&rep, "Observation")->unchanged, 6);
    assert_int_equal(row(&rep, "Observation")->stored + row(&rep, "Observation")->updated, 0);
    assert_int_equal(stored_version(s, "Patient", "gb-p7", NULL), 4);
    load_report_free(&rep);
    const char *names[] = {"01", "02", "03", "04", "05", "06", "07", "08"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* A Patient with demographics (no NHS number), and one of them with one:
 * matched, and merged, by the master person index. */
#define MX_PATIENT(sid, extra)                                                                     \
    "{\"fullUrl\":\"urn:uuid:" sid "\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"" sid   \
    "\"" extra "}}"
#define MX_DEMOG                                                                                   \
    ",\"name\":[{\"family\":\"Wrenhollow\",\"given\":[\"Aldous\",\"James\"]}],\"gender\":"         \
    "\"male\",\"birthDate\":\"1961-03-14\",\"address\":[{\"line\":[\"12 Orchard Way\"],"           \
    "\"city\":\"Maidstone\",\"postalCode\":\"ME14 2QT\"}]"

/* A bundle that merges persons while earlier bundles of the group are held
 * (not yet stored): the merge moves the retired person's items to the
 * survivor, and the held ones must be among them.  01 stores a Patient
 * without an NHS number, 02 another person, 03 a Patient with an NHS number
 * and 01's demographics, which the master person index merges with 01's
 * person: 01's Patient and Observation must end on 03's person. */
static void test_group_merge_while_held(void **state)
{
    struct store *s = *state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s.merge", dbpath);
    mkdir(dir, 0700);
    write_file(dir, "01.json",
               GB_TXN(MX_PATIENT("mx-a", MX_DEMOG) "," GB_OBS("mx-oa", "urn:uuid:mx-a", "final")));
    write_file(dir, "02.json",
               GB_TXN(GB_PATIENT("mx-b", "") "," GB_OBS("mx-ob", "urn:uuid:mx-b", "final")));
    write_file(
        dir, "03.json",
        GB_TXN(MX_PATIENT("mx-c", ",\"identifier\":[{\"system\":"
                                  "\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":"
                                  "\"9434765919\"}]" MX_DEMOG) "," GB_OBS("mx-oc", "urn:uuid:mx-c",
                                                                          "final")));
    struct load_report rep;
    load_report_init(&rep);
    const char *paths[] = {dir};
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, NULL, NULL), 0);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(row(&rep, "Patient")->stored, 3);
    assert_int_equal(row(&rep, "Observation")->stored, 3);
    assert_int_equal(rep.persons_linked, 3);
    char *pa, *poa, *pb, *pc, *poc;
    assert_int_equal(stored_version(s, "Patient", "mx-a", &pa), 1);
    assert_int_equal(stored_version(s, "Observation", "mx-oa", &poa), 1);
    assert_int_equal(stored_version(s, "Patient", "mx-b", &pb), 1);
    assert_int_equal(stored_version(s, "Patient", "mx-c", &pc), 1);
    assert_int_equal(stored_version(s, "Observation", "mx-oc", &poc), 1);
    assert_non_null(pc);
    assert_non_null(pb);
    assert_string_equal(poc, pc);
    assert_string_equal(pa, pc); /* merged into the NHS number's person */
    assert_string_equal(poa, pc);
    assert_string_not_equal(pb, pc);
    free(pa);
    free(poa);
    free(pb);
    free(pc);
    free(poc);
    load_report_free(&rep);
    const char *names[] = {"01", "02", "03"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* A bundle that merges persons takes the audit chain's lock (its audit
 * entry) and the analytics change list's (the moved items), which every
 * other writer and every node's audited reads wait for until the
 * transaction ends: the group commits after that file, not 50,000 entries
 * later.  Watched from another connection at each bundle: the loading
 * session holds the audit chain's lock (advisory key 7700414802: classid
 * 1, objid 3405447506) at the merging bundle and no longer at the file
 * after it.  PostgreSQL only (SQLite's writers take turns; it loads). */
struct chainwatch {
    PGconn *c;
    int n;
    bool held[16];
};

static void watch_chain(void *arg, const struct load_report *rep, long long done, long long total)
{
    (void)rep, (void)done, (void)total;
    struct chainwatch *w = arg;
    if (!w->c || w->n >= 16)
        return;
    PGresult *r = PQexec(w->c, "SELECT count(*) FROM pg_locks l JOIN pg_database d"
                               " ON d.oid = l.database WHERE l.locktype = 'advisory'"
                               " AND l.classid = 1 AND l.objid = 3405447506 AND l.objsubid = 1"
                               " AND l.granted AND d.datname = current_database()");
    w->held[w->n++] = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
}

static void test_group_commits_after_merge(void **state)
{
    struct store *s = *state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s.mergecommit", dbpath);
    mkdir(dir, 0700);
    write_file(dir, "01.json", GB_TXN(MX_PATIENT("mc-a", MX_DEMOG)));
    write_file(dir, "02.json",
               GB_TXN(MX_PATIENT("mc-c", ",\"identifier\":[{\"system\":"
                                         "\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":"
                                         "\"9434765919\"}]" MX_DEMOG)));
    write_file(dir, "03.json", GB_TXN(GB_PATIENT("mc-d", "")));
    const char *url = testdb_pg();
    struct chainwatch w = {.c = url ? PQconnectdb(url) : NULL};
    struct load_report rep;
    load_report_init(&rep);
    const char *paths[] = {dir};
    assert_int_equal(fhir_load_paths(s, paths, 1, &GP, &rep, watch_chain, &w), 0);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(row(&rep, "Patient")->stored, 3);
    char *pa, *pc;
    assert_int_equal(stored_version(s, "Patient", "mc-a", &pa), 1);
    assert_int_equal(stored_version(s, "Patient", "mc-c", &pc), 1);
    assert_non_null(pa);
    assert_non_null(pc);
    assert_string_equal(pa, pc); /* merged */
    free(pa);
    free(pc);
    load_report_free(&rep);
    if (w.c) {
        fprintf(stderr, "audit chain lock at each bundle:");
        for (int i = 0; i < w.n; i++)
            fprintf(stderr, " %d", w.held[i]);
        fprintf(stderr, "\n");
        assert_true(w.n >= 3);
        bool seen = false;
        for (int i = 0; i < w.n - 1; i++)
            seen = seen || w.held[i];
        assert_true(seen);             /* the watch sees the merge's lock */
        assert_false(w.held[w.n - 1]); /* the file after it: committed */
        PQfinish(w.c);
    }
    const char *names[] = {"01", "02", "03"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- _keepAbsent: omitted elements keep the stored value ------------------------------ */

static const struct load_ctx PAS = {.org = "RVV", .feed = "rvv-hl7v2"};

/* Map an HL7 v2 message as the MLLP feed does and load it; the response
 * bundle's text is checked for the private member. */
static void load_hl7(struct store *s, const char *text, struct load_report *rep)
{
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error perr;
    if (hl7_msg_parse(m, text, strlen(text), 0, &perr))
        fail_msg("parse: %s", perr.text);
    struct hl7_map_opts o = {.ods = "RVV"};
    struct hl7_map_result r;
    assert_int_equal(hl7_map_message(m, &o, &r), 0);
    load_report_init(rep);
    json_t *resp = NULL;
    assert_int_equal(fhir_load_bundle(s, r.bundle, &PAS, rep, &resp), 0);
    assert_int_equal(rep->rejected, 0);
    char *t = json_dumps(resp, 0);
    assert_null(strstr(t, "_keepAbsent"));
    free(t);
    t = json_dumps(r.bundle, 0); /* removed from the entry once used */
    assert_null(strstr(t, "_keepAbsent"));
    free(t);
    json_decref(resp);
    hl7_map_result_clear(&r);
    hl7_msg_free(m);
}

/* The current version of Patient source_id of org: *version set, JSON
 * returned (caller json_decref's it); never holds the private member. */
static json_t *current_of(struct store *s, const char *type, const char *org, const char *source_id,
                          int version, int *version_out)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id(org, type, source_id, id);
    struct store_row row;
    assert_int_equal(store_resource_get(s, type, id, version, &row), 0);
    assert_null(strstr(row.json, "_keepAbsent"));
    json_t *j = parse(row.json);
    if (version_out)
        *version_out = row.version;
    store_row_clear(&row);
    return j;
}

static json_t *current(struct store *s, const char *org, const char *source_id, int version,
                       int *version_out)
{
    return current_of(s, "Patient", org, source_id, version, version_out);
}

static const char *str_at(json_t *j, const char *a, int i, const char *b)
{
    json_t *v = json_object_get(j, a);
    if (i >= 0)
        v = json_array_get(v, (size_t)i);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

#define HL7_MSH(type, ctl) "MSH|^~\\&|PAS|RVV|WEFT|WEFT|20260612093000||" type "|" ctl "|P|2.4\r"

static void test_keep_absent_hl7(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
    /* the PAS admits: full demographics */
    load_hl7(
        s,
        HL7_MSH("ADT^A01^ADT_A01",
                "K1") "EVN|A01|20260612092900\r"
                      "PID|1||H777^^^RVV^MR||Smith^John||19700101|M|||1 High St^^Canterbury^^CT1 "
                      "1AA^^H||"
                      "01227 000000\rPD1|||Practice^^G82001\rNK1|1|Smith^Jane|SPO^Spouse^HL70063\r"
                      "PV1|1|I|WARD1||||||||||||||||V777\r",
        &rep);
    assert_int_equal(row(&rep, "Patient")->stored, 1);
    load_report_free(&rep);
    json_t *p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 1);
    assert_string_equal(str_at(p, "address", 0, "postalCode"), "CT1 1AA");
    json_decref(p);

    /* the lab's result: PID without address, phone, PD1, NK1 -> the same Patient */
    load_hl7(
        s,
        HL7_MSH("ORU^R01^ORU_R01",
                "K2") "PID|1||H777^^^RVV^MR||Smith^John||19700101|M\r"
                      "OBR|1||LAB777|24326-1^Electrolytes^LN|||20260612080000||||||||||||||||CH|F\r"
                      "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F\r",
        &rep);
    assert_int_equal(row(&rep, "Patient")->unchanged, 1);
    assert_int_equal(row(&rep, "Patient")->updated, 0);
    assert_int_equal(row(&rep, "Observation")->stored, 1);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 1);
    assert_string_equal(str_at(p, "address", 0, "postalCode"), "CT1 1AA");
    assert_string_equal(str_at(p, "telecom", 0, "value"), "01227 000000");
    json_decref(p);

    /* the same thin PID again (the writer's memo of that merge answers):
     * still unchanged, still version 1 with the address */
    load_hl7(
        s,
        HL7_MSH(
            "ORU^R01^ORU_R01",
            "K2b") "PID|1||H777^^^RVV^MR||Smith^John||19700101|M\r"
                   "OBR|1||LAB778|24326-1^Electrolytes^LN|||20260612081000||||||||||||||||CH|F\r"
                   "OBX|1|NM|2951-2^Sodium^LN||140|mmol/L^mmol/L^UCUM|133-146|N|||F\r",
        &rep);
    assert_int_equal(row(&rep, "Patient")->unchanged, 1);
    assert_int_equal(row(&rep, "Patient")->updated, 0);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 1);
    assert_string_equal(str_at(p, "address", 0, "postalCode"), "CT1 1AA");
    json_decref(p);

    /* an update with PID-11 "" (the HL7 null): a new version without address;
     * phone, GP and next of kin (omitted) stay */
    load_hl7(
        s,
        HL7_MSH("ADT^A08^ADT_A01", "K3") "EVN|A08|20260612100000\r"
                                         "PID|1||H777^^^RVV^MR||Smith^John||19700101|M|||\"\"\r",
        &rep);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 2);
    assert_null(json_object_get(p, "address"));
    assert_string_equal(str_at(p, "telecom", 0, "value"), "01227 000000");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(p, "contact"), 0), "name"), "family")),
        "Smith");
    assert_non_null(json_object_get(p, "generalPractitioner"));
    assert_string_equal(str_at(p, "gender", -1, NULL), "male");
    json_decref(p);
    /* the thin PID once more, now against version 2: nothing to change (no
     * address comes back from version 1 or from the memo of that merge) */
    load_hl7(
        s,
        HL7_MSH(
            "ORU^R01^ORU_R01",
            "K3b") "PID|1||H777^^^RVV^MR||Smith^John||19700101|M\r"
                   "OBR|1||LAB779|24326-1^Electrolytes^LN|||20260612101000||||||||||||||||CH|F\r"
                   "OBX|1|NM|2951-2^Sodium^LN||141|mmol/L^mmol/L^UCUM|133-146|N|||F\r",
        &rep);
    assert_int_equal(row(&rep, "Patient")->unchanged, 1);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 2);
    assert_null(json_object_get(p, "address"));
    json_decref(p);
    p = current(s, "RVV", "mr-H777", 1, NULL); /* history keeps the address */
    assert_string_equal(str_at(p, "address", 0, "postalCode"), "CT1 1AA");
    json_decref(p);

    /* a feed that omits sex and date of birth but changes the name: a new
     * version that keeps both, indexed as merged (birthdate search finds it) */
    load_hl7(s, HL7_MSH("ADT^A08^ADT_A01", "K4") "PID|1||H777^^^RVV^MR||Smith^Johnny\r", &rep);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H777", 0, &v);
    assert_int_equal(v, 3);
    assert_string_equal(str_at(p, "gender", -1, NULL), "male");
    assert_string_equal(str_at(p, "birthDate", -1, NULL), "1970-01-01");
    assert_null(json_object_get(p, "address")); /* cleared above, stays cleared */
    json_decref(p);
    struct store_term t[] = {{"birthdate", "1970-01-01", false}, {"given", "Johnny", false}};
    struct store_query q = {.type = "Patient", .terms = t, .nterms = 2, .want_total = true};
    struct store_result r;
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.total, 1);
    store_result_clear(&r);
}

/* Any feed: a FHIR bundle whose entry names omitted elements. */
static int load_json(struct store *s, const char *text, struct load_report *rep)
{
    json_t *b = parse(text), *resp = NULL;
    load_report_init(rep);
    int rc = fhir_load_bundle(s, b, &GP, rep, &resp);
    char *t = json_dumps(resp, JSON_COMPACT); /* the member, not a reason naming it */
    assert_null(strstr(t, "\"_keepAbsent\":"));
    free(t);
    json_decref(resp);
    json_decref(b);
    return rc;
}

#define ONE_PATIENT(keep, body)                                                                    \
    "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{" keep "\"resource\":{"           \
    "\"resourceType\":\"Patient\",\"id\":\"k1\",\"identifier\":[{\"system\":\"urn:x\","            \
    "\"value\":\"k1\"}]" body "},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/k1\"}}]}"

/* The writer's memo of a merge is keyed by what is stored: after the stored
 * Patient changes, the same thin PID is merged again, not answered from it. */
static void test_keep_absent_memo(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
    const char *thin = "PID|1||H888^^^RVV^MR||Smith^Ann||19800101|F\r";
    load_hl7(s,
             HL7_MSH("ADT^A01^ADT_A01", "M1") "EVN|A01|20260612092900\r"
                                              "PID|1||H888^^^RVV^MR||Smith^Ann||19800101|F|||"
                                              "2 Low St^^Canterbury^^CT2 2BB\r",
             &rep);
    load_report_free(&rep);
    for (int k = 0; k < 2; k++) {
        struct buf b = BUF_INIT;
        buf_addf(&b,
                 HL7_MSH("ORU^R01^ORU_R01", "M2-%d") "%sOBR|1||L88%d|24326-1^E^LN\r"
                                                     "OBX|1|NM|2951-2^Na^LN||139|mmol/L|||||F\r",
                 k, thin, k);
        load_hl7(s, b.data, &rep);
        buf_release(&b);
        assert_int_equal(row(&rep, "Patient")->unchanged, 1);
        load_report_free(&rep);
    }
    /* the PAS corrects the family name */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M3") "EVN|A08|20260612100000\r"
                                              "PID|1||H888^^^RVV^MR||Smyth^Ann||19800101|F|||"
                                              "2 Low St^^Canterbury^^CT2 2BB\r",
             &rep);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);
    /* the lab's thin PID still says Smith: the latest message wins for what it
     * carries (a new version), the address is kept */
    struct buf b = BUF_INIT;
    buf_addf(&b,
             HL7_MSH("ORU^R01^ORU_R01", "M4") "%sOBR|1||L889|24326-1^E^LN\r"
                                              "OBX|1|NM|2951-2^Na^LN||140|mmol/L|||||F\r",
             thin);
    load_hl7(s, b.data, &rep);
    buf_release(&b);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);
    json_t *p = current(s, "RVV", "mr-H888", 0, &v);
    assert_int_equal(v, 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(p, "name"), 0), "family")),
        "Smith");
    assert_string_equal(str_at(p, "address", 0, "postalCode"), "CT2 2BB");
    json_decref(p);
}

/* The Encounter follows the same rule: a discharge without PV1-44 keeps the
 * admission time, an A08 restating the patient does not reopen the stay or
 * change its class, location or times; a cancelled discharge (A13) opens it. */
static void test_keep_absent_encounter(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
    load_hl7(s,
             HL7_MSH("ADT^A01^ADT_A01", "E1") "EVN|A01|20260612092900\r"
                                              "PID|1||H900^^^RVV^MR||Brown^Al||19500101|M\r"
                                              "PV1|1|I|WARD9^BED2||||||||||||||||V900||||||||||||"
                                              "|||||||||||||||20260612092900\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->stored, 1);
    load_report_free(&rep);
    /* discharge: PV1-45 only */
    load_hl7(s,
             HL7_MSH("ADT^A03^ADT_A03", "E2") "EVN|A03|20260613100000\r"
                                              "PID|1||H900^^^RVV^MR||Brown^Al||19500101|M\r"
                                              "PV1|1|I|||||||||||||||||V900|||||||||||||||||||||"
                                              "||||20260613100000\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->updated, 1);
    load_report_free(&rep);
    json_t *e = current_of(s, "Encounter", "RVV", "enc-V900", 0, &v);
    assert_int_equal(v, 2);
    assert_string_equal(str_at(e, "status", -1, NULL), "finished");
    assert_non_null(str_at(e, "period", -1, "start"));
    assert_non_null(str_at(e, "period", -1, "end"));
    assert_non_null(json_object_get(e, "location"));
    json_decref(e);
    /* an A08 with a bare PV1 (visit number only): nothing of the stay changes */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "E3") "EVN|A08|20260614080000\r"
                                              "PID|1||H900^^^RVV^MR||Brown^Al||19500101|M\r"
                                              "PV1|1||||||||||||||||||V900\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->unchanged, 1);
    load_report_free(&rep);
    e = current_of(s, "Encounter", "RVV", "enc-V900", 0, &v);
    assert_int_equal(v, 2);
    assert_string_equal(str_at(e, "status", -1, NULL), "finished");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "class"), "code")),
                        "IMP");
    json_decref(e);
    /* discharge cancelled: open again, the admission time kept */
    load_hl7(s,
             HL7_MSH("ADT^A13^ADT_A01", "E4") "EVN|A13|20260614090000\r"
                                              "PID|1||H900^^^RVV^MR||Brown^Al||19500101|M\r"
                                              "PV1|1|I|||||||||||||||||V900\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->updated, 1);
    load_report_free(&rep);
    e = current_of(s, "Encounter", "RVV", "enc-V900", 0, &v);
    assert_int_equal(v, 3);
    assert_string_equal(str_at(e, "status", -1, NULL), "in-progress");
    assert_non_null(str_at(e, "period", -1, "start"));
    assert_null(str_at(e, "period", -1, "end"));
    json_decref(e);
    /* a new stay first heard of by an A08: it still gets a status and class */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "E5") "EVN|A08|20260614100000\r"
                                              "PID|1||H900^^^RVV^MR||Brown^Al||19500101|M\r"
                                              "PV1|1||||||||||||||||||V901\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->stored, 1);
    load_report_free(&rep);
    e = current_of(s, "Encounter", "RVV", "enc-V901", 0, &v);
    assert_string_equal(str_at(e, "status", -1, NULL), "in-progress");
    assert_non_null(json_object_get(e, "class"));
    json_decref(e);
}

/* Allergies and appointments: an update that omits fields keeps them. */
static void test_keep_absent_allergy_appointment(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
    load_hl7(
        s,
        HL7_MSH("ADT^A01^ADT_A01", "G1") "EVN|A01|20260612092900\r"
                                         "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r"
                                         "AL1|1|DA|DRUG1^Penicillin^L|SV|Rash~Swelling|20200101\r",
        &rep);
    assert_int_equal(row(&rep, "AllergyIntolerance")->stored, 1);
    load_report_free(&rep);
    /* the allergy restated with its code only */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "G2") "EVN|A08|20260613092900\r"
                                              "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r"
                                              "AL1|1||DRUG1^Penicillin^L\r",
             &rep);
    assert_int_equal(row(&rep, "AllergyIntolerance")->unchanged, 1);
    load_report_free(&rep);
    json_t *a = current_of(s, "AllergyIntolerance", "RVV", "alg-mr-H950-DRUG1", 0, &v);
    assert_int_equal(v, 1);
    assert_string_equal(str_at(a, "criticality", -1, NULL), "high");
    assert_non_null(json_object_get(a, "reaction"));
    json_decref(a);
    /* the severity downgraded: criticality goes, the reaction stays */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "G3") "EVN|A08|20260614092900\r"
                                              "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r"
                                              "AL1|1||DRUG1^Penicillin^L|MI\r",
             &rep);
    assert_int_equal(row(&rep, "AllergyIntolerance")->updated, 1);
    load_report_free(&rep);
    a = current_of(s, "AllergyIntolerance", "RVV", "alg-mr-H950-DRUG1", 0, &v);
    assert_null(json_object_get(a, "criticality"));
    assert_non_null(json_object_get(a, "reaction"));
    json_decref(a);

    /* an appointment booked in full, then modified with its ids only */
    load_hl7(s,
             "MSH|^~\\&|PAS|RVV|W|W|20260301101500||SIU^S12|S1|P|2.5\r"
             "SCH|PA9|FA9||||ROUTINE^Routine visit|FOLLOWUP^Follow-up^L|NORMAL|30|min|"
             "^^30^202603101000^202603101030\r"
             "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r"
             "AIL|1||CLINIC1^ROOM2\rAIP|1||C1^Who^Doctor\r",
             &rep);
    assert_int_equal(row(&rep, "Appointment")->stored, 1);
    load_report_free(&rep);
    load_hl7(s,
             "MSH|^~\\&|PAS|RVV|W|W|20260302101500||SIU^S14|S2|P|2.5\r"
             "SCH|PA9|FA9\r"
             "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r",
             &rep);
    assert_int_equal(row(&rep, "Appointment")->unchanged, 1);
    load_report_free(&rep);
    json_t *ap = current_of(s, "Appointment", "RVV", "appt-FA9", 0, &v);
    assert_int_equal(v, 1);
    assert_non_null(str_at(ap, "start", -1, NULL));
    assert_int_equal(json_array_size(json_object_get(ap, "participant")), 3);
    json_decref(ap);
    /* cancelled: a new version, the times kept, the patient declined */
    load_hl7(s,
             "MSH|^~\\&|PAS|RVV|W|W|20260303101500||SIU^S15|S3|P|2.5\r"
             "SCH|PA9|FA9\r"
             "PID|1||H950^^^RVV^MR||Grey^Bo||19600101|M\r",
             &rep);
    assert_int_equal(row(&rep, "Appointment")->updated, 1);
    load_report_free(&rep);
    ap = current_of(s, "Appointment", "RVV", "appt-FA9", 0, &v);
    assert_int_equal(v, 2);
    assert_string_equal(str_at(ap, "status", -1, NULL), "cancelled");
    assert_non_null(str_at(ap, "start", -1, NULL));
    json_decref(ap);
}

static void test_keep_absent_any_feed(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
    /* nothing stored yet: nothing to copy, the member is not stored */
    assert_int_equal(load_json(s,
                               ONE_PATIENT("\"_keepAbsent\":[\"gender\"],",
                                           ",\"birthDate\":\"1970-01-31\",\"_birthDate\":{"
                                           "\"extension\":[{\"url\":\"urn:x\",\"valueCode\":"
                                           "\"approx\"}]},\"deceasedDateTime\":\"2020-01-01\""),
                               &rep),
                     0);
    assert_int_equal(row(&rep, "Patient")->stored, 1);
    load_report_free(&rep);
    json_t *p = current(s, "A81001", "k1", 0, &v);
    assert_null(json_object_get(p, "gender"));
    json_decref(p);
    assert_int_equal(load_json(s,
                               ONE_PATIENT("", ",\"gender\":\"female\",\"birthDate\":\"1970-01-31\""
                                               ",\"_birthDate\":{\"extension\":[{\"url\":\"urn:x\","
                                               "\"valueCode\":\"approx\"}]},"
                                               "\"deceasedDateTime\":\"2020-01-01\""),
                               &rep),
                     0);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);

    /* gender, birthDate (with its extension twin) and deceased[x] omitted: unchanged */
    assert_int_equal(
        load_json(s, ONE_PATIENT("\"_keepAbsent\":[\"gender\",\"birthDate\",\"deceased[x]\"],", ""),
                  &rep),
        0);
    assert_int_equal(row(&rep, "Patient")->unchanged, 1);
    load_report_free(&rep);

    /* deceased[x] sent as another choice: not copied; birthDate not listed: gone */
    assert_int_equal(load_json(s,
                               ONE_PATIENT("\"_keepAbsent\":[\"gender\",\"deceased[x]\"],",
                                           ",\"deceasedBoolean\":true"),
                               &rep),
                     0);
    assert_int_equal(row(&rep, "Patient")->updated, 1);
    load_report_free(&rep);
    p = current(s, "A81001", "k1", 0, &v);
    assert_int_equal(v, 3);
    assert_string_equal(str_at(p, "gender", -1, NULL), "female");
    assert_true(json_is_true(json_object_get(p, "deceasedBoolean")));
    assert_null(json_object_get(p, "deceasedDateTime"));
    assert_null(json_object_get(p, "birthDate"));
    assert_null(json_object_get(p, "_birthDate"));
    json_decref(p);

    /* a malformed list rejects the entry */
    const char *bad[] = {"\"_keepAbsent\":\"gender\",",        "\"_keepAbsent\":[42],",
                         "\"_keepAbsent\":[\"meta\"],",        "\"_keepAbsent\":[\"id\"],",
                         "\"_keepAbsent\":[\"deceased[y]\"],", "\"_keepAbsent\":[\"Gender\"],"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{%s\"resource\":{"
                 "\"resourceType\":\"Patient\",\"id\":\"k1\"}}]}",
                 bad[i]);
        assert_int_equal(load_json(s, text, &rep), 0);
        assert_int_equal(rep.rejected, 1);
        assert_non_null(strstr(rep.rejections[0].reason, "_keepAbsent"));
        load_report_free(&rep);
    }

    /* a deleted item: nothing is copied from it */
    assert_int_equal(load_json(s,
                               "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{"
                               "\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/k1\"}}]}",
                               &rep),
                     0);
    assert_int_equal(row(&rep, "Patient")->deleted, 1);
    load_report_free(&rep);
    assert_int_equal(load_json(s, ONE_PATIENT("\"_keepAbsent\":[\"gender\"],", ""), &rep), 0);
    assert_int_equal(rep.rejected, 0);
    load_report_free(&rep);
    p = current(s, "A81001", "k1", 0, NULL);
    assert_null(json_object_get(p, "gender"));
    json_decref(p);
}

/* Issue 15's mapping gaps: DG1 and PR1 keep what an update omits and clear
 * on ""; an admission without a visit number or admit time still records
 * the stay; a restated ward of a finished stay is not active; a thin PID
 * keeps the NHS number. */
static void test_feeds_mapping_gaps(void **state)
{
    struct store *s = *state;
    struct load_report rep;
    int v;
#define PID_K "PID|1||H960^^^RVV^MR||Green^Di||19550101|F\r"
    load_hl7(s,
             HL7_MSH("ADT^A01^ADT_A01", "M1") "EVN|A01|20260612092900\r" PID_K
                                              "PV1|1|I|WARD1||||||||||||||||V960\r"
                                              "DG1|1||I10^Hypertension^I10||20260101|F\r"
                                              "PR1|1||P123^Appendicectomy^OPCS||20260102||||||"
                                              "S1^Cutter^Sam\r",
             &rep);
    assert_int_equal(row(&rep, "Condition")->stored, 1);
    assert_int_equal(row(&rep, "Procedure")->stored, 1);
    load_report_free(&rep);
    /* restated by code (and date) only: nothing changes */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M2") "EVN|A08|20260613092900\r" PID_K
                                              "PV1|1|I|WARD1||||||||||||||||V960\r"
                                              "DG1|1||I10^Hypertension^I10\r"
                                              "PR1|1||P123^Appendicectomy^OPCS||20260102\r",
             &rep);
    assert_int_equal(row(&rep, "Condition")->unchanged, 1);
    assert_int_equal(row(&rep, "Procedure")->unchanged, 1);
    load_report_free(&rep);
    json_t *c = current_of(s, "Condition", "RVV", "dx-enc-V960-I10", 0, &v);
    assert_int_equal(v, 1);
    assert_non_null(json_object_get(c, "verificationStatus"));
    assert_non_null(json_object_get(c, "recordedDate"));
    json_decref(c);
    json_t *pr = current_of(s, "Procedure", "RVV", "proc-enc-V960-P123-2026-01-02", 0, &v);
    assert_int_equal(v, 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(pr, "performer"), 0), "actor"),
            "display")),
        "Sam Cutter");
    json_decref(pr);
    /* the HL7 null clears them */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M3") "EVN|A08|20260614092900\r" PID_K
                                              "PV1|1|I|WARD1||||||||||||||||V960\r"
                                              "DG1|1||I10^Hypertension^I10||\"\"|\"\"\r"
                                              "PR1|1||P123^Appendicectomy^OPCS||20260102||||||"
                                              "\"\"\r",
             &rep);
    assert_int_equal(row(&rep, "Condition")->updated, 1);
    assert_int_equal(row(&rep, "Procedure")->updated, 1);
    load_report_free(&rep);
    c = current_of(s, "Condition", "RVV", "dx-enc-V960-I10", 0, &v);
    assert_int_equal(v, 2);
    assert_null(json_object_get(c, "verificationStatus"));
    assert_null(json_object_get(c, "recordedDate"));
    json_decref(c);
    pr = current_of(s, "Procedure", "RVV", "proc-enc-V960-P123-2026-01-02", 0, &v);
    assert_int_equal(v, 2);
    assert_null(json_object_get(pr, "performer"));
    json_decref(pr);

    /* an A01 with neither PV1-19 nor PV1-44: the stay keyed by EVN-2 ... */
    load_hl7(s, HL7_MSH("ADT^A01^ADT_A01", "M4") "EVN|A01|20260615080000\r" PID_K "PV1|1|I|WARD4\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->stored, 1);
    load_report_free(&rep);
    load_hl7(s, HL7_MSH("ADT^A01^ADT_A01", "M4") "EVN|A01|20260615080000\r" PID_K "PV1|1|I|WARD4\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->unchanged, 1); /* a repeat: the same stay */
    load_report_free(&rep);
    /* ... else by MSH-7 (an A04 without EVN); it starts then */
    load_hl7(s, HL7_MSH("ADT^A04^ADT_A01", "M5") PID_K "PV1|1|O|CLINIC\r", &rep);
    assert_int_equal(row(&rep, "Encounter")->stored, 1);
    load_report_free(&rep);
    char src[96];
    snprintf(src, sizeof src, "enc-mr-H960-2026-06-12T09-30-00-01-00");
    json_t *e = current_of(s, "Encounter", "RVV", src, 0, &v);
    assert_string_equal(str_at(e, "period", -1, "start"), "2026-06-12T09:30:00+01:00");
    json_decref(e);

    /* the location follows the stay: a finished stay's ward restated */
    load_hl7(s,
             HL7_MSH("ADT^A03^ADT_A03", "M6") "EVN|A03|20260616100000\r" PID_K
                                              "PV1|1|I|WARD1||||||||||||||||V960|||||||||||||||||||"
                                              "||||||20260616100000\r",
             &rep);
    load_report_free(&rep);
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M7") "EVN|A08|20260617100000\r" PID_K
                                              "PV1|1|I|WARD2||||||||||||||||V960\r",
             &rep);
    assert_int_equal(row(&rep, "Encounter")->updated, 1);
    load_report_free(&rep);
    e = current_of(s, "Encounter", "RVV", "enc-V960", 0, &v);
    assert_string_equal(str_at(e, "status", -1, NULL), "finished");
    assert_string_equal(
        str_at(json_array_get(json_object_get(e, "location"), 0), "location", -1, "display"),
        "WARD2");
    assert_string_equal(str_at(e, "location", 0, "status"), "completed");
    json_decref(e);
    /* a new stay first heard of by an A08 gets an active location */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M8") "EVN|A08|20260617100000\r" PID_K
                                              "PV1|1|I|WARD3||||||||||||||||V961\r",
             &rep);
    load_report_free(&rep);
    e = current_of(s, "Encounter", "RVV", "enc-V961", 0, &v);
    assert_string_equal(str_at(e, "location", 0, "status"), "active");
    json_decref(e);

    /* the PAS sends the NHS number; the lab's thin PID has the hospital
     * number only: no new Patient version, the NHS number stays */
    load_hl7(s,
             HL7_MSH("ADT^A08^ADT_A01", "M9") "EVN|A08|20260618100000\r"
                                              "PID|1||9434765919^^^NHS^NH~H960^^^RVV^MR||Green^Di||"
                                              "19550101|F\r",
             &rep);
    load_report_free(&rep);
    json_t *p = current(s, "RVV", "mr-H960", 0, &v);
    int before = v;
    assert_int_equal(json_array_size(json_object_get(p, "identifier")), 2);
    json_decref(p);
    load_hl7(s,
             "MSH|^~\\&|LAB|RVV|WEFT|WEFT|20260618110000||ORU^R01^ORU_R01|M10|P|2.4\r"
             "PID|1||H960^^^RVV^MR\r"
             "OBR|1||LAB1|24326-1^Electrolytes^LN|||20260618080000||||||||||||||||CH|F\r"
             "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F\r",
             &rep);
    assert_int_equal(row(&rep, "Patient")->unchanged, 1);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H960", 0, &v);
    assert_int_equal(v, before);
    assert_int_equal(json_array_size(json_object_get(p, "identifier")), 2);
    json_decref(p);
    /* a corrected NHS number replaces the old one (same system) */
    load_hl7(
        s,
        HL7_MSH("ADT^A08^ADT_A01", "M11") "EVN|A08|20260619100000\r"
                                          "PID|1||9000000009^^^NHS^NH~H960^^^RVV^MR||Green^Di||"
                                          "19550101|F\r",
        &rep);
    load_report_free(&rep);
    p = current(s, "RVV", "mr-H960", 0, &v);
    json_t *ids = json_object_get(p, "identifier");
    assert_int_equal(json_array_size(ids), 2);
    bool corrected = false, old_nhs = false;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        corrected = corrected || !strcmp(str_at(id, "value", -1, NULL), "9000000009");
        old_nhs = old_nhs || !strcmp(str_at(id, "value", -1, NULL), "9434765919");
    }
    assert_true(corrected && !old_nhs);
    json_decref(p);
#undef PID_K
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transaction_refs_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_relink_moves_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_search_any_coding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_partial_and_earlier_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_bad_bundles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_nhs_kept_flagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_batched_puts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_keys_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commits_after_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_merge_while_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_absent_hl7, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_absent_any_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_absent_memo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_absent_encounter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_absent_allergy_appointment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feeds_mapping_gaps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
