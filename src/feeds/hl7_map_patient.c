/*
 * hl7_map_patient.c - the Patient, from PID (+ PD1, NK1): identifiers (CX),
 * names (XPN), addresses (XAD), telecoms (XTN), gender, deceased, GP and
 * contacts, with the omitted/null rule for each element.
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ---- Patient ---------------------------------------------------------- */

static int nhs_valid(const char *s, size_t n)
{
    if (n != 10)
        return 0;
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (i < 9)
            sum += (s[i] - '0') * (10 - i);
    }
    int chk = 11 - sum % 11;
    if (chk == 11)
        chk = 0;
    return chk != 10 && chk == s[9] - '0';
}

/* FHIR Identifier from a CX span; kind_out gets the identifier type (lower
 * case, "nhs" for NHS numbers).  NULL when the CX has no value. */
json_t *hm_identifier_cx(struct mctx *c, struct hl7_span cx, char kind_out[16])
{
    char value[128], type[16] = "", auth[32] = "";
    if (!hm_dec(c, hl7_span_part(cx, c->d->comp, 1)))
        return NULL;
    snprintf(value, sizeof value, "%.*s", (int)c->t.len, c->t.data);
    struct hl7_span auth_s = hl7_span_part(hl7_span_part(cx, c->d->comp, 4), c->d->sub, 1);
    if (hm_dec(c, auth_s))
        snprintf(auth, sizeof auth, "%.*s", (int)c->t.len, c->t.data);
    if (hm_dec(c, hl7_span_part(cx, c->d->comp, 5)))
        snprintf(type, sizeof type, "%.*s", (int)c->t.len, c->t.data);
    int is_nhs = !strcmp(type, "NH") || !strcmp(type, "NHS") || !strcmp(type, "NHSNBR") ||
                 !strcmp(auth, "NHS") || !strcmp(auth, "NHSNBR");
    /* spaces inside NHS numbers are common ("999 123 4567") */
    char compact[16];
    size_t cl = 0;
    for (size_t i = 0; value[i] && cl < sizeof compact - 1; i++)
        if (value[i] != ' ')
            compact[cl++] = value[i];
    compact[cl] = 0;
    if (is_nhs && nhs_valid(compact, cl)) {
        snprintf(kind_out, 16, "nhs");
        return fhir_identifier(
            &(struct fhir_identifier){.system = NHS_NUMBER_SYSTEM, .value = json_string(compact)});
    }
    char kind[16];
    if (is_nhs)
        snprintf(kind, sizeof kind, "nh-unverified");
    else if (type[0]) {
        size_t k = 0;
        for (; type[k] && k < sizeof kind - 1; k++) {
            char ch = type[k];
            kind[k] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
            if (!((kind[k] >= 'a' && kind[k] <= 'z') || (kind[k] >= '0' && kind[k] <= '9')))
                kind[k] = '-';
        }
        kind[k] = 0;
    } else
        snprintf(kind, sizeof kind, "local");
    char sys[96];
    fhir_local_id_system(sys, sizeof sys, c->ods, kind);
    snprintf(kind_out, 16, "%s", kind);
    return fhir_identifier(&(struct fhir_identifier){
        .type = type[0] ? fhir_concept1(HL7_V2_TABLE_SYSTEM_PREFIX "0203", type, NULL, NULL) : NULL,
        .system = sys,
        .value = json_string(value)});
}

static json_t *human_name(struct mctx *c, struct hl7_span xpn)
{
    const char comp = c->d->comp;
    struct hl7_span use = hl7_span_part(xpn, comp, 7);
    const char *u = NULL;
    if (hl7_span_eq(use, "L"))
        u = "official";
    else if (hl7_span_eq(use, "D"))
        u = "usual";
    else if (hl7_span_eq(use, "M") || hl7_span_eq(use, "B"))
        u = "maiden";
    else if (hl7_span_eq(use, "N"))
        u = "nickname";
    else if (hl7_span_eq(use, "A") || hl7_span_eq(use, "S"))
        u = "anonymous";
    else if (hl7_span_eq(use, "U"))
        u = "temp";
    json_t *family = hm_jspan(c, hl7_span_part(hl7_span_part(xpn, comp, 1), c->d->sub, 1));
    json_t *given = json_array();
    append_if(given, hm_jspan(c, hl7_span_part(xpn, comp, 2)));
    append_if(given, hm_jspan(c, hl7_span_part(xpn, comp, 3)));
    json_t *suffix = json_array();
    append_if(suffix, hm_jspan(c, hl7_span_part(xpn, comp, 4)));
    json_t *prefix = json_array();
    append_if(prefix, hm_jspan(c, hl7_span_part(xpn, comp, 5)));
    return fhir_human_name(&(struct fhir_human_name){
        .use = u, .family = family, .given = given, .prefix = prefix, .suffix = suffix});
}

