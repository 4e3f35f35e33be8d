/*
 * csvw.c - social care CSV rows (see csvw.h).  Kent writes ISO dates, Medway
 * UK-order DD/MM/YYYY dates (both are accepted by the schema, and real
 * extracts differ like this).  A row is built in a buffer and handed to the
 * output whole, so a malformed-row fault can damage exactly one row.
 */
#include <string.h>

#include "core/err.h"
#include "synth/csvw.h"
#include "synth/date.h"
#include "synth/names.h"
#include "synth/view.h"

static const char *const headers[SYNTH_OUT_KINDS] = {
    [SYNTH_OUT_CSV_PEOPLE] =
        "person_id,nhs_number,nhs_number_verified,title,family_name,given_names,date_of_birth,"
        "sex,address_line_1,address_line_2,town,county,postcode,phone,mobile,gp_practice_ods,"
        "date_recorded\r\n",
    [SYNTH_OUT_CSV_CONTACTS] = "contact_id,person_id,family_name,given_names,relationship,"
                               "is_carer,carer_support,is_next_of_kin,is_emergency_contact,"
                               "phone,start_date\r\n",
    [SYNTH_OUT_CSV_ASSESSMENTS] = "assessment_id,person_id,assessment_type,assessment_date,"
                                  "status,outcome,eligible_needs,assessor_team,summary,"
                                  "review_date\r\n",
    [SYNTH_OUT_CSV_SERVICES] = "service_id,person_id,service_type,provider_name,provider_ods,"
                               "start_date,end_date,hours_per_week,status\r\n",
    [SYNTH_OUT_CSV_SAFEGUARDING] = "concern_id,person_id,date_raised,category_of_abuse,status,"
                                   "date_closed,outcome,lead_team,summary\r\n",
    [SYNTH_OUT_CSV_EOL] = "record_id,person_id,date_recorded,preferred_place_of_death,dnacpr,"
                          "dnacpr_date,respect_plan,respect_date,lasting_power_of_attorney,"
                          "lpa_attorney_name,preferences\r\n",
};

const char *synth_csv_header(enum synth_file_kind kind)
{
    return headers[kind] ? headers[kind] : "";
}

struct cctx {
    struct synth_out *o;
    const struct synth_person *p;
    uint64_t seed;
    int asof, org;
    bool uk_dates;
    struct synth_rng r;
    struct buf row;
    int nfields;
    struct synth_pending pending;
};

static void field(struct cctx *c, const char *s)
{
    if (c->nfields++)
        buf_addc(&c->row, ',');
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(&c->row, s);
        return;
    }
    buf_addc(&c->row, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addc(&c->row, '"');
        buf_addc(&c->row, *s);
    }
    buf_addc(&c->row, '"');
}

static void fdate(struct cctx *c, int day)
{
    char d[16];
    if (c->uk_dates) {
        int y, m, dd;
        synth_civil_from_days(day, &y, &m, &dd);
        snprintf(d, sizeof d, "%02d/%02d/%04d", dd, m, y);
    } else {
        synth_date_iso(day, d, sizeof d);
    }
    field(c, d);
}

static int past(struct cctx *c, int span)
{
    int d = c->asof - 1 - (int)synth_rng_below(&c->r, (uint32_t)span);
    return d <= c->p->dob ? c->p->dob + 1 : d;
}

static int event_day(struct cctx *c, int day, const char *what)
{
    if (synth_out_roll(c->o, &c->r, SYNTH_F_FUTURE_DATE)) {
        synth_pending_add(&c->pending, SYNTH_F_FUTURE_DATE, "%s in the future", what);
        return c->asof + synth_rng_range(&c->r, 30, 400);
    }
    return day;
}

static void begin(struct cctx *c)
{
    buf_reset(&c->row);
    c->nfields = 0;
    buf_reset(&c->pending.lines);
}

static int emit(struct cctx *c, enum synth_file_kind kind, struct synth_view *v)
{
    char what[64] = "";
    bool bad = synth_out_roll(c->o, &c->r, SYNTH_F_MALFORMED);
    if (bad) {
        if (synth_rng_chance(&c->r, 0.5)) {
            char *comma = strrchr(c->row.data, ',');
            if (comma)
                buf_truncate(&c->row, (size_t)(comma - c->row.data));
            snprintf(what, sizeof what, "ragged row (one field short)");
        } else {
            buf_adds(&c->row, "x\"y");
            snprintf(what, sizeof what, "quote inside an unquoted field");
        }
    }
    buf_adds(&c->row, "\r\n");
    const char *rel;
    long recno;
    int rc = synth_out_emit(c->o, c->org, kind, c->row.data, c->row.len, false, &rel, &recno);
    if (rc)
        return rc;
    if (v)
        synth_view_log(c->o, v, c->p, rel, recno);
    synth_pending_log(c->o, &c->pending, c->org, rel, recno, c->p->key);
    if (bad)
        synth_out_fault(c->o, SYNTH_F_MALFORMED, c->org, rel, recno, c->p->key, what);
    return 0;
}

