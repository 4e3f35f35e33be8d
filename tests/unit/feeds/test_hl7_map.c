/* test_hl7_map.c - HL7 v2 → FHIR R4: each message type on hand-written
 * messages (values checked field by field), deterministic ids, rejections
 * with reasons, date/time conversion, and every shared sample mapped into a
 * well-formed transaction bundle ($WEFT_DATA/hl7v2, skipped when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>

#include "core/err.h"
#include "feeds/hl7_map.h"

struct fixture {
    struct hl7_msg *m;
    struct hl7_map_result r;
    int rc;
};

static int map_text(struct fixture *f, const char *text)
{
    struct hl7_error e;
    f->m = hl7_msg_new();
    if (hl7_msg_parse(f->m, text, strlen(text), 0, &e))
        fail_msg("parse failed: %s", e.text);
    struct hl7_map_opts o = {.ods = "RVV"};
    f->rc = hl7_map_message(f->m, &o, &f->r);
    return f->rc;
}

static void done(struct fixture *f)
{
    hl7_map_result_clear(&f->r);
    hl7_msg_free(f->m);
}

/* The resource of the n-th (1-based) entry of the given type. */
static json_t *res(struct fixture *f, const char *type, int n)
{
    json_t *entries = json_object_get(f->r.bundle, "entry");
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        json_t *r = json_object_get(e, "resource");
        if (!strcmp(json_string_value(json_object_get(r, "resourceType")), type) && --n == 0)
            return r;
    }
    return NULL;
}

static int count(struct fixture *f, const char *type)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(f->r.bundle, "entry"), i, e)
    {
        json_t *t = json_object_get(json_object_get(e, "resource"), "resourceType");
        n += !strcmp(json_string_value(t), type);
    }
    return n;
}

/* String at a slash path ("name/0/family") or NULL. */
static const char *at(json_t *j, const char *path)
{
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(p, "/", &save); tok && j; tok = strtok_r(NULL, "/", &save)) {
        if (json_is_array(j))
            j = json_array_get(j, (size_t)atoi(tok));
        else
            j = json_object_get(j, tok);
    }
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static double num(json_t *j, const char *path)
{
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(p, "/", &save); tok && j; tok = strtok_r(NULL, "/", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok)) : json_object_get(j, tok);
    assert_true(json_is_number(j));
    return json_number_value(j);
}

#define ASSERT_AT(j, path, want)                                                                   \
    do {                                                                                           \
        const char *got_ = at(j, path);                                                            \
        if (!got_ || strcmp(got_, want))                                                           \
            fail_msg("%s: want '%s', got '%s'", path, want, got_ ? got_ : "(absent)");             \
    } while (0)

static const char ADT_A01[] =
    "MSH|^~\\&|PAS|RVV|WEFT|WEFT|20260612093000||ADT^A01^ADT_A01|CTL1|P|2.4|||AL|NE\r"
    "EVN|A01|20260612092900\r"
    "PID|1||H123456^^^RVV^MR~943 476 5919^^^NHS^NH||Smith^John^Quincy^^Mr^^L~Smyth^Jon^^^^^N||"
    "19700101|M|||1 High St^Flat 2^Canterbury^Kent^CT1 1AA^GBR^H||01227 000000^PRN^PH~"
    "^NET^Internet^john@example.org|07700 900000^WPN^CP\r"
    "PD1|||Canterbury Medical Practice^^G82001|G1234567^Jones^Ann\r"
    "NK1|1|Smith^Jane|SPO^Spouse^HL70063|2 Low St^^Canterbury^^CT2 2BB|01227 111111|||\r"
    "PV1|1|I|WARD1^BAY2^BED3^RVV||||||GEN^General Medicine||||||||||V0001|||||||||||||||||||||"
    "||||20260612090000\r"
    "AL1|1|DA|DRUG1^Penicillin^L|SV|Rash~Swelling|20200101\r"
    "DG1|1|I10|I10^Essential hypertension^I10||20260612|F\r"
    "PR1|1|OPCS|X123^Some procedure^OPCS4||20260612100000\r"
    "ZMH|1|3^Section 3 (treatment)^WEFT-MHA|20260610143000|20260708143000|A|C1^Doc^A|MHA77\r";

