/* test_shape.c - result shaping (fhir/shape.h) on one resource: _summary
 * (true, text, data) keeps what the R4 definitions mark isSummary / the
 * mandatory elements / everything but text, _elements keeps the named and
 * the mandatory elements, each cut resource is tagged SUBSETTED and a
 * whole one is passed through byte for byte; the parameters are taken out
 * of a search (the rest left for fhir/search.c) with clear errors; and the
 * references an _include follows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/shape.h"

static const char *obs =
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"meta\":{\"versionId\":\"1\","
    "\"tag\":[{\"system\":\"s\",\"code\":\"c\"}]},\"text\":{\"status\":\"generated\",\"div\":"
    "\"<div/>\"},\"status\":\"final\",\"_status\":{\"extension\":[]},\"category\":[{\"text\":"
    "\"vital-signs\"}],\"code\":{\"text\":\"pulse\"},\"subject\":{\"reference\":\"Patient/p1\"},"
    "\"encounter\":{\"reference\":\"Encounter/e1\"},\"effectiveDateTime\":\"2024-03-01\","
    "\"valueQuantity\":{\"value\":72},\"interpretation\":[{\"text\":\"normal\"}],\"note\":[{"
    "\"text\":\"resting\"}],\"performer\":[{\"reference\":\"Practitioner/x1\"},{\"reference\":"
    "\"https://elsewhere.example/fhir/Practitioner/x2\"},{\"reference\":\"#contained\"}]}";

/* The keys of the shaped resource, sorted and space-separated. */
static char *shaped_keys(const struct fhir_shape *sh, bool *subsetted)
{
    struct buf out = BUF_INIT;
    assert_int_equal(fhir_shape_resource(sh, obs, strlen(obs), &out), 0);
    json_t *r = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(r);
    const char *names[64];
    int n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) names[n++] = k;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                const char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    struct buf keys = BUF_INIT;
    for (int i = 0; i < n; i++)
        buf_addf(&keys, "%s%s", i ? " " : "", names[i]);
    *subsetted = false;
    json_t *tags = json_object_get(json_object_get(r, "meta"), "tag");
    size_t i;
    json_array_foreach(tags, i, v) if (strcmp(json_string_value(json_object_get(v, "code")),
                                              "SUBSETTED") == 0) *subsetted = true;
    if (*subsetted) /* the tag is added to those the resource had */
        assert_int_equal(json_array_size(tags), 2);
    json_decref(r);
    buf_release(&out);
    return buf_detach(&keys, NULL);
}

static void take(struct fhir_shape *sh, const char *name, const char *value, int want_rc)
{
    struct url_kv args[1] = {{(char *)name, (char *)value}}, *rest = NULL;
    int nrest = -1;
    assert_int_equal(fhir_shape_take(sh, false, args, 1, &rest, &nrest), want_rc);
    free(rest);
}

static void test_summary(void **state)
{
    (void)state;
    struct fhir_shape sh;
    bool sub;
    take(&sh, "_summary", "true", 0);
    char *k = shaped_keys(&sh, &sub);
    /* isSummary in R4: status code subject encounter effective[x] value[x]
     * performer; not text, category, interpretation, note */
    assert_string_equal(k, "_status code effectiveDateTime encounter id meta performer "
                           "resourceType status subject valueQuantity");
    assert_true(sub);
    free(k);
    fhir_shape_free(&sh);

    take(&sh, "_summary", "text", 0);
    k = shaped_keys(&sh, &sub);
    assert_string_equal(k, "_status code id meta resourceType status text");
    assert_true(sub);
    free(k);
    fhir_shape_free(&sh);

    take(&sh, "_summary", "data", 0);
    k = shaped_keys(&sh, &sub);
    assert_null(strstr(k, "text"));
    assert_non_null(strstr(k, "note"));
    assert_non_null(strstr(k, "interpretation"));
    assert_true(sub);
    free(k);
    fhir_shape_free(&sh);

    /* count and false are fhir/search.c's: passed on, nothing cut */
    struct url_kv args[2] = {{"_summary", "count"}, {"patient", "p1"}}, *rest = NULL;
    int nrest = 0;
    assert_int_equal(fhir_shape_take(&sh, false, args, 2, &rest, &nrest), 0);
    assert_int_equal(nrest, 2);
    assert_false(fhir_shape_subsets(&sh));
    struct buf out = BUF_INIT;
    assert_int_equal(fhir_shape_resource(&sh, obs, strlen(obs), &out), 0);
    assert_int_equal(out.len, strlen(obs));
    assert_memory_equal(out.data, obs, out.len); /* whole: byte for byte */
    buf_release(&out);
    free(rest);
    fhir_shape_free(&sh);
}

