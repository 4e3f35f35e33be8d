/*
 * hl7_map_mdm.c - MDM^T02: a DocumentReference from TXA and OBX.
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ---- MDM: DocumentReference ------------------------------------------- */

int hm_map_mdm(struct mctx *c)
{
    long txa = hl7_seg_find(c->m, "TXA", 1);
    if (txa < 0)
        return hm_fail(c, WEFT_EINVAL, "TXA", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "MDM message has no TXA segment (document header)");
    char num[96] = "";
    if (hm_get(c, txa, 12, 1, 1, 0) || hm_get(c, txa, 16, 1, 1, 0) || hm_get(c, txa, 15, 1, 1, 0) ||
        hm_get(c, txa, 14, 1, 1, 0))
        snprintf(num, sizeof num, "%.*s", (int)c->t.len, c->t.data);
    if (!num[0])
        return hm_fail(
            c, WEFT_EINVAL, "TXA", 12, HL7_ERR_REQUIRED_FIELD,
            "TXA-12 (unique document number) is empty: the document cannot be identified");
    char id[65];
    hm_make_id(id, "doc", num, NULL);
    json_t *doc = json_object();
    char sys[96];
    fhir_local_id_system(sys, sizeof sys, c->ods, "document");
    json_object_set_new(
        doc, "masterIdentifier",
        fhir_identifier(&(struct fhir_identifier){.system = sys, .value = json_string(num)}));
    hm_get(c, txa, 19, 1, 1, 0);
    const char *status = !strcmp(c->t.data, "CA")   ? "entered-in-error"
                         : !strcmp(c->t.data, "OB") ? "superseded"
                                                    : "current";
    json_object_set_new(doc, "status", json_string(status));
    hm_get(c, txa, 17, 1, 1, 0);
    const char *ds = NULL;
    if (!strcmp(c->t.data, "AU") || !strcmp(c->t.data, "LA") || !strcmp(c->t.data, "DO"))
        ds = "final";
    else if (!strcmp(c->t.data, "IP") || !strcmp(c->t.data, "IN") || !strcmp(c->t.data, "DI") ||
             !strcmp(c->t.data, "PA"))
        ds = "preliminary";
    if (ds)
        json_object_set_new(doc, "docStatus", json_string(ds));
    json_t *type = hm_concept(c, txa, 2, 1, HL7_V2_TABLE_SYSTEM_PREFIX "0270");
    if (type)
        json_object_set_new(doc, "type", type);
    json_object_set_new(doc, "subject", hm_patient_ref(c));
    json_t *date = hm_jdate(c, txa, 4, 1, 1, 2);
    if (!date)
        date = hm_jdate(c, txa, 6, 1, 1, 2);
    set_if(doc, "date", date);
    /* the text: every OBX (TX/FT/ST) in order; an ED payload as it is */
    struct buf text = BUF_INIT, one = BUF_INIT;
    json_t *contents = json_array();
    for (long k = hl7_seg_find(c->m, "OBX", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "OBX")) {
        hm_get(c, k, 2, 1, 1, 0);
        if (!strcmp(c->t.data, "ED")) {
            struct hl7_span v;
            hl7_seg_get(c->m, (size_t)k, 5, 1, 0, 0, &v);
            json_t *att = hm_ed_attachment(c, v);
            if (att)
                json_array_append_new(contents, json_pack("{s:o}", "attachment", att));
            continue;
        }
        if (!strcmp(c->t.data, "RP"))
            continue;
        hm_obx_text(c, k, &one);
        if (text.len)
            buf_addc(&text, '\n');
        buf_add(&text, one.data, one.len);
    }
    if (text.len) {
        struct buf e = BUF_INIT;
        hm_base64(text.data, text.len, &e);
        json_t *att = json_pack("{s:s,s:s%}", "contentType", "text/plain", "data", e.data, e.len);
        json_t *title = hm_jget(c, txa, 2, 1, 2, 0);
        set_if(att, "title", title);
        json_t *cdate = hm_jdate(c, txa, 4, 1, 1, 1);
        set_if(att, "creation", cdate);
        json_array_insert_new(contents, 0, json_pack("{s:o}", "attachment", att));
        buf_release(&e);
    }
    buf_release(&text);
    buf_release(&one);
    if (json_array_size(contents) == 0) {
        json_decref(contents);
        json_decref(doc);
        return hm_fail(c, WEFT_EINVAL, "OBX", 5, HL7_ERR_REQUIRED_FIELD,
                       "MDM message holds no document text (no OBX with a value)");
    }
    json_object_set_new(doc, "content", contents);
    json_t *er = hm_encounter_ref(c);
    if (er)
        json_object_set_new(doc, "context", json_pack("{s:[o]}", "encounter", er));
    hm_add_entry(c, "DocumentReference", id, doc, NULL, NULL);
    return 0;
}
