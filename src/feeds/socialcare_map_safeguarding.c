/*
 * socialcare_map_safeguarding.c - one of the six social care mappings: safeguarding extracts ->
 * Flag (docs §4.5). The row's values were checked against their columns (socialcare_validate.c);
 * what involves several columns is checked here.
 */
#include "feeds/socialcare_int.h"

#include "core/buf.h"

int sc_map_safeguarding(struct proc *p)
{
    const struct val *v = p->v;
    if (sc_date_before(p, G_CLOSED, G_RAISED))
        return -1;
    json_t *r = sc_resource("Flag", v[G_ID].id, "safeguarding");
    json_t *sec = json_array();
    json_array_append_new(sec, sc_coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                         "R", "restricted"));
    json_object_set_new_nocheck(json_object_get(r, "meta"), "security", sec);

    json_t *ext = NULL;
    struct buf text = BUF_INIT;
    buf_adds(&text, "Safeguarding concern");
    for (size_t i = 0; i < v[G_CATEGORY].nlist; i++) {
        const struct code *c = v[G_CATEGORY].list[i];
        sc_ext_add(
            &ext, WEFT_EXTENSION_PREFIX "safeguarding-abuse-category", "valueCoding",
            sc_coding(WEFT_CODE_SYSTEM_PREFIX "safeguarding-abuse-category", c->code, c->display));
        buf_addf(&text, "%s%s", i ? "; " : ": ", c->display);
    }
    sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "safeguarding-outcome", "valueString",
               jval(&v[G_OUTCOME]));
    sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "safeguarding-summary", "valueString",
               jval(&v[G_SUMMARY]));
    set_opt(r, "extension", ext);
    json_t *ids = json_array();
    json_array_append_new(ids, sc_identifier(p->id_system, &v[G_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "status", json_string_nocheck(v[G_STATUS].code->fhir));
    json_t *cats = json_array();
    json_array_append_new(cats, sc_category_cc("safeguarding", "Safeguarding"));
    json_array_append_new(cats, sc_cc("http://terminology.hl7.org/CodeSystem/flag-category",
                                      "safety", "Safety", NULL));
    json_object_set_new_nocheck(r, "category", cats);
    json_object_set_new_nocheck(r, "code",
                                sc_cc(WEFT_CODE_SYSTEM_PREFIX "flag-code", "safeguarding-concern",
                                      "Safeguarding concern", jsn(text.data, text.len)));
    buf_release(&text);
    json_object_set_new_nocheck(r, "subject", sc_patient_ref(&v[G_PERSON]));
    set_opt(r, "period", sc_period(&v[G_RAISED], &v[G_CLOSED]));
    set_opt(r, "author", sc_display_ref(&v[G_TEAM]));
    sc_emit(p, "Flag", v[G_ID].id, r);
    return 0;
}
