/*
 * hl7w.c - HL7 v2.4 messages of the acute and mental health trusts (see
 * hl7w.h).
 *
 * For each trust a person is known to, the writer builds that trust's
 * messages about them (registration, A&E, admissions with transfers and
 * discharges, results, documents, appointments, merges, Mental Health Act
 * sections), sorts them by event time, and hands them to the output in that
 * order, so each trust's feed reads like a real PAS/LIMS/RIS/EDM interface.
 * Segments are built with an explicit field cursor (seg_at) so field
 * positions are stated by number, as the standard numbers them.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "synth/date.h"
#include "synth/hl7w.h"
#include "synth/names.h"
#include "synth/view.h"

struct msg {
    long when; /* minutes since the epoch of the event */
    int seq;
    int view; /* 0 main record, 1 duplicate */
    struct buf b;
    struct synth_pending pending; /* faults decided while building it */
};

struct ctx {
    struct synth_out *o;
    const struct synth_person *p;
    uint64_t seed;
    int asof;
    int org;
    struct synth_view v[2];
    struct synth_rng r;
    struct msg *msgs;
    int nmsgs, cap;
    int seq;
    int cur;             /* field cursor of the segment being built */
    struct msg *cur_msg; /* the message being built */
};

/* ---- segment building --------------------------------------------------- */

static void esc(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '|':
            buf_adds(b, "\\F\\");
            break;
        case '^':
            buf_adds(b, "\\S\\");
            break;
        case '~':
            buf_adds(b, "\\R\\");
            break;
        case '\\':
            buf_adds(b, "\\E\\");
            break;
        case '&':
            buf_adds(b, "\\T\\");
            break;
        case '\n':
            buf_adds(b, "\\.br\\");
            break;
        default:
            buf_addc(b, *s);
        }
    }
}

static void seg(struct ctx *c, struct buf *b, const char *name)
{
    buf_adds(b, name);
    c->cur = 0;
}

/* Move to field n (1-based) and append the formatted value there. */
static void __attribute__((format(printf, 4, 5)))
at(struct ctx *c, struct buf *b, int n, const char *fmt, ...)
{
    while (c->cur < n) {
        buf_addc(b, '|');
        c->cur++;
    }
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(b, fmt, ap);
    va_end(ap);
}

static void at_esc(struct ctx *c, struct buf *b, int n, const char *s)
{
    while (c->cur < n) {
        buf_addc(b, '|');
        c->cur++;
    }
    esc(b, s);
}

static void end(struct buf *b)
{
    buf_addc(b, '\r');
}

static struct msg *new_msg(struct ctx *c, long when, int view)
{
    if (c->nmsgs == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->msgs = xrealloc(c->msgs, sizeof *c->msgs * (size_t)c->cap);
    }
    struct msg *m = &c->msgs[c->nmsgs++];
    m->when = when;
    m->seq = c->seq++;
    m->view = view;
    buf_init(&m->b);
    buf_init(&m->pending.lines);
    c->cur_msg = m;
    return m;
}

static long minutes(int day, int minute)
{
    return (long)day * 1440 + minute;
}

static void dtm(long when, char *out, size_t len)
{
    synth_dtm_hl7((int)(when / 1440), (int)(when % 1440), out, len);
}

static const char *app_of(const char *type)
{
    if (strncmp(type, "ORU", 3) == 0)
        return "LIMS";
    if (strncmp(type, "MDM", 3) == 0)
        return "EDM";
    if (strncmp(type, "SIU", 3) == 0)
        return "SCHED";
    return "PAS";
}

/* MSH + EVN (for ADT/MDM) + PID + PD1. type is e.g. "ADT^A01^ADT_A01". */
static struct msg *header(struct ctx *c, long when, int view, const char *type, const char *evn)
{
    struct msg *m = new_msg(c, when, view);
    struct buf *b = &m->b;
    const struct synth_org *org = &c->o->rg->orgs[c->org];
    char t[16], sent[16];
    dtm(when, t, sizeof t);
    /* sent a few minutes after the event */
    dtm(when + 1 + (m->seq * 7) % 20, sent, sizeof sent);
    buf_addf(b, "MSH|^~\\&|%s|%s|WEFT|WEFT|%s||%s|%s%08ld%04d|P|2.4|||AL|NE|GBR|UNICODE UTF-8",
             app_of(type), org->ods, sent, type, org->ods, c->p->idx + 1, m->seq);
    end(b);
    if (evn) {
        seg(c, b, "EVN");
        at(c, b, 1, "%s", evn);
        at(c, b, 2, "%s", t);
        end(b);
    }
    const struct synth_view *v = &c->v[view];
    const struct synth_person *p = c->p;
    seg(c, b, "PID");
    at(c, b, 1, "1");
    at(c, b, 3, "%s", "");
    if (v->has_nhs)
        buf_addf(b, "%s^^^NHS^NH~", v->nhs);
    buf_addf(b, "%s^^^%s^MR", v->local, org->ods);
    at_esc(c, b, 5, v->family);
    buf_addc(b, '^');
    esc(b, v->given);
    buf_addc(b, '^');
    if (v->middle)
        esc(b, v->middle);
    buf_addf(b, "^^%s", p->title);
    char d[16];
    synth_date_hl7(v->dob, d, sizeof d);
    at(c, b, 7, "%s", d);
    at(c, b, 8, "%s", p->sex == 1 ? "M" : "F");
    const struct synth_address *a = synth_view_address(v, p, (int)(when / 1440));
    at(c, b, 11, "%d %s^^%s^^%s^GBR^H", a->house, a->street, synth_towns[a->town].name,
       v->no_postcode ? "" : a->postcode);
    at(c, b, 13, "%s^PRN^%s", p->phone, p->phone[1] == '7' ? "CP" : "PH");
    end(b);
    const struct synth_org *gp = &c->o->rg->orgs[p->gp];
    seg(c, b, "PD1");
    at(c, b, 3, "%s", "");
    esc(b, gp->name);
    buf_addf(b, "^^%s", gp->ods);
    end(b);
    return m;
}