static void test_adt_a01(void **state)
{
    (void)state;
    struct fixture f = {0};
    assert_int_equal(map_text(&f, ADT_A01), 0);
    assert_int_equal(f.r.kind, HL7_MAP_BUNDLE);
    ASSERT_AT(f.r.bundle, "type", "transaction");
    assert_string_equal(f.r.msg_type, "ADT");
    assert_string_equal(f.r.trigger, "A01");
    /* June: BST, UTC+1 */
    assert_string_equal(f.r.event_time, "2026-06-12T09:29:00+01:00");
    assert_int_equal(f.r.event_epoch, 1781252940LL);
    json_t *p = res(&f, "Patient", 1);
    assert_non_null(p);
    ASSERT_AT(p, "id", "mr-H123456");
    ASSERT_AT(p, "identifier/0/system", "urn:weft:id:RVV:mr");
    ASSERT_AT(p, "identifier/0/value", "H123456");
    ASSERT_AT(p, "identifier/1/system", "https://fhir.nhs.uk/Id/nhs-number");
    ASSERT_AT(p, "identifier/1/value", "9434765919");
    ASSERT_AT(p, "name/0/family", "Smith");
    ASSERT_AT(p, "name/0/given/0", "John");
    ASSERT_AT(p, "name/0/given/1", "Quincy");
    ASSERT_AT(p, "name/0/prefix/0", "Mr");
    ASSERT_AT(p, "name/0/use", "official");
    ASSERT_AT(p, "name/1/use", "nickname");
    ASSERT_AT(p, "birthDate", "1970-01-01");
    ASSERT_AT(p, "gender", "male");
    ASSERT_AT(p, "address/0/line/1", "Flat 2");
    ASSERT_AT(p, "address/0/postalCode", "CT1 1AA");
    ASSERT_AT(p, "address/0/use", "home");
    ASSERT_AT(p, "telecom/0/value", "01227 000000");
    ASSERT_AT(p, "telecom/1/system", "email");
    ASSERT_AT(p, "telecom/1/value", "john@example.org");
    ASSERT_AT(p, "telecom/2/use", "mobile");
    ASSERT_AT(p, "generalPractitioner/0/identifier/system",
              "https://fhir.nhs.uk/Id/ods-organization-code");
    ASSERT_AT(p, "generalPractitioner/0/identifier/value", "G82001");
    ASSERT_AT(p, "generalPractitioner/1/display", "Ann Jones");
    ASSERT_AT(p, "contact/0/name/family", "Smith");
    ASSERT_AT(p, "contact/0/relationship/0/coding/0/code", "SPO");
    ASSERT_AT(p, "contact/0/address/postalCode", "CT2 2BB");
    ASSERT_AT(p, "contact/0/telecom/0/value", "01227 111111");
    json_t *enc = res(&f, "Encounter", 1);
    assert_non_null(enc);
    ASSERT_AT(enc, "id", "enc-V0001");
    ASSERT_AT(enc, "status", "in-progress");
    ASSERT_AT(enc, "class/code", "IMP");
    ASSERT_AT(enc, "period/start", "2026-06-12T09:00:00+01:00");
    assert_null(at(enc, "period/end"));
    ASSERT_AT(enc, "location/0/location/display", "RVV, WARD1, room BAY2, bed BED3");
    ASSERT_AT(enc, "identifier/0/system", "urn:weft:id:RVV:visit");
    /* references point at the Patient's fullUrl */
    json_t *e0 = json_array_get(json_object_get(f.r.bundle, "entry"), 0);
    ASSERT_AT(enc, "subject/reference", at(e0, "fullUrl"));
    ASSERT_AT(e0, "request/method", "PUT");
    ASSERT_AT(e0, "request/url", "Patient/mr-H123456");
    assert_int_equal(strncmp(at(e0, "fullUrl"), "urn:uuid:", 9), 0);
    json_t *al = res(&f, "AllergyIntolerance", 1);
    ASSERT_AT(al, "code/coding/0/code", "DRUG1");
    ASSERT_AT(al, "category/0", "medication");
    ASSERT_AT(al, "criticality", "high");
    ASSERT_AT(al, "reaction/0/manifestation/1/text", "Swelling");
    ASSERT_AT(al, "reaction/0/severity", "severe");
    json_t *dx = res(&f, "Condition", 1);
    ASSERT_AT(dx, "code/coding/0/system", "http://hl7.org/fhir/sid/icd-10");
    ASSERT_AT(dx, "code/coding/0/code", "I10");
    ASSERT_AT(dx, "verificationStatus/coding/0/code", "confirmed");
    ASSERT_AT(dx, "encounter/reference",
              at(json_array_get(json_object_get(f.r.bundle, "entry"), 1), "fullUrl"));
    json_t *pr = res(&f, "Procedure", 1);
    ASSERT_AT(pr, "code/coding/0/system", "OPCS4"); /* unknown system kept as given */
    ASSERT_AT(pr, "performedDateTime", "2026-06-12T10:00:00+01:00");
    json_t *fl = res(&f, "Flag", 1);
    ASSERT_AT(fl, "id", "mha-MHA77");
    ASSERT_AT(fl, "status", "active");
    ASSERT_AT(fl, "category/0/coding/0/code", "mental-health-act");
    ASSERT_AT(fl, "code/coding/0/code", "3");
    ASSERT_AT(fl, "code/text", "Section 3 (treatment)");
    ASSERT_AT(fl, "period/end", "2026-07-08T14:30:00+01:00");
    assert_int_equal(f.r.resources, 6);
    done(&f);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct fixture a = {0}, b = {0};
    map_text(&a, ADT_A01);
    map_text(&b, ADT_A01);
    char *ja = json_dumps(a.r.bundle, JSON_SORT_KEYS);
    char *jb = json_dumps(b.r.bundle, JSON_SORT_KEYS);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    /* a different control id and message time change nothing in the bundle */
    char other[sizeof ADT_A01 + 16];
    snprintf(other, sizeof other, "%s", ADT_A01);
    char *ctl = strstr(other, "CTL1");
    memcpy(ctl, "CTL9", 4);
    struct fixture c = {0};
    map_text(&c, other);
    ja = json_dumps(a.r.bundle, JSON_SORT_KEYS);
    jb = json_dumps(c.r.bundle, JSON_SORT_KEYS);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    done(&a);
    done(&b);
    done(&c);
}

static const char *adt_event(const char *trigger, const char *extra_pv1)
{
    static char out[1024];
    snprintf(out, sizeof out,
             "MSH|^~\\&|PAS|RVV|W|W|20260115120000||ADT^%s|C%s|P|2.3\r"
             "EVN|%s|20260115115900\r"
             "PID|1||555^^^RVV^MR||Doe^Jane||19800202|F\r"
             "PV1|1|%s|||||||||||||||||V77\r",
             trigger, trigger, trigger, extra_pv1);
    return out;
}

