/*
 * fuzz_jload.c - differential libFuzzer target for the loader's in-place JSON
 * scanner (fhir/jload.h) against jansson's json_loadb.
 *
 * The contract of jload_parse is "either NULL (let jansson decide) or exactly
 * the tree json_loadb(JSON_REJECT_DUPLICATES) builds".  So for every input:
 *   - if jload_parse returns a tree, json_loadb must accept the input too and
 *     the two trees must be json_equal, with the same key order (compared
 *     through their serialisation without sorting);
 *   - jload_loadb must succeed exactly when json_loadb does.
 * Any difference aborts.  Seeds: tests/fuzz/corpus/fuzz_jload/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir/jload.h"

static int same_text(const json_t *a, const json_t *b)
{
    char *sa = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    char *sb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    int same = sa && sb && strcmp(sa, sb) == 0;
    free(sa);
    free(sb);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    json_t *fast = jload_parse((const char *)data, size);
    if (fast) {
        if (!ref || !json_equal(fast, ref) || !same_text(fast, ref))
            abort();
    }
    json_t *both = jload_loadb((const char *)data, size, &err);
    if ((both == NULL) != (ref == NULL))
        abort();
    if (both && !json_equal(both, ref))
        abort();
    json_decref(both);
    json_decref(fast);
    json_decref(ref);
    return 0;
}