static json_t *address(struct mctx *c, struct hl7_span xad)
{
    const char comp = c->d->comp;
    struct hl7_span type = hl7_span_part(xad, comp, 7);
    const char *use = NULL;
    if (hl7_span_eq(type, "H") || hl7_span_eq(type, "L"))
        use = "home";
    else if (hl7_span_eq(type, "B") || hl7_span_eq(type, "O"))
        use = "work";
    else if (hl7_span_eq(type, "C"))
        use = "temp";
    json_t *lines = json_array();
    append_if(lines, hm_jspan(c, hl7_span_part(hl7_span_part(xad, comp, 1), c->d->sub, 1)));
    append_if(lines, hm_jspan(c, hl7_span_part(xad, comp, 2)));
    json_t *city = hm_jspan(c, hl7_span_part(xad, comp, 3));
    json_t *district = hm_jspan(c, hl7_span_part(xad, comp, 4));
    json_t *postal_code = hm_jspan(c, hl7_span_part(xad, comp, 5));
    return fhir_address(
        &(struct fhir_address){.use = use,
                               .line = lines,
                               .city = city,
                               .district = district,
                               .postal_code = postal_code,
                               .country = hm_jspan(c, hl7_span_part(xad, comp, 6))});
}

static json_t *telecom(struct mctx *c, struct hl7_span xtn, const char *dflt_use)
{
    const char comp = c->d->comp;
    struct hl7_span use = hl7_span_part(xtn, comp, 2);
    struct hl7_span equip = hl7_span_part(xtn, comp, 3);
    const char *system = "phone";
    json_t *value = NULL;
    if (hl7_span_eq(equip, "Internet") || hl7_span_eq(equip, "X.400") || hl7_span_eq(use, "NET")) {
        system = "email";
        value = hm_jspan(c, hl7_span_part(xtn, comp, 4));
    } else if (hl7_span_eq(equip, "FX")) {
        system = "fax";
    }
    if (!value)
        value = hm_jspan(c, hl7_span_part(xtn, comp, 1));
    if (!value)
        value = hm_jspan(c, hl7_span_part(xtn, comp, 12));
    if (!value) {
        char num[96];
        size_t n = 0;
        if (hm_dec(c, hl7_span_part(xtn, comp, 6)))
            n = clamp_len(snprintf(num, sizeof num, "%.*s ", (int)c->t.len, c->t.data), sizeof num);
        if (hm_dec(c, hl7_span_part(xtn, comp, 7))) {
            snprintf(num + n, sizeof num - n, "%.*s", (int)c->t.len, c->t.data);
            value = json_string(num);
        }
    }
    const char *u = dflt_use;
    if (hl7_span_eq(equip, "CP"))
        u = "mobile";
    return fhir_contact_point(system, value, u);
}

static json_t *gender(struct hl7_span s)
{
    if (span_eq_ci(s, "M"))
        return json_string("male");
    if (span_eq_ci(s, "F"))
        return json_string("female");
    if (span_eq_ci(s, "O") || span_eq_ci(s, "A"))
        return json_string("other");
    if (span_eq_ci(s, "U") || span_eq_ci(s, "N"))
        return json_string("unknown");
    return NULL;
}

/* Patient.contact from every NK1.  No NK1 segment: contact is omitted
 * (kept); NK1 segments that make no contact clear it when one of their
 * fields 2-7 is "", else they count as omitted too (senders' empty
 * placeholder "NK1|1"). */
