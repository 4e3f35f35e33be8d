/*
 * socialcare_map_people.c - one of the six social care mappings: people
 * extracts -> Patient (docs §4.1). The row's values were checked against
 * their columns (socialcare_validate.c); what involves several columns is
 * checked here.
 */
#include "feeds/socialcare_int.h"

#include <ctype.h>

#include "fhir/datatype.h"
#include "domain/systems.h"
#include "identity/identity.h"

int sc_map_people(struct proc *p)
{
    const struct val *v = p->v;
    if (sc_date_before(p, P_DOD, P_DOB))
        return -1;
    json_t *r = sc_resource("Patient", v[P_ID].id, "demographics");
    json_t *ext = NULL;
    fhir_extension_add(&ext, WEFT_EXTENSION_PREFIX "date-recorded", "valueDate",
                       sc_jdate(&v[P_RECORDED]));
    set_opt(r, "extension", ext);

    json_t *ids = json_array();
    json_array_append_new(ids, sc_identifier(p->id_system, &v[P_ID]));
    if (v[P_NHS].s && v[P_NHS].nhs_ok) {
        const struct code *ver = v[P_NHS_VER].code ? v[P_NHS_VER].code : &sc_nhs_ver_codes[1];
        json_t *x = NULL;
        fhir_extension_add(
            &x, NHS_NUMBER_VERIFICATION_EXTENSION, "valueCodeableConcept",
            fhir_concept1(NHS_NUMBER_VERIFICATION_SYSTEM, ver->code, ver->display, NULL));
        json_array_append_new(ids, fhir_identifier(&(struct fhir_identifier){
                                       .extension = x,
                                       .system = NHS_NUMBER_SYSTEM,
                                       .value = json_string_nocheck(v[P_NHS].nhs)}));
    } else if (v[P_NHS].s) {
        /* kept as sent (digits only when it has ten), flagged the way the
         * linker flags it (identity/link.h), which never links on it */
        json_t *x = NULL;
        fhir_extension_add(&x, LINK_TAG_SYSTEM, "valueCode",
                           json_string_nocheck(LINK_TAG_INVALID_NHS));
        json_array_append_new(ids, fhir_identifier(&(struct fhir_identifier){
                                       .extension = x,
                                       .system = NHS_NUMBER_SYSTEM,
                                       .value = v[P_NHS].nhs[0] ? json_string_nocheck(v[P_NHS].nhs)
                                                                : jval(&v[P_NHS])}));
    }
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "active", json_true());
    json_t *names = NULL;
    sc_arr_add(&names, sc_human_name(p, P_TITLE, P_FAMILY, P_GIVEN, "official"));
    set_opt(r, "name", names);
    set_opt(r, "telecom", sc_telecoms(p, P_PHONE, P_MOBILE, P_EMAIL));
    if (v[P_SEX].code)
        json_object_set_new_nocheck(r, "gender", json_string_nocheck(v[P_SEX].code->code));
    set_opt(r, "birthDate", sc_jdate(&v[P_DOB]));
    set_opt(r, "deceasedDateTime", sc_jdate(&v[P_DOD]));
    static const int lines[] = {P_ADDR1, P_ADDR2, P_ADDR3};
    set_opt(r, "address", sc_address(p, lines, 3, P_TOWN, P_COUNTY, P_POSTCODE));
    if (v[P_GP].s) {
        char ods[11];
        for (size_t i = 0; i <= v[P_GP].len; i++)
            ods[i] = (char)toupper((unsigned char)v[P_GP].s[i]);
        json_t *gp = fhir_reference(&(struct fhir_reference){
            .type = "Organization",
            .identifier = fhir_identifier(&(struct fhir_identifier){
                .system = ODS_SYSTEM, .value = json_string_nocheck(ods)})});
        json_t *a = json_array();
        json_array_append_new(a, gp);
        json_object_set_new_nocheck(r, "generalPractitioner", a);
    }
    sc_emit(p, "Patient", v[P_ID].id, r);
    return 0;
}
