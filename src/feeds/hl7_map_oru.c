/*
 * hl7_map_oru.c - ORU^R01: a DiagnosticReport per OBR and an Observation per
 * OBX (values, units, reference ranges, interpretation, notes).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* ---- ORU: DiagnosticReport + Observation ------------------------------ */

static const char *const imaging_sections[] = {"RAD", "CT", "MR",  "MRI", "US",  "XR",  "NMR",
                                               "NMS", "RX", "VUS", "CUS", "OUS", "RUS", "XRC",
                                               "CTH", "NM", "MG",  "DX",  "PT",  "IMG", NULL};

static int is_imaging(struct hl7_span s)
{
    for (int i = 0; imaging_sections[i]; i++)
        if (span_eq_ci(s, imaging_sections[i]))
            return 1;
    return 0;
}

static const char *result_status(struct hl7_span s, int report)
{
    if (hl7_span_eq(s, "C"))
        return "corrected";
    if (hl7_span_eq(s, "P") || hl7_span_eq(s, "A") || (report && hl7_span_eq(s, "R")))
        return "preliminary";
    if (hl7_span_eq(s, "X") || hl7_span_eq(s, "D"))
        return "cancelled";
    if (hl7_span_eq(s, "W"))
        return "entered-in-error";
    if (hl7_span_eq(s, "I") || hl7_span_eq(s, "S") || hl7_span_eq(s, "O") || hl7_span_eq(s, "R"))
        return "registered";
    return "final";
}

static json_t *quantity(struct mctx *c, json_t *value, long obx)
{
    json_t *q = json_pack("{s:o}", "value", value);
    struct hl7_span u;
    if (!hl7_seg_get(c->m, (size_t)obx, 6, 1, 0, 0, &u) && u.len) {
        json_t *code = hm_jspan(c, hl7_span_part(u, c->d->comp, 1));
        json_t *text = hm_jspan(c, hl7_span_part(u, c->d->comp, 2));
        int ucum = hm_dec(c, hl7_span_part(u, c->d->comp, 3)) &&
                   (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "UCUM") ||
                    span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "ISO+") ||
                    span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "ANS+"));
        json_t *unit = text ? text : (code ? json_incref(code) : NULL);
        set_if(q, "unit", unit);
        if (ucum && code) {
            json_object_set_new(q, "system", json_string(UCUM_SYSTEM));
            json_object_set_new(q, "code", code);
        } else {
            json_decref(code);
        }
    }
    return q;
}

static void reference_range(struct mctx *c, long obx, json_t *obs)
{
    if (!hm_get(c, obx, 7, 1, 0, 0))
        return;
    char rr[128];
    snprintf(rr, sizeof rr, "%.*s", (int)c->t.len, c->t.data);
    json_t *range = json_object();
    const char *dash = strchr(rr + 1, '-'); /* skip a leading minus sign */
    json_t *lo = NULL, *hi = NULL;
    if (rr[0] == '<' || rr[0] == '>') {
        const char *p = rr + 1 + (rr[1] == '=');
        json_t *v = hm_number(p, strlen(p));
        if (rr[0] == '<')
            hi = v;
        else
            lo = v;
    } else if (dash) {
        lo = hm_number(rr, (size_t)(dash - rr));
        hi = hm_number(dash + 1, strlen(dash + 1));
        if (!lo || !hi) {
            json_decref(lo);
            json_decref(hi);
            lo = hi = NULL;
        }
    }
    if (lo)
        json_object_set_new(range, "low", quantity(c, lo, obx));
    if (hi)
        json_object_set_new(range, "high", quantity(c, hi, obx));
    json_object_set_new(range, "text", json_string(rr));
    json_object_set_new(obs, "referenceRange", json_pack("[o]", range));
}

static void interpretation(struct mctx *c, long obx, json_t *obs)
{
    json_t *arr = json_array();
    struct hl7_iter it;
    struct hl7_span rv;
    FOR_REPS(c, obx, 8, it, rv)
    {
        if (!hm_dec(c, hl7_span_part(rv, c->d->comp, 1)))
            continue;
        json_array_append_new(
            arr, json_pack("{s:[{s:s,s:s%}]}", "coding", "system",
                           "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                           "code", c->t.data, c->t.len));
    }
    set_array(obs, "interpretation", arr);
}

/* SN: comparator^num1^separator^num2 */
static int value_sn(struct mctx *c, long obx, struct hl7_span v, json_t *obs)
{
    char cmp[4] = "", sep[4] = "";
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 1)))
        snprintf(cmp, sizeof cmp, "%.*s", (int)c->t.len, c->t.data);
    json_t *n1 = hm_dec(c, hl7_span_part(v, c->d->comp, 2)) ? hm_number(c->t.data, c->t.len) : NULL;
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 3)))
        snprintf(sep, sizeof sep, "%.*s", (int)c->t.len, c->t.data);
    json_t *n2 = hm_dec(c, hl7_span_part(v, c->d->comp, 4)) ? hm_number(c->t.data, c->t.len) : NULL;
    if (n1 && n2 && (!strcmp(sep, ":") || !strcmp(sep, "/"))) {
        json_object_set_new(
            obs, "valueRatio",
            json_pack("{s:{s:o},s:{s:o}}", "numerator", "value", n1, "denominator", "value", n2));
        return 1;
    }
    if (n1 && n2 && (!strcmp(sep, "-") || !strcmp(sep, "+"))) {
        json_object_set_new(
            obs, "valueRange",
            json_pack("{s:o,s:o}", "low", quantity(c, n1, obx), "high", quantity(c, n2, obx)));
        return 1;
    }
    json_decref(n2);
    if (!n1)
        return 0;
    json_t *q = quantity(c, n1, obx);
    if (!strcmp(cmp, "<") || !strcmp(cmp, ">") || !strcmp(cmp, "<=") || !strcmp(cmp, ">="))
        json_object_set_new(q, "comparator", json_string(cmp));
    json_object_set_new(obs, "valueQuantity", q);
    return 1;
}

