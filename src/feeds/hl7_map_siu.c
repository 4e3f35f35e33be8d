/*
 * hl7_map_siu.c - SIU^S12-S15: an Appointment from SCH (+ AIL, AIP).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ---- SIU: Appointment ------------------------------------------------- */

int hm_map_siu(struct mctx *c, const char *trigger)
{
    long sch = hl7_seg_find(c->m, "SCH", 1);
    if (sch < 0)
        return hm_fail(c, WEFT_EINVAL, "SCH", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "SIU message has no SCH segment");
    char key[96] = "";
    if (hm_get(c, sch, 2, 1, 1, 0) || hm_get(c, sch, 1, 1, 1, 0))
        snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
    if (!key[0])
        return hm_fail(c, WEFT_EINVAL, "SCH", 2, HL7_ERR_REQUIRED_FIELD,
                       "SCH-1 and SCH-2 (appointment ids) are both empty");
    char id[65];
    hm_make_id(id, "appt", key, NULL);
    json_t *ap = json_object();
    /* fields a modification omits keep the stored values ("" clears);
     * "?status": a reschedule or modification without SCH-25 keeps the status */
    json_t *keep = json_array();
    const char *status = !strcmp(trigger, "S15") ? "cancelled" : "booked";
    if ((!strcmp(trigger, "S13") || !strcmp(trigger, "S14")) &&
        hm_presence(c, sch, 25) == P_OMITTED)
        json_array_append_new(keep, json_string("?status"));
    hm_get(c, sch, 25, 1, 1, 0);
    if (!strcmp(c->t.data, "Cancelled") || !strcmp(c->t.data, "Deleted"))
        status = "cancelled";
    else if (!strcmp(c->t.data, "Noshow"))
        status = "noshow";
    else if (!strcmp(c->t.data, "Complete"))
        status = "fulfilled";
    json_object_set_new(ap, "status", json_string(status));
    char sys[96];
    fhir_local_id_system(sys, sizeof sys, c->ods, "appointment");
    json_t *apid =
        fhir_identifier(&(struct fhir_identifier){.system = sys, .value = json_string(key)});
    json_object_set_new(ap, "identifier", apid ? json_pack("[o]", apid) : NULL);
    json_t *rc = hm_concept(c, sch, 7, 1, NULL);
    if (rc)
        json_object_set_new(ap, "reasonCode", json_pack("[o]", rc));
    json_t *at = hm_concept(c, sch, 8, 1, HL7_V2_TABLE_SYSTEM_PREFIX "0276");
    if (at)
        json_object_set_new(ap, "appointmentType", at);
    /* start/end: SCH-11 (TQ: 4 start, 5 end), else AIS-4 + AIS-7 duration */
    long long s_ep = 0;
    char start[48] = "", end[48] = "";
    if (hm_get(c, sch, 11, 1, 4, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, start, sizeof start, &s_ep);
    if (hm_get(c, sch, 11, 1, 5, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, end, sizeof end, NULL);
    long ais = hl7_seg_find(c->m, "AIS", 1);
    if (!start[0] && ais >= 0 && hm_get(c, ais, 4, 1, 1, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, start, sizeof start, &s_ep);
    if (start[0])
        json_object_set_new(ap, "start", json_string(start));
    if (end[0])
        json_object_set_new(ap, "end", json_string(end));
    json_t *mins = NULL;
    if (hm_get(c, sch, 9, 1, 0, 0))
        mins = hm_number(c->t.data, c->t.len);
    if (!mins && ais >= 0 && hm_get(c, ais, 7, 1, 0, 0))
        mins = hm_number(c->t.data, c->t.len);
    if (mins && json_is_integer(mins) && json_integer_value(mins) > 0)
        json_object_set_new(ap, "minutesDuration", mins);
    else
        json_decref(mins);
    json_t *desc = hm_jget(c, sch, 7, 1, 2, 0);
    set_if(ap, "description", desc);
    json_t *parts = json_array();
    json_array_append_new(parts, json_pack("{s:o,s:s}", "actor", hm_patient_ref(c), "status",
                                           !strcmp(status, "cancelled") ? "declined" : "accepted"));
    for (long k = hl7_seg_find(c->m, "AIL", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AIL")) {
        struct buf loc = BUF_INIT;
        struct hl7_span v;
        if (!hl7_seg_get(c->m, (size_t)k, 3, 1, 0, 0, &v) && v.len) {
            for (size_t comp = 1; comp <= 4; comp++)
                if (hm_dec(c, hl7_span_part(hl7_span_part(v, c->d->comp, comp), c->d->sub, 1))) {
                    if (loc.len)
                        buf_adds(&loc, ", ");
                    buf_add(&loc, c->t.data, c->t.len);
                }
        }
        if (loc.len)
            json_array_append_new(parts, json_pack("{s:{s:s%},s:s}", "actor", "display", loc.data,
                                                   loc.len, "status", "accepted"));
        buf_release(&loc);
    }
    for (long k = hl7_seg_find(c->m, "AIP", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AIP")) {
        char disp[160] = "";
        size_t dl = 0;
        if (hm_get(c, k, 3, 1, 3, 0))
            dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data),
                           sizeof disp);
        if (hm_get(c, k, 3, 1, 2, 0))
            snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
        if (disp[0])
            json_array_append_new(
                parts, json_pack("{s:{s:s},s:s}", "actor", "display", disp, "status", "accepted"));
    }
    json_object_set_new(ap, "participant", parts);
    enum presence p7 = hm_presence(c, sch, 7), p8 = hm_presence(c, sch, 8),
                  p11 = hm_presence(c, sch, 11);
    enum presence pd[2] = {hm_presence(c, sch, 9), ais >= 0 ? hm_presence(c, ais, 7) : P_OMITTED};
    enum presence ps[2] = {p11, ais >= 0 ? hm_presence(c, ais, 4) : P_OMITTED};
    hm_keep_or_clear(keep, "reasonCode", json_object_get(ap, "reasonCode") != NULL, &p7, 1);
    hm_keep_or_clear(keep, "description", json_object_get(ap, "description") != NULL, &p7, 1);
    hm_keep_or_clear(keep, "appointmentType", json_object_get(ap, "appointmentType") != NULL, &p8,
                     1);
    hm_keep_or_clear(keep, "start", start[0] != 0, ps, 2);
    hm_keep_or_clear(keep, "end", end[0] != 0, &p11, 1);
    hm_keep_or_clear(keep, "minutesDuration", json_object_get(ap, "minutesDuration") != NULL, pd,
                     2);
    /* no AIL/AIP: the patient is restated, the stored places and staff stay
     * (not on a cancellation, whose patient participant says declined) */
    if (strcmp(status, "cancelled") != 0 && json_array_size(parts) == 1 &&
        hl7_seg_find(c->m, "AIL", 1) < 0 && hl7_seg_find(c->m, "AIP", 1) < 0)
        json_array_append_new(keep, json_string("?participant"));
    hm_add_entry(c, "Appointment", id, ap, NULL, NULL);
    hm_keep_attach(c, keep);
    return 0;
}
