/*
 * socialcare_map_eol.c - one of the six social care mappings: end_of_life extracts -> CarePlan, and
 * a Consent (DNACPR) and a DocumentReference (ReSPECT form) when stated (docs §4.6). The row's
 * values were checked against their columns (socialcare_validate.c); what involves several columns
 * is checked here.
 */
#include "feeds/socialcare_int.h"

#include <stdio.h>

#include "core/buf.h"

static json_t *note(const char *text, size_t len)
{
    json_t *n = json_object();
    json_object_set_new_nocheck(n, "text", jsn(text, len));
    return n;
}

/* The id for "{key}{suffix}" by the same sanitising rule (docs §3). */
static void suffixed_id(const struct val *key, const char *suffix, char out[65])
{
    struct buf b = BUF_INIT;
    buf_add(&b, key->s, key->len);
    buf_adds(&b, suffix);
    socialcare_fhir_id(b.data, b.len, out);
    buf_release(&b);
}

int sc_map_end_of_life(struct proc *p)
{
    const struct val *v = p->v;
    const char *ods = p->o->ods;
    json_t *ids;

    /* CarePlan: the preferences and a note per stated item */
    json_t *cp = sc_resource("CarePlan", v[E_ID].id, "end-of-life");
    json_t *ext = NULL;
    if (v[E_PPD].code)
        sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "preferred-place-of-death", "valueCodeableConcept",
                   sc_cc(WEFT_CODE_SYSTEM_PREFIX "preferred-place-of-death", v[E_PPD].code->code,
                         v[E_PPD].code->display, NULL));
    if (v[E_LPA].code)
        sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "lasting-power-of-attorney", "valueCoding",
                   sc_coding(WEFT_CODE_SYSTEM_PREFIX "lasting-power-of-attorney",
                             v[E_LPA].code->code, v[E_LPA].code->display));
    set_opt(cp, "extension", ext);
    ids = json_array();
    json_array_append_new(ids, sc_identifier(p->id_system, &v[E_ID]));
    json_object_set_new_nocheck(cp, "identifier", ids);
    json_object_set_new_nocheck(cp, "status", json_string_nocheck("active"));
    json_object_set_new_nocheck(cp, "intent", json_string_nocheck("plan"));
    json_t *cats = json_array();
    json_array_append_new(cats, sc_category_cc("end-of-life", "End of life"));
    json_object_set_new_nocheck(cp, "category", cats);
    json_object_set_new_nocheck(cp, "title", json_string_nocheck("End of life preferences"));
    set_opt(cp, "description", jval(&v[E_PREFS]));
    json_object_set_new_nocheck(cp, "subject", sc_patient_ref(&v[E_PERSON]));
    json_t *per = json_object();
    json_object_set_new_nocheck(per, "start", sc_jdate(&v[E_RECORDED]));
    json_object_set_new_nocheck(cp, "period", per);
    json_object_set_new_nocheck(cp, "created", sc_jdate(&v[E_RECORDED]));
    json_t *notes = NULL;
    struct buf b = BUF_INIT;
    if (v[E_PPD].code) {
        buf_addf(&b, "Preferred place of death: %s", v[E_PPD].code->display);
        sc_arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_DNACPR].s) {
        buf_reset(&b);
        buf_addf(&b, "DNACPR decision: %s", v[E_DNACPR].b ? "yes" : "no");
        if (v[E_DNACPR_DATE].s)
            buf_addf(&b, " (%s)", v[E_DNACPR_DATE].date);
        sc_arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_RESPECT].s) {
        buf_reset(&b);
        buf_addf(&b, "ReSPECT plan: %s", v[E_RESPECT].b ? "yes" : "no");
        if (v[E_RESPECT_DATE].s)
            buf_addf(&b, " (%s)", v[E_RESPECT_DATE].date);
        sc_arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_LPA].code || v[E_LPA_NAME].s) {
        buf_reset(&b);
        buf_addf(&b, "Lasting power of attorney: %s",
                 v[E_LPA].code ? v[E_LPA].code->display : "not stated");
        if (v[E_LPA_NAME].s)
            buf_addf(&b, " (attorney: %.*s)", (int)v[E_LPA_NAME].len, v[E_LPA_NAME].s);
        sc_arr_add(&notes, note(b.data, b.len));
    }
    buf_release(&b);
    set_opt(cp, "note", notes);
    sc_emit(p, "CarePlan", v[E_ID].id, cp);

    if (v[E_DNACPR].s) {
        char id[65];
        suffixed_id(&v[E_ID], "-dnacpr", id);
        json_t *c = sc_resource("Consent", id, "end-of-life");
        ids = json_array();
        json_array_append_new(ids, sc_identifier(p->id_system, &v[E_ID]));
        json_object_set_new_nocheck(c, "identifier", ids);
        json_object_set_new_nocheck(c, "status",
                                    json_string_nocheck(v[E_DNACPR].b ? "active" : "inactive"));
        json_object_set_new_nocheck(c, "scope",
                                    sc_cc("http://terminology.hl7.org/CodeSystem/consentscope",
                                          "adr", "Advanced Care Directive", NULL));
        cats = json_array();
        json_array_append_new(
            cats, sc_cc("http://terminology.hl7.org/CodeSystem/consentcategorycodes", "dnr",
                        "Do Not Resuscitate", json_string_nocheck("DNACPR decision")));
        json_array_append_new(cats, sc_category_cc("end-of-life", "End of life"));
        json_object_set_new_nocheck(c, "category", cats);
        json_object_set_new_nocheck(c, "patient", sc_patient_ref(&v[E_PERSON]));
        json_object_set_new_nocheck(
            c, "dateTime", sc_jdate(v[E_DNACPR_DATE].s ? &v[E_DNACPR_DATE] : &v[E_RECORDED]));
        char txt[96];
        snprintf(txt, sizeof txt, "DNACPR decision recorded by %s", ods);
        json_t *rule = json_object();
        json_object_set_new_nocheck(rule, "text", json_string_nocheck(txt));
        json_object_set_new_nocheck(c, "policyRule", rule);
        json_t *prov = json_object();
        json_object_set_new_nocheck(prov, "type", json_string_nocheck("deny"));
        json_t *codes = json_array();
        json_array_append_new(
            codes, sc_cc(SNOMED_SYSTEM, "89666000", "Cardiopulmonary resuscitation", NULL));
        json_object_set_new_nocheck(prov, "code", codes);
        json_object_set_new_nocheck(c, "provision", prov);
        sc_emit(p, "Consent", id, c);
    }

    if (v[E_RESPECT].s) {
        char id[65];
        suffixed_id(&v[E_ID], "-respect", id);
        json_t *d = sc_resource("DocumentReference", id, "end-of-life");
        ids = json_array();
        json_array_append_new(ids, sc_identifier(p->id_system, &v[E_ID]));
        json_object_set_new_nocheck(d, "identifier", ids);
        json_object_set_new_nocheck(d, "status",
                                    json_string_nocheck(v[E_RESPECT].b ? "current" : "superseded"));
        json_object_set_new_nocheck(d, "type",
                                    sc_cc(WEFT_CODE_SYSTEM_PREFIX "document-type", "respect-form",
                                          "ReSPECT form", json_string_nocheck("ReSPECT form")));
        cats = json_array();
        json_array_append_new(cats, sc_category_cc("end-of-life", "End of life"));
        json_object_set_new_nocheck(d, "category", cats);
        json_object_set_new_nocheck(d, "subject", sc_patient_ref(&v[E_PERSON]));
        char title[96];
        snprintf(title, sizeof title, "ReSPECT form held by %s", ods);
        json_t *att = json_object();
        json_object_set_new_nocheck(att, "title", json_string_nocheck(title));
        json_t *content = json_object();
        json_object_set_new_nocheck(content, "attachment", att);
        json_t *contents = json_array();
        json_array_append_new(contents, content);
        json_object_set_new_nocheck(d, "content", contents);
        json_t *ctx = json_object();
        json_t *cper = json_object();
        json_object_set_new_nocheck(
            cper, "start", sc_jdate(v[E_RESPECT_DATE].s ? &v[E_RESPECT_DATE] : &v[E_RECORDED]));
        json_object_set_new_nocheck(ctx, "period", cper);
        json_object_set_new_nocheck(d, "context", ctx);
        sc_emit(p, "DocumentReference", id, d);
    }
    return 0;
}