static void test_elements(void **state)
{
    (void)state;
    struct fhir_shape sh;
    bool sub;
    take(&sh, "_elements", "id,code", 0);
    char *k = shaped_keys(&sh, &sub);
    /* status is mandatory (min 1): kept with its extension */
    assert_string_equal(k, "_status code id meta resourceType status");
    assert_true(sub);
    free(k);
    fhir_shape_free(&sh);
    take(&sh, "_elements", "value,note", 0); /* value names value[x] */
    k = shaped_keys(&sh, &sub);
    assert_string_equal(k, "_status code id meta note resourceType status valueQuantity");
    free(k);
    fhir_shape_free(&sh);
    take(&sh, "_elements", "id,,code", WEFT_EINVAL);
    fhir_shape_free(&sh);
    struct url_kv both[2] = {{"_elements", "id"}, {"_summary", "true"}}, *rest = NULL;
    int nrest;
    assert_int_equal(fhir_shape_take(&sh, false, both, 2, &rest, &nrest), WEFT_EINVAL);
    assert_non_null(strstr(sh.err, "cannot be combined"));
    free(rest);
    fhir_shape_free(&sh);
}

static void test_include_params(void **state)
{
    (void)state;
    struct fhir_shape sh;
    take(&sh, "_include", "MedicationRequest:medication", 0);
    assert_int_equal(sh.ninc, 1);
    assert_false(sh.inc[0].rev || sh.inc[0].iterate);
    assert_string_equal(sh.inc[0].param, "medication");
    fhir_shape_free(&sh);
    take(&sh, "_revinclude:iterate", "Observation:encounter:Encounter", 0);
    assert_true(sh.inc[0].rev && sh.inc[0].iterate);
    assert_string_equal(sh.inc[0].target, "Encounter");
    fhir_shape_free(&sh);
    take(&sh, "_include", "Observation:*", 0);
    fhir_shape_free(&sh);
    take(&sh, "_include", "Observation:colour", WEFT_EINVAL);
    assert_non_null(strstr(sh.err, "colour"));
    fhir_shape_free(&sh);
    take(&sh, "_include", "Observation", WEFT_EINVAL);
    fhir_shape_free(&sh);
    take(&sh, "_include", "Nothing:subject", WEFT_EINVAL);
    fhir_shape_free(&sh);
    take(&sh, "_include:deep", "Observation:subject", WEFT_EINVAL);
    fhir_shape_free(&sh);
}

struct got {
    char list[512];
};
static void collect(void *ctx, const char *type, const char *id)
{
    struct got *g = ctx;
    size_t n = strlen(g->list);
    snprintf(g->list + n, sizeof g->list - n, "%s%s/%s", n ? " " : "", type, id);
}

static void test_refs(void **state)
{
    (void)state;
    struct got g = {""};
    fhir_shape_refs("Observation", "encounter", NULL, obs, strlen(obs), collect, &g);
    assert_string_equal(g.list, "Encounter/e1");
    memset(&g, 0, sizeof g);
    /* absolute and contained references are not followed */
    fhir_shape_refs("Observation", "performer", NULL, obs, strlen(obs), collect, &g);
    assert_string_equal(g.list, "Practitioner/x1");
    memset(&g, 0, sizeof g);
    fhir_shape_refs("Observation", "subject", "Group", obs, strlen(obs), collect, &g);
    assert_string_equal(g.list, "");
    memset(&g, 0, sizeof g);
    fhir_shape_refs("Observation", "*", NULL, obs, strlen(obs), collect, &g);
    assert_non_null(strstr(g.list, "Patient/p1"));
    assert_non_null(strstr(g.list, "Encounter/e1"));
    assert_non_null(strstr(g.list, "Practitioner/x1"));
    /* a choice element: MedicationRequest.medication as Reference */
    const char *mr = "{\"resourceType\":\"MedicationRequest\",\"medicationReference\":{"
                     "\"reference\":\"Medication/m1\"}}";
    memset(&g, 0, sizeof g);
    fhir_shape_refs("MedicationRequest", "medication", NULL, mr, strlen(mr), collect, &g);
    assert_string_equal(g.list, "Medication/m1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_include_params),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