static void pv1(struct ctx *c, struct buf *b, char cls, const char *loc, const char *visit,
                long admit, long discharge, const char *specialty)
{
    char t[16];
    seg(c, b, "PV1");
    at(c, b, 1, "1");
    at(c, b, 2, "%c", cls);
    at(c, b, 3, "%s^^^%s", loc, c->o->rg->orgs[c->org].ods);
    at(c, b, 7, "C%07u^%s^%s",
       (unsigned)(synth_hash(c->seed, (uint64_t)c->org, 7) % 9000000) + 1000000,
       c->org % 2 ? "Okonkwo" : "Fletcher", c->org % 2 ? "Ada" : "James");
    at(c, b, 10, "%s", specialty);
    at(c, b, 19, "%s", visit);
    if (admit) {
        dtm(admit, t, sizeof t);
        at(c, b, 44, "%s", t);
    }
    if (discharge) {
        dtm(discharge, t, sizeof t);
        at(c, b, 45, "%s", t);
    }
    end(b);
}

/* ---- clinical content --------------------------------------------------- */

struct dx {
    const char *code, *text;
};
static const struct dx ae_dx[] = {{"R07.4", "Chest pain, unspecified"},
                                  {"S52.5", "Fracture of lower end of radius"},
                                  {"J18.9", "Pneumonia, unspecified"},
                                  {"N39.0", "Urinary tract infection"},
                                  {"R55", "Syncope and collapse"},
                                  {"S06.0", "Concussion"},
                                  {"R10.4", "Other and unspecified abdominal pain"},
                                  {"S93.4", "Sprain of ankle"},
                                  {"L03.1", "Cellulitis of other parts of limb"},
                                  {"T78.4", "Allergy, unspecified"}};

static struct dx admit_dx(struct ctx *c)
{
    const struct synth_person *p = c->p;
    struct dx opts[8];
    int n = 0;
    if (p->heart_failure)
        opts[n++] = (struct dx){"I50.0", "Congestive heart failure"};
    if (p->copd)
        opts[n++] = (struct dx){"J44.1", "COPD with acute exacerbation"};
    if (p->af)
        opts[n++] = (struct dx){"I48.9", "Atrial fibrillation, unspecified"};
    if (p->falls)
        opts[n++] = (struct dx){"S72.0", "Fracture of neck of femur"};
    if (p->diabetes)
        opts[n++] = (struct dx){"E16.2", "Hypoglycaemia, unspecified"};
    if (p->cancer)
        opts[n++] = (struct dx){"C34.9", "Malignant neoplasm of bronchus or lung"};
    opts[n++] = (struct dx){"J18.9", "Pneumonia, unspecified"};
    opts[n++] = (struct dx){"N39.0", "Urinary tract infection"};
    return opts[synth_rng_below(&c->r, (uint32_t)n)];
}

static void dg1(struct ctx *c, struct buf *b, int set, const struct dx *d, long when, char type)
{
    char t[16];
    dtm(when, t, sizeof t);
    seg(c, b, "DG1");
    at(c, b, 1, "%d", set);
    at(c, b, 2, "I10");
    at(c, b, 3, "%s^%s^I10", d->code, d->text);
    at(c, b, 5, "%s", t);
    at(c, b, 6, "%c", type);
    end(b);
}

static void nk1_al1(struct ctx *c, struct buf *b)
{
    const struct synth_person *p = c->p;
    if (p->age >= 16) {
        seg(c, b, "NK1");
        at(c, b, 1, "1");
        at_esc(c, b, 2, p->family);
        buf_adds(b, p->sex == 1 ? "^Margaret" : "^David");
        at(c, b, 3, "%s", p->age >= 60 ? "SPO^Spouse^HL70063" : "PAR^Parent^HL70063");
        at(c, b, 5, "07700 900%03u^PRN^CP", (unsigned)(p->idx % 1000));
        at(c, b, 7, "NOK^Next of kin^HL70131");
        end(b);
    }
    if (p->allergy) {
        seg(c, b, "AL1");
        at(c, b, 1, "1");
        at(c, b, 2, "DA^Drug allergy^HL70127");
        at(c, b, 3, "91936005^Allergy to penicillin^SCT");
        at(c, b, 4, "MO^Moderate^HL70128");
        at(c, b, 5, "Rash");
        end(b);
    }
}