static void map_contacts(struct mctx *c, json_t *pat, json_t *keep)
{
    json_t *contacts = json_array();
    enum presence p = P_OMITTED;
    for (long k = hl7_seg_find(c->m, "NK1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "NK1")) {
        for (size_t f = 2; f <= 7; f++)
            if (hm_presence(c, k, f) == P_NULL)
                p = P_NULL;
        json_t *ct = json_object();
        struct hl7_span v;
        if (!hl7_seg_get(c->m, (size_t)k, 2, 1, 0, 0, &v))
            set_if(ct, "name", human_name(c, v));
        json_t *rels = json_array();
        json_t *rel = hm_concept(c, k, 3, 1, HL7_V2_TABLE_SYSTEM_PREFIX "0063");
        append_if(rels, rel);
        append_if(rels, hm_concept(c, k, 7, 1, HL7_V2_TABLE_SYSTEM_PREFIX "0131"));
        set_array(ct, "relationship", rels);
        if (!hl7_seg_get(c->m, (size_t)k, 4, 1, 0, 0, &v))
            set_if(ct, "address", address(c, v));
        json_t *tel = json_array();
        struct hl7_iter it;
        FOR_REPS(c, k, 5, it, v)
        append_if(tel, telecom(c, v, "home"));
        FOR_REPS(c, k, 6, it, v)
        append_if(tel, telecom(c, v, "work"));
        set_array(ct, "telecom", tel);
        if (json_object_get(ct, "name") || json_object_get(ct, "telecom") ||
            json_object_get(ct, "address"))
            json_array_append_new(contacts, ct);
        else
            json_decref(ct);
    }
    set_array(pat, "contact", contacts);
    hm_keep_or_clear(keep, "contact", json_object_get(pat, "contact") != NULL, &p, 1);
}

/* Patient.generalPractitioner from PD1-3 and PD1-4 (no PD1: omitted). */
static void map_gp(struct mctx *c, json_t *pat, json_t *keep)
{
    long pd1 = hl7_seg_find(c->m, "PD1", 1);
    const enum presence p[2] = {hm_presence(c, pd1, 3), hm_presence(c, pd1, 4)};
    json_t *gps = json_array();
    struct hl7_span v;
    /* PD1-3 practice (XON): name, XON-3 (v2.4) or XON-10 (v2.5+) the ODS code */
    if (pd1 >= 0 && !hl7_seg_get(c->m, (size_t)pd1, 3, 1, 0, 0, &v) && v.len) {
        json_t *code = hm_jspan(c, hl7_span_part(v, c->d->comp, 10));
        if (!code)
            code = hm_jspan(c, hl7_span_part(v, c->d->comp, 3));
        json_t *id =
            fhir_identifier(&(struct fhir_identifier){.system = ODS_SYSTEM, .value = code});
        append_if(gps, fhir_reference(&(struct fhir_reference){
                           .type = "Organization",
                           .identifier = id,
                           .display = hm_jspan(c, hl7_span_part(v, c->d->comp, 1))}));
    }
    /* PD1-4 GP (XCN): id^family^given */
    if (pd1 >= 0 && !hl7_seg_get(c->m, (size_t)pd1, 4, 1, 0, 0, &v) && v.len) {
        json_t *code = hm_jspan(c, hl7_span_part(v, c->d->comp, 1));
        json_t *id = fhir_identifier(&(struct fhir_identifier){
            .system = "https://fhir.hl7.org.uk/Id/gmp-number", .value = code});
        char disp[160] = "";
        size_t dl = 0;
        if (hm_dec(c, hl7_span_part(v, c->d->comp, 3)))
            dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data),
                           sizeof disp);
        if (hm_dec(c, hl7_span_part(v, c->d->comp, 2)))
            snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
        append_if(gps, fhir_reference(&(struct fhir_reference){
                           .type = "Practitioner",
                           .identifier = id,
                           .display = disp[0] ? json_string(disp) : NULL}));
    }
    set_array(pat, "generalPractitioner", gps);
    hm_keep_or_clear(keep, "generalPractitioner",
                     json_object_get(pat, "generalPractitioner") != NULL, p, 2);
}