/* NTE segments following index k → Annotation array (or NULL). */
static json_t *notes_after(struct mctx *c, long k)
{
    json_t *notes = json_array();
    for (size_t s = (size_t)k + 1; s < hl7_seg_count(c->m); s++) {
        if (strcmp(hl7_seg_name(c->m, s), "NTE"))
            break;
        json_t *t = hm_jget(c, (long)s, 3, 0, 0, 0);
        if (t)
            json_array_append_new(notes, json_pack("{s:o}", "text", t));
    }
    if (json_array_size(notes) == 0) {
        json_decref(notes);
        return NULL;
    }
    return notes;
}

static int map_observation(struct mctx *c, long obx, const char *report_key, size_t index,
                           int imaging, json_t *report_effective, json_t *report)
{
    char vt[8] = "";
    if (hm_get(c, obx, 2, 1, 1, 0))
        snprintf(vt, sizeof vt, "%.*s", (int)c->t.len, c->t.data);
    struct hl7_span v;
    hl7_seg_get(c->m, (size_t)obx, 5, 1, 0, 0, &v);
    if (!strcmp(vt, "ED")) { /* an attachment: goes on the report */
        json_t *att = hm_ed_attachment(c, v);
        if (att) {
            json_t *pf = json_object_get(report, "presentedForm");
            if (!pf) {
                pf = json_array();
                json_object_set_new(report, "presentedForm", pf);
            }
            json_array_append_new(pf, att);
        }
        return 0;
    }
    if (!strcmp(vt, "RP")) /* reference pointer: nothing we can fetch */
        return 0;
    json_t *code = hm_concept(c, obx, 3, 1, NULL);
    if (!code)
        return 0;
    char setid[32], id[65];
    if (hm_get(c, obx, 1, 1, 0, 0))
        snprintf(setid, sizeof setid, "%.*s", (int)c->t.len, c->t.data);
    else
        snprintf(setid, sizeof setid, "%zu", index);
    /* sub-id (OBX-4) tells apart observations sharing a set id */
    char sub[40] = "";
    if (hm_get(c, obx, 4, 1, 0, 0))
        snprintf(sub, sizeof sub, "%.*s", (int)c->t.len, c->t.data);
    char k2[80];
    snprintf(k2, sizeof k2, "%s%s%s", setid, sub[0] ? "." : "", sub);
    hm_make_id(id, "obs", report_key, k2);
    json_t *obs = json_object();
    struct hl7_span st;
    hl7_seg_get(c->m, (size_t)obx, 11, 1, 1, 0, &st);
    json_object_set_new(obs, "status", json_string(result_status(st, 0)));
    json_object_set_new(
        obs, "category",
        json_pack("[o]", fhir_concept1("http://terminology.hl7.org/CodeSystem/observation-category",
                                       imaging ? "imaging" : "laboratory",
                                       imaging ? "Imaging" : "Laboratory", NULL)));
    json_object_set_new(obs, "code", code);
    json_object_set_new(obs, "subject", hm_patient_ref(c));
    hm_add_encounter_ref(c, obs, "encounter");
    json_t *eff = hm_jdate(c, obx, 14, 1, 1, 1);
    if (!eff && report_effective)
        eff = json_incref(report_effective);
    set_if(obs, "effectiveDateTime", eff);
    int done = 0;
    if (!strcmp(vt, "NM")) {
        json_t *n = hm_dec(c, v) ? hm_number(c->t.data, c->t.len) : NULL;
        if (n) {
            json_object_set_new(obs, "valueQuantity", quantity(c, n, obx));
            done = 1;
        }
    } else if (!strcmp(vt, "SN")) {
        done = value_sn(c, obx, v, obs);
    } else if (!strcmp(vt, "CE") || !strcmp(vt, "CWE") || !strcmp(vt, "CNE") || !strcmp(vt, "CF")) {
        json_t *cc = hm_concept_span(c, v, NULL);
        if (cc) {
            json_object_set_new(obs, "valueCodeableConcept", cc);
            done = 1;
        }
    } else if (!strcmp(vt, "DT") || !strcmp(vt, "TS") || !strcmp(vt, "DTM")) {
        char out[48];
        if (hm_dec(c, hl7_span_part(v, c->d->comp, 1)) &&
            !hl7_map_datetime(c->t.data, c->t.len, 1, out, sizeof out, NULL)) {
            json_object_set_new(obs, "valueDateTime", json_string(out));
            done = 1;
        }
    }
    if (!done) { /* ST, TX, FT and anything else: text (FT \.br\ are line feeds) */
        struct buf t = BUF_INIT;
        hm_obx_text(c, obx, &t);
        if (t.len)
            json_object_set_new(obs, "valueString", json_stringn(t.data, t.len));
        buf_release(&t);
    }
    if (json_object_get(obs, "valueQuantity") || json_object_get(obs, "valueRange"))
        reference_range(c, obx, obs);
    interpretation(c, obx, obs);
    set_if(obs, "note", notes_after(c, obx));
    char url[64];
    hm_add_entry(c, "Observation", id, obs, NULL, url);
    json_t *res = json_object_get(report, "result");
    json_array_append_new(res, hm_ref(url));
    return 0;
}

