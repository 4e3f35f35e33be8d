/*
 * risklist.c - direct-care risk lists (risklist.h).
 *
 * A practice's persons are the ones it holds a record of
 * (store_analytics_org_persons: one range read of person_local), read
 * through analytics/read.c and kept when their current registered practice
 * is this one.  A practice of 10,000 patients is read in well under a
 * second; the list is computed per view (no stored copy to go stale).
 *
 * Unplanned care, from Encounters dated in the 365 days up to the day:
 *   ambulance incident   an Encounter coded 409971007 (Emergency medical
 *                        services), as ambulance services send them
 *   A&E attendance       class EMER, not an ambulance incident
 *   emergency admission  class IMP whose admission source is emergency
 *                        (hospitalization.admitSource "emd"), or which began
 *                        on the day of, or the day after, an A&E attendance
 *                        (HL7 v2 feeds carry no admission type in Weft's
 *                        mapping, so arrival through A&E is the evidence)
 */
#include "analytics/risklist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/day.h"
#include "analytics/read.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/analytics.h"

#define EMS_CODE "http://snomed.info/sct|409971007"

void risk_unplanned(const struct analytics_person *p, int64_t as_of, int *ae, int *admissions,
                    int *ambulance)
{
    *ae = *admissions = *ambulance = 0;
    int64_t ae_days[64];
    int nae = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < p->nitems; k++) {
            const struct analytics_item *it = &p->items[k];
            int64_t d;
            if (strcmp(it->type, "Encounter") != 0 || !it->effective ||
                !day_parse(it->effective, &d) || d > as_of || d <= as_of - 365)
                continue;
            if (it->status && !strcmp(it->status, "entered-in-error"))
                continue;
            bool ems = analytics_item_has(it, EMS_CODE);
            bool emer = it->cls && !strcmp(it->cls, "EMER");
            bool imp = it->cls && !strcmp(it->cls, "IMP");
            if (pass == 0) { /* ambulance and A&E first: admissions look at A&E days */
                if (ems) {
                    (*ambulance)++;
                } else if (emer) {
                    (*ae)++;
                    if (nae < (int)(sizeof ae_days / sizeof ae_days[0]))
                        ae_days[nae++] = d;
                }
            } else if (imp) {
                bool via_ae = false;
                for (int i = 0; i < nae && !via_ae; i++)
                    via_ae = d == ae_days[i] || d == ae_days[i] + 1;
                if (via_ae || (it->admit && !strcmp(it->admit, "emd")))
                    (*admissions)++;
            }
        }
}

struct build_ctx {
    const struct efi_codes *efi;
    const char *practice;
    int64_t as_of;
    struct risk_list *out;
    int cap;
};

bool risk_row_of(const struct efi_codes *efi, const struct analytics_person *p, int64_t as_of,
                 struct risk_row *r)
{
    memset(r, 0, sizeof *r);
    if (p->deceased || !p->gp)
        return false;
    r->person_id = xstrdup(p->person_id);
    r->name = xstrdup(p->name ? p->name : "(no name recorded)");
    r->nhs = p->nhs ? xstrdup(p->nhs) : NULL;
    r->age = p->birth != ANALYTICS_NO_BIRTH ? day_age(p->birth, as_of) : -1;
    struct efi_result e;
    if (efi_assess(efi, p, as_of, &e) == 0) {
        r->assessed = true;
        r->efi_count = e.count;
        r->band = e.band;
        struct buf d = BUF_INIT;
        for (int i = 0; i < EFI_NDEFICITS; i++)
            if (e.triggers[i])
                buf_addf(&d, "%s: %s\n", efi_deficit_label(efi, i), e.triggers[i]);
        r->deficits = d.len ? buf_detach(&d, NULL) : NULL;
        buf_release(&d);
        efi_result_free(&e);
    }
    risk_unplanned(p, as_of, &r->ae, &r->admissions, &r->ambulance);
    return true;
}

void risk_row_clear(struct risk_row *r)
{
    free(r->person_id);
    free(r->name);
    free(r->nhs);
    free(r->deficits);
    memset(r, 0, sizeof *r);
}

