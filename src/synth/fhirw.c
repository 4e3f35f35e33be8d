/*
 * fhirw.c - FHIR R4 transaction bundles (see fhirw.h).
 *
 * JSON is written as text into one struct buf per bundle (no DOM): the
 * generator writes millions of resources and a tree per resource would cost
 * more than the rest of the generator together.  Every resource whose type
 * has a category element also carries its BRIEF §2 record category as a
 * coding of https://weft.nhs.uk/CodeSystem/record-category, as the CSV and
 * HL7 mappings do, so classification never has to guess.
 *
 * Medicine codes are SNOMED CT dm+d VMP concept ids; docs/SYNTH.md ("Codes")
 * says which codes were checked against which public reference.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/category.h"
#include "domain/systems.h"
#include "synth/date.h"
#include "synth/fhirw.h"
#include "synth/names.h"
#include "synth/view.h"

#define UNKNOWN_SYS "urn:oid:1.2.826.0.1285.0.99.1"

struct fctx {
    struct synth_out *o;
    const struct synth_person *p;
    uint64_t seed;
    int asof;
    int org;
    struct synth_view *v;
    struct synth_rng r;
    struct buf b;
    int nentries;
    struct synth_pending pending; /* faults decided inside the bundle */
};

/* ---- JSON helpers -------------------------------------------------------- */

static void js(struct buf *b, const char *s)
{
    buf_addc(b, '"');
    buf_add_json_str(b, s, strlen(s));
    buf_addc(b, '"');
}

static void key(struct buf *b, const char *k)
{
    buf_addf(b, ",\"%s\":", k);
}

static void kv(struct buf *b, const char *k, const char *v)
{
    key(b, k);
    js(b, v);
}

static void coding(struct buf *b, const char *sys, const char *code, const char *display)
{
    buf_adds(b, "{\"system\":");
    js(b, sys);
    buf_adds(b, ",\"code\":");
    js(b, code);
    if (display) {
        buf_adds(b, ",\"display\":");
        js(b, display);
    }
    buf_addc(b, '}');
}

static void cc(struct buf *b, const char *sys, const char *code, const char *display)
{
    buf_adds(b, "{\"coding\":[");
    coding(b, sys, code, display);
    buf_adds(b, "]");
    if (display) {
        buf_adds(b, ",\"text\":");
        js(b, display);
    }
    buf_addc(b, '}');
}

static void cat_cc(struct buf *b, enum synth_cat c)
{
    cc(b, RECORD_CATEGORY_SYSTEM, category_names[c], NULL);
}