static bool fault_future(struct ctx *c, long *when)
{
    if (!synth_out_roll(c->o, &c->r, SYNTH_F_FUTURE_DATE))
        return false;
    *when = minutes(c->asof + synth_rng_range(&c->r, 40, 900), (int)(*when % 1440));
    return true;
}

struct lab {
    const char *code, *name, *unit, *range;
    double lo, hi; /* typical values */
    int decimals;
};

static void obx_nm(struct ctx *c, struct buf *b, int set, const struct lab *l, double v, long when)
{
    char t[16];
    long w = when;
    if (fault_future(c, &w))
        synth_pending_add(&c->cur_msg->pending, SYNTH_F_FUTURE_DATE,
                          "OBX-%d observation time in the future", set);
    dtm(w, t, sizeof t);
    double rlo, rhi;
    char flag = 'N';
    if (sscanf(l->range, "%lf-%lf", &rlo, &rhi) == 2)
        flag = v < rlo ? 'L' : v > rhi ? 'H' : 'N';
    seg(c, b, "OBX");
    at(c, b, 1, "%d", set);
    at(c, b, 2, "NM");
    if (synth_out_roll(c->o, &c->r, SYNTH_F_UNKNOWN_CODE)) {
        at(c, b, 3, "ZZ%04u^%s^99LOC", (unsigned)synth_rng_below(&c->r, 10000), l->name);
        synth_pending_add(&c->cur_msg->pending, SYNTH_F_UNKNOWN_CODE,
                          "OBX-%d code in no known code system", set);
    } else {
        at(c, b, 3, "%s^%s^LN", l->code, l->name);
    }
    at(c, b, 5, "%.*f", l->decimals, v);
    at(c, b, 6, "%s^%s^UCUM", l->unit, l->unit);
    at(c, b, 7, "%s", l->range);
    at(c, b, 8, "%c", flag);
    at(c, b, 11, "F");
    at(c, b, 14, "%s", t);
    end(b);
}

static const struct lab L_HB = {"718-7", "Haemoglobin", "g/L", "130-180", 115, 165, 0};
static const struct lab L_WBC = {"6690-2", "White cell count", "10*9/L", "4.0-11.0", 4.5, 13, 1};
static const struct lab L_PLT = {"777-3", "Platelet count", "10*9/L", "150-400", 160, 390, 0};
static const struct lab L_NA = {"2951-2", "Sodium", "mmol/L", "133-146", 131, 145, 0};
static const struct lab L_K = {"2823-3", "Potassium", "mmol/L", "3.5-5.3", 3.4, 5.4, 1};
static const struct lab L_CREAT = {"2160-0", "Creatinine", "umol/L", "59-104", 55, 100, 0};
static const struct lab L_EGFR = {"33914-3", "eGFR", "mL/min/{1.73_m2}", "60-120", 62, 110, 0};
static const struct lab L_CRP = {"1988-5", "C reactive protein", "mg/L", "0-5", 1, 60, 0};
static const struct lab L_HBA1C = {"59261-8", "HbA1c (IFCC)", "mmol/mol", "20-41", 31, 40, 0};

static double val(struct ctx *c, const struct lab *l)
{
    return l->lo + (l->hi - l->lo) * synth_rng_unit(&c->r);
}

