/*
 * hl7_map_keep.c - omitted fields and the HL7 null (see the top of hl7_map.c):
 * what a field's value says about the element it maps to, and the
 * LOAD_KEEP_ABSENT list the loader honours.
 */
#include "feeds/hl7_map_int.h"

#include "fhir/load.h"

/* Presence of a sent value: P_VALUED when any repetition, component or
 * subcomponent holds something other than white space or "". */
static enum presence presence_span(const struct hl7_delims *d, struct hl7_span v)
{
    enum presence p = P_OMITTED;
    size_t i = 0;
    while (i < v.len) {
        size_t j = i;
        while (j < v.len && v.p[j] != d->rep && v.p[j] != d->comp && v.p[j] != d->sub)
            j++;
        struct hl7_span a = span_trim((struct hl7_span){v.p + i, j - i});
        if (hl7_span_is_null(a))
            p = P_NULL;
        else if (a.len)
            return P_VALUED;
        i = j + 1;
    }
    return p;
}

/* Presence of field f of segment seg (P_OMITTED when either is not there). */
enum presence hm_presence(struct mctx *c, long seg, size_t f)
{
    struct hl7_span v;
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, 0, 0, 0, &v))
        return P_OMITTED;
    return presence_span(c->d, v);
}

/* The rule for one Patient element made from fields whose presences are
 * p[0..n-1]: when the mapping set it (set), nothing to do; else, when a
 * field was the HL7 null, the element is cleared (left out, not listed);
 * else it is named in keep, so the loader keeps the previous value.  A field
 * sent with a value that maps to nothing (an impossible date, an unknown
 * code) counts as omitted: the sender did not ask to delete anything. */
void hm_keep_or_clear(json_t *keep, const char *element, bool set, const enum presence *p, size_t n)
{
    if (set)
        return;
    for (size_t i = 0; i < n; i++)
        if (p[i] == P_NULL)
            return;
    json_array_append_new(keep, json_string(element));
}

/* The last entry added gets keep as its LOAD_KEEP_ABSENT (stolen; dropped
 * when empty). */
void hm_keep_attach(struct mctx *c, json_t *keep)
{
    json_t *entry = json_array_get(c->entries, json_array_size(c->entries) - 1);
    if (entry && json_array_size(keep))
        json_object_set_new(entry, LOAD_KEEP_ABSENT, keep);
    else
        json_decref(keep);
}