static void uuid(struct fctx *c, const char *type, const char *id, char *out, size_t len)
{
    uint64_t h1 = synth_hash(c->seed, (uint64_t)c->org, 0x55);
    for (const char *s = type; *s; s++)
        h1 = synth_hash(h1, (unsigned char)*s, 1);
    for (const char *s = id; *s; s++)
        h1 = synth_hash(h1, (unsigned char)*s, 2);
    uint64_t h2 = synth_hash(h1, 3, 4);
    snprintf(out, len, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(h1 >> 32),
             (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xfff,
             (unsigned)((h2 >> 48) & 0x3fff) | 0x8000,
             (unsigned long long)(h2 & 0xffffffffffffULL));
}

static void res_begin(struct fctx *c, const char *type, const char *id)
{
    char u[40];
    uuid(c, type, id, u, sizeof u);
    buf_addf(&c->b, "%s{\"fullUrl\":\"urn:uuid:%s\",\"resource\":{\"resourceType\":\"%s\",\"id\":",
             c->nentries++ ? "," : "", u, type);
    js(&c->b, id);
}

static void res_end(struct fctx *c, const char *type, const char *id)
{
    buf_adds(&c->b, "},\"request\":{\"method\":\"PUT\",\"url\":\"");
    buf_addf(&c->b, "%s/", type);
    buf_add_json_str(&c->b, id, strlen(id));
    buf_adds(&c->b, "\"}}");
}

static void subject(struct fctx *c, const char *k)
{
    key(&c->b, k);
    buf_addf(&c->b, "{\"reference\":\"Patient/%s\"}", c->v->local);
}

static void date_iso(int day, char *out, size_t len)
{
    synth_date_iso(day, out, len);
}

/* A clinical date, maybe pushed into the future (fault). */
static int clinical_day(struct fctx *c, int day, const char *what)
{
    if (synth_out_roll(c->o, &c->r, SYNTH_F_FUTURE_DATE)) {
        synth_pending_add(&c->pending, SYNTH_F_FUTURE_DATE, "%s date in the future", what);
        return c->asof + synth_rng_range(&c->r, 30, 700);
    }
    return day;
}

static int past_day(struct fctx *c, int span)
{
    int d = c->asof - 1 - (int)synth_rng_below(&c->r, (uint32_t)span);
    return d < c->p->dob ? c->p->dob + 1 : d;
}

/* ---- Patient ------------------------------------------------------------- */

static void patient(struct fctx *c, bool contact)
{
    const struct synth_person *p = c->p;
    const struct synth_view *v = c->v;
    struct buf *b = &c->b;
    res_begin(c, "Patient", v->local);
    buf_adds(b, ",\"identifier\":[");
    if (v->has_nhs) {
        buf_addf(b, "{\"extension\":[{\"url\":\"" NHS_NUMBER_VERIFICATION_EXTENSION
                    "\",\"valueCodeableConcept\":");
        bool verified = (p->idx + c->org) % 10 != 0;
        cc(b, NHS_NUMBER_VERIFICATION_SYSTEM, verified ? "01" : "02",
           verified ? "Number present and verified" : "Number present but not traced");
        buf_addf(b, "}],\"system\":\"" NHS_NUMBER_SYSTEM "\",\"value\":\"%s\"},", v->nhs);
    }
    buf_addf(b, "{\"system\":\"%s\",\"value\":\"%s\"}]", v->id_system, v->local);
    buf_adds(b, ",\"active\":true,\"name\":[{\"use\":\"official\",\"family\":");
    js(b, v->family);
    buf_adds(b, ",\"given\":[");
    js(b, v->given);
    if (v->middle) {
        buf_addc(b, ',');
        js(b, v->middle);
    }
    buf_adds(b, "],\"prefix\":[");
    js(b, p->title);
    buf_adds(b, "]}]");
    buf_addf(b, ",\"telecom\":[{\"system\":\"phone\",\"value\":\"%s\",\"use\":\"%s\"}]", p->phone,
             p->phone[1] == '7' ? "mobile" : "home");
    kv(b, "gender", p->sex == 1 ? "male" : "female");
    char d[16];
    date_iso(v->dob, d, sizeof d);
    kv(b, "birthDate", d);
    const struct synth_address *a = synth_view_address(v, p, c->asof);
    buf_addf(b, ",\"address\":[{\"use\":\"home\",\"line\":[\"%d ", a->house);
    buf_add_json_str(b, a->street, strlen(a->street));
    buf_adds(b, "\"],\"city\":");
    js(b, synth_towns[a->town].name);
    buf_adds(b, ",\"district\":\"Kent\"");
    if (!v->no_postcode)
        kv(b, "postalCode", a->postcode);
    buf_adds(b, "}]");
    const struct synth_org *gp = &c->o->rg->orgs[p->gp];
    buf_addf(b,
             ",\"generalPractitioner\":[{\"type\":\"Organization\",\"identifier\":{\"system\":"
             "\"" ODS_SYSTEM "\",\"value\":\"%s\"},\"display\":",
             gp->ods);
    js(b, gp->name);
    buf_adds(b, "}]");
    if (contact) {
        buf_adds(b, ",\"contact\":[{\"relationship\":[");
        cc(b, "http://terminology.hl7.org/CodeSystem/v2-0131", "N", "Next-of-Kin");
        buf_adds(b, "],\"name\":{\"family\":");
        js(b, p->family);
        buf_addf(b,
                 ",\"given\":[\"%s\"]},\"telecom\":[{\"system\":\"phone\",\"value\":"
                 "\"07700 900%03ld\"}]}]",
                 p->sex == 1 ? "Margaret" : "David", (p->idx * 7) % 1000);
        synth_out_cat(c->o, CAT_CONTACTS);
    }
    res_end(c, "Patient", v->local);
    synth_out_cat(c->o, CAT_DEMOGRAPHICS);
}

/* ---- GP record ----------------------------------------------------------- */

struct code {
    const char *code, *display;
};

static void condition(struct fctx *c, const struct code *k, int onset, bool resolved,
                      enum synth_cat cat)
{
    struct buf *b = &c->b;
    char id[80], d[16];
    synth_view_item_id(c->v, "cond-", id, sizeof id);
    size_t n = strlen(id);
    snprintf(id + n, sizeof id - n, "%s", k->code);
    res_begin(c, "Condition", id);
    key(b, "clinicalStatus");
    cc(b, "http://terminology.hl7.org/CodeSystem/condition-clinical",
       resolved ? "resolved" : "active", NULL);
    key(b, "verificationStatus");
    cc(b, "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", NULL);
    buf_adds(b, ",\"category\":[");
    cc(b, "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item",
       "Problem List Item");
    buf_addc(b, ',');
    cat_cc(b, cat);
    buf_adds(b, "]");
    key(b, "code");
    if (synth_out_roll(c->o, &c->r, SYNTH_F_UNKNOWN_CODE)) {
        char lc[24];
        snprintf(lc, sizeof lc, "EMISNQ%04u", synth_rng_below(&c->r, 10000));
        cc(b, UNKNOWN_SYS, lc, k->display);
        synth_pending_add(&c->pending, SYNTH_F_UNKNOWN_CODE, "Condition/%s code %s", id, lc);
    } else {
        cc(b, SNOMED_SYSTEM, k->code, k->display);
    }
    subject(c, "subject");
    date_iso(clinical_day(c, onset, "onset"), d, sizeof d);
    kv(b, "onsetDateTime", d);
    if (resolved) {
        date_iso(onset + 30, d, sizeof d);
        kv(b, "abatementDateTime", d);
    }
    kv(b, "recordedDate", d);
    res_end(c, "Condition", id);
    synth_out_cat(c->o, cat);
}

struct med {
    const char *code, *display, *dose;
};

static void medication(struct fctx *c, const struct med *m, int start, bool repeat)
{
    struct buf *b = &c->b;
    char id[80], d[16];
    synth_view_item_id(c->v, "med-", id, sizeof id);
    size_t n = strlen(id);
    snprintf(id + n, sizeof id - n, "%s", m->code);
    res_begin(c, "MedicationRequest", id);
    kv(b, "status", "active");
    kv(b, "intent", "order");
    buf_adds(b, ",\"category\":[");
    cc(b, "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community",
       "Community");
    buf_addc(b, ',');
    cat_cc(b, CAT_MEDICATIONS);
    buf_adds(b, "]");
    key(b, "medicationCodeableConcept");
    cc(b, SNOMED_SYSTEM, m->code, m->display);
    subject(c, "subject");
    date_iso(start, d, sizeof d);
    kv(b, "authoredOn", d);
    buf_adds(b, ",\"courseOfTherapyType\":");
    cc(b, "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
       repeat ? "continuous" : "acute",
       repeat ? "Continuous long term therapy" : "Short course (acute) therapy");
    buf_adds(b, ",\"dosageInstruction\":[{\"text\":");
    js(b, m->dose);
    buf_adds(b, "}]");
    res_end(c, "MedicationRequest", id);
    synth_out_cat(c->o, CAT_MEDICATIONS);
}

static void obs_begin(struct fctx *c, const char *id, const char *catcode, enum synth_cat cat,
                      const char *sys, const char *code, const char *display, int day, int min)
{
    struct buf *b = &c->b;
    char d[32];
    res_begin(c, "Observation", id);
    if (cat == CAT_HISTORY) /* category.h reads Observations as observations unless told */
        buf_adds(b, ",\"meta\":{\"tag\":[{\"system\":\"" CATEGORY_TAG_SYSTEM "\",\"code\":"
                    "\"history\"}]}");
    kv(b, "status", "final");
    buf_adds(b, ",\"category\":[");
    cc(b, "http://terminology.hl7.org/CodeSystem/observation-category", catcode, NULL);
    buf_addc(b, ',');
    cat_cc(b, cat);
    buf_adds(b, "]");
    key(b, "code");
    cc(b, sys, code, display);
    subject(c, "subject");
    synth_dtm_iso(clinical_day(c, day, "effective"), min, d, sizeof d);
    kv(b, "effectiveDateTime", d);
    synth_out_cat(c->o, cat);
}

static void qty(struct buf *b, const char *k, double v, int dec, const char *unit)
{
    key(b, k);
    buf_addf(b, "{\"value\":%.*f,\"unit\":\"%s\",\"system\":\"" UCUM_SYSTEM "\",\"code\":\"%s\"}",
             dec, v, unit, unit);
}

/*
 * When an observation was taken: a minute of the working day.  The id of an
 * Observation is its kind and this date and time (obs-bp-202512241035), as a
 * GP system's would be derived from the reading; two readings of one kind on
 * one day (a repeated blood pressure) therefore need different minutes, so a
 * minute already taken on that day by an earlier reading of the same kind
 * (taken[0..n)) moves on by one.  Ids must be unique within a bundle: the
 * loader refuses a bundle in which one (type, id) appears twice.
 */
struct obs_when {
    int day, min;
};

static struct obs_when obs_time(struct fctx *c, int day, const struct obs_when *taken, int n)
{
    struct obs_when w = {day, 540 + (int)synth_rng_below(&c->r, 480)};
    for (int j = 0; j < n; j++)
        if (taken[j].day == w.day && taken[j].min == w.min) {
            w.min++;
            j = -1; /* check the moved minute against every earlier reading again */
        }
    return w;
}

static void obs_id(struct fctx *c, const char *what, struct obs_when w, char *id, size_t len)
{
    char s[48];
    char d[16];
    synth_date_hl7(w.day, d, sizeof d);
    snprintf(s, sizeof s, "obs-%s-%s%02d%02d", what, d, w.min / 60, w.min % 60);
    synth_view_item_id(c->v, s, id, len);
}

static void observations(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    char id[80];
    struct obs_when taken[3], w;
    int nbp = p->hypertension || p->diabetes ? 3 : p->age >= 40 ? 1 : 0;
    for (int k = 0; k < nbp; k++) {
        w = taken[k] = obs_time(c, past_day(c, SYNTH_HISTORY_DAYS), taken, k);
        obs_id(c, "bp", w, id, sizeof id);
        obs_begin(c, id, "vital-signs", CAT_OBSERVATIONS, LOINC_SYSTEM, "85354-9",
                  "Blood pressure panel", w.day, w.min);
        int sys = (p->hypertension ? 138 : 118) + (int)synth_rng_below(&c->r, 30);
        int dia = (p->hypertension ? 84 : 72) + (int)synth_rng_below(&c->r, 14);
        buf_adds(b, ",\"component\":[{\"code\":");
        cc(b, LOINC_SYSTEM, "8480-6", "Systolic blood pressure");
        qty(b, "valueQuantity", sys, 0, "mm[Hg]");
        buf_adds(b, "},{\"code\":");
        cc(b, LOINC_SYSTEM, "8462-4", "Diastolic blood pressure");
        qty(b, "valueQuantity", dia, 0, "mm[Hg]");
        buf_adds(b, "}]");
        res_end(c, "Observation", id);
    }
    if (p->age >= 2) {
        int day = past_day(c, SYNTH_HISTORY_DAYS);
        double kg = p->age < 16 ? 12 + p->age * 3.2
                                : (p->sex == 1 ? 72 : 62) + 25 * synth_rng_unit(&c->r) +
                                      (p->diabetes ? 12 : 0);
        w = obs_time(c, day, NULL, 0);
        obs_id(c, "wt", w, id, sizeof id);
        obs_begin(c, id, "vital-signs", CAT_OBSERVATIONS, LOINC_SYSTEM, "29463-7", "Body weight",
                  w.day, w.min);
        qty(b, "valueQuantity", kg, 1, "kg");
        res_end(c, "Observation", id);
    }
    if (p->diabetes) {
        for (int k = 0; k < 2; k++) {
            w = taken[k] = obs_time(c, past_day(c, 700), taken, k);
            obs_id(c, "hba1c", w, id, sizeof id);
            obs_begin(c, id, "laboratory", CAT_RESULTS, LOINC_SYSTEM, "59261-8",
                      "Haemoglobin A1c level (IFCC)", w.day, w.min);
            qty(b, "valueQuantity", 50 + 35 * synth_rng_unit(&c->r), 0, "mmol/mol");
            buf_adds(b, ",\"referenceRange\":[{\"low\":{\"value\":20,\"unit\":\"mmol/mol\"},"
                        "\"high\":{\"value\":41,\"unit\":\"mmol/mol\"}}]");
            res_end(c, "Observation", id);
        }
    }
    if (p->diabetes || p->ckd || p->hypertension) {
        w = obs_time(c, past_day(c, 500), NULL, 0);
        obs_id(c, "egfr", w, id, sizeof id);
        obs_begin(c, id, "laboratory", CAT_RESULTS, LOINC_SYSTEM, "33914-3",
                  "Estimated glomerular filtration rate", w.day, w.min);
        qty(b, "valueQuantity",
            p->ckd ? 25 + 30 * synth_rng_unit(&c->r) : 65 + 30 * synth_rng_unit(&c->r), 0,
            "mL/min/{1.73_m2}");
        res_end(c, "Observation", id);
    }
    if (p->age >= 16) {
        w = obs_time(c, past_day(c, SYNTH_HISTORY_DAYS), NULL, 0);
        obs_id(c, "smoke", w, id, sizeof id);
        obs_begin(c, id, "social-history", CAT_OBSERVATIONS, LOINC_SYSTEM, "72166-2",
                  "Tobacco smoking status", w.day, w.min);
        key(b, "valueCodeableConcept");
        if (p->smoker)
            cc(b, SNOMED_SYSTEM, "77176002", "Smoker");
        else if (p->copd)
            cc(b, SNOMED_SYSTEM, "8517006", "Ex-smoker");
        else
            cc(b, SNOMED_SYSTEM, "266919005", "Never smoked tobacco");
        res_end(c, "Observation", id);
    }
    if (p->maternity_history) {
        w = obs_time(c, past_day(c, SYNTH_HISTORY_DAYS), NULL, 0);
        obs_id(c, "preg", w, id, sizeof id);
        obs_begin(c, id, "social-history", CAT_HISTORY, LOINC_SYSTEM, "11996-6",
                  "Number of pregnancies", w.day, w.min);
        buf_addf(b, ",\"valueInteger\":%d", 1 + (int)synth_rng_below(&c->r, 4));
        res_end(c, "Observation", id);
    }
    if (p->age < 3) {
        w = obs_time(c, p->dob, NULL, 0);
        obs_id(c, "bwt", w, id, sizeof id);
        obs_begin(c, id, "exam", CAT_BIRTH, LOINC_SYSTEM, "8339-4", "Birth weight", w.day, w.min);
        qty(b, "valueQuantity", 2600 + synth_rng_below(&c->r, 1700), 0, "g");
        res_end(c, "Observation", id);
    }
}

static const struct med M_METFORMIN = {"325278007", "Metformin 500mg tablets",
                                       "One tablet twice a day with food"};
static const struct med M_AMLODIPINE = {"319283006", "Amlodipine 5mg tablets", "One daily"};
static const struct med M_ATORVA = {"320000009", "Atorvastatin 20mg tablets", "One at night"};
static const struct med M_RAMIPRIL = {"318902004", "Ramipril 5mg capsules", "One daily"};
static const struct med M_SALBUTAMOL = {"39113611000001102",
                                        "Salbutamol 100micrograms/dose inhaler CFC free",
                                        "Two puffs when required"};
static const struct med M_BISOPROLOL = {"318590006", "Bisoprolol 5mg tablets", "One daily"};
static const struct med M_FUROSEMIDE = {"317972000", "Furosemide 40mg tablets", "One each morning"};
static const struct med M_APIXABAN = {"703907009", "Apixaban 5mg tablets", "One twice a day"};
static const struct med M_SERTRALINE = {"321949006", "Sertraline 50mg tablets", "One daily"};
static const struct med M_DONEPEZIL = {"407627007", "Donepezil 10mg tablets", "One at night"};
static const struct med M_COCODAMOL = {"322341003", "Co-codamol 30mg/500mg tablets",
                                       "One or two four times a day when required"};
static const struct med M_AMOXICILLIN = {"39732311000001104", "Amoxicillin 250mg capsules",
                                         "One three times a day for 5 days"};
static const struct med M_OLANZAPINE = {"321665009", "Olanzapine 10mg tablets", "One at night"};

static void gp_record(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    int since = SYNTH_HISTORY_DAYS * 2;
    struct {
        bool on;
        struct code k;
    } conds[] = {
        {p->diabetes, {"44054006", "Type 2 diabetes mellitus"}},
        {p->hypertension, {"38341003", "Hypertensive disorder"}},
        {p->copd, {"13645005", "Chronic obstructive lung disease"}},
        {p->asthma, {"195967001", "Asthma"}},
        {p->heart_failure, {"84114007", "Heart failure"}},
        {p->af, {"49436004", "Atrial fibrillation"}},
        {p->ckd, {"709044004", "Chronic kidney disease"}},
        {p->dementia, {"52448006", "Dementia"}},
        {p->depression, {"35489007", "Depressive disorder"}},
        {p->smi, {"58214004", "Schizophrenia"}},
        {p->cancer, {"363358000", "Malignant tumour of lung"}},
        {p->frail, {"248279007", "Frailty"}},
        {p->falls > 0, {"161898004", "Falls"}},
        {p->learning_disability, {"110359009", "Intellectual disability"}},
    };
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++)
        if (conds[i].on)
            condition(c, &conds[i].k, past_day(c, since), false, CAT_CONDITIONS);
    if (p->age >= 30 && synth_rng_chance(&c->r, 0.25)) {
        static const struct code hist[] = {{"74400008", "Appendicitis"},
                                           {"65966004", "Fracture of forearm"},
                                           {"271737000", "Anaemia"}};
        condition(c, &hist[synth_rng_below(&c->r, 3)], past_day(c, 365 * 20), true, CAT_HISTORY);
    }
    /* medicines follow the problems; frail people collect many */
    int start = past_day(c, since);
    if (p->diabetes) {
        medication(c, &M_METFORMIN, start, true);
        medication(c, &M_ATORVA, start, true);
    }
    if (p->hypertension || p->ckd)
        medication(c, p->diabetes ? &M_RAMIPRIL : &M_AMLODIPINE, start, true);
    if (p->asthma || p->copd)
        medication(c, &M_SALBUTAMOL, start, true);
    if (p->heart_failure) {
        medication(c, &M_BISOPROLOL, start, true);
        medication(c, &M_FUROSEMIDE, start, true);
    }
    if (p->af)
        medication(c, &M_APIXABAN, start, true);
    if (p->depression)
        medication(c, &M_SERTRALINE, start, true);
    if (p->smi)
        medication(c, &M_OLANZAPINE, start, true);
    if (p->dementia)
        medication(c, &M_DONEPEZIL, start, true);
    if (p->frail || p->cancer)
        medication(c, &M_COCODAMOL, start, true);
    if (synth_rng_chance(&c->r, 0.1))
        medication(c, &M_AMOXICILLIN, past_day(c, 365), false);
    if (p->age >= 16 && (p->frail || synth_rng_chance(&c->r, 0.08))) {
        /* bought over the counter and told to the GP: a statement, not an order */
        char id[80], d[16];
        synth_view_item_id(c->v, "ms-322236009", id, sizeof id);
        res_begin(c, "MedicationStatement", id);
        kv(b, "status", "active");
        key(b, "category");
        buf_adds(b, "{\"coding\":[");
        coding(b, "http://terminology.hl7.org/CodeSystem/medication-statement-category",
               "patientspecified", "Patient Specified");
        buf_addc(b, ',');
        coding(b, RECORD_CATEGORY_SYSTEM, "medications", NULL);
        buf_adds(b, "]}");
        key(b, "medicationCodeableConcept");
        cc(b, SNOMED_SYSTEM, "322236009", "Paracetamol 500mg tablets");
        subject(c, "subject");
        date_iso(past_day(c, 700), d, sizeof d);
        kv(b, "dateAsserted", d);
        buf_adds(b, ",\"informationSource\":{\"display\":\"Patient\"}");
        buf_adds(b,
                 ",\"dosage\":[{\"text\":\"Two tablets up to four times a day when required\"}]");
        res_end(c, "MedicationStatement", id);
        synth_out_cat(c->o, CAT_MEDICATIONS);
    }
    if (p->allergy) {
        static const struct code allergens[] = {{"91936005", "Allergy to penicillin"},
                                                {"91935009", "Allergy to peanuts"},
                                                {"300916003", "Latex allergy"},
                                                {"293586001", "Allergy to aspirin"}};
        const struct code *k = &allergens[p->idx % 4];
        char id[80], d[16];
        synth_view_item_id(c->v, "alg-", id, sizeof id);
        size_t n = strlen(id);
        snprintf(id + n, sizeof id - n, "%s", k->code);
        res_begin(c, "AllergyIntolerance", id);
        key(b, "clinicalStatus");
        cc(b, "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", NULL);
        key(b, "verificationStatus");
        cc(b, "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed",
           NULL);
        kv(b, "type", "allergy");
        buf_addf(b, ",\"category\":[\"%s\"]",
                 p->idx % 4 == 1   ? "food"
                 : p->idx % 4 == 2 ? "environment"
                                   : "medication");
        kv(b, "criticality", p->idx % 4 == 1 ? "high" : "low");
        key(b, "code");
        cc(b, SNOMED_SYSTEM, k->code, k->display);
        subject(c, "patient");
        date_iso(past_day(c, since), d, sizeof d);
        kv(b, "recordedDate", d);
        buf_adds(b, ",\"reaction\":[{\"manifestation\":[");
        cc(b, SNOMED_SYSTEM, "271807003", "Eruption of skin");
        buf_adds(b, "]}]");
        res_end(c, "AllergyIntolerance", id);
        synth_out_cat(c->o, CAT_ALLERGIES);
    }
    observations(c);
    /* immunisations: seasonal flu for the over-65s and at-risk, childhood MMR */
    struct {
        bool on;
        struct code k;
        int day;
    } imms[] = {
        {p->age >= 65 || p->diabetes || p->copd || p->asthma,
         {"822851000000102", "Seasonal influenza vaccination"},
         c->asof - 40 - (int)(p->idx % 60)},
        {p->age >= 65, {"12866006", "Pneumococcal vaccination"}, past_day(c, since)},
        {p->age >= 1 && p->age <= 30,
         {"38598009", "Measles, mumps and rubella vaccination"},
         p->dob + 400},
    };
    for (size_t i = 0; i < sizeof imms / sizeof imms[0]; i++) {
        if (!imms[i].on)
            continue;
        char id[80], d[16];
        char sfx[48];
        synth_date_hl7(imms[i].day, d, sizeof d);
        snprintf(sfx, sizeof sfx, "imm-%s-%s", imms[i].k.code, d);
        synth_view_item_id(c->v, sfx, id, sizeof id);
        res_begin(c, "Immunization", id);
        kv(b, "status", "completed");
        key(b, "vaccineCode");
        cc(b, SNOMED_SYSTEM, imms[i].k.code, imms[i].k.display);
        subject(c, "patient");
        date_iso(imms[i].day, d, sizeof d);
        kv(b, "occurrenceDateTime", d);
        buf_adds(b, ",\"primarySource\":true");
        res_end(c, "Immunization", id);
        synth_out_cat(c->o, CAT_IMMUNISATIONS);
    }
    /* alerts the practice wants every clinician to see */
    struct {
        bool on;
        struct code k;
        enum synth_cat cat;
    } flags[] = {
        {p->falls > 0, {"129839007", "At risk for falls"}, CAT_ALERTS},
        {p->dementia, {"386806002", "Impaired cognition"}, CAT_ALERTS},
        {p->af, {"182764009", "Anticoagulant therapy"}, CAT_ALERTS},
        {p->safeguarding && p->age < 18,
         {"safeguarding-concern", "Child protection plan"},
         CAT_SAFEGUARDING},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!flags[i].on)
            continue;
        char id[80], d[16];
        char sfx[48];
        snprintf(sfx, sizeof sfx, "flag-%s", flags[i].k.code);
        synth_view_item_id(c->v, sfx, id, sizeof id);
        res_begin(c, "Flag", id);
        if (flags[i].cat == CAT_SAFEGUARDING)
            buf_adds(b, ",\"meta\":{\"security\":[{\"system\":\"http://terminology.hl7.org/"
                        "CodeSystem/v3-Confidentiality\",\"code\":\"R\",\"display\":"
                        "\"restricted\"}]}");
        kv(b, "status", "active");
        buf_adds(b, ",\"category\":[");
        cc(b, "http://terminology.hl7.org/CodeSystem/flag-category",
           flags[i].cat == CAT_SAFEGUARDING ? "safety" : "clinical", NULL);
        buf_addc(b, ',');
        cat_cc(b, flags[i].cat);
        buf_adds(b, "]");
        key(b, "code");
        if (flags[i].cat == CAT_SAFEGUARDING)
            cc(b, WEFT_CODE_SYSTEM_PREFIX "flag-code", flags[i].k.code, flags[i].k.display);
        else
            cc(b, SNOMED_SYSTEM, flags[i].k.code, flags[i].k.display);
        subject(c, "subject");
        date_iso(past_day(c, since), d, sizeof d);
        buf_addf(b, ",\"period\":{\"start\":\"%s\"}", d);
        res_end(c, "Flag", id);
        synth_out_cat(c->o, flags[i].cat);
    }
}