static void test_adt_events(void **state)
{
    (void)state;
    struct {
        const char *trigger, *pclass, *status, *klass;
        int has_end;
    } cases[] = {
        {"A01", "I", "in-progress", "IMP", 0},      {"A02", "I", "in-progress", "IMP", 0},
        {"A03", "I", "finished", "IMP", 1},         {"A04", "E", "in-progress", "EMER", 0},
        {"A05", "P", "planned", "PRENC", 0},        {"A08", "O", "in-progress", "AMB", 0},
        {"A11", "I", "entered-in-error", "IMP", 0}, {"A13", "I", "in-progress", "IMP", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fixture f = {0};
        assert_int_equal(map_text(&f, adt_event(cases[i].trigger, cases[i].pclass)), 0);
        json_t *enc = res(&f, "Encounter", 1);
        if (!enc)
            fail_msg("%s: no Encounter", cases[i].trigger);
        ASSERT_AT(enc, "status", cases[i].status);
        ASSERT_AT(enc, "class/code", cases[i].klass);
        ASSERT_AT(enc, "id", "enc-V77");
        if (cases[i].has_end) /* A03: end from EVN-2 (January: GMT) */
            ASSERT_AT(enc, "period/end", "2026-01-15T11:59:00Z");
        else
            assert_null(at(enc, "period/end"));
        done(&f);
    }
    /* A28/A31: person only, no Encounter even with a PV1 */
    struct fixture f = {0};
    assert_int_equal(map_text(&f, adt_event("A28", "N")), 0);
    assert_int_equal(count(&f, "Patient"), 1);
    assert_int_equal(count(&f, "Encounter"), 0);
    done(&f);
}

static const char ORU[] =
    "MSH|^~\\&|LAB|RVV|W|W|20260301101500||ORU^R01^ORU_R01|L1|P|2.5.1\r"
    "PID|1||555^^^RVV^MR||Doe^Jane||19800202|F\r"
    "OBR|1|PL1|FO-9^LAB|24331-1^Lipid panel^LN|||20260301090000|||||||||||||||20260301101000|||F\r"
    "OBX|1|NM|2093-3^Cholesterol^LN||6.2|mmol/L^mmol/L^UCUM|3.0-5.0|H|||F\r"
    "NTE|1||Fasting sample\r"
    "OBX|2|SN|2085-9^HDL^LN||<^1.0|mmol/L|>1.0|L|||F\r"
    "OBX|3|SN|X1^Titre^L||^1^:^128||||||F\r"
    "OBX|4|SN|X2^Range^L||^10^-^20|g/L|||||F\r"
    "OBX|5|CE|X3^Organism^L||27268008^Salmonella^SCT||||||F\r"
    "OBX|6|FT|X4^Comment^L||Line one\\.br\\Line two \\T\\ more||||||F\r"
    "OBX|7|TX|X5^Text^L||para 1~para 2||||||C\r"
    "OBX|8|ED|PDF^Report^L||^application^pdf^Base64^JVBERi0xLjQK||||||F\r"
    "OBR|2|PL2|FO-10^RIS|XR1^Chest X-ray^L|||20260301093000|||||||||||||||20260301101000||RAD|P\r"
    "OBX|1|TX|XR1^Report^L||No acute abnormality||||||P\r";

static void test_oru(void **state)
{
    (void)state;
    struct fixture f = {0};
    assert_int_equal(map_text(&f, ORU), 0);
    assert_int_equal(count(&f, "DiagnosticReport"), 2);
    assert_int_equal(count(&f, "Observation"), 8);
    json_t *dr = res(&f, "DiagnosticReport", 1);
    ASSERT_AT(dr, "id", "dr-FO-9");
    ASSERT_AT(dr, "status", "final");
    ASSERT_AT(dr, "category/0/coding/0/code", "LAB");
    ASSERT_AT(dr, "code/coding/0/system", "http://loinc.org");
    ASSERT_AT(dr, "effectiveDateTime", "2026-03-01T09:00:00Z");
    ASSERT_AT(dr, "issued", "2026-03-01T10:10:00Z");
    ASSERT_AT(dr, "presentedForm/0/contentType", "application/pdf");
    ASSERT_AT(dr, "presentedForm/0/data", "JVBERi0xLjQK");
    assert_int_equal(json_array_size(json_object_get(dr, "result")), 7);
    json_t *o = res(&f, "Observation", 1);
    ASSERT_AT(o, "id", "obs-FO-9-1");
    ASSERT_AT(o, "category/0/coding/0/code", "laboratory");
    assert_true(num(o, "valueQuantity/value") == 6.2);
    ASSERT_AT(o, "valueQuantity/unit", "mmol/L");
    ASSERT_AT(o, "valueQuantity/system", "http://unitsofmeasure.org");
    assert_true(num(o, "referenceRange/0/low/value") == 3.0);
    assert_true(num(o, "referenceRange/0/high/value") == 5.0);
    ASSERT_AT(o, "interpretation/0/coding/0/code", "H");
    ASSERT_AT(o, "note/0/text", "Fasting sample");
    ASSERT_AT(o, "effectiveDateTime", "2026-03-01T09:00:00Z");
    o = res(&f, "Observation", 2);
    ASSERT_AT(o, "valueQuantity/comparator", "<");
    assert_true(num(o, "valueQuantity/value") == 1.0);
    assert_true(num(o, "referenceRange/0/low/value") == 1.0);
    o = res(&f, "Observation", 3);
    assert_true(num(o, "valueRatio/numerator/value") == 1);
    assert_true(num(o, "valueRatio/denominator/value") == 128);
    o = res(&f, "Observation", 4);
    assert_true(num(o, "valueRange/low/value") == 10);
    assert_true(num(o, "valueRange/high/value") == 20);
    ASSERT_AT(o, "valueRange/high/unit", "g/L");
    o = res(&f, "Observation", 5);
    ASSERT_AT(o, "valueCodeableConcept/coding/0/system", "http://snomed.info/sct");
    ASSERT_AT(o, "valueCodeableConcept/coding/0/code", "27268008");
    o = res(&f, "Observation", 6);
    ASSERT_AT(o, "valueString", "Line one\nLine two & more");
    o = res(&f, "Observation", 7);
    ASSERT_AT(o, "valueString", "para 1\npara 2");
    ASSERT_AT(o, "status", "corrected");
    json_t *img = res(&f, "DiagnosticReport", 2);
    ASSERT_AT(img, "category/0/coding/0/code", "RAD");
    ASSERT_AT(img, "status", "preliminary");
    o = res(&f, "Observation", 8);
    ASSERT_AT(o, "category/0/coding/0/code", "imaging");
    ASSERT_AT(o, "id", "obs-FO-10-1");
    done(&f);
}

static const char MDM[] =
    "MSH|^~\\&|EPR|RVV|W|W|20260301101500||MDM^T02|D1|P|2.3\r"
    "EVN|T02|20260301101500\r"
    "PID|1||555^^^RVV^MR||Doe^Jane||19800202|F\r"
    "PV1|1|O|CLINIC1||||||||||||||||V9\r"
    "TXA|1|DS^Discharge summary|TX|20260301100000||||||||DOC-42|||||AU||AV\r"
    "OBX|1|TX|DS^Discharge summary||Discharged home.~Follow up in clinic \\T\\ GP.||||||F\r"
    "OBX|2|FT|DS||Second\\.br\\part||||||F\r";

static void test_mdm(void **state)
{
    (void)state;
    struct fixture f = {0};
    assert_int_equal(map_text(&f, MDM), 0);
    json_t *d = res(&f, "DocumentReference", 1);
    assert_non_null(d);
    ASSERT_AT(d, "id", "doc-DOC-42");
    ASSERT_AT(d, "status", "current");
    ASSERT_AT(d, "docStatus", "final");
    ASSERT_AT(d, "type/coding/0/code", "DS");
    ASSERT_AT(d, "date", "2026-03-01T10:00:00Z");
    ASSERT_AT(d, "masterIdentifier/system", "urn:weft:id:RVV:document");
    ASSERT_AT(d, "content/0/attachment/contentType", "text/plain");
    /* base64 of the text with line feeds between repetitions and OBX rows */
    const char *want = "Discharged home.\nFollow up in clinic & GP.\nSecond\npart";
    struct buf b = BUF_INIT;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *data = at(d, "content/0/attachment/data");
    assert_non_null(data);
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = data; *p && *p != '='; p++) {
        acc = (acc << 6) | (unsigned)(strchr(tbl, *p) - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_addc(&b, (char)((acc >> bits) & 0xff));
        }
    }
    assert_string_equal(b.data, want);
    buf_release(&b);
    /* the visit is referenced by its number, not restated */
    assert_int_equal(count(&f, "Encounter"), 0);
    ASSERT_AT(d, "context/encounter/0/identifier/system", "urn:weft:id:RVV:visit");
    ASSERT_AT(d, "context/encounter/0/identifier/value", "V9");
    done(&f);
}

