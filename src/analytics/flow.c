/*
 * flow.c - patient flow from ADT (flow.h).
 *
 * Workload: one stay at a time from the person scan; rows are wards (tens
 * to a few hundred in a region), found by a linear search per stay; a
 * window is at most FLOW_MAX_DAYS days, so a stay costs at most that many
 * increments.
 */
#include "analytics/flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/day.h"
#include "analytics/read.h"
#include "analytics/suppress.h"
#include "core/buf.h"
#include "core/err.h"

#define WARD_UNKNOWN "ward unknown"
#define SITE_UNKNOWN "site unknown"

static bool labelled(const char *part, size_t n)
{
    static const char *const labels[] = {"room ", "bed ", "building ", "floor "};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        size_t k = strlen(labels[i]);
        if (n > k && !strncmp(part, labels[i], k))
            return true;
    }
    return false;
}

static void copy_part(char out[128], const char *p, size_t n)
{
    if (n > 127)
        n = 127;
    memcpy(out, p, n);
    out[n] = '\0';
}

void flow_place_of(const struct analytics_item *it, char site[128], char ward[128])
{
    /* the unlabelled parts of the display: facility then ward, or the ward */
    const char *parts[2];
    size_t lens[2], np = 0;
    for (const char *p = it->location; p && *p && np < 2;) {
        const char *e = strstr(p, ", ");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && !labelled(p, n)) {
            parts[np] = p;
            lens[np++] = n;
        }
        p = e ? e + 2 : p + n;
    }
    if (np == 2) {
        copy_part(site, parts[0], lens[0]);
        copy_part(ward, parts[1], lens[1]);
    } else {
        copy_part(site, it->source_org ? it->source_org : SITE_UNKNOWN,
                  strlen(it->source_org ? it->source_org : SITE_UNKNOWN));
        if (np == 1)
            copy_part(ward, parts[0], lens[0]);
        else
            copy_part(ward, WARD_UNKNOWN, strlen(WARD_UNKNOWN));
    }
}

bool flow_stay_of(const struct analytics_item *it, struct flow_stay *st, char site[128],
                  char ward[128])
{
    if (!it->type || strcmp(it->type, "Encounter") != 0 || !it->cls || strcmp(it->cls, "IMP") != 0)
        return false;
    const char *s = it->status ? it->status : "";
    if (!strcmp(s, "planned") || !strcmp(s, "cancelled") || !strcmp(s, "entered-in-error"))
        return false;
    memset(st, 0, sizeof *st);
    if (!it->effective || !day_parse(it->effective, &st->admitted))
        return false;
    st->discharged = FLOW_OPEN;
    if (it->end && day_parse(it->end, &st->discharged)) {
        if (st->discharged < st->admitted) /* a discharge before the admission: not a stay */
            return false;
    } else if (!strcmp(s, "finished")) {
        st->discharge_unknown = true;
    }
    flow_place_of(it, site, ward);
    st->site = site;
    st->ward = ward;
    return true;
}

int64_t flow_los(const struct flow_stay *st)
{
    return st->discharged - st->admitted;
}

static const int64_t band_lo[FLOW_LOS_BANDS] = {0, 1, 2, 4, 8, 15, 22};
static const char *const band_labels[FLOW_LOS_BANDS] = {"0",    "1",     "2-3", "4-7",
                                                        "8-14", "15-21", "22+"};

int flow_los_band(int64_t los)
{
    int b = 0;
    while (b + 1 < FLOW_LOS_BANDS && los >= band_lo[b + 1])
        b++;
    return b;
}

const char *flow_los_band_label(int band)
{
    return band >= 0 && band < FLOW_LOS_BANDS ? band_labels[band] : "";
}

bool flow_in_bed_at_midnight(const struct flow_stay *st, int64_t day)
{
    if (st->discharge_unknown)
        return false; /* when they left is not known: no bed claimed */
    return st->admitted <= day && (st->discharged == FLOW_OPEN || st->discharged > day);
}

void flow_init(struct flow *f, int64_t from, int64_t to)
{
    memset(f, 0, sizeof *f);
    f->from = from;
    f->to = to;
    f->ndays = (int)(to - from + 1);
}