/* ---- community, ambulance, hospice, acute research ----------------------- */

static void community_record(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    char id[80], d[16], d2[16];
    int start = past_day(c, SYNTH_HISTORY_DAYS - 60);
    bool ended = !p->eol && synth_rng_chance(&c->r, 0.4);
    int stop = start + synth_rng_range(&c->r, 30, 200);
    if (stop >= c->asof)
        ended = false;
    const char *team = p->baby    ? "Health visiting"
                       : p->frail ? "Community frailty team"
                                  : "District nursing";
    const char *team_code = p->baby ? "health-visiting" : p->frail ? "frailty" : "district-nursing";
    synth_view_item_id(c->v, "eoc-1", id, sizeof id);
    res_begin(c, "EpisodeOfCare", id);
    kv(b, "status", ended ? "finished" : "active");
    buf_adds(b, ",\"type\":[");
    cc(b, WEFT_CODE_SYSTEM_PREFIX "community-service", team_code, team);
    buf_addc(b, ',');
    cat_cc(b, CAT_SERVICES);
    buf_adds(b, "]");
    subject(c, "patient");
    date_iso(start, d, sizeof d);
    date_iso(stop, d2, sizeof d2);
    if (ended)
        buf_addf(b, ",\"period\":{\"start\":\"%s\",\"end\":\"%s\"}", d, d2);
    else
        buf_addf(b, ",\"period\":{\"start\":\"%s\"}", d);
    buf_addf(b,
             ",\"managingOrganization\":{\"identifier\":{\"system\":\"" ODS_SYSTEM
             "\",\"value\":\"%s\"}}",
             c->o->rg->orgs[c->org].ods);
    res_end(c, "EpisodeOfCare", id);
    synth_out_cat(c->o, CAT_SERVICES);

    char goal[80];
    synth_view_item_id(c->v, "goal-1", goal, sizeof goal);
    res_begin(c, "Goal", goal);
    kv(b, "lifecycleStatus", ended ? "completed" : "active");
    /* text only: no SNOMED CT concept for these goals was checked (the codes
     * once sent here named other things; docs/SYNTH.md) */
    buf_addf(b, ",\"description\":{\"text\":\"%s\"}",
             p->frail ? "Improving functional mobility" : "Wound healing");
    subject(c, "subject");
    res_end(c, "Goal", goal);
    synth_out_cat(c->o, CAT_DOCUMENTS);

    synth_view_item_id(c->v, "cp-1", id, sizeof id);
    res_begin(c, "CarePlan", id);
    kv(b, "status", ended ? "completed" : "active");
    kv(b, "intent", "plan");
    buf_adds(b, ",\"category\":[");
    cc(b, SNOMED_SYSTEM, "734163000", "Care plan");
    buf_addc(b, ',');
    cat_cc(b, CAT_DOCUMENTS);
    buf_adds(b, "]");
    kv(b, "title", p->frail ? "Frailty and falls prevention plan" : "Community nursing care plan");
    subject(c, "subject");
    buf_addf(b, ",\"period\":{\"start\":\"%s\"}", d);
    buf_addf(b, ",\"goal\":[{\"reference\":\"Goal/%s\"}]", goal);
    res_end(c, "CarePlan", id);
    synth_out_cat(c->o, CAT_DOCUMENTS);

    if (p->frail || p->age >= 75) {
        synth_view_item_id(c->v, "risk-falls", id, sizeof id);
        res_begin(c, "RiskAssessment", id);
        kv(b, "status", "final");
        key(b, "code");
        cc(b, SNOMED_SYSTEM, "414191008", "Falls risk assessment");
        subject(c, "subject");
        kv(b, "occurrenceDateTime", d);
        buf_adds(b, ",\"prediction\":[{\"outcome\":");
        cc(b, SNOMED_SYSTEM, "129839007", "At risk for falls");
        buf_addf(b, ",\"qualitativeRisk\":");
        cc(b, "http://terminology.hl7.org/CodeSystem/risk-probability",
           p->falls > 1 ? "high" : "moderate", NULL);
        buf_adds(b, "}]");
        res_end(c, "RiskAssessment", id);
        synth_out_cat(c->o, CAT_ALERTS);
    }
    if (p->frail || p->copd || p->heart_failure) {
        synth_view_item_id(c->v, "ref-1", id, sizeof id);
        res_begin(c, "ServiceRequest", id);
        kv(b, "status", ended ? "completed" : "active");
        kv(b, "intent", "order");
        buf_adds(b, ",\"category\":[");
        cc(b, SNOMED_SYSTEM, "3457005", "Patient referral");
        buf_addc(b, ',');
        cat_cc(b, CAT_DOCUMENTS);
        buf_adds(b, "]");
        key(b, "code");
        /* text only: no checked SNOMED CT code (docs/SYNTH.md) */
        buf_addf(b, "{\"text\":\"%s\"}",
                 p->copd ? "Referral to pulmonary rehabilitation" : "Referral to physiotherapist");
        subject(c, "subject");
        kv(b, "authoredOn", d);
        res_end(c, "ServiceRequest", id);
        synth_out_cat(c->o, CAT_DOCUMENTS);
    }
    if (ended) {
        synth_view_item_id(c->v, "summary-1", id, sizeof id);
        res_begin(c, "Composition", id);
        kv(b, "status", "final");
        key(b, "type");
        cc(b, SNOMED_SYSTEM, "373942005", "Discharge summary");
        buf_adds(b, ",\"category\":[");
        cat_cc(b, CAT_SERVICE_SUMMARIES);
        buf_adds(b, "]");
        subject(c, "subject");
        kv(b, "date", d2);
        buf_addf(b,
                 ",\"author\":[{\"identifier\":{\"system\":\"" ODS_SYSTEM "\",\"value\":\"%s\"}}]",
                 c->o->rg->orgs[c->org].ods);
        buf_addf(b, ",\"title\":\"%s: summary at discharge\"", team);
        buf_adds(b, ",\"section\":[{\"title\":\"Summary\",\"text\":{\"status\":\"generated\","
                    "\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p>Goals met; "
                    "discharged from the caseload. Re-refer if mobility declines.</p></div>\"}}]");
        res_end(c, "Composition", id);
        synth_out_cat(c->o, CAT_SERVICE_SUMMARIES);
    }
}