/* ORU^R01 laboratory result: FBC + U&E (+ CRP, + HbA1c for diabetics). */
static void oru_lab(struct ctx *c, int view, long when, char cls, const char *visit,
                    bool hba1c_only)
{
    long res = when + 90 + (long)synth_rng_below(&c->r, 240);
    struct msg *m = header(c, res, view, "ORU^R01^ORU_R01", NULL);
    struct buf *b = &m->b;
    if (visit)
        pv1(c, b, cls, cls == 'I' ? "WARD3" : "AE", visit, 0, 0, "300");
    char t[16], tr[16], filler[32];
    dtm(when, t, sizeof t);
    dtm(res, tr, sizeof tr);
    snprintf(filler, sizeof filler, "L%08ld%04d", c->p->idx + 1, m->seq);
    int set = 1;
    const struct synth_person *p = c->p;
    int obr = 1;
    if (!hba1c_only) {
        const struct lab *fbc[] = {&L_HB, &L_WBC, &L_PLT};
        seg(c, b, "ORC");
        at(c, b, 1, "RE");
        at(c, b, 2, "P%s", filler + 1);
        at(c, b, 3, "%s", filler);
        at(c, b, 5, "CM");
        end(b);
        seg(c, b, "OBR");
        at(c, b, 1, "%d", obr++);
        at(c, b, 2, "P%s", filler + 1);
        at(c, b, 3, "%s", filler);
        at(c, b, 4, "FBC^Full blood count^L");
        at(c, b, 7, "%s", t);
        at(c, b, 22, "%s", tr);
        at(c, b, 24, "HM");
        at(c, b, 25, "F");
        end(b);
        for (int i = 0; i < 3; i++)
            obx_nm(c, b, set++, fbc[i], val(c, fbc[i]), when);
        seg(c, b, "OBR");
        at(c, b, 1, "%d", obr++);
        at(c, b, 2, "P%s", filler + 1);
        at(c, b, 3, "%s-UE", filler);
        at(c, b, 4, "UE^Urea and electrolytes^L");
        at(c, b, 7, "%s", t);
        at(c, b, 22, "%s", tr);
        at(c, b, 24, "CH");
        at(c, b, 25, "F");
        end(b);
        obx_nm(c, b, set++, &L_NA, val(c, &L_NA), when);
        obx_nm(c, b, set++, &L_K, val(c, &L_K), when);
        double cr = val(c, &L_CREAT) * (p->ckd ? 1.9 : 1.0);
        obx_nm(c, b, set++, &L_CREAT, cr, when);
        double egfr = p->ckd ? 25 + 30 * synth_rng_unit(&c->r) : val(c, &L_EGFR);
        obx_nm(c, b, set++, &L_EGFR, egfr, when);
        if (cls != 'O')
            obx_nm(c, b, set++, &L_CRP, val(c, &L_CRP), when);
    }
    if (p->diabetes || hba1c_only) {
        seg(c, b, "OBR");
        at(c, b, 1, "%d", obr++);
        at(c, b, 3, "%s-A1C", filler);
        at(c, b, 4, "HBA1C^HbA1c^L");
        at(c, b, 7, "%s", t);
        at(c, b, 22, "%s", tr);
        at(c, b, 24, "CH");
        at(c, b, 25, "F");
        end(b);
        double v = p->diabetes ? 48 + 40 * synth_rng_unit(&c->r) : val(c, &L_HBA1C);
        obx_nm(c, b, set++, &L_HBA1C, v, when);
    }
    synth_out_cat(c->o, CAT_RESULTS);
}

static void oru_rad(struct ctx *c, int view, long when, const char *exam_code, const char *exam,
                    const char *report)
{
    long res = when + 600 + (long)synth_rng_below(&c->r, 2000);
    struct msg *m = header(c, res, view, "ORU^R01^ORU_R01", NULL);
    struct buf *b = &m->b;
    char t[16], tr[16], acc[32];
    dtm(when, t, sizeof t);
    dtm(res, tr, sizeof tr);
    snprintf(acc, sizeof acc, "RA%08ld%04d", c->p->idx + 1, m->seq);
    seg(c, b, "ORC");
    at(c, b, 1, "RE");
    at(c, b, 3, "%s", acc);
    at(c, b, 5, "CM");
    end(b);
    seg(c, b, "OBR");
    at(c, b, 1, "1");
    at(c, b, 3, "%s", acc);
    at(c, b, 4, "%s^%s^L", exam_code, exam);
    at(c, b, 7, "%s", t);
    at(c, b, 22, "%s", tr);
    at(c, b, 24, "RAD");
    at(c, b, 25, "F");
    end(b);
    seg(c, b, "OBX");
    at(c, b, 1, "1");
    at(c, b, 2, "FT");
    at(c, b, 3, "18782-3^Radiology study observation (narrative)^LN");
    at_esc(c, b, 5, report);
    at(c, b, 11, "F");
    at(c, b, 14, "%s", tr);
    end(b);
    synth_out_cat(c->o, CAT_IMAGING_REPORTS);
}

static void mdm(struct ctx *c, int view, long when, char cls, const char *visit,
                const char *doctype, const char *loinc, const char *title, const char *text)
{
    struct msg *m = header(c, when, view, "MDM^T02^MDM_T02", "T02");
    struct buf *b = &m->b;
    pv1(c, b, cls, cls == 'I' ? "WARD3" : "OPD1", visit, 0, 0, cls == 'I' ? "300" : "110");
    char t[16], doc[32];
    dtm(when, t, sizeof t);
    snprintf(doc, sizeof doc, "D%08ld%04d", c->p->idx + 1, m->seq);
    seg(c, b, "TXA");
    at(c, b, 1, "1");
    at(c, b, 2, "%s^%s^L", doctype, title);
    at(c, b, 3, "TX");
    at(c, b, 4, "%s", t);
    at(c, b, 6, "%s", t);
    at(c, b, 12, "%s", doc);
    at(c, b, 17, "AU");
    at(c, b, 19, "AV");
    end(b);
    seg(c, b, "OBX");
    at(c, b, 1, "1");
    at(c, b, 2, "TX");
    at(c, b, 3, "%s^%s^LN", loinc, title);
    at_esc(c, b, 5, text);
    at(c, b, 11, "F");
    end(b);
    synth_out_cat(c->o, CAT_DOCUMENTS);
}