int flow_row(struct flow *f, const char *site, const char *ward)
{
    for (int r = 0; r < f->nrows; r++)
        if (!strcmp(f->site[r], site) && !strcmp(f->ward[r], ward))
            return r;
    int r = f->nrows++;
    size_t n = (size_t)f->nrows;
    f->site = xrealloc(f->site, n * sizeof *f->site);
    f->ward = xrealloc(f->ward, n * sizeof *f->ward);
    f->adm = xrealloc(f->adm, n * sizeof *f->adm);
    f->dis = xrealloc(f->dis, n * sizeof *f->dis);
    f->occ = xrealloc(f->occ, n * sizeof *f->occ);
    f->los = xrealloc(f->los, n * sizeof *f->los);
    f->los_v = xrealloc(f->los_v, n * sizeof *f->los_v);
    f->los_n = xrealloc(f->los_n, n * sizeof *f->los_n);
    f->los_cap = xrealloc(f->los_cap, n * sizeof *f->los_cap);
    f->site[r] = xstrdup(site);
    f->ward[r] = xstrdup(ward);
    f->adm[r] = xcalloc((size_t)f->ndays, sizeof **f->adm);
    f->dis[r] = xcalloc((size_t)f->ndays, sizeof **f->dis);
    f->occ[r] = xcalloc((size_t)f->ndays, sizeof **f->occ);
    f->los[r] = xcalloc(FLOW_LOS_BANDS, sizeof **f->los);
    f->los_v[r] = NULL;
    f->los_n[r] = f->los_cap[r] = 0;
    return r;
}

bool flow_add(struct flow *f, const struct flow_stay *st)
{
    bool adm = st->admitted >= f->from && st->admitted <= f->to;
    bool dis = st->discharged != FLOW_OPEN && st->discharged >= f->from && st->discharged <= f->to;
    int64_t lo = st->admitted > f->from ? st->admitted : f->from;
    int64_t hi =
        st->discharged == FLOW_OPEN || st->discharged - 1 > f->to ? f->to : st->discharged - 1;
    bool occ = !st->discharge_unknown && lo <= hi;
    if (!adm && !dis && !occ)
        return false;
    int r = flow_row(f, st->site, st->ward);
    if (adm)
        f->adm[r][st->admitted - f->from]++;
    if (dis) {
        f->dis[r][st->discharged - f->from]++;
        int64_t los = flow_los(st);
        f->los[r][flow_los_band(los)]++;
        if (f->los_n[r] == f->los_cap[r]) {
            f->los_cap[r] = f->los_cap[r] ? f->los_cap[r] * 2 : 16;
            f->los_v[r] = xrealloc(f->los_v[r], (size_t)f->los_cap[r] * sizeof **f->los_v);
        }
        f->los_v[r][f->los_n[r]++] = los;
    }
    for (int64_t d = lo; occ && d <= hi; d++)
        f->occ[r][d - f->from]++;
    return true;
}

void flow_free(struct flow *f)
{
    for (int r = 0; r < f->nrows; r++) {
        free(f->site[r]);
        free(f->ward[r]);
        free(f->adm[r]);
        free(f->dis[r]);
        free(f->occ[r]);
        free(f->los[r]);
        free(f->los_v[r]);
    }
    free(f->site);
    free(f->ward);
    free(f->adm);
    free(f->dis);
    free(f->occ);
    free(f->los);
    free(f->los_v);
    free(f->los_n);
    free(f->los_cap);
    memset(f, 0, sizeof *f);
}

void flow_clear(struct flow *f)
{
    int64_t from = f->from, to = f->to;
    flow_free(f);
    flow_init(f, from, to);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double flow_median(int64_t *v, int64_t n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    if (n % 2)
        return (double)v[n / 2];
    return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* ---- CSV ------------------------------------------------------------------------ */

static void csv_field(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(b, s);
        return;
    }
    buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addc(b, '"');
        buf_addc(b, *s);
    }
    buf_addc(b, '"');
}

/* The sink every figure goes through: CSV (flow_csv) or a caller's (flow_emit). */
struct sink {
    flow_figure_fn fn;
    void *arg;
};

static void line(const struct sink *k, const char *measure, const char *site, const char *ward,
                 const char *period, const char *value)
{
    k->fn(k->arg, measure, site, ward, period, value);
}

static void csv_line(void *arg, const char *measure, const char *site, const char *ward,
                     const char *period, const char *value)
{
    struct buf *b = arg;
    buf_adds(b, measure);
    buf_addc(b, ',');
    csv_field(b, site);
    buf_addc(b, ',');
    csv_field(b, ward);
    buf_addc(b, ',');
    buf_adds(b, period);
    buf_addc(b, ',');
    buf_adds(b, value);
    buf_addc(b, '\n');
}

static const struct flow *sort_f;
static int cmp_row(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    int c = strcmp(sort_f->site[x], sort_f->site[y]);
    return c ? c : strcmp(sort_f->ward[x], sort_f->ward[y]);
}