static void ambulance_record(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    for (int k = 0; k < p->n_ambulance; k++) {
        char id[80], s[32], e[32];
        int day = past_day(c, SYNTH_HISTORY_DAYS);
        int min = (int)synth_rng_below(&c->r, 1400);
        char sfx[32];
        snprintf(sfx, sizeof sfx, "inc-%d", k + 1);
        synth_view_item_id(c->v, sfx, id, sizeof id);
        synth_dtm_iso(day, min, s, sizeof s);
        synth_dtm_iso(day, min + 40 < 1440 ? min + 40 : 1439, e, sizeof e);
        res_begin(c, "Encounter", id);
        kv(b, "status", "finished");
        buf_adds(b, ",\"class\":");
        coding(b, "http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER", "emergency");
        buf_adds(b, ",\"type\":[");
        cc(b, SNOMED_SYSTEM, "409971007", "Emergency medical services");
        buf_adds(b, "]");
        subject(c, "subject");
        buf_addf(b, ",\"period\":{\"start\":\"%s\",\"end\":\"%s\"}", s, e);
        buf_adds(b, ",\"reasonCode\":[");
        if (p->falls && synth_rng_chance(&c->r, 0.6))
            cc(b, SNOMED_SYSTEM, "1912002", "Fall");
        else if (p->copd || p->heart_failure)
            cc(b, SNOMED_SYSTEM, "267036007", "Dyspnoea");
        else
            cc(b, SNOMED_SYSTEM, "29857009", "Chest pain");
        buf_adds(b, "]");
        buf_addf(b, ",\"hospitalization\":{\"dischargeDisposition\":");
        bool conveyed = synth_rng_chance(&c->r, 0.6);
        cc(b, WEFT_CODE_SYSTEM_PREFIX "ambulance-outcome", conveyed ? "conveyed" : "see-and-treat",
           conveyed ? "Conveyed to emergency department" : "Treated at scene");
        buf_adds(b, "}");
        res_end(c, "Encounter", id);
        synth_out_cat(c->o, CAT_ENCOUNTERS);
    }
}