static void test_siu(void **state)
{
    (void)state;
#define SIU_FMT                                                                                    \
    "MSH|^~\\&|PAS|RVV|W|W|20260301101500||SIU^%s|S1|P|2.5\r"                                      \
    "SCH|PA1|FA1||||ROUTINE^Routine visit|FOLLOWUP^Follow-up^L|NORMAL|30|min|"                     \
    "^^30^202603101000^202603101030\r"                                                             \
    "PID|1||555^^^RVV^MR||Doe^Jane||19800202|F\r"                                                  \
    "AIL|1||CLINIC1^ROOM2\r"                                                                       \
    "AIP|1||C1^Who^Doctor\r"
    const char *trig[] = {"S12", "S13", "S14", "S15"};
    const char *status[] = {"booked", "booked", "booked", "cancelled"};
    for (int i = 0; i < 4; i++) {
        char msg[1024];
        snprintf(msg, sizeof msg, SIU_FMT, trig[i]);
        struct fixture f = {0};
        assert_int_equal(map_text(&f, msg), 0);
        json_t *a = res(&f, "Appointment", 1);
        assert_non_null(a);
        ASSERT_AT(a, "id", "appt-FA1");
        ASSERT_AT(a, "status", status[i]);
        ASSERT_AT(a, "start", "2026-03-10T10:00:00Z");
        ASSERT_AT(a, "end", "2026-03-10T10:30:00Z");
        assert_true(num(a, "minutesDuration") == 30);
        ASSERT_AT(a, "participant/1/actor/display", "CLINIC1, ROOM2");
        ASSERT_AT(a, "participant/2/actor/display", "Doctor Who");
        ASSERT_AT(a, "reasonCode/0/coding/0/code", "FOLLOWUP");
        done(&f);
    }
}

static void test_merge(void **state)
{
    (void)state;
    struct fixture f = {0};
    assert_int_equal(map_text(&f, "MSH|^~\\&|PAS|RVV|W|W|20260301101500||ADT^A40^ADT_A39|M1|P|2.4\r"
                                  "EVN|A40|20260301101500\r"
                                  "PID|1||111^^^RVV^MR~9434765919^^^NHS^NH||Doe^Jane\r"
                                  "MRG|222^^^RVV^MR~333^^^RVV^PI\r"),
                     0);
    assert_int_equal(f.r.kind, HL7_MAP_MERGE);
    assert_null(f.r.bundle);
    assert_int_equal(json_array_size(f.r.merge_survivor), 2);
    assert_int_equal(json_array_size(f.r.merge_retired), 2);
    ASSERT_AT(f.r.merge_survivor, "1/system", "https://fhir.nhs.uk/Id/nhs-number");
    ASSERT_AT(f.r.merge_retired, "0/system", "urn:weft:id:RVV:mr");
    ASSERT_AT(f.r.merge_retired, "0/value", "222");
    ASSERT_AT(f.r.merge_retired, "1/system", "urn:weft:id:RVV:pi");
    done(&f);
}

static void test_rejections(void **state)
{
    (void)state;
    struct {
        const char *msg;
        int rc;
        const char *phrase, *seg;
        int code;
    } cases[] = {
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rEVN|A01|1\rPV1|1|I\r", WEFT_EINVAL, "no PID", "PID",
         HL7_ERR_SEGMENT_SEQUENCE},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rPID|1||\r", WEFT_EINVAL, "PID-3", "PID",
         HL7_ERR_REQUIRED_FIELD},
        {"MSH|^~\\&|A|B|C|D|1||ORM^O01|1|P|2.4\rPID|1||1^^^^MR\r", WEFT_EUNSUPPORTED,
         "ORM^O01 is not accepted", "MSH", HL7_ERR_UNSUPPORTED_MESSAGE_TYPE},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A99|1|P|2.4\rPID|1||1^^^^MR\r", WEFT_EUNSUPPORTED, "ADT^A99",
         "MSH", HL7_ERR_UNSUPPORTED_EVENT},
        {"MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.4\rPID|1||1^^^^MR\rOBX|1|NM|X||1\r", WEFT_EINVAL,
         "no OBR", "OBR", HL7_ERR_SEGMENT_SEQUENCE},
        {"MSH|^~\\&|A|B|C|D|1||MDM^T02|1|P|2.4\rPID|1||1^^^^MR\rOBX|1|TX|X||t\r", WEFT_EINVAL,
         "no TXA", "TXA", HL7_ERR_SEGMENT_SEQUENCE},
        {"MSH|^~\\&|A|B|C|D|1||SIU^S12|1|P|2.4\rPID|1||1^^^^MR\r", WEFT_EINVAL, "no SCH", "SCH",
         HL7_ERR_SEGMENT_SEQUENCE},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A40|1|P|2.4\rPID|1||1^^^^MR\r", WEFT_EINVAL, "no MRG", "MRG",
         HL7_ERR_SEGMENT_SEQUENCE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fixture f = {0};
        int rc = map_text(&f, cases[i].msg);
        assert_int_equal(rc, cases[i].rc);
        assert_string_equal(f.r.ack_code, "AR");
        if (!strstr(f.r.reason, cases[i].phrase))
            fail_msg("case %zu: reason '%s' lacks '%s'", i, f.r.reason, cases[i].phrase);
        assert_string_equal(f.r.err.segment, cases[i].seg);
        assert_int_equal(f.r.err.code, cases[i].code);
        assert_null(f.r.bundle);
        /* the reason becomes a well-formed AR */
        struct buf ack = BUF_INIT;
        assert_int_equal(hl7_ack_build_ex(f.m, f.r.ack_code, f.r.reason, &f.r.err, &ack), 0);
        assert_non_null(strstr(ack.data, "MSA|AR|1|"));
        assert_non_null(strstr(ack.data, "\rERR|"));
        buf_release(&ack);
        done(&f);
    }
    /* no ODS code: refused, not guessed */
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    const char *t = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rPID|1||1^^^^MR\r";
    assert_int_equal(hl7_msg_parse(m, t, strlen(t), 0, &e), 0);
    struct hl7_map_result r;
    assert_int_equal(hl7_map_message(m, NULL, &r), WEFT_EINVAL);
    assert_string_equal(r.ack_code, "AR");
    hl7_map_result_clear(&r);
    hl7_msg_free(m);
}

