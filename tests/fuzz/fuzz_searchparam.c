/*
 * fuzz_searchparam.c - libFuzzer target for matching one resource against
 * one specification search parameter (fhir/searchparam.h): value parsing,
 * path evaluation, every type's matching, the text pre-check and sort keys.
 *
 * Input: "Type name[:modifier]=value\n" then a JSON resource.  The
 * parameter is looked up in the generated table (unknown ones stop there).
 * Checked invariants, any violation aborts:
 *   - a refused value has a message naming the parameter;
 *   - the text pre-check never rules out a resource that matches
 *     (fhir_sp_may_match is false only when fhir_sp_match is false);
 *   - matching and sort keys are deterministic (twice the same answer) and
 *     a sort key is a NUL-terminated string within its buffer.
 * Seeds: tests/fuzz/corpus/fuzz_searchparam/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "fhir/searchparam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    if (!nl || (size_t)((const uint8_t *)nl - data) >= 200)
        return 0;
    char head[200];
    size_t hl = (size_t)((const uint8_t *)nl - data);
    memcpy(head, data, hl);
    head[hl] = 0;
    if (strlen(head) != hl)
        return 0;
    char *sp1 = strchr(head, ' ');
    char *eq = sp1 ? strchr(sp1, '=') : NULL;
    if (!sp1 || !eq)
        return 0;
    *sp1 = 0;
    *eq = 0;
    char *name = sp1 + 1, *value = eq + 1;
    char *colon = strchr(name, ':');
    if (colon)
        *colon++ = 0;
    const struct fhir_sp *sp = fhir_sp_find(head, name);
    if (!sp)
        return 0;
    int mod = FHIR_SP_MOD_NONE;
    const char *ref_type = NULL;
    if (colon && (mod = fhir_sp_mod_parse(sp, colon, &ref_type)) < 0)
        return 0;
    const char *json = nl + 1;
    size_t jlen = size - hl - 1;
    json_error_t e;
    json_t *r = json_loadb(json, jlen, 0, &e);
    struct fhir_sp_filter f;
    char err[256] = "";
    int rc = fhir_sp_filter_parse(&f, sp, (enum fhir_sp_mod)mod, ref_type, value, err, sizeof err);
    if (rc != 0) {
        if (rc != WEFT_EINVAL || !strstr(err, sp->code))
            abort();
    } else if (r) {
        bool m = fhir_sp_match(&f, r);
        if (m != fhir_sp_match(&f, r))
            abort();
        if (m && !fhir_sp_may_match(&f, json, jlen))
            abort();
        char k1[64], k2[64];
        fhir_sp_sort_key(sp, r, m, k1, sizeof k1);
        fhir_sp_sort_key(sp, r, m, k2, sizeof k2);
        if (memchr(k1, 0, sizeof k1) == NULL || strcmp(k1, k2) != 0)
            abort();
    }
    fhir_sp_filter_free(&f);
    json_decref(r);
    return 0;
}