static void hospice_record(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    char id[80], d[16];
    int day = past_day(c, 400);
    date_iso(day, d, sizeof d);
    synth_view_item_id(c->v, "dnacpr", id, sizeof id);
    res_begin(c, "Consent", id);
    kv(b, "status", "active");
    key(b, "scope");
    cc(b, "http://terminology.hl7.org/CodeSystem/consentscope", "adr", "Advanced Care Directive");
    buf_adds(b, ",\"category\":[");
    cc(b, "http://terminology.hl7.org/CodeSystem/consentcategorycodes", "dnr",
       "Do Not Resuscitate");
    buf_addc(b, ',');
    cat_cc(b, CAT_END_OF_LIFE);
    buf_adds(b, "]");
    subject(c, "patient");
    kv(b, "dateTime", d);
    buf_addf(b, ",\"policyRule\":{\"text\":\"DNACPR decision recorded by %s\"}",
             c->o->rg->orgs[c->org].ods);
    buf_adds(b, ",\"provision\":{\"type\":\"deny\",\"code\":[");
    cc(b, SNOMED_SYSTEM, "89666000", "Cardiopulmonary resuscitation");
    buf_adds(b, "]}");
    res_end(c, "Consent", id);
    synth_out_cat(c->o, CAT_END_OF_LIFE);

    synth_view_item_id(c->v, "eol-plan", id, sizeof id);
    res_begin(c, "CarePlan", id);
    kv(b, "status", "active");
    kv(b, "intent", "plan");
    kv(b, "title", "End of life preferences");
    buf_adds(b, ",\"category\":[");
    cc(b, SNOMED_SYSTEM, "736373009", "End of life care plan");
    buf_addc(b, ',');
    cat_cc(b, CAT_END_OF_LIFE);
    buf_adds(b, "]");
    subject(c, "subject");
    kv(b, "created", d);
    kv(b, "description",
       p->idx % 3 == 0 ? "Wishes to die at home with family present. Anticipatory medicines in "
                         "the home."
                       : "Preferred place of care: hospice. Family aware of prognosis.");
    res_end(c, "CarePlan", id);
    synth_out_cat(c->o, CAT_END_OF_LIFE);

    synth_view_item_id(c->v, "respect", id, sizeof id);
    res_begin(c, "DocumentReference", id);
    kv(b, "status", "current");
    key(b, "type");
    cc(b, WEFT_CODE_SYSTEM_PREFIX "document-type", "respect-form", "ReSPECT form");
    buf_adds(b, ",\"category\":[");
    cat_cc(b, CAT_END_OF_LIFE);
    buf_adds(b, "]");
    subject(c, "subject");
    char dt[32];
    synth_dtm_iso(day, 720, dt, sizeof dt);
    kv(b, "date", dt);
    /* the form's summary as text/plain, base64 */
    static const char text[] = "ReSPECT: focus on comfort. Not for CPR. Not for ICU. "
                               "Hospital admission only for symptom control.";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_adds(b, ",\"content\":[{\"attachment\":{\"contentType\":\"text/plain\",\"data\":\"");
    size_t n = sizeof text - 1;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)text[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)text[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)text[i + 2];
        buf_addc(b, b64[(v >> 18) & 63]);
        buf_addc(b, b64[(v >> 12) & 63]);
        buf_addc(b, i + 1 < n ? b64[(v >> 6) & 63] : '=');
        buf_addc(b, i + 2 < n ? b64[v & 63] : '=');
    }
    buf_addf(b, "\",\"title\":\"ReSPECT form\"}}],\"context\":{\"period\":{\"start\":\"%s\"}}", d);
    res_end(c, "DocumentReference", id);
    synth_out_cat(c->o, CAT_END_OF_LIFE);
}