static void test_datetime(void **state)
{
    (void)state;
    struct {
        const char *in;
        int kind;
        const char *out;
        long long epoch;
    } ok[] = {
        {"2026", 1, "2026", 1767225600LL},
        {"202603", 1, "2026-03", 1772323200LL},
        {"20260315", 0, "2026-03-15", 1773532800LL},
        {"202603151230", 1, "2026-03-15T12:30:00Z", 1773577800LL},
        {"20260715123045", 1, "2026-07-15T12:30:45+01:00", 1784115045LL},
        {"20260715123045.1234", 1, "2026-07-15T12:30:45.1234+01:00", 1784115045LL},
        {"20260715123045-0500", 1, "2026-07-15T12:30:45-05:00", 1784136645LL},
        {"20260715123045+0000", 2, "2026-07-15T12:30:45Z", 1784118645LL},
        {"202607151230", 0, "2026-07-15", -1},
        {"20260329005959", 1, "2026-03-29T00:59:59Z", -1}, /* before the BST change */
        {"20260329020000", 1, "2026-03-29T02:00:00+01:00", -1},
        {"20261025003000", 1, "2026-10-25T00:30:00+01:00", -1},
        {"20261025020000", 1, "2026-10-25T02:00:00Z", -1},
        {"20240229", 0, "2024-02-29", -1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char out[48];
        long long ep = 0;
        int rc = hl7_map_datetime(ok[i].in, strlen(ok[i].in), ok[i].kind, out, sizeof out, &ep);
        if (rc)
            fail_msg("%s rejected", ok[i].in);
        assert_string_equal(out, ok[i].out);
        if (ok[i].epoch >= 0)
            assert_int_equal(ep, ok[i].epoch);
    }
    const char *bad[] = {"",         "19",         "196203520",    "20261301",
                         "20250229", "2026010125", "202601011261", "20260101+25",
                         "2026x",    "20260101+1", "99999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[48];
        if (hl7_map_datetime(bad[i], strlen(bad[i]), 1, out, sizeof out, NULL) != WEFT_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
    }
    char out[48];
    assert_int_equal(hl7_map_datetime("20260101", 8, 2, out, sizeof out, NULL), WEFT_EINVAL);
}

static void test_ids_and_text(void **state)
{
    (void)state;
    char id[65];
    hl7_map_fhir_id("a b/c_d.e-f", 11, id);
    assert_string_equal(id, "a-b-c-d.e-f");
    char longtext[200];
    memset(longtext, 'x', sizeof longtext);
    hl7_map_fhir_id(longtext, sizeof longtext, id);
    assert_int_equal(strlen(id), 64);
    char id2[65];
    longtext[150] = 'y'; /* differs after the cut: the hash tells them apart */
    hl7_map_fhir_id(longtext, sizeof longtext, id2);
    assert_int_equal(strlen(id2), 64);
    assert_string_not_equal(id, id2);
    hl7_map_fhir_id("", 0, id);
    assert_string_equal(id, "0");
    assert_string_equal(hl7_map_code_system("LN", 2), "http://loinc.org");
    assert_string_equal(hl7_map_code_system("sct", 3), "http://snomed.info/sct");
    assert_string_equal(hl7_map_code_system("HL70063", 7),
                        "http://terminology.hl7.org/CodeSystem/v2-0063");
    assert_null(hl7_map_code_system("LOCAL", 5));
    /* ISO 8859-1 text becomes UTF-8; an invalid NHS number is not an NHS number */
    struct fixture f = {0};
    assert_int_equal(map_text(&f, "MSH|^~\\&|A|B|C|D|1||ADT^A28|1|P|2.4|||||||8859/1\r"
                                  "PID|1||1234567890^^^NHS^NH||M\xfcller^Zo\xeb\r"),
                     0);
    json_t *p = res(&f, "Patient", 1);
    ASSERT_AT(p, "name/0/family", "M\xc3\xbcller");
    ASSERT_AT(p, "name/0/given/0", "Zo\xc3\xab");
    ASSERT_AT(p, "identifier/0/system", "urn:weft:id:RVV:nh-unverified");
    done(&f);
}

static void test_fuzz_regressions(void **state)
{
    (void)state;
    /* found by fuzz_hl7: display names longer than the local buffers
     * (AIP-3, PD1-4, XTN area code) overran them */
    struct buf msg = BUF_INIT;
    buf_adds(&msg, "MSH|^~\\&|PAS|RVV|W|W|20260301101500||SIU^S12|S1|P|2.5\r"
                   "SCH|PA1|FA1\rPID|1||5^^^RVV^MR||||||||^PRN^PH^^^");
    for (int i = 0; i < 200; i++)
        buf_addc(&msg, '7');
    buf_adds(&msg, "^123\rPD1||||G1^");
    for (int i = 0; i < 300; i++)
        buf_addc(&msg, 'J');
    buf_adds(&msg, "^Ann\rAIP|1||C1^Who^");
    for (int i = 0; i < 300; i++)
        buf_addc(&msg, 'D');
    buf_adds(&msg, "\r");
    struct fixture f = {0};
    assert_int_equal(map_text(&f, msg.data), 0);
    json_t *a = res(&f, "Appointment", 1);
    const char *disp = at(a, "participant/1/actor/display");
    assert_non_null(disp);
    assert_int_equal(strlen(disp), 159);
    done(&f);
    buf_release(&msg);
}

static void test_duplicate_ids(void **state)
{
    (void)state;
    /* many OBX with one set id: ids made unique in message order, in
     * linear time (30,000 twins must not take quadratic time) */
    struct buf msg = BUF_INIT;
    buf_adds(&msg, "MSH|^~\\&|LAB|RVV|W|W|20260301101500||ORU^R01|L1|P|2.5.1\r"
                   "PID|1||555^^^RVV^MR\rOBR|1||F1|X^Y^L\r");
    for (int i = 0; i < 30000; i++)
        buf_adds(&msg, "OBX|1|NM|X^Y^L||1\r");
    buf_adds(&msg, "OBX|1-2|NM|X^Y^L||1\r"); /* a real id that a suffix could have taken */
    struct fixture f = {0};
    assert_int_equal(map_text(&f, msg.data), 0);
    assert_int_equal(count(&f, "Observation"), 30001);
    ASSERT_AT(res(&f, "Observation", 1), "id", "obs-F1-1");
    ASSERT_AT(res(&f, "Observation", 2), "id", "obs-F1-1-2");
    ASSERT_AT(res(&f, "Observation", 30000), "id", "obs-F1-1-30000");
    ASSERT_AT(res(&f, "Observation", 30001), "id", "obs-F1-1-2-2");
    done(&f);
    buf_release(&msg);
}

static void test_many_repetitions(void **state)
{
    (void)state;
    /* 100,000 repetitions in PID-3 and OBX-5: one pass each, not one scan
     * per repetition (quadratic time would not finish) */
    struct buf msg = BUF_INIT;
    buf_adds(&msg, "MSH|^~\\&|LAB|RVV|W|W|20260301101500||ORU^R01|L1|P|2.5.1\rPID|1||1^^^^MR");
    for (int i = 0; i < 100000; i++)
        buf_adds(&msg, "~^^^^MR");
    buf_adds(&msg, "\rOBR|1||F1|X^Y^L\rOBX|1|TX|X^Y^L||a");
    for (int i = 0; i < 100000; i++)
        buf_adds(&msg, "~b");
    buf_adds(&msg, "\r");
    struct fixture f = {0};
    assert_int_equal(map_text(&f, msg.data), 0);
    json_t *p = res(&f, "Patient", 1);
    assert_int_equal(json_array_size(json_object_get(p, "identifier")), 1);
    const char *txt = at(res(&f, "Observation", 1), "valueString");
    assert_non_null(txt);
    assert_int_equal(strlen(txt), 1 + 2 * 100000);
    struct buf enc = BUF_INIT;
    hl7_msg_encode(f.m, NULL, &enc);
    assert_int_equal(enc.len, msg.len);
    buf_release(&enc);
    done(&f);
    buf_release(&msg);
}

/* ---- shared samples --------------------------------------------------- */

/* ---- omitted fields and the HL7 null ------------------------------------- */

/* The Patient entry's _keepAbsent as "a,b,c" ("" when the entry has none). */
static const char *keep_list(struct fixture *f)
{
    static char out[256];
    out[0] = 0;
    json_t *e0 = json_array_get(json_object_get(f->r.bundle, "entry"), 0);
    ASSERT_AT(e0, "resource/resourceType", "Patient");
    json_t *keep = json_object_get(e0, "_keepAbsent");
    if (keep)
        assert_true(json_is_array(keep) && json_array_size(keep) > 0);
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(keep, i, v)
    {
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "," : "", json_string_value(v));
    }
    return out;
}

/* No value anywhere in the bundle is the text "" (the HL7 null as data). */
static void assert_no_null_text(struct fixture *f)
{
    char *text = json_dumps(f->r.bundle, 0);
    if (strstr(text, "\\\"")) /* no escaped quote at all in these messages */
        fail_msg("a quote became data: %s", text);
    free(text);
}

#define MSH_A08 "MSH|^~\\&|PAS|RVV|WEFT|WEFT|20260612093000||ADT^A08^ADT_A01|CTL8|P|2.4\r"
#define MSH_ORU "MSH|^~\\&|LAB|RVV|WEFT|WEFT|20260612093000||ORU^R01^ORU_R01|CTL9|P|2.4\r"
#define OBR_OBX                                                                                    \
    "OBR|1||LAB1|24326-1^Electrolytes^LN|||20260612080000||||||||||||||||CH|F\r"                   \
    "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F\r"

/* The Encounter entry's _keepAbsent as "a,b,c" ("" when none). */
static const char *enc_keep_list(struct fixture *f)
{
    static char out[256];
    out[0] = 0;
    size_t i, n = 0;
    json_t *e, *v, *keep = NULL;
    json_array_foreach(json_object_get(f->r.bundle, "entry"), i, e)
    {
        if (!strcmp(at(e, "resource/resourceType"), "Encounter"))
            keep = json_object_get(e, "_keepAbsent");
    }
    json_array_foreach(keep, i, v)
    {
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "," : "", json_string_value(v));
    }
    return out;
}

