/*
 * hl7_map.c - HL7 v2 → FHIR R4 (see hl7_map.h and docs/feeds/hl7v2.md): the
 * entry point, which picks the mappings a message type needs.  The mappings
 * and what they share live beside it, a file per message family or segment
 * group (listed in hl7_map_int.h).
 *
 * One context per message holds the parsed message, a scratch buffer for
 * unescaped values and the bundle being built.  Each segment kind has one
 * small mapping function; they all read values through hm_get()/hm_dec()
 * (hl7_map_value.c), which unescape, trim and turn text that is not UTF-8
 * (ISO 8859-1 senders) into UTF-8, so jansson never sees invalid strings.  Values that are absent,
 * empty or the HL7 null "" are skipped: the mapping holds what the message
 * holds and nothing else; "" never becomes text.
 *
 * Omitted versus null (HL7 v2.4 ch. 2.7): a field left out means "no
 * information, keep what you have", the null "" means "delete it".  A FHIR
 * PUT replaces the whole Patient, so for the Patient's demographics the
 * difference is passed to the loader: each element whose fields were all
 * omitted (or were valued but mapped to nothing, e.g. an impossible date) is
 * named in the Patient entry's private member LOAD_KEEP_ABSENT
 * ("_keepAbsent", fhir/load.h), e.g. "_keepAbsent": ["address", "telecom"],
 * and the loader copies it from the current version; an element whose field
 * was "" is neither set nor named, so the new version has none.  Elements:
 * name (PID-5), birthDate (PID-7), gender (PID-8), address (PID-11), telecom
 * (PID-13 + PID-14), deceased[x] (PID-29 + PID-30), generalPractitioner
 * (PD1-3 + PD1-4; no PD1 = omitted) and contact (NK1; no NK1 segment =
 * omitted).  An element made from two fields is whole: when either field
 * has a value the element is what the message holds (see hm_keep_or_clear()).
 * identifier (PID-3) is required and always sent, merged with the stored
 * ones by system ("+identifier").  The Encounter, AllergyIntolerance,
 * Condition, Procedure and Appointment follow the same rule for their
 * fields (see each mapping).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ---- entry point ------------------------------------------------------ */

static void event_time(struct mctx *c)
{
    long evn = hl7_seg_find(c->m, "EVN", 1);
    const long segs[3] = {evn, evn, 0};
    const size_t fields[3] = {6, 2, 7};
    for (int i = 0; i < 3; i++) {
        if (segs[i] < 0 || !hm_get(c, segs[i], fields[i], 1, 1, 0))
            continue;
        if (!hl7_map_datetime(c->t.data, c->t.len, 1, c->r->event_time, sizeof c->r->event_time,
                              &c->r->event_epoch))
            return;
    }
    c->r->event_time[0] = 0;
    c->r->event_epoch = 0;
}

/* A mapping context for msg filling r (r cleared); release c->t after. */
static void mctx_init(struct mctx *c, const struct hl7_msg *msg, struct hl7_map_result *r)
{
    memset(r, 0, sizeof *r);
    memset(c, 0, sizeof *c);
    c->m = msg;
    c->d = hl7_msg_delims(msg);
    c->r = r;
    buf_init(&c->t);
}

void hl7_map_event_only(const struct hl7_msg *msg, struct hl7_map_result *r)
{
    struct mctx c;
    mctx_init(&c, msg, r);
    event_time(&c);
    buf_release(&c.t);
}

void hl7_map_result_clear(struct hl7_map_result *r)
{
    json_decref(r->bundle);
    json_decref(r->merge_survivor);
    json_decref(r->merge_retired);
    memset(r, 0, sizeof *r);
}

static const char *const adt_events[] = {"A01", "A02", "A03", "A04", "A05", "A08",
                                         "A11", "A13", "A28", "A31", NULL};