static void acute_fhir_record(struct fctx *c)
{
    const struct synth_person *p = c->p;
    struct buf *b = &c->b;
    char id[80], d[16];
    if (p->research) {
        static const struct {
            const char *isrctn, *title;
        } studies[] = {{"ISRCTN10000001", "KENT-DIAB: structured education in type 2 diabetes"},
                       {"ISRCTN10000002", "FRAIL-HOME: home-based falls prevention"},
                       {"ISRCTN10000003", "LUNG-EARLY: early lung cancer detection"}};
        int s = p->diabetes ? 0 : p->frail ? 1 : 2;
        synth_view_item_id(c->v, "rs-1", id, sizeof id);
        date_iso(past_day(c, 900), d, sizeof d);
        res_begin(c, "ResearchSubject", id);
        kv(b, "status", "on-study");
        buf_addf(b, ",\"period\":{\"start\":\"%s\"}", d);
        buf_addf(b,
                 ",\"study\":{\"identifier\":{\"system\":\"https://www.isrctn.com\",\"value\":"
                 "\"%s\"},\"display\":\"%s\"}",
                 studies[s].isrctn, studies[s].title);
        subject(c, "individual");
        res_end(c, "ResearchSubject", id);
        synth_out_cat(c->o, CAT_RESEARCH);
    }
    if (p->overseas_visitor) {
        synth_view_item_id(c->v, "ovs", id, sizeof id);
        date_iso(past_day(c, 700), d, sizeof d);
        res_begin(c, "Flag", id);
        buf_adds(b, ",\"meta\":{\"security\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                    "v3-Confidentiality\",\"code\":\"R\",\"display\":\"restricted\"}]}");
        kv(b, "status", "active");
        buf_adds(b, ",\"category\":[");
        cc(b, "http://terminology.hl7.org/CodeSystem/flag-category", "admin", "Administrative");
        buf_addc(b, ',');
        cat_cc(b, CAT_LEGAL_STATUS);
        buf_adds(b, "]");
        key(b, "code");
        cc(b, WEFT_CODE_SYSTEM_PREFIX "overseas-visitor-status", "chargeable",
           "Overseas visitor: chargeable");
        subject(c, "subject");
        buf_addf(b, ",\"period\":{\"start\":\"%s\"}", d);
        res_end(c, "Flag", id);
        synth_out_cat(c->o, CAT_LEGAL_STATUS);
    }
}

