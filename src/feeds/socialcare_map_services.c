/*
 * socialcare_map_services.c - one of the six social care mappings: services extracts ->
 * EpisodeOfCare (docs §4.4). The row's values were checked against their columns
 * (socialcare_validate.c); what involves several columns is checked here.
 */
#include "feeds/socialcare_int.h"

#include <ctype.h>

int sc_map_services(struct proc *p)
{
    const struct val *v = p->v;
    if (sc_date_before(p, S_END, S_START))
        return -1;
    if (v[S_HOURS].s && v[S_HOURS].dec > 168) {
        sc_row_error(p, "hours_per_week", "more than 168 hours per week");
        return -1;
    }
    json_t *r = sc_resource("EpisodeOfCare", v[S_ID].id, "services");
    if (v[S_HOURS].s) {
        json_t *q = json_object();
        json_object_set_new_nocheck(q, "value", json_real(v[S_HOURS].dec));
        json_object_set_new_nocheck(q, "unit", json_string_nocheck("hours per week"));
        json_object_set_new_nocheck(q, "system", json_string_nocheck(UCUM_SYSTEM));
        json_object_set_new_nocheck(q, "code", json_string_nocheck("h/wk"));
        json_t *ext = NULL;
        sc_ext_add(&ext, WEFT_EXTENSION_PREFIX "hours-per-week", "valueQuantity", q);
        json_object_set_new_nocheck(r, "extension", ext);
    }
    json_t *ids = json_array();
    json_array_append_new(ids, sc_identifier(p->id_system, &v[S_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "status", json_string_nocheck(v[S_STATUS].code->fhir));
    const struct code *t = v[S_TYPE].code;
    json_t *types = json_array();
    json_array_append_new(types, sc_cc(WEFT_CODE_SYSTEM_PREFIX "social-care-service", t->code,
                                       t->display, json_string_nocheck(t->display)));
    json_array_append_new(types, sc_category_cc("services", "Services"));
    json_object_set_new_nocheck(r, "type", types);
    json_object_set_new_nocheck(r, "patient", sc_patient_ref(&v[S_PERSON]));
    if (v[S_PROVIDER].s || v[S_PROVIDER_ODS].s) {
        json_t *org = json_object();
        if (v[S_PROVIDER_ODS].s) {
            char ods[11];
            for (size_t i = 0; i <= v[S_PROVIDER_ODS].len; i++)
                ods[i] = (char)toupper((unsigned char)v[S_PROVIDER_ODS].s[i]);
            json_t *oid = json_object();
            json_object_set_new_nocheck(oid, "system", json_string_nocheck(ODS_SYSTEM));
            json_object_set_new_nocheck(oid, "value", json_string_nocheck(ods));
            json_object_set_new_nocheck(org, "identifier", oid);
        }
        set_opt(org, "display", jval(&v[S_PROVIDER]));
        json_object_set_new_nocheck(r, "managingOrganization", org);
    }
    set_opt(r, "period", sc_period(&v[S_START], &v[S_END]));
    sc_emit(p, "EpisodeOfCare", v[S_ID].id, r);
    return 0;
}
