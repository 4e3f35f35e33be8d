/*
 * hl7_map_merge.c - ADT A40/A34 merge and A24/A37 link/unlink: identifier
 * arrays for ingest (feeds/ingest.c), no Bundle.
 */
#include "feeds/hl7_map_int.h"

#include "core/err.h"

/* ---- A40 merge -------------------------------------------------------- */

int hm_map_merge(struct mctx *c)
{
    long pid = hl7_seg_find(c->m, "PID", 1), mrg = hl7_seg_find(c->m, "MRG", 1);
    if (pid < 0)
        return hm_fail(c, WEFT_EINVAL, "PID", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "merge message has no PID segment (the surviving patient)");
    if (mrg < 0)
        return hm_fail(c, WEFT_EINVAL, "MRG", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "merge message has no MRG segment (the patient to retire)");
    json_t *surv = json_array(), *ret = json_array();
    char kind[16];
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, pid, 3, it, cx)
    {
        append_if(surv, hm_identifier_cx(c, cx, kind));
    }
    FOR_REPS(c, mrg, 1, it, cx)
    {
        append_if(ret, hm_identifier_cx(c, cx, kind));
    }
    if (json_array_size(surv) == 0 || json_array_size(ret) == 0) {
        json_decref(surv);
        json_decref(ret);
        return hm_fail(c, WEFT_EINVAL, json_array_size(surv) ? "MRG" : "PID",
                       json_array_size(surv) ? 1 : 3, HL7_ERR_REQUIRED_FIELD,
                       "merge needs identifiers in both PID-3 (surviving) and MRG-1 (retired)");
    }
    c->r->merge_survivor = surv;
    c->r->merge_retired = ret;
    c->r->kind = HL7_MAP_MERGE;
    return 0;
}

/* ---- A24 link / A37 unlink ---------------------------------------------- */

/* Two PID segments: the first patient (kept) and the second (linked to it,
 * or unlinked from it).  Carried as a merge instruction; the trigger tells
 * ingest which (feeds/ingest.c). */
int hm_map_link(struct mctx *c)
{
    long p1 = hl7_seg_find(c->m, "PID", 1), p2 = hl7_seg_find(c->m, "PID", 2);
    if (p1 < 0 || p2 < 0)
        return hm_fail(c, WEFT_EINVAL, "PID", p1 < 0 ? 1 : 2, HL7_ERR_SEGMENT_SEQUENCE,
                       "link/unlink message needs two PID segments (the two patients)");
    json_t *a = json_array(), *b = json_array();
    char kind[16];
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, p1, 3, it, cx)
    {
        append_if(a, hm_identifier_cx(c, cx, kind));
    }
    FOR_REPS(c, p2, 3, it, cx)
    {
        append_if(b, hm_identifier_cx(c, cx, kind));
    }
    if (json_array_size(a) == 0 || json_array_size(b) == 0) {
        json_decref(a);
        json_decref(b);
        return hm_fail(c, WEFT_EINVAL, "PID", json_array_size(a) ? 2 : 1, HL7_ERR_REQUIRED_FIELD,
                       "link/unlink needs identifiers in PID-3 of both patients");
    }
    c->r->merge_survivor = a;
    c->r->merge_retired = b;
    c->r->kind = HL7_MAP_MERGE;
    return 0;
}
