/*
 * hl7_map_clinical.c - ADT clinical segments: AllergyIntolerance per AL1,
 * Condition per DG1, Procedure per PR1, Flag per ZMH (Mental Health Act).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

/* ---- AL1, DG1, PR1, ZMH ---------------------------------------------- */

/* A short stable key from a coded field: the code, else the text. */
void hm_code_key(struct mctx *c, long seg, size_t f, char out[80])
{
    out[0] = 0;
    if (hm_get(c, seg, f, 1, 1, 0) || hm_get(c, seg, f, 1, 2, 0))
        snprintf(out, 80, "%.*s", (int)c->t.len, c->t.data);
}

void hm_map_allergies(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "AL1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AL1")) {
        json_t *code = hm_concept(c, k, 3, 1, NULL);
        if (!code)
            continue;
        char key[80], id[65];
        hm_code_key(c, k, 3, key);
        hm_make_id(id, "alg", c->pat_id, key);
        json_t *a = json_object();
        json_object_set_new(
            a, "clinicalStatus",
            fhir_concept1("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                          "active", "Active", NULL));
        hm_get(c, k, 2, 1, 1, 0);
        const char *cat = NULL;
        if (!strcmp(c->t.data, "DA") || !strcmp(c->t.data, "MA"))
            cat = "medication";
        else if (!strcmp(c->t.data, "FA"))
            cat = "food";
        else if (!strcmp(c->t.data, "EA") || !strcmp(c->t.data, "AA") || !strcmp(c->t.data, "PA"))
            cat = "environment";
        if (cat)
            json_object_set_new(a, "category", json_pack("[s]", cat));
        json_object_set_new(a, "code", code);
        json_object_set_new(a, "patient", hm_patient_ref(c));
        set_if(a, "recordedDate", hm_jdate(c, k, 6, 1, 1, 1));
        json_t *reaction = json_object();
        json_t *man = json_array();
        struct hl7_iter it;
        struct hl7_span rv;
        FOR_REPS(c, k, 5, it, rv)
        {
            json_t *t = hm_jspan(c, rv);
            if (t)
                json_array_append_new(man, json_pack("{s:o}", "text", t));
        }
        set_array(reaction, "manifestation", man);
        hm_get(c, k, 4, 1, 1, 0);
        const char *sev = !strcmp(c->t.data, "SV")   ? "severe"
                          : !strcmp(c->t.data, "MO") ? "moderate"
                          : !strcmp(c->t.data, "MI") ? "mild"
                                                     : NULL;
        if (json_object_get(reaction, "manifestation")) {
            if (sev)
                json_object_set_new(reaction, "severity", json_string(sev));
            json_object_set_new(a, "reaction", json_pack("[o]", reaction));
        } else {
            json_decref(reaction);
        }
        if (sev && !strcmp(sev, "severe"))
            json_object_set_new(a, "criticality", json_string("high"));
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence p2 = hm_presence(c, k, 2), p4 = hm_presence(c, k, 4),
                      p5 = hm_presence(c, k, 5);
        hm_keep_or_clear(keep, "category", json_object_get(a, "category") != NULL, &p2, 1);
        hm_keep_or_clear(keep, "reaction", json_object_get(a, "reaction") != NULL, &p5, 1);
        hm_keep_or_clear(keep, "criticality", p4 == P_VALUED, &p4, 1);
        enum presence p6 = hm_presence(c, k, 6);
        hm_keep_or_clear(keep, "recordedDate", json_object_get(a, "recordedDate") != NULL, &p6, 1);
        hm_add_entry(c, "AllergyIntolerance", id, a, NULL, NULL);
        hm_keep_attach(c, keep);
    }
}

void hm_map_conditions(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "DG1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "DG1")) {
        json_t *code = hm_concept(c, k, 3, 1, NULL);
        if (!code) { /* v2.2/2.3: DG1-4 description only, DG1-2 the coding method */
            json_t *txt = hm_jget(c, k, 4, 1, 0, 0);
            if (!txt)
                continue;
            code = json_pack("{s:o}", "text", txt);
        }
        char key[80], id[65];
        hm_code_key(c, k, 3, key);
        if (!key[0] && hm_get(c, k, 4, 1, 0, 0))
            snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
        hm_make_id(id, "dx", c->have_enc ? c->enc_id : c->pat_id, key);
        json_t *cond = json_object();
        json_object_set_new(
            cond, "clinicalStatus",
            fhir_concept1("http://terminology.hl7.org/CodeSystem/condition-clinical", "active",
                          "Active", NULL));
        hm_get(c, k, 6, 1, 1, 0);
        const char *ver = !strcmp(c->t.data, "F") ? "confirmed" : c->t.len ? "provisional" : NULL;
        if (ver)
            json_object_set_new(
                cond, "verificationStatus",
                fhir_concept1("http://terminology.hl7.org/CodeSystem/condition-ver-status", ver,
                              NULL, NULL));
        json_object_set_new(
            cond, "category",
            json_pack("[o]",
                      fhir_concept1("http://terminology.hl7.org/CodeSystem/condition-category",
                                    "encounter-diagnosis", "Encounter Diagnosis", NULL)));
        json_object_set_new(cond, "code", code);
        json_object_set_new(cond, "subject", hm_patient_ref(c));
        hm_add_encounter_ref(c, cond, "encounter");
        set_if(cond, "recordedDate", hm_jdate(c, k, 5, 1, 1, 1));
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence p5 = hm_presence(c, k, 5), p6 = hm_presence(c, k, 6);
        hm_keep_or_clear(keep, "verificationStatus", ver != NULL, &p6, 1);
        hm_keep_or_clear(keep, "recordedDate", json_object_get(cond, "recordedDate") != NULL, &p5,
                         1);
        hm_add_entry(c, "Condition", id, cond, NULL, NULL);
        hm_keep_attach(c, keep);
    }
}