static void siu(struct ctx *c, int view, long booked, long start, const char *clinic,
                const char *reason)
{
    struct msg *m = header(c, booked, view, "SIU^S12^SIU_S12", NULL);
    struct buf *b = &m->b;
    /* SIU puts SCH before PID: move it to the front of the PID part */
    size_t msh_end = (size_t)(strchr(m->b.data, '\r') - m->b.data) + 1;
    struct buf rest = BUF_INIT;
    buf_add(&rest, b->data + msh_end, b->len - msh_end);
    buf_truncate(b, msh_end);
    char s[16], e[16];
    dtm(start, s, sizeof s);
    dtm(start + 20, e, sizeof e);
    seg(c, b, "SCH");
    at(c, b, 1, "A%08ld%04d", c->p->idx + 1, m->seq);
    at(c, b, 2, "A%08ld%04d", c->p->idx + 1, m->seq);
    at(c, b, 6, "ROUTINE^Routine^HL70276");
    at_esc(c, b, 7, reason);
    at(c, b, 8, "FOLLOWUP^Follow-up^HL70277");
    at(c, b, 9, "20");
    at(c, b, 10, "min");
    at(c, b, 11, "^^20^%s^%s", s, e);
    at(c, b, 25, "Booked");
    end(b);
    buf_add(b, rest.data, rest.len);
    buf_release(&rest);
    pv1(c, b, 'O', clinic, "", 0, 0, "110");
    seg(c, b, "RGS");
    at(c, b, 1, "1");
    end(b);
    seg(c, b, "AIL");
    at(c, b, 1, "1");
    at(c, b, 3, "%s^^^%s", clinic, c->o->rg->orgs[c->org].ods);
    at(c, b, 6, "%s", s);
    end(b);
    synth_out_cat(c->o, CAT_APPOINTMENTS);
}

static void adt(struct ctx *c, int view, const char *ev, long when, char cls, const char *loc,
                const char *visit, long admit, long discharge, const struct dx *d, const char *proc)
{
    char type[24];
    snprintf(type, sizeof type, "ADT^%s^ADT_%s", ev,
             strcmp(ev, "A08") == 0 || strcmp(ev, "A04") == 0 ? "A01" : ev);
    if (strcmp(ev, "A02") == 0 || strcmp(ev, "A03") == 0)
        snprintf(type, sizeof type, "ADT^%s^ADT_%s", ev, ev);
    struct msg *m = header(c, when, view, type, ev);
    struct buf *b = &m->b;
    if (strcmp(ev, "A01") == 0 || strcmp(ev, "A04") == 0)
        nk1_al1(c, b);
    pv1(c, b, cls, loc, visit, admit, discharge, cls == 'E' ? "180" : cls == 'I' ? "300" : "110");
    if (d)
        dg1(c, b, 1, d, admit ? admit : when, strcmp(ev, "A03") == 0 ? 'F' : 'A');
    if (proc) {
        char t[16];
        dtm(when - 600, t, sizeof t);
        seg(c, b, "PR1");
        at(c, b, 1, "1");
        at(c, b, 3, "%s^SCT", proc);
        at(c, b, 5, "%s", t);
        end(b);
        synth_out_cat(c->o, CAT_PROCEDURES);
    }
    synth_out_cat(c->o, CAT_ENCOUNTERS);
    if (d)
        synth_out_cat(c->o, CAT_CONDITIONS);
}

/* ---- per-trust stories -------------------------------------------------- */

static int day_in_window(struct ctx *c)
{
    return c->asof - 1 - (int)synth_rng_below(&c->r, SYNTH_HISTORY_DAYS);
}

