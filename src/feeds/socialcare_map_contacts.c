/*
 * socialcare_map_contacts.c - one of the six social care mappings: contacts extracts ->
 * RelatedPerson (docs §4.2). The row's values were checked against their columns
 * (socialcare_validate.c); what involves several columns is checked here.
 */
#include "feeds/socialcare_int.h"

#include <string.h>

int sc_map_contacts(struct proc *p)
{
    const struct val *v = p->v;
    if (!v[C_FAMILY].s && !v[C_GIVEN].s) {
        sc_row_error(p, "family_name", "family_name and given_names are both blank");
        return -1;
    }
    if (sc_date_before(p, C_END, C_START))
        return -1;
    json_t *r = sc_resource("RelatedPerson", v[C_ID].id, "contacts");
    json_t *ext = NULL;
    sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "carer-support", "valueString", jval(&v[C_SUPPORT]));
    set_opt(r, "extension", ext);
    json_t *ids = json_array();
    json_array_append_new(ids, sc_identifier(p->id_system, &v[C_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    int active = !(v[C_END].s && strcmp(v[C_END].date, p->today) < 0);
    json_object_set_new_nocheck(r, "active", json_boolean(active));
    json_object_set_new_nocheck(r, "patient", sc_patient_ref(&v[C_PERSON]));

    json_t *rel = NULL;
    if (v[C_REL].s) {
        const struct code *c = sc_code_find(sc_relationships, v[C_REL].s, v[C_REL].len);
        json_t *t = jval(&v[C_REL]);
        if (c) {
            sc_arr_add(&rel, sc_cc(ROLE_SYSTEM, c->code, c->display, t));
        } else {
            json_t *o = json_object();
            json_object_set_new_nocheck(o, "text", t);
            sc_arr_add(&rel, o);
        }
    }
    if (v[C_CARER].s && v[C_CARER].b)
        sc_arr_add(&rel, sc_cc(WEFT_CODE_SYSTEM_PREFIX "contact-role", "carer", "Carer", NULL));
    if (v[C_NOK].s && v[C_NOK].b)
        sc_arr_add(&rel, sc_cc(V2_0131_SYSTEM, "N", "Next-of-Kin", NULL));
    if (v[C_EMERG].s && v[C_EMERG].b)
        sc_arr_add(&rel, sc_cc(V2_0131_SYSTEM, "C", "Emergency Contact", NULL));
    set_opt(r, "relationship", rel);
    json_t *names = NULL;
    sc_arr_add(&names, sc_human_name(p, -1, C_FAMILY, C_GIVEN, NULL));
    set_opt(r, "name", names);
    set_opt(r, "telecom", sc_telecoms(p, C_PHONE, C_MOBILE, C_EMAIL));
    static const int lines[] = {C_ADDR1, C_ADDR2};
    set_opt(r, "address", sc_address(p, lines, 2, C_TOWN, -1, C_POSTCODE));
    set_opt(r, "period", sc_period(&v[C_START], &v[C_END]));
    sc_emit(p, "RelatedPerson", v[C_ID].id, r);
    return 0;
}