/* ---- bundles --------------------------------------------------------------- */

static void malform(struct fctx *c, char *what, size_t len)
{
    if (synth_rng_chance(&c->r, 0.5)) {
        buf_truncate(&c->b, c->b.len * 2 / 3);
        snprintf(what, len, "bundle truncated (invalid JSON)");
    } else {
        char *t = strstr(c->b.data, "\"type\":\"transaction\"");
        if (t)
            memcpy(t + 8, "transactoin", 11);
        snprintf(what, len, "Bundle.type is not a valid code");
    }
}

/* Build one bundle for view v with body(), then emit it. */
static int bundle(struct fctx *c, struct synth_view *v, bool contact, void (*body)(struct fctx *))
{
    c->v = v;
    c->nentries = 0;
    buf_reset(&c->pending.lines);
    buf_reset(&c->b);
    char bid[64];
    synth_view_item_id(v, "bundle", bid, sizeof bid);
    buf_adds(&c->b, "{\"resourceType\":\"Bundle\",\"id\":");
    js(&c->b, bid);
    char ts[32];
    synth_dtm_iso(c->asof, 60 + c->org, ts, sizeof ts);
    buf_addf(&c->b, ",\"type\":\"transaction\",\"timestamp\":\"%s\",\"entry\":[", ts);
    patient(c, contact);
    if (body)
        body(c);
    buf_adds(&c->b, "]}");
    char what[64] = "";
    bool bad = synth_out_roll(c->o, &c->r, SYNTH_F_MALFORMED);
    if (bad)
        malform(c, what, sizeof what);
    buf_addc(&c->b, '\n');
    bool late = synth_out_roll(c->o, &c->r, SYNTH_F_LATE);
    const char *rel;
    long recno;
    int rc = synth_out_emit(c->o, c->org, SYNTH_OUT_FHIR, c->b.data, c->b.len, late, &rel, &recno);
    if (rc)
        return rc;
    synth_view_log(c->o, v, c->p, rel, recno);
    synth_pending_log(c->o, &c->pending, c->org, rel, recno, c->p->key);
    if (bad)
        synth_out_fault(c->o, SYNTH_F_MALFORMED, c->org, rel, recno, c->p->key, what);
    if (late)
        synth_out_fault(c->o, SYNTH_F_LATE, c->org, rel, recno, c->p->key,
                        "delivered in the next batch file");
    return 0;
}