/* PV1 fields an update omits keep the stay's stored values; "" clears. */
static void test_encounter_absent_fields(void **state)
{
    (void)state;
    struct fixture f = {0};
    assert_int_equal(map_text(&f, MSH_A08 "EVN|A08|20260612092900\r"
                                          "PID|1||H123456^^^RVV^MR\r"
                                          "PV1|1||||||||||||||||||V0001\r"),
                     0);
    assert_string_equal(enc_keep_list(&f), "?status,?class,period.start,period.end,location,"
                                           "serviceType");
    done(&f);
    /* the HL7 null in PV1-45 and PV1-3: the discharge and location are cleared */
    assert_int_equal(map_text(&f,
                              MSH_A08 "EVN|A08|20260612092900\r"
                                      "PID|1||H123456^^^RVV^MR\r"
                                      "PV1|1|I|\"\"||||||||||||||||V0001|||||||||||||||||||||||||"
                                      "20260612090000|\"\"\r"),
                     0);
    assert_string_equal(enc_keep_list(&f), "serviceType");
    done(&f);
}

static void test_absent_fields_kept(void **state)
{
    (void)state;
    struct fixture f = {0};
    /* everything but PID-29/30 sent: only deceased[x] is kept */
    assert_int_equal(map_text(&f, ADT_A01), 0);
    assert_string_equal(keep_list(&f), "+identifier,deceased[x]");
    done(&f);

    /* a lab's thin PID: identifiers, name, date of birth, sex only */
    assert_int_equal(map_text(&f, MSH_ORU "PID|1||H123456^^^RVV^MR||Smith^John||19700101|M\r"
                                          "PV1|1|I|WARD1||||||||||||||||V0001\r" OBR_OBX),
                     0);
    json_t *p = res(&f, "Patient", 1);
    ASSERT_AT(p, "name/0/family", "Smith");
    ASSERT_AT(p, "gender", "male");
    assert_null(json_object_get(p, "address"));
    assert_null(json_object_get(p, "telecom"));
    assert_string_equal(keep_list(&f),
                        "+identifier,address,telecom,deceased[x],generalPractitioner,contact");
    /* only the Patient entry carries the list */
    json_t *e1 = json_array_get(json_object_get(f.r.bundle, "entry"), 1);
    assert_null(json_object_get(e1, "_keepAbsent"));
    done(&f);

    /* a PID cut short after PID-3, an empty PD1 and a placeholder NK1 */
    assert_int_equal(map_text(&f, MSH_A08 "EVN|A08|20260612092900\r"
                                          "PID|1||H123456^^^RVV^MR\rPD1|||\rNK1|1\r"),
                     0);
    assert_string_equal(
        keep_list(&f),
        "+identifier,name,birthDate,gender,address,telecom,deceased[x],generalPractitioner,"
        "contact");
    done(&f);

    /* empty fields and fields of only delimiters are omitted, not null */
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||^^^||||||^^^^~^||||||||||||||"
                                          "||\r"),
                     0);
    assert_string_equal(keep_list(&f),
                        "+identifier,name,birthDate,gender,address,telecom,deceased[x],"
                        "generalPractitioner,contact");
    done(&f);

    /* a value that maps to nothing (impossible date, unknown codes) is not a
     * request to delete: kept */
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||Smith^John||19621352|X|||"
                                          "1 High St^^Canterbury||01227 000000|||||||||||||||||Q\r"
                                          "PD1|||Practice^^G82001\r"
                                          "NK1|1|Smith^Jane|SPO^Spouse^HL70063\r"),
                     0);
    assert_string_equal(keep_list(&f), "+identifier,birthDate,gender,deceased[x]");
    p = res(&f, "Patient", 1);
    assert_null(json_object_get(p, "deceasedBoolean"));
    ASSERT_AT(p, "generalPractitioner/0/identifier/value", "G82001");
    ASSERT_AT(p, "contact/0/name/family", "Smith");
    done(&f);
}