int hl7_map_message(const struct hl7_msg *msg, const struct hl7_map_opts *opts,
                    struct hl7_map_result *r)
{
    struct mctx c;
    mctx_init(&c, msg, r);
    if (!opts || !opts->ods || !opts->ods[0]) {
        buf_release(&c.t);
        r->ack_code = "AR";
        snprintf(r->reason, sizeof r->reason, "no sending organisation (ODS code) for this feed");
        r->err.code = HL7_ERR_INTERNAL;
        return WEFT_EINVAL;
    }
    c.ods = opts->ods;
    char type[8] = "", trig[8] = "";
    if (hm_get(&c, 0, 9, 1, 1, 0))
        snprintf(type, sizeof type, "%.*s", (int)c.t.len, c.t.data);
    if (hm_get(&c, 0, 9, 1, 2, 0))
        snprintf(trig, sizeof trig, "%.*s", (int)c.t.len, c.t.data);
    if (!trig[0] && hm_get(&c, hl7_seg_find(msg, "EVN", 1), 1, 1, 1, 0)) /* v2.2: EVN-1 */
        snprintf(trig, sizeof trig, "%.*s", (int)c.t.len, c.t.data);
    memcpy(r->msg_type, type, sizeof r->msg_type);
    memcpy(r->trigger, trig, sizeof r->trigger);
    event_time(&c);
    c.entries = json_array();
    c.seen = json_object();
    int rc = 0, handled = 1;
    if (!strcmp(type, "ADT") && (!strcmp(trig, "A40") || !strcmp(trig, "A34"))) {
        rc = hm_map_merge(&c);
    } else if (!strcmp(type, "ADT") && (!strcmp(trig, "A24") || !strcmp(trig, "A37"))) {
        rc = hm_map_link(&c);
    } else if (!strcmp(type, "ADT")) {
        int ok = 0;
        for (int i = 0; adt_events[i]; i++)
            ok |= !strcmp(trig, adt_events[i]);
        if (!ok) {
            handled = 0;
        } else if (!(rc = hm_map_patient(&c))) {
            int visit = strcmp(trig, "A28") && strcmp(trig, "A31");
            if (visit)
                hm_map_encounter(&c, trig);
            hm_map_allergies(&c);
            hm_map_conditions(&c);
            hm_map_procedures(&c);
            hm_map_mha(&c);
        }
    } else if (!strcmp(type, "ORU") && !strcmp(trig, "R01")) {
        if (!(rc = hm_map_patient(&c))) {
            hm_link_visit(&c);
            rc = hm_map_oru(&c);
        }
    } else if (!strcmp(type, "MDM") && !strcmp(trig, "T02")) {
        if (!(rc = hm_map_patient(&c))) {
            hm_link_visit(&c);
            rc = hm_map_mdm(&c);
        }
    } else if (!strcmp(type, "SIU") && (!strcmp(trig, "S12") || !strcmp(trig, "S13") ||
                                        !strcmp(trig, "S14") || !strcmp(trig, "S15"))) {
        if (!(rc = hm_map_patient(&c)))
            rc = hm_map_siu(&c, trig);
    } else {
        handled = 0;
    }
    if (!handled) {
        char why[120];
        snprintf(why, sizeof why, "message type %s^%s is not accepted by this feed", type, trig);
        rc = hm_fail(&c, WEFT_EUNSUPPORTED, "MSH", 9,
                     strcmp(type, "ADT") ? HL7_ERR_UNSUPPORTED_MESSAGE_TYPE
                                         : HL7_ERR_UNSUPPORTED_EVENT,
                     why);
    }
    if (rc == 0 && r->kind != HL7_MAP_MERGE) {
        r->kind = HL7_MAP_BUNDLE;
        r->resources = json_array_size(c.entries);
        r->bundle = json_pack("{s:s,s:s,s:O}", "resourceType", "Bundle", "type", "transaction",
                              "entry", c.entries);
    }
    json_decref(c.entries);
    json_decref(c.seen);
    json_decref(c.visit_ref);
    buf_release(&c.t);
    return rc;
}