/* One measure: rows (in order) x ncols cells from get, suppressed as a table
 * and written with period labels from label. */
static void table(const struct sink *b, const struct flow *f, const int *order, const char *measure,
                  int64_t **cells_by_row, int ncols,
                  const char *(*label)(const struct flow *, int, char[16]))
{
    int nr = f->nrows > 0 ? f->nrows : 1;
    int64_t *cells = xcalloc((size_t)nr * (size_t)ncols, sizeof *cells);
    for (int i = 0; i < f->nrows; i++)
        memcpy(cells + (size_t)i * (size_t)ncols, cells_by_row[order[i]],
               (size_t)ncols * sizeof *cells);
    int64_t *shown = xcalloc((size_t)(nr + 1) * (size_t)(ncols + 1), sizeof *shown);
    suppress_table(cells, nr, ncols, shown);
    char num[24], lab[16];
    for (int r = 0; r <= f->nrows; r++) {
        /* with no rows the one all-zero row is not shown, only the totals */
        int sr = r < f->nrows ? r : nr;
        const char *site = r < f->nrows ? f->site[order[r]] : "total";
        const char *ward = r < f->nrows ? f->ward[order[r]] : "total";
        for (int c = 0; c <= ncols; c++)
            line(b, measure, site, ward, c < ncols ? label(f, c, lab) : "total",
                 suppress_text(shown[(size_t)sr * (size_t)(ncols + 1) + (size_t)c], num));
    }
    free(shown);
    free(cells);
}

static const char *day_label(const struct flow *f, int c, char out[16])
{
    char t[11];
    snprintf(out, 16, "%s", day_text(f->from + c, t));
    return out;
}

static const char *band_label(const struct flow *f, int c, char out[16])
{
    (void)f;
    snprintf(out, 16, "%s", flow_los_band_label(c));
    return out;
}

static void los_extra(const struct sink *b, const char *site, const char *ward,
                      const int64_t *bands, int64_t *v, int64_t n)
{
    static const struct {
        const char *label;
        int from_band;
    } over[] = {{"over-7", 4}, {"over-14", 5}, {"over-21", 6}};
    char num[24];
    for (size_t k = 0; k < sizeof over / sizeof over[0]; k++) {
        int64_t sum = 0;
        for (int i = over[k].from_band; i < FLOW_LOS_BANDS; i++)
            sum += bands[i];
        line(b, "los", site, ward, over[k].label, suppress_text(suppress_count(sum), num));
    }
    if (n > SUPPRESS_MAX) {
        snprintf(num, sizeof num, "%.1f", flow_median(v, n));
        line(b, "los", site, ward, "median", num);
    } else {
        line(b, "los", site, ward, "median", n > 0 ? "*" : "");
    }
}

void flow_csv(const struct flow *f, struct buf *out)
{
    buf_adds(out, "measure,site,ward,period,value\n");
    flow_emit(f, csv_line, out);
}

void flow_emit(const struct flow *f, flow_figure_fn fn, void *arg)
{
    struct sink sk = {fn, arg}, *out = &sk;
    int nr = f->nrows;
    int *order = xmalloc((size_t)(nr ? nr : 1) * sizeof *order);
    for (int i = 0; i < nr; i++)
        order[i] = i;
    sort_f = f;
    qsort(order, (size_t)nr, sizeof *order, cmp_row);
    table(out, f, order, "admissions", f->adm, f->ndays, day_label);
    table(out, f, order, "discharges", f->dis, f->ndays, day_label);
    table(out, f, order, "occupancy", f->occ, f->ndays, day_label);
    table(out, f, order, "los", f->los, FLOW_LOS_BANDS, band_label);
    int64_t all_bands[FLOW_LOS_BANDS] = {0}, all_n = 0;
    for (int i = 0; i < nr; i++)
        all_n += f->los_n[i];
    int64_t *all = xmalloc((size_t)(all_n ? all_n : 1) * sizeof *all), k = 0;
    for (int i = 0; i < nr; i++) {
        int r = order[i];
        for (int j = 0; j < FLOW_LOS_BANDS; j++)
            all_bands[j] += f->los[r][j];
        if (f->los_n[r])
            memcpy(all + k, f->los_v[r], (size_t)f->los_n[r] * sizeof *all);
        k += f->los_n[r];
        los_extra(out, f->site[r], f->ward[r], f->los[r], f->los_v[r], f->los_n[r]);
    }
    los_extra(out, "total", "total", all_bands, all, all_n);
    free(all);
    free(order);
}