static void test_hl7_null_clears(void **state)
{
    (void)state;
    struct fixture f = {0};
    /* every element sent as the HL7 null: cleared, not kept, never text */
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||\"\"||\"\"|\"\"|||\"\"||\"\"|"
                                          "\"\"|||||||||||||||\"\"|\"\"\r"
                                          "PD1|||\"\"|\"\"\rNK1|1|\"\"\r"),
                     0);
    json_t *p = res(&f, "Patient", 1);
    assert_string_equal(keep_list(&f), "+identifier");
    const char *gone[] = {"name",    "birthDate",       "gender",           "address",
                          "telecom", "deceasedBoolean", "deceasedDateTime", "generalPractitioner",
                          "contact"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (json_object_get(p, gone[i]))
            fail_msg("%s is set from the HL7 null", gone[i]);
    assert_no_null_text(&f);
    done(&f);

    /* PID-30 "" was mapped as deceasedBoolean false: "" must never become data */
    assert_int_equal(map_text(&f, MSH_ORU "PID|1||H123456^^^RVV^MR||Smith^John||19700101|M|||||"
                                          "|||||||||||||||||\"\"\r" OBR_OBX),
                     0);
    p = res(&f, "Patient", 1);
    assert_null(json_object_get(p, "deceasedBoolean"));
    assert_string_equal(keep_list(&f), "+identifier,address,telecom,generalPractitioner,contact");
    done(&f);

    /* the null with white space around it, and inside components */
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||\"\"^John~ \"\" ||19700101|"
                                          " \"\" |||1 High St^^Canterbury^^CT1 1AA^\"\"\r"),
                     0);
    p = res(&f, "Patient", 1);
    assert_null(at(p, "name/0/family"));
    ASSERT_AT(p, "name/0/given/0", "John");
    assert_int_equal(json_array_size(json_object_get(p, "name")), 1);
    assert_null(json_object_get(p, "gender"));
    ASSERT_AT(p, "address/0/postalCode", "CT1 1AA");
    assert_null(at(p, "address/0/country"));
    assert_string_equal(keep_list(&f),
                        "+identifier,telecom,deceased[x],generalPractitioner,contact");
    assert_no_null_text(&f);
    done(&f);

    /* two fields, one element: PID-13 "" with PID-14 omitted clears telecom;
     * PID-13 "" with a work number in PID-14 sets telecom to that number */
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||Smith^John||19700101|M|||"
                                          "1 High St||\"\"\r"),
                     0);
    assert_null(json_object_get(res(&f, "Patient", 1), "telecom"));
    assert_string_equal(keep_list(&f), "+identifier,deceased[x],generalPractitioner,contact");
    done(&f);
    assert_int_equal(map_text(&f, MSH_A08 "PID|1||H123456^^^RVV^MR||Smith^John||19700101|M|||"
                                          "1 High St||\"\"|01227 999999\r"),
                     0);
    ASSERT_AT(res(&f, "Patient", 1), "telecom/0/use", "work");
    assert_string_equal(keep_list(&f), "+identifier,deceased[x],generalPractitioner,contact");
    done(&f);
}

