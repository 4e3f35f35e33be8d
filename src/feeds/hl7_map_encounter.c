/*
 * hl7_map_encounter.c - the Encounter from PV1 (+ PV2), and the references to the
 * visit that results and documents carry.
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

/* ---- Encounter -------------------------------------------------------- */

static void location_display(struct mctx *c, long pv1, size_t field, struct buf *out)
{
    static const char *const labels[] = {"", "", "room ", "bed ",      "",
                                         "", "", "",      "building ", "floor "};
    struct hl7_span v;
    buf_reset(out);
    if (hl7_seg_get(c->m, (size_t)pv1, field, 1, 0, 0, &v) || v.len == 0)
        return;
    const size_t order[] = {4, 1, 2, 3, 8, 9};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t k = order[i];
        if (!hm_dec(c, hl7_span_part(hl7_span_part(v, c->d->comp, k), c->d->sub, 1)))
            continue;
        if (out->len)
            buf_adds(out, ", ");
        buf_adds(out, labels[k]);
        buf_add(out, c->t.data, c->t.len);
    }
}

/* Encounter.location.status for a stay of status st (as fhir/load.c's
 * LOAD_KEEP_ABSENT rule for a "?status" Encounter does). */
static const char *location_status(const char *st)
{
    if (!strcmp(st, "planned"))
        return "planned";
    if (!strcmp(st, "finished") || !strcmp(st, "cancelled") || !strcmp(st, "entered-in-error"))
        return "completed";
    return "active";
}