/* Patient from PID (+ PD1, NK1).  Returns 0 or a failure. */
int hm_map_patient(struct mctx *c)
{
    long pid = hl7_seg_find(c->m, "PID", 1);
    if (pid < 0)
        return hm_fail(c, WEFT_EINVAL, "PID", 0, HL7_ERR_SEGMENT_SEQUENCE,
                       "message has no PID segment: no patient to file it against");
    json_t *pat = json_object();
    json_t *ids = json_array();
    char best[160] = "";
    int best_rank = 99;
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, pid, 3, it, cx)
    {
        char kind[16];
        json_t *id = hm_identifier_cx(c, cx, kind);
        if (!id)
            continue;
        /* the Patient's source id: prefer MR, then PI, then other local, then NHS */
        int rank = !strcmp(kind, "mr") ? 0 : !strcmp(kind, "pi") ? 1 : !strcmp(kind, "nhs") ? 3 : 2;
        if (rank < best_rank) {
            best_rank = rank;
            snprintf(best, sizeof best, "%s-%s", kind,
                     json_string_value(json_object_get(id, "value")));
        }
        json_array_append_new(ids, id);
    }
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        json_decref(pat);
        return hm_fail(c, WEFT_EINVAL, "PID", 3, HL7_ERR_REQUIRED_FIELD,
                       "PID-3 (patient identifier list) holds no identifier");
    }
    json_object_set_new(pat, "identifier", ids);
    /* every other element: set, cleared ("") or named in keep (omitted);
     * the identifiers are merged by system ("+identifier"): a lab's thin
     * PID-3 (hospital number only) keeps the NHS number the PAS sent */
    json_t *keep = json_array();
    json_array_append_new(keep, json_string("+identifier"));
    enum presence p[2];
    json_t *names = json_array();
    struct hl7_span v;
    FOR_REPS(c, pid, 5, it, v)
    {
        append_if(names, human_name(c, v));
    }
    set_array(pat, "name", names);
    p[0] = hm_presence(c, pid, 5);
    hm_keep_or_clear(keep, "name", json_object_get(pat, "name") != NULL, p, 1);
    set_if(pat, "birthDate", hm_jdate(c, pid, 7, 1, 1, 0));
    p[0] = hm_presence(c, pid, 7);
    hm_keep_or_clear(keep, "birthDate", json_object_get(pat, "birthDate") != NULL, p, 1);
    if (!hl7_seg_get(c->m, (size_t)pid, 8, 1, 1, 0, &v))
        set_if(pat, "gender", gender(span_trim(v)));
    p[0] = hm_presence(c, pid, 8);
    hm_keep_or_clear(keep, "gender", json_object_get(pat, "gender") != NULL, p, 1);
    json_t *addrs = json_array();
    FOR_REPS(c, pid, 11, it, v)
    {
        append_if(addrs, address(c, v));
    }
    set_array(pat, "address", addrs);
    p[0] = hm_presence(c, pid, 11);
    hm_keep_or_clear(keep, "address", json_object_get(pat, "address") != NULL, p, 1);
    json_t *tel = json_array();
    FOR_REPS(c, pid, 13, it, v)
    {
        append_if(tel, telecom(c, v, "home"));
    }
    FOR_REPS(c, pid, 14, it, v)
    {
        append_if(tel, telecom(c, v, "work"));
    }
    set_array(pat, "telecom", tel);
    p[0] = hm_presence(c, pid, 13), p[1] = hm_presence(c, pid, 14);
    hm_keep_or_clear(keep, "telecom", json_object_get(pat, "telecom") != NULL, p, 2);
    /* PID-29 death time, else PID-30 death indicator (Y/N; anything else,
     * and "", makes no deceasedBoolean) */
    json_t *dd = hm_jdate(c, pid, 29, 1, 1, 1);
    if (dd)
        json_object_set_new(pat, "deceasedDateTime", dd);
    else if (!hl7_seg_get(c->m, (size_t)pid, 30, 1, 1, 0, &v) &&
             (span_eq_ci(span_trim(v), "Y") || span_eq_ci(span_trim(v), "N")))
        json_object_set_new(pat, "deceasedBoolean", json_boolean(span_eq_ci(span_trim(v), "Y")));
    p[0] = hm_presence(c, pid, 29), p[1] = hm_presence(c, pid, 30);
    hm_keep_or_clear(keep, "deceased[x]",
                     json_object_get(pat, "deceasedDateTime") != NULL ||
                         json_object_get(pat, "deceasedBoolean") != NULL,
                     p, 2);
    map_gp(c, pat, keep);
    map_contacts(c, pat, keep);
    char id[65];
    hl7_map_fhir_id(best, strlen(best), id);
    hm_add_entry(c, "Patient", id, pat, c->pat_id, c->pat_url);
    hm_keep_attach(c, keep);
    return 0;
}
