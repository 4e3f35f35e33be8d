/*
 * socialcare_map_assessments.c - one of the six social care mappings: assessments extracts ->
 * QuestionnaireResponse (docs §4.3). The row's values were checked against their columns
 * (socialcare_validate.c); what involves several columns is checked here.
 */
#include "feeds/socialcare_int.h"

static json_t *qr_item(const char *link, const char *text, const char *value_key, json_t *value)
{
    json_t *it = json_object();
    json_object_set_new_nocheck(it, "linkId", json_string_nocheck(link));
    json_object_set_new_nocheck(it, "text", json_string_nocheck(text));
    json_t *answers = json_array();
    if (json_is_array(value)) { /* several answers, each already an answer object */
        json_array_extend(answers, value);
        json_decref(value);
    } else {
        json_t *a = json_object();
        json_object_set_new_nocheck(a, value_key, value);
        json_array_append_new(answers, a);
    }
    json_object_set_new_nocheck(it, "answer", answers);
    return it;
}

int sc_map_assessments(struct proc *p)
{
    const struct val *v = p->v;
    json_t *r = sc_resource("QuestionnaireResponse", v[A_ID].id, "social-care-assessment");
    json_object_set_new_nocheck(r, "identifier", sc_identifier(p->id_system, &v[A_ID]));
    json_object_set_new_nocheck(
        r, "questionnaire",
        json_string_nocheck("https://weft.nhs.uk/Questionnaire/social-care-assessment"));
    const char *status = v[A_STATUS].code ? v[A_STATUS].code->fhir : "completed";
    json_object_set_new_nocheck(r, "status", json_string_nocheck(status));
    json_object_set_new_nocheck(r, "subject", sc_patient_ref(&v[A_PERSON]));
    json_object_set_new_nocheck(r, "authored", sc_jdate(&v[A_DATE]));
    set_opt(r, "author", sc_display_ref(&v[A_TEAM]));

    json_t *items = json_array();
    const struct code *t = v[A_TYPE].code;
    json_array_append_new(items,
                          qr_item("type", "Assessment type", "valueCoding",
                                  sc_coding(WEFT_CODE_SYSTEM_PREFIX "social-care-assessment-type",
                                            t->code, t->display)));
    if (v[A_OUTCOME].s)
        json_array_append_new(items,
                              qr_item("outcome", "Outcome", "valueString", jval(&v[A_OUTCOME])));
    if (v[A_NEEDS].nlist) {
        json_t *answers = json_array();
        for (size_t i = 0; i < v[A_NEEDS].nlist; i++) {
            const struct code *c = v[A_NEEDS].list[i];
            json_t *a = json_object();
            json_object_set_new_nocheck(
                a, "valueCoding",
                sc_coding(WEFT_CODE_SYSTEM_PREFIX "care-act-outcome", c->code, c->display));
            json_array_append_new(answers, a);
        }
        json_array_append_new(items, qr_item("eligible-needs", "Eligible needs", NULL, answers));
    }
    if (v[A_TEAM].s)
        json_array_append_new(
            items, qr_item("assessor-team", "Assessor team", "valueString", jval(&v[A_TEAM])));
    if (v[A_SUMMARY].s)
        json_array_append_new(items,
                              qr_item("summary", "Summary", "valueString", jval(&v[A_SUMMARY])));
    if (v[A_REVIEW].s)
        json_array_append_new(
            items, qr_item("review-date", "Review date", "valueDate", sc_jdate(&v[A_REVIEW])));
    json_object_set_new_nocheck(r, "item", items);
    sc_emit(p, "QuestionnaireResponse", v[A_ID].id, r);
    return 0;
}