/* A Practitioner reference by identifier and display from an XCN
 * (id^family^given), or NULL when it holds neither. */
static json_t *practitioner_xcn(struct mctx *c, struct hl7_span v)
{
    json_t *code = hm_jspan(c, hl7_span_part(v, c->d->comp, 1));
    json_t *id = fhir_identifier(&(struct fhir_identifier){.value = code});
    char disp[160] = "";
    size_t dl = 0;
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 3)))
        dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data), sizeof disp);
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 2)))
        snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
    else if (dl)
        disp[dl - 1] = 0;
    return fhir_reference(&(struct fhir_reference){
        .type = "Practitioner", .identifier = id, .display = disp[0] ? json_string(disp) : NULL});
}

void hm_map_procedures(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "PR1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "PR1")) {
        json_t *code = hm_concept(c, k, 3, 1, NULL);
        if (!code) {
            json_t *txt = hm_jget(c, k, 4, 1, 0, 0);
            if (!txt)
                continue;
            code = json_pack("{s:o}", "text", txt);
        }
        char key[80], id[65], when[40] = "";
        hm_code_key(c, k, 3, key);
        json_t *date = hm_jdate(c, k, 5, 1, 1, 1);
        if (date)
            snprintf(when, sizeof when, "%s", json_string_value(date));
        char k2[128];
        snprintf(k2, sizeof k2, "%s-%s", key, when);
        hm_make_id(id, "proc", c->have_enc ? c->enc_id : c->pat_id, k2);
        json_t *p = json_object();
        json_object_set_new(p, "status", json_string("completed"));
        json_object_set_new(p, "code", code);
        json_object_set_new(p, "subject", hm_patient_ref(c));
        hm_add_encounter_ref(c, p, "encounter");
        set_if(p, "performedDateTime", date);
        /* PR1-11 surgeon, PR1-12 procedure practitioner (XCN id^family^given) */
        json_t *perf = json_array();
        const size_t pf[2] = {11, 12};
        for (int i = 0; i < 2; i++) {
            struct hl7_iter it;
            struct hl7_span v;
            FOR_REPS(c, k, pf[i], it, v)
            {
                json_t *actor = practitioner_xcn(c, v);
                if (actor)
                    json_array_append_new(perf, json_pack("{s:o}", "actor", actor));
            }
        }
        set_array(p, "performer", perf);
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence pp[2] = {hm_presence(c, k, 11), hm_presence(c, k, 12)};
        hm_keep_or_clear(keep, "performer", json_object_get(p, "performer") != NULL, pp, 2);
        hm_add_entry(c, "Procedure", id, p, NULL, NULL);
        hm_keep_attach(c, keep);
    }
}

void hm_map_mha(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "ZMH", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "ZMH")) {
        char section[32] = "", start[40] = "", id[65];
        if (!hm_get(c, k, 2, 1, 1, 0))
            continue;
        snprintf(section, sizeof section, "%.*s", (int)c->t.len, c->t.data);
        json_t *st = hm_jdate(c, k, 3, 1, 1, 1);
        if (st)
            snprintf(start, sizeof start, "%s", json_string_value(st));
        if (hm_get(c, k, 7, 1, 0, 0)) {
            char tmp[80];
            snprintf(tmp, sizeof tmp, "%.*s", (int)c->t.len, c->t.data);
            hm_make_id(id, "mha", tmp, NULL);
        } else {
            char tmp[160];
            snprintf(tmp, sizeof tmp, "%s-%s", c->pat_id, section);
            hm_make_id(id, "mha", tmp, start);
        }
        json_t *f = json_object();
        hm_get(c, k, 5, 1, 1, 0);
        const char *status = !strcmp(c->t.data, "E")   ? "inactive"
                             : !strcmp(c->t.data, "R") ? "entered-in-error"
                                                       : "active";
        json_object_set_new(f, "status", json_string(status));
        json_object_set_new(
            f, "category",
            json_pack("[o]", fhir_concept1(RECORD_CATEGORY_SYSTEM, "mental-health-act",
                                           "Mental Health Act", NULL)));
        json_t *cd = json_pack("{s:s,s:s}", "system", MHA_SECTION_SYSTEM, "code", section);
        json_t *disp = hm_jget(c, k, 2, 1, 2, 0);
        char text[96];
        if (disp) {
            snprintf(text, sizeof text, "%s", json_string_value(disp));
            json_object_set_new(cd, "display", disp);
        } else {
            snprintf(text, sizeof text, "Mental Health Act section %s", section);
        }
        json_object_set_new(f, "code", json_pack("{s:[o],s:s}", "coding", cd, "text", text));
        json_object_set_new(f, "subject", hm_patient_ref(c));
        set_if(f, "period", fhir_period(st, hm_jdate(c, k, 4, 1, 1, 1)));
        hm_add_encounter_ref(c, f, "encounter");
        hm_add_entry(c, "Flag", id, f, NULL, NULL);
    }
}