static int people_row(struct cctx *c, struct synth_view *v)
{
    const struct synth_person *p = c->p;
    begin(c);
    field(c, v->local);
    field(c, v->has_nhs ? v->nhs : "");
    field(c, v->has_nhs ? ((p->idx % 3) ? "N" : "Y") : "");
    field(c, p->title);
    field(c, v->family);
    char given[96];
    snprintf(given, sizeof given, "%s%s%s", v->given, v->middle ? " " : "",
             v->middle ? v->middle : "");
    field(c, given);
    fdate(c, v->dob);
    field(c, p->sex == 1 ? "M" : "F");
    const struct synth_address *a = synth_view_address(v, p, c->asof);
    char line[96];
    snprintf(line, sizeof line, "%d %s", a->house, a->street);
    field(c, line);
    field(c, "");
    field(c, synth_towns[a->town].name);
    field(c, "Kent");
    field(c, v->no_postcode ? "" : a->postcode);
    field(c, p->phone[1] == '7' ? "" : p->phone);
    field(c, p->phone[1] == '7' ? p->phone : "");
    field(c, c->o->rg->orgs[p->gp].ods);
    fdate(c, past(c, 900));
    synth_out_cat(c->o, CAT_DEMOGRAPHICS);
    return emit(c, SYNTH_OUT_CSV_PEOPLE, v);
}

static const char *const needs[] = {"nutrition",     "hygiene",        "toilet",
                                    "clothing",      "home-safety",    "habitable-home",
                                    "relationships", "work-education", "community"};