static void acute_story(struct ctx *c)
{
    const struct synth_person *p = c->p;
    char visit[48];
    for (int k = 0; k < p->n_ae; k++) {
        int view = 0;
        int day = day_in_window(c);
        long t = minutes(day, synth_rng_range(&c->r, 0, 1439));
        snprintf(visit, sizeof visit, "AE%08ld%02d", p->idx + 1, k);
        struct dx d = p->falls && synth_rng_chance(&c->r, 0.5)
                          ? (struct dx){"S52.5", "Fracture of lower end of radius"}
                          : ae_dx[synth_rng_below(&c->r, sizeof ae_dx / sizeof ae_dx[0])];
        adt(c, view, "A04", t, 'E', "AE", visit, t, 0, NULL, NULL);
        if (synth_rng_chance(&c->r, 0.5))
            oru_lab(c, view, t + 30, 'E', visit, false);
        if (synth_rng_chance(&c->r, 0.3))
            oru_rad(c, view, t + 60, "XWRIS", "XR Wrist",
                    d.code[0] == 'S' ? "Fracture of the distal radius with dorsal angulation. No "
                                       "other bony injury."
                                     : "No bone or joint abnormality.");
        long out = t + 120 + synth_rng_below(&c->r, 360);
        adt(c, view, "A03", out, 'E', "AE", visit, t, out, &d, NULL);
    }
    for (int k = 0; k < p->n_ip; k++) {
        int day = p->baby && k == 0 ? p->dob : day_in_window(c);
        long t = minutes(day, synth_rng_range(&c->r, 0, 1439));
        snprintf(visit, sizeof visit, "IP%08ld%02d", p->idx + 1, k);
        struct dx d =
            p->baby && k == 0 ? (struct dx){"Z38.0", "Singleton, born in hospital"} : admit_dx(c);
        int los = p->baby ? 2 : synth_rng_range(&c->r, 1, p->frail ? 21 : 8);
        long dis = t + (long)los * 1440 + synth_rng_range(&c->r, 0, 600);
        if (dis >= minutes(c->asof, 0))
            dis = 0; /* still in hospital */
        adt(c, 0, "A01", t, 'I', p->baby ? "MATY" : "AMU", visit, t, 0, &d, NULL);
        if (p->baby && k == 0) {
            /* neonatal observations from the maternity system */
            struct msg *m = header(c, t + 30, 0, "ORU^R01^ORU_R01", NULL);
            struct buf *b = &m->b;
            char tt[16];
            dtm(t, tt, sizeof tt);
            seg(c, b, "OBR");
            at(c, b, 1, "1");
            at(c, b, 3, "NB%08ld", p->idx + 1);
            at(c, b, 4, "NEONATAL^Birth details^L");
            at(c, b, 7, "%s", tt);
            at(c, b, 24, "OB");
            at(c, b, 25, "F");
            end(b);
            seg(c, b, "OBX");
            at(c, b, 1, "1");
            at(c, b, 2, "NM");
            at(c, b, 3, "8339-4^Birth weight^LN");
            at(c, b, 5, "%d", 2600 + (int)synth_rng_below(&c->r, 1700));
            at(c, b, 6, "g^g^UCUM");
            at(c, b, 11, "F");
            at(c, b, 14, "%s", tt);
            end(b);
            seg(c, b, "OBX");
            at(c, b, 1, "2");
            at(c, b, 2, "NM");
            at(c, b, 3, "9274-2^Apgar score 5 minute^LN");
            at(c, b, 5, "%d", 8 + (int)synth_rng_below(&c->r, 3));
            at(c, b, 6, "{score}^score^UCUM");
            at(c, b, 11, "F");
            at(c, b, 14, "%s", tt);
            end(b);
            seg(c, b, "OBX");
            at(c, b, 1, "3");
            at(c, b, 2, "NM");
            at(c, b, 3, "76516-4^Gestational age at birth^LN");
            at(c, b, 5, "%d", 37 + (int)synth_rng_below(&c->r, 5));
            at(c, b, 6, "wk^weeks^UCUM");
            at(c, b, 11, "F");
            at(c, b, 14, "%s", tt);
            end(b);
            synth_out_cat(c->o, CAT_BIRTH);
        } else {
            oru_lab(c, 0, t + 60, 'I', visit, false);
        }
        if (!p->baby && synth_rng_chance(&c->r, 0.4))
            oru_rad(c, 0, t + 180, "XCHES", "XR Chest",
                    d.code[0] == 'J' ? "Patchy consolidation in the right lower zone, in keeping "
                                       "with infection.\nNo effusion."
                                     : "Heart size normal. Lungs clear. No pneumothorax.");
        if (los > 2 && synth_rng_chance(&c->r, 0.35)) {
            long tr = t + 1440 + synth_rng_range(&c->r, 0, 600);
            adt(c, 0, "A02", tr, 'I', "WARD7", visit, t, 0, NULL, NULL);
        }
        if (dis) {
            const char *proc = strcmp(d.code, "S72.0") == 0   ? "52734007^Total replacement of hip"
                               : strcmp(d.code, "I50.0") == 0 ? "40701008^Echocardiography"
                                                              : NULL;
            adt(c, 0, "A03", dis, 'I', "WARD7", visit, t, dis, &d, proc);
            char text[512];
            snprintf(text, sizeof text,
                     "Admitted with %s. Treated on the acute medical unit and discharged home "
                     "after %d day%s.\nFollow-up: GP review in two weeks.%s",
                     d.text, los, los == 1 ? "" : "s",
                     p->diabetes ? "\nDiabetes: continue metformin, recheck HbA1c." : "");
            mdm(c, 0, dis + 240, 'I', visit, "DS", "18842-5", "Discharge summary", text);
        }
    }
    for (int k = 0; k < p->n_op; k++) {
        int day = c->asof - SYNTH_HISTORY_DAYS +
                  (int)synth_rng_below(&c->r, SYNTH_HISTORY_DAYS + 120); /* some are future */
        long t = minutes(day, 540 + 20 * (int)synth_rng_below(&c->r, 24));
        const char *clinic = p->cancer ? "ONC1" : p->diabetes ? "DIAB1" : "MED1";
        const char *reason = p->cancer     ? "Oncology follow-up"
                             : p->diabetes ? "Diabetes clinic review"
                                           : "Medical outpatient review";
        siu(c, 0, t - 1440L * synth_rng_range(&c->r, 14, 60), t, clinic, reason);
        if (day < c->asof) {
            snprintf(visit, sizeof visit, "OP%08ld%02d", p->idx + 1, k);
            adt(c, 0, "A04", t, 'O', clinic, visit, t, 0, NULL, NULL);
            if (p->diabetes && synth_rng_chance(&c->r, 0.6))
                oru_lab(c, 0, t, 'O', visit, true);
            char text[400];
            snprintf(text, sizeof text,
                     "Dear Doctor,\nI reviewed your patient in clinic today (%s). %s\nPlan: "
                     "review again in six months.",
                     reason,
                     p->diabetes ? "Glycaemic control is suboptimal; metformin dose increased."
                                 : "Symptoms are stable.");
            mdm(c, 0, t + 1440 * 3, 'O', visit, "CL", "11488-4", "Clinic letter", text);
        }
    }
}