int hm_map_oru(struct mctx *c)
{
    long obr = hl7_seg_find(c->m, "OBR", 1);
    if (obr < 0)
        return hm_fail(c, WEFT_EINVAL, "OBR", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "ORU message has no OBR segment: results cannot be grouped into a report");
    for (; obr >= 0; obr = hl7_seg_next(c->m, (size_t)obr, "OBR")) {
        char key[192] = "";
        if (hm_get(c, obr, 3, 1, 1, 0) || hm_get(c, obr, 2, 1, 1, 0))
            snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
        else {
            /* no order number: the patient, the test code and its time */
            char code[80] = "", when[40] = "";
            hm_code_key(c, obr, 4, code);
            if (hm_get(c, obr, 7, 1, 1, 0))
                snprintf(when, sizeof when, "%.*s", (int)c->t.len, c->t.data);
            snprintf(key, sizeof key, "%s-%s-%s", c->pat_id, code, when);
        }
        char rid[65];
        hl7_map_fhir_id(key, strlen(key), rid);
        char id[65];
        hm_make_id(id, "dr", rid, NULL);
        json_t *dr = json_object();
        struct hl7_span st, section;
        hl7_seg_get(c->m, (size_t)obr, 25, 1, 1, 0, &st);
        json_object_set_new(dr, "status", json_string(result_status(st, 1)));
        hl7_seg_get(c->m, (size_t)obr, 24, 1, 1, 0, &section);
        int imaging = is_imaging(section);
        json_object_set_new(
            dr, "category",
            json_pack("[o]",
                      fhir_concept1(HL7_V2_TABLE_SYSTEM_PREFIX "0074", imaging ? "RAD" : "LAB",
                                    imaging ? "Radiology" : "Laboratory", NULL)));
        json_t *code = hm_concept(c, obr, 4, 1, NULL);
        if (!code)
            code = json_pack("{s:s}", "text", imaging ? "Imaging report" : "Laboratory report");
        json_object_set_new(dr, "code", code);
        json_object_set_new(dr, "subject", hm_patient_ref(c));
        hm_add_encounter_ref(c, dr, "encounter");
        json_t *eff = hm_jdate(c, obr, 7, 1, 1, 1);
        set_if(dr, "effectiveDateTime", eff);
        json_t *issued = hm_jdate(c, obr, 22, 1, 1, 2);
        set_if(dr, "issued", issued);
        char sys[96];
        fhir_local_id_system(sys, sizeof sys, c->ods, "filler-order");
        json_t *drid =
            fhir_identifier(&(struct fhir_identifier){.system = sys, .value = json_string(key)});
        json_object_set_new(dr, "identifier", drid ? json_pack("[o]", drid) : NULL);
        json_object_set_new(dr, "result", json_array());
        size_t index = 0;
        for (size_t s = (size_t)obr + 1; s < hl7_seg_count(c->m); s++) {
            const char *nm = hl7_seg_name(c->m, s);
            if (!strcmp(nm, "OBR"))
                break;
            if (strcmp(nm, "OBX"))
                continue;
            index++;
            map_observation(c, (long)s, rid, index, imaging, eff, dr);
        }
        if (json_array_size(json_object_get(dr, "result")) == 0)
            json_object_del(dr, "result");
        json_t *notes = notes_after(c, obr);
        if (notes) { /* report-level NTE: the conclusion text */
            struct buf t = BUF_INIT;
            for (size_t i = 0; i < json_array_size(notes); i++) {
                if (i)
                    buf_addc(&t, '\n');
                buf_adds(&t, json_string_value(json_object_get(json_array_get(notes, i), "text")));
            }
            json_object_set_new(dr, "conclusion", json_stringn(t.data, t.len));
            buf_release(&t);
            json_decref(notes);
        }
        hm_add_entry(c, "DiagnosticReport", id, dr, NULL, NULL);
    }
    return 0;
}