static int source(struct fctx *c, int org, enum synth_stream stream, const char *id_kind,
                  bool contact, void (*body)(struct fctx *))
{
    c->org = org;
    synth_rng_init(&c->r, c->seed, (uint64_t)c->p->idx, (uint64_t)stream * 1000 + (uint64_t)org);
    struct synth_view v[2];
    synth_view_make(c->o, c->p, c->seed, org, 0, id_kind, "fhir", &v[0]);
    int rc = bundle(c, &v[0], contact, body);
    if (!rc && v[0].duplicate) {
        /* the duplicate registration holds demographics only */
        synth_view_make(c->o, c->p, c->seed, org, 1, id_kind, "fhir", &v[1]);
        rc = bundle(c, &v[1], false, NULL);
    }
    return rc;
}

int synth_fhir_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof)
{
    struct fctx c = {.o = o, .p = p, .seed = seed, .asof = asof};
    buf_init(&c.b);
    buf_init(&c.pending.lines);
    int rc = source(&c, p->gp, SYNTH_STREAM_GP, "patient", p->age >= 65 || p->age < 16, gp_record);
    if (!rc && p->community_care)
        rc = source(&c, p->community, SYNTH_STREAM_COMMUNITY, "patient", false, community_record);
    if (!rc && p->n_ambulance > 0)
        rc = source(&c, o->rg->ambulance, SYNTH_STREAM_AMBULANCE, "patient", false,
                    ambulance_record);
    if (!rc && p->eol)
        rc = source(&c, p->hospice, SYNTH_STREAM_HOSPICE, "patient", true, hospice_record);
    if (!rc && (p->research || p->overseas_visitor))
        rc = source(&c, p->acute, SYNTH_STREAM_RESEARCH, "mr", false, acute_fhir_record);
    buf_release(&c.b);
    buf_release(&c.pending.lines);
    return rc;
}