int synth_csv_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof)
{
    if (!p->social_care)
        return 0;
    struct cctx c = {.o = o, .p = p, .seed = seed, .asof = asof, .org = p->la};
    c.uk_dates = o->rg->orgs[p->la].ods[0] == 'M';
    buf_init(&c.row);
    buf_init(&c.pending.lines);
    synth_rng_init(&c.r, seed, (uint64_t)p->idx, SYNTH_STREAM_SOCIAL * 1000 + (uint64_t)p->la);
    struct synth_view v[2];
    synth_view_make(o, p, seed, p->la, 0, "person", "csv", &v[0]);
    int rc = people_row(&c, &v[0]);
    if (!rc && v[0].duplicate) {
        synth_view_make(o, p, seed, p->la, 1, "person", "csv", &v[1]);
        rc = people_row(&c, &v[1]);
    }
    const char *pid = v[0].local;
    char id[48];
    bool adult = p->age >= 18;
    const char *team = adult ? (p->age >= 65 ? "Older People's Team" : "Adult Social Care Team")
                             : "Children's Social Work Team";
    if (!rc && p->has_carer) {
        begin(&c);
        snprintf(id, sizeof id, "%s-C1", pid);
        field(&c, id);
        field(&c, pid);
        field(&c, p->family);
        field(&c, p->sex == 1 ? "Margaret" : "David");
        field(&c, p->age >= 60 ? (p->sex == 1 ? "wife" : "husband") : "mother");
        field(&c, "Y");
        field(&c, synth_rng_chance(&c.r, 0.5) ? "Carer's break, 4 hours a week" : "");
        field(&c, "Y");
        field(&c, "Y");
        char ph[20];
        snprintf(ph, sizeof ph, "07700 900%03ld", (p->idx * 7) % 1000);
        field(&c, ph);
        fdate(&c, past(&c, 1500));
        synth_out_cat(o, CAT_CONTACTS);
        rc = emit(&c, SYNTH_OUT_CSV_CONTACTS, NULL);
    }
    int na = 1 + (int)synth_rng_below(&c.r, 3);
    for (int k = 0; !rc && k < na; k++) {
        begin(&c);
        snprintf(id, sizeof id, "%s-A%d", pid, k + 1);
        field(&c, id);
        field(&c, pid);
        static const char *const types[] = {"needs-assessment", "review", "carers-assessment",
                                            "occupational-therapy", "financial-assessment"};
        const char *type = k == 0 ? "needs-assessment" : types[synth_rng_below(&c.r, 5)];
        field(&c, adult ? type : "other");
        fdate(&c, event_day(&c, past(&c, SYNTH_HISTORY_DAYS), "assessment_date"));
        field(&c, k + 1 == na && synth_rng_chance(&c.r, 0.2) ? "in-progress" : "completed");
        field(&c, adult ? "Eligible needs identified; package of care agreed"
                        : "Child in need plan agreed");
        char nl[96] = "";
        if (adult) {
            unsigned a = synth_rng_below(&c.r, 9), b = (a + 1 + synth_rng_below(&c.r, 8)) % 9;
            snprintf(nl, sizeof nl, "%s;%s", needs[a], needs[b]);
        }
        field(&c, nl);
        field(&c, team);
        field(&c, p->dementia ? "Lives alone. Memory problems; daughter visits daily.\nRisk of "
                                "falls at night."
                              : "Managing with support. Wishes to remain at home.");
        fdate(&c, c.asof + 30 + (int)synth_rng_below(&c.r, 300));
        synth_out_cat(o, CAT_SOCIAL_CARE_ASSESSMENT);
        rc = emit(&c, SYNTH_OUT_CSV_ASSESSMENTS, NULL);
    }
    if (!rc && adult) {
        static const char *const stypes[] = {"home-care", "day-care",      "reablement",
                                             "equipment", "telecare",      "meals",
                                             "respite",   "direct-payment"};
        int ns = 1 + (int)synth_rng_below(&c.r, 2);
        for (int k = 0; !rc && k < ns; k++) {
            begin(&c);
            snprintf(id, sizeof id, "%s-S%d", pid, k + 1);
            field(&c, id);
            field(&c, pid);
            const char *st = p->frail && k == 0 ? "home-care" : stypes[synth_rng_below(&c.r, 8)];
            if (synth_out_roll(o, &c.r, SYNTH_F_UNKNOWN_CODE)) {
                st = "meals-on-wheels-plus";
                synth_pending_add(&c.pending, SYNTH_F_UNKNOWN_CODE,
                                  "service_type not in the code list");
            }
            field(&c, st);
            field(&c, strcmp(st, "home-care") == 0 ? "Kent Home Care Ltd" : "");
            field(&c, "");
            int start = past(&c, SYNTH_HISTORY_DAYS);
            bool ended = synth_rng_chance(&c.r, 0.3) && start + 90 < c.asof;
            fdate(&c, start);
            if (ended)
                fdate(&c, start + 60);
            else
                field(&c, "");
            char hrs[16];
            snprintf(hrs, sizeof hrs, "%s",
                     strcmp(st, "home-care") == 0 ? (p->frail ? "14" : "7.5") : "");
            field(&c, hrs);
            field(&c, ended ? "ended" : "active");
            synth_out_cat(o, CAT_SERVICES);
            rc = emit(&c, SYNTH_OUT_CSV_SERVICES, NULL);
        }
    }
    if (!rc && p->safeguarding) {
        begin(&c);
        snprintf(id, sizeof id, "%s-G1", pid);
        field(&c, id);
        field(&c, pid);
        int raised = event_day(&c, past(&c, 900), "date_raised");
        fdate(&c, raised);
        field(&c, adult ? (p->dementia ? "financial;neglect" : "self-neglect") : "neglect");
        bool closed = synth_rng_chance(&c.r, 0.5) && raised + 60 < c.asof;
        field(&c, closed ? "closed" : "open");
        if (closed)
            fdate(&c, raised + 45);
        else
            field(&c, "");
        field(&c, closed ? "Concern substantiated; protection plan in place" : "");
        field(&c, adult ? "Adult Safeguarding Team" : "Children's Safeguarding Team");
        field(&c, "Concern raised by a care worker during a visit.");
        synth_out_cat(o, CAT_SAFEGUARDING);
        rc = emit(&c, SYNTH_OUT_CSV_SAFEGUARDING, NULL);
    }
    if (!rc && p->eol && synth_rng_chance(&c.r, 0.6)) {
        begin(&c);
        snprintf(id, sizeof id, "%s-E1", pid);
        field(&c, id);
        field(&c, pid);
        int day = past(&c, 300);
        fdate(&c, day);
        field(&c, p->idx % 2 ? "home" : "hospice");
        field(&c, "Y");
        fdate(&c, day);
        field(&c, "Y");
        fdate(&c, day);
        field(&c, p->idx % 3 == 0 ? "health-and-welfare" : "none");
        field(&c, p->idx % 3 == 0 ? "Daughter (named in the LPA)" : "");
        field(&c, "Wishes to stay at home with family; comfort-focused care.");
        synth_out_cat(o, CAT_END_OF_LIFE);
        rc = emit(&c, SYNTH_OUT_CSV_EOL, NULL);
    }
    buf_release(&c.row);
    buf_release(&c.pending.lines);
    return rc;
}