static void zmh(struct ctx *c, struct buf *b, int set, const char *sec, const char *name,
                long start, long stop, char status, int ep)
{
    char s[16], e[16];
    dtm(start, s, sizeof s);
    seg(c, b, "ZMH");
    at(c, b, 1, "%d", set);
    at(c, b, 2, "%s^%s^WEFT-MHA", sec, name);
    at(c, b, 3, "%s", s);
    if (stop) {
        dtm(stop, e, sizeof e);
        at(c, b, 4, "%s", e);
    }
    at(c, b, 5, "%c", status);
    at(c, b, 6, "C%07d^Achebe^Ngozi", 1000000 + c->org);
    at(c, b, 7, "MHA%08ld%02d", c->p->idx + 1, ep);
    end(b);
}

static void mh_story(struct ctx *c)
{
    const struct synth_person *p = c->p;
    char visit[48];
    if (p->mh_outpatient) {
        int n = 1 + (int)synth_rng_below(&c->r, 4);
        for (int k = 0; k < n; k++) {
            int day =
                c->asof - SYNTH_HISTORY_DAYS + (int)synth_rng_below(&c->r, SYNTH_HISTORY_DAYS + 90);
            long t = minutes(day, 540 + 30 * (int)synth_rng_below(&c->r, 16));
            siu(c, 0, t - 1440 * 21, t, "CMHT1", "Community mental health team review");
            if (day < c->asof) {
                snprintf(visit, sizeof visit, "MO%08ld%02d", p->idx + 1, k);
                adt(c, 0, "A04", t, 'O', "CMHT1", visit, t, 0, NULL, NULL);
                mdm(c, 0, t + 1440 * 5, 'O', visit, "CL", "11488-4", "Clinic letter",
                    "Seen by the community mental health team. Mood and risk reviewed; "
                    "care plan updated.\nNo change to medication.");
            }
        }
    }
    if (p->mh_inpatient) {
        int day = day_in_window(c);
        if (day > c->asof - 120)
            day -= 120;
        long t = minutes(day, synth_rng_range(&c->r, 0, 1439));
        snprintf(visit, sizeof visit, "MI%08ld", p->idx + 1);
        struct dx d = {"F20.9", "Schizophrenia, unspecified"};
        long s3 = t + 1440L * 14;
        long dis = t + 1440L * synth_rng_range(&c->r, 30, 90);
        struct msg *m = header(c, t, 0, "ADT^A01^ADT_A01", "A01");
        pv1(c, &m->b, 'I', "ACUTEMH", visit, t, 0, "710");
        dg1(c, &m->b, 1, &d, t, 'A');
        if (p->mh_section)
            zmh(c, &m->b, 1, "2", "Section 2 (assessment)", t, t + 1440L * 28, 'A', 1);
        synth_out_cat(c->o, CAT_ENCOUNTERS);
        if (p->mh_section) {
            synth_out_cat(c->o, CAT_MENTAL_HEALTH_ACT);
            m = header(c, s3, 0, "ADT^A08^ADT_A01", "A08");
            pv1(c, &m->b, 'I', "ACUTEMH", visit, t, 0, "710");
            zmh(c, &m->b, 1, "2", "Section 2 (assessment)", t, s3, 'E', 1);
            zmh(c, &m->b, 2, "3", "Section 3 (treatment)", s3, s3 + 1440L * 182, 'A', 2);
            synth_out_cat(c->o, CAT_MENTAL_HEALTH_ACT);
        }
        m = header(c, dis, 0, "ADT^A03^ADT_A03", "A03");
        pv1(c, &m->b, 'I', "ACUTEMH", visit, t, dis, "710");
        dg1(c, &m->b, 1, &d, t, 'F');
        if (p->mh_section) {
            zmh(c, &m->b, 1, "3", "Section 3 (treatment)", s3, dis, 'E', 2);
            if (synth_rng_chance(&c->r, 0.3))
                zmh(c, &m->b, 2, "17A", "Community treatment order", dis, dis + 1440L * 182, 'A',
                    3);
        }
        mdm(c, 0, dis + 600, 'I', visit, "DS", "18842-5", "Discharge summary",
            "Admitted to the acute mental health ward. Treated and discharged to the care of "
            "the community mental health team.");
    }
}

/* ---- emission ------------------------------------------------------------ */

static int cmp_msg(const void *a, const void *b)
{
    const struct msg *x = a, *y = b;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return x->seq - y->seq;
}