static int person(const struct analytics_person *p, void *pc)
{
    struct build_ctx *c = pc;
    if (p->deceased || !p->gp || strcmp(p->gp, c->practice) != 0)
        return 0; /* registered elsewhere now, or died */
    if (c->out->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->out->rows = xrealloc(c->out->rows, (size_t)c->cap * sizeof *c->out->rows);
    }
    risk_row_of(c->efi, p, c->as_of, &c->out->rows[c->out->n++]);
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct risk_row *x = a, *y = b;
    int bx = x->assessed ? (int)x->band : -1, by = y->assessed ? (int)y->band : -1;
    if (bx != by)
        return by - bx;
    int ux = x->ae + x->admissions + x->ambulance, uy = y->ae + y->admissions + y->ambulance;
    if (ux != uy)
        return uy - ux;
    if (x->efi_count != y->efi_count)
        return y->efi_count - x->efi_count;
    int n = strcmp(x->name, y->name);
    return n ? n : strcmp(x->person_id, y->person_id);
}

struct ids {
    char **v;
    int n, cap;
};

static int add_id(const char *id, void *p)
{
    struct ids *ids = p;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 256;
        ids->v = xrealloc(ids->v, (size_t)ids->cap * sizeof *ids->v);
    }
    ids->v[ids->n++] = xstrdup(id);
    return 0;
}

int risk_list_build(struct store *s, const struct efi_codes *efi, const char *practice,
                    int64_t as_of, struct risk_list *out)
{
    memset(out, 0, sizeof *out);
    day_text(as_of, out->as_of);
    struct ids ids = {0};
    int rc = store_analytics_org_persons(s, practice, add_id, &ids);
    if (rc == 0 && ids.n > 0) {
        struct analytics_read sel = {(const char *const *)ids.v, ids.n};
        struct build_ctx c = {efi, practice, as_of, out, 0};
        rc = analytics_read_persons(s, &sel, person, &c);
    }
    for (int i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    if (rc) {
        risk_list_free(out);
        return rc;
    }
    risk_list_sort(out);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out->computed, sizeof out->computed, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

void risk_list_free(struct risk_list *l)
{
    for (int i = 0; i < l->n; i++)
        risk_row_clear(&l->rows[i]);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

void risk_list_sort(struct risk_list *l)
{
    if (l->n > 1)
        qsort(l->rows, (size_t)l->n, sizeof *l->rows, cmp_row);
}

struct stored_ctx {
    struct risk_list *out;
    int cap;
};

static int stored_row(const struct store_analytics_risk *in, void *arg)
{
    struct stored_ctx *c = arg;
    if (c->out->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->out->rows = xrealloc(c->out->rows, (size_t)c->cap * sizeof *c->out->rows);
    }
    struct risk_row *r = &c->out->rows[c->out->n++];
    memset(r, 0, sizeof *r);
    r->person_id = xstrdup(in->person_id);
    r->name = xstrdup(in->name ? in->name : "(no name recorded)");
    r->nhs = in->nhs ? xstrdup(in->nhs) : NULL;
    r->age = in->age;
    r->assessed = in->assessed;
    r->efi_count = in->efi_count;
    r->band = (enum efi_band)in->band;
    r->ae = in->ae;
    r->admissions = in->admissions;
    r->ambulance = in->ambulance;
    r->deficits = in->deficits ? xstrdup(in->deficits) : NULL;
    return 0;
}

int risk_list_stored(struct store *s, const char *practice, int64_t as_of, struct risk_list *out)
{
    memset(out, 0, sizeof *out);
    day_text(as_of, out->as_of);
    int64_t at = 0;
    char computed[32];
    /* the rows are there for this day only when a refresh stored them for it */
    int rc = store_analytics_risk_day_get(s, &at, computed);
    if (rc == 0 && at != as_of)
        rc = WEFT_ENOTFOUND;
    struct stored_ctx c = {out, 0};
    if (rc == 0)
        rc = store_analytics_risk_scan(s, practice, stored_row, &c);
    if (rc) {
        risk_list_free(out);
        return rc;
    }
    snprintf(out->computed, sizeof out->computed, "%s", computed);
    risk_list_sort(out);
    return 0;
}