int hm_map_encounter(struct mctx *c, const char *trigger)
{
    long pv1 = hl7_seg_find(c->m, "PV1", 1);
    if (pv1 < 0)
        return 0;
    struct hl7_span pclass;
    hl7_seg_get(c->m, (size_t)pv1, 2, 1, 1, 0, &pclass);
    if (hl7_span_eq(pclass, "N")) /* "not applicable": no visit */
        return 0;
    long evn = hl7_seg_find(c->m, "EVN", 1);
    json_t *admit = hm_jdate(c, pv1, 44, 1, 1, 1);
    json_t *disch = hm_jdate(c, pv1, 45, 1, 1, 1);
    /* identity: the visit number, else the admit time */
    char visit[96] = "";
    if (hm_get(c, pv1, 19, 1, 1, 0))
        snprintf(visit, sizeof visit, "%.*s", (int)c->t.len, c->t.data);
    char id[65];
    bool admission = !strcmp(trigger, "A01") || !strcmp(trigger, "A04");
    json_t *evtime = NULL;
    if (!visit[0] && !admit && admission) {
        /* an admission with neither a visit number nor an admit time: the
         * stay is keyed, and starts, at the event time (EVN-2, else MSH-7) */
        evtime = hm_jdate(c, evn, 2, 1, 1, 1);
        if (!evtime)
            evtime = hm_jdate(c, 0, 7, 1, 1, 1);
    }
    if (visit[0])
        hm_make_id(id, "enc", visit, NULL);
    else if (admit)
        hm_make_id(id, "enc", c->pat_id, json_string_value(admit));
    else if (evtime)
        hm_make_id(id, "enc", c->pat_id, json_string_value(evtime));
    else {
        json_decref(admit);
        json_decref(disch);
        return 0; /* nothing stable to name it by: Patient only */
    }
    json_t *enc = json_object();
    /* Omitted PV1 fields keep what is stored (the Patient's rule, see the
     * top of this file): an A08 that restates demographics must not reopen
     * a finished stay, nor an A03 without PV1-44 lose the admission time.
     * "?name": a default is set for a new encounter, the stored value wins. */
    json_t *keep = json_array();
    const char *status = "in-progress";
    if (!strcmp(trigger, "A08") && !disch && hm_presence(c, pv1, 45) != P_NULL)
        json_array_append_new(keep, json_string("?status"));
    if (!strcmp(trigger, "A03"))
        status = "finished";
    else if (!strcmp(trigger, "A05"))
        status = "planned";
    else if (!strcmp(trigger, "A11"))
        status = "entered-in-error";
    else if (!strcmp(trigger, "A13"))
        status = "in-progress";
    else if (!strcmp(trigger, "A08") && disch)
        status = "finished";
    json_object_set_new(enc, "status", json_string(status));
    const char *code = "AMB", *disp = "ambulatory";
    if (hl7_span_eq(pclass, "I") || hl7_span_eq(pclass, "B"))
        code = "IMP", disp = "inpatient encounter";
    else if (hl7_span_eq(pclass, "E"))
        code = "EMER", disp = "emergency";
    else if (hl7_span_eq(pclass, "P"))
        code = "PRENC", disp = "pre-admission";
    else if (pclass.len == 0 && (!strcmp(trigger, "A01") || !strcmp(trigger, "A02")))
        code = "IMP", disp = "inpatient encounter";
    json_object_set_new(
        enc, "class", fhir_coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", code, disp));
    if (hm_presence(c, pv1, 2) != P_VALUED) /* a default: class is required */
        json_array_append_new(keep, json_string("?class"));
    if (visit[0]) {
        char sys[96];
        fhir_local_id_system(sys, sizeof sys, c->ods, "visit");
        json_t *vid =
            fhir_identifier(&(struct fhir_identifier){.system = sys, .value = json_string(visit)});
        json_object_set_new(enc, "identifier", vid ? json_pack("[o]", vid) : NULL);
    }
    json_object_set_new(enc, "subject", hm_patient_ref(c));
    /* period: PV1-44/45, else the event time for admit and discharge events */
    if (evtime) /* keyed by it: the stay starts then */
        admit = evtime;
    else if (!admit && admission && evn >= 0) {
        admit = hm_jdate(c, evn, 6, 1, 1, 1);
        if (!admit)
            admit = hm_jdate(c, evn, 2, 1, 1, 1);
    }
    if (!disch && !strcmp(trigger, "A03") && evn >= 0) {
        disch = hm_jdate(c, evn, 6, 1, 1, 1);
        if (!disch)
            disch = hm_jdate(c, evn, 2, 1, 1, 1);
    }
    if (!admit && hm_presence(c, pv1, 44) != P_NULL)
        json_array_append_new(keep, json_string("period.start"));
    if (!strcmp(trigger, "A13")) { /* discharge cancelled: open again */
        json_decref(disch);
        disch = NULL;
    } else if (!disch && hm_presence(c, pv1, 45) != P_NULL) {
        json_array_append_new(keep, json_string("period.end"));
    }
    set_if(enc, "period", fhir_period(admit, disch));
    struct buf loc = BUF_INIT;
    location_display(c, pv1, 3, &loc);
    /* the location's status follows the stay's: when the stored status
     * wins ("?status", an A08 restating the ward) it is left out and the
     * loader sets it from the merged status */
    bool stay_known = !json_array_size(keep) ||
                      strcmp(json_string_value(json_array_get(keep, 0)), "?status") != 0;
    if (loc.len) {
        json_t *l = json_pack("{s:{s:s%}}", "location", "display", loc.data, loc.len);
        if (stay_known)
            json_object_set_new(l, "status", json_string(location_status(status)));
        /* else the loader sets it from the merged status (fhir/load.h) */
        json_object_set_new(enc, "location", json_pack("[o]", l));
    } else if (hm_presence(c, pv1, 3) != P_NULL)
        json_array_append_new(keep, json_string("location"));
    buf_release(&loc);
    json_t *stype = hm_concept(c, pv1, 10, 1, HL7_V2_TABLE_SYSTEM_PREFIX "0069");
    if (stype)
        json_object_set_new(enc, "serviceType", stype);
    else if (hm_presence(c, pv1, 10) != P_NULL)
        json_array_append_new(keep, json_string("serviceType"));
    hm_add_entry(c, "Encounter", id, enc, c->enc_id, c->enc_url);
    hm_keep_attach(c, keep);
    c->have_enc = 1;
    return 0;
}

/* The encounter reference for res: the bundle's Encounter, or for results
 * and documents a logical reference by visit number (they do not restate
 * the visit: an ORU must not reopen an encounter an A03 finished). */
json_t *hm_encounter_ref(struct mctx *c)
{
    if (c->have_enc)
        return hm_ref(c->enc_url);
    if (c->visit_ref)
        return json_deep_copy(c->visit_ref);
    return NULL;
}

void hm_add_encounter_ref(struct mctx *c, json_t *res, const char *key)
{
    set_if(res, key, hm_encounter_ref(c));
}

void hm_link_visit(struct mctx *c)
{
    long pv1 = hl7_seg_find(c->m, "PV1", 1);
    if (pv1 < 0 || !hm_get(c, pv1, 19, 1, 1, 0))
        return;
    char sys[96];
    fhir_local_id_system(sys, sizeof sys, c->ods, "visit");
    c->visit_ref = fhir_reference(
        &(struct fhir_reference){.identifier = fhir_identifier(&(struct fhir_identifier){
                                     .system = sys, .value = json_stringn(c->t.data, c->t.len)})});
}