static void malform(struct ctx *c, struct buf *b, char *what, size_t len)
{
    switch (synth_rng_below(&c->r, 3)) {
    case 0: /* the MSH segment lost: the message starts with PID */
    {
        char *cr = strchr(b->data, '\r');
        size_t n = (size_t)(cr - b->data) + 1;
        memmove(b->data, b->data + n, b->len - n + 1);
        b->len -= n;
        snprintf(what, len, "MSH segment missing");
        break;
    }
    case 1: /* cut off inside MSH, before the message type */
        buf_truncate(b, 20);
        snprintf(what, len, "truncated inside MSH at byte 20");
        break;
    default: /* bad encoding characters */
        b->data[4] = '|';
        snprintf(what, len, "MSH-2 encoding characters broken");
    }
}

static int flush(struct ctx *c)
{
    qsort(c->msgs, (size_t)c->nmsgs, sizeof *c->msgs, cmp_msg);
    int rc = 0;
    for (int i = 0; i < c->nmsgs; i++) {
        struct msg *m = &c->msgs[i];
        struct buf *b = &m->b;
        char what[64] = "";
        bool bad = synth_out_roll(c->o, &c->r, SYNTH_F_MALFORMED);
        if (bad)
            malform(c, b, what, sizeof what);
        bool late = synth_out_roll(c->o, &c->r, SYNTH_F_LATE);
        /* the file holds the message as it goes on the wire: one MLLP frame
         * (0x0B message 0x1C 0x0D), then a line feed for people reading it */
        struct buf frame = BUF_INIT;
        buf_addc(&frame, 0x0b);
        buf_add(&frame, b->data, b->len);
        buf_adds(&frame, "\x1c\r\n");
        const char *rel;
        long recno;
        if (!rc)
            rc = synth_out_emit(c->o, c->org, SYNTH_OUT_HL7, frame.data, frame.len, late, &rel,
                                &recno);
        buf_release(&frame);
        if (!rc) {
            synth_view_log(c->o, &c->v[m->view], c->p, rel, recno);
            synth_pending_log(c->o, &m->pending, c->org, rel, recno, c->p->key);
            if (bad)
                synth_out_fault(c->o, SYNTH_F_MALFORMED, c->org, rel, recno, c->p->key, what);
            if (late)
                synth_out_fault(c->o, SYNTH_F_LATE, c->org, rel, recno, c->p->key,
                                "delivered in the next batch file");
        }
        buf_release(b);
        buf_release(&m->pending.lines);
    }
    c->nmsgs = 0;
    return rc;
}

static int trust(struct ctx *c, int org, enum synth_stream stream, bool mh)
{
    c->org = org;
    c->seq = 0;
    synth_rng_init(&c->r, c->seed, (uint64_t)c->p->idx, (uint64_t)stream * 1000 + (uint64_t)org);
    synth_view_make(c->o, c->p, c->seed, org, 0, "mr", "hl7v2", &c->v[0]);
    if (c->v[0].duplicate)
        synth_view_make(c->o, c->p, c->seed, org, 1, "mr", "hl7v2", &c->v[1]);
    if (mh)
        mh_story(c);
    else
        acute_story(c);
    if (c->v[0].duplicate) {
        /* a walk-in registered under a second record (the clerk did not find
         * the first); an acute trust later finds and merges it (A40) half
         * the time */
        char visit[48];
        long t = minutes(day_in_window(c), synth_rng_range(&c->r, 480, 1200));
        snprintf(visit, sizeof visit, "DU%08ld", c->p->idx + 1);
        adt(c, 1, "A04", t, mh ? 'O' : 'E', mh ? "CMHT1" : "AE", visit, t, 0, NULL, NULL);
        if (!mh && synth_rng_chance(&c->r, 0.5)) {
            struct msg *m = header(c, minutes(c->asof - 1, 600), 0, "ADT^A40^ADT_A39", "A40");
            seg(c, &m->b, "MRG");
            at(c, &m->b, 1, "%s^^^%s^MR", c->v[1].local, c->o->rg->orgs[c->org].ods);
            end(&m->b);
            c->v[0].dup_merged = true;
        }
    }
    /* a move the trust heard about: an A08 with the new address on the day,
     * when it knew the person before it (a stale view never hears) */
    long moved = minutes(c->p->moved_day, 660);
    bool before = false;
    for (int i = 0; i < c->nmsgs; i++)
        before |= c->msgs[i].when < moved && c->msgs[i].view == 0;
    if (before && !c->v[0].stale_address) {
        struct msg *m = header(c, moved, 0, "ADT^A08^ADT_A01", "A08");
        seg(c, &m->b, "PV1");
        at(c, &m->b, 1, "1");
        at(c, &m->b, 2, "N");
        end(&m->b);
    }
    synth_out_cat(c->o, CAT_DEMOGRAPHICS);
    return flush(c);
}

int synth_hl7_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof)
{
    struct ctx c = {.o = o, .p = p, .seed = seed, .asof = asof};
    int rc = 0;
    if (p->n_ae + p->n_ip + p->n_op > 0)
        rc = trust(&c, p->acute, SYNTH_STREAM_ACUTE, false);
    if (!rc && (p->mh_outpatient || p->mh_inpatient))
        rc = trust(&c, p->age < 18 ? o->rg->mh[1] : o->rg->mh[0], SYNTH_STREAM_MH, true);
    free(c.msgs);
    return rc;
}