static void check_bundle(json_t *b, const char *name)
{
    json_t *entries = json_object_get(b, "entry");
    assert_true(json_is_array(entries));
    json_t *urls = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *url = at(e, "fullUrl");
        assert_non_null(url);
        if (json_object_get(urls, url))
            fail_msg("%s: duplicate fullUrl", name);
        json_object_set_new(urls, url, json_true());
        json_t *r = json_object_get(e, "resource");
        const char *id = at(r, "id");
        assert_non_null(id);
        assert_true(strlen(id) >= 1 && strlen(id) <= 64);
        for (const char *p = id; *p; p++)
            assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                        (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
        char want[128];
        snprintf(want, sizeof want, "%s/%s", at(r, "resourceType"), id);
        ASSERT_AT(e, "request/url", want);
        /* the keep list: known element names of the resource, none of them
         * set ("?name": a default is set, the stored value wins; "a.b": the
         * part b of a is not set) */
        json_t *keep = json_object_get(e, "_keepAbsent");
        if (keep) {
            static const struct {
                const char *type, *names;
            } known[] = {
                {"Patient", ",+identifier,name,birthDate,gender,address,telecom,deceased[x],"
                            "generalPractitioner,contact,"},
                {"Encounter", ",?status,?class,period.start,period.end,location,serviceType,"},
                {"AllergyIntolerance", ",category,reaction,criticality,recordedDate,"},
                {"Condition", ",verificationStatus,recordedDate,"},
                {"Procedure", ",performer,"},
                {"Appointment", ",?status,reasonCode,description,appointmentType,start,end,"
                                "minutesDuration,?participant,"},
            };
            const char *names = NULL;
            for (size_t t = 0; t < sizeof known / sizeof known[0]; t++)
                if (!strcmp(at(r, "resourceType"), known[t].type))
                    names = known[t].names;
            assert_non_null(names);
            assert_true(json_array_size(keep) > 0);
            size_t k;
            json_t *el;
            json_array_foreach(keep, k, el)
            {
                const char *n = json_string_value(el);
                assert_non_null(n);
                char comma[64];
                snprintf(comma, sizeof comma, ",%s,", n);
                assert_non_null(strstr(names, comma));
                if (n[0] == '?' || n[0] == '+')
                    assert_non_null(json_object_get(r, n + 1));
                else if (!strncmp(n, "period.", 7))
                    assert_null(json_object_get(json_object_get(r, "period"), n + 7));
                else if (!strcmp(n, "deceased[x]"))
                    assert_true(!json_object_get(r, "deceasedBoolean") &&
                                !json_object_get(r, "deceasedDateTime"));
                else
                    assert_null(json_object_get(r, n));
            }
        }
    }
    /* every urn:uuid reference resolves inside the bundle */
    char *text = json_dumps(b, 0);
    if (strstr(text, "\"\\\"\\\"\"")) /* a value that is the HL7 null "" */
        fail_msg("%s: the HL7 null \"\" became a value", name);
    for (char *p = strstr(text, "\"reference\": \"urn:uuid:"); p;
         p = strstr(p + 1, "\"reference\": \"urn:uuid:")) {
        char url[64];
        snprintf(url, sizeof url, "%.45s", p + 14);
        if (!json_object_get(urls, url))
            fail_msg("%s: dangling reference %s", name, url);
    }
    free(text);
    json_decref(urls);
}

static void test_shared_samples_map(void **state)
{
    (void)state;
    const char *d = getenv("WEFT_DATA");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hl7v2", d ? d : "/nonexistent");
    DIR *h = opendir(dir);
    if (!d || !h) {
        print_message("skipped: $WEFT_DATA/hl7v2 is absent\n");
        skip();
    }
    struct dirent *de;
    int mapped = 0, merged = 0, refused = 0, resources = 0;
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || (strcmp(de->d_name + l - 4, ".hl7") && strcmp(de->d_name + l - 4, ".txt")))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "rb");
        struct buf data = BUF_INIT;
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            buf_add(&data, chunk, n);
        fclose(fp);
        struct hl7_split s;
        struct hl7_span msg;
        struct hl7_error e;
        struct hl7_msg *m = hl7_msg_new();
        hl7_split_init(&s, data.data, data.len);
        while (hl7_split_next(&s, &msg, &e) == 1) {
            assert_int_equal(hl7_msg_parse(m, msg.p, msg.len, 0, &e), 0);
            struct hl7_map_opts o = {.ods = "RVV"};
            struct hl7_map_result r;
            int rc = hl7_map_message(m, &o, &r);
            if (rc == 0 && r.kind == HL7_MAP_BUNDLE) {
                check_bundle(r.bundle, de->d_name);
                mapped++;
                resources += (int)r.resources;
                assert_true(r.event_time[0] != 0);
            } else if (rc == 0) {
                assert_int_equal(r.kind, HL7_MAP_MERGE);
                merged++;
            } else {
                /* refused only for types we do not take or missing content */
                assert_string_equal(r.ack_code, "AR");
                assert_true(strlen(r.reason) > 10);
                assert_true(rc == WEFT_EUNSUPPORTED || rc == WEFT_EINVAL);
                refused++;
            }
            hl7_map_result_clear(&r);
        }
        hl7_msg_free(m);
        buf_release(&data);
    }
    closedir(h);
    print_message("mapped %d messages into %d resources, %d merges, %d refused\n", mapped,
                  resources, merged, refused);
    assert_true(mapped >= 45);
    assert_int_equal(merged, 3);
    /* ORM, VXU x2, RSP, ACK, and two with nothing to file (no PID-3, no OBR) */
    assert_int_equal(refused, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adt_a01),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_adt_events),
        cmocka_unit_test(test_oru),
        cmocka_unit_test(test_mdm),
        cmocka_unit_test(test_siu),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_ids_and_text),
        cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_many_repetitions),
        cmocka_unit_test(test_absent_fields_kept),
        cmocka_unit_test(test_encounter_absent_fields),
        cmocka_unit_test(test_hl7_null_clears),
        cmocka_unit_test(test_shared_samples_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
