/*
 * fmt.c - FHIR values as display text (see fmt.h).
 *
 * Written for robustness over completeness: the record holds data from many
 * senders (GP systems, hospital HL7 feeds mapped to FHIR, social care CSV,
 * US Synthea), so every accessor tolerates a missing or oddly typed element
 * and falls back to something a clinician can still read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "web/fmt.h"

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const json_t *first(const json_t *arr)
{
    return json_is_array(arr) ? json_array_get(arr, 0) : arr;
}

void fmt_nhs_number(struct buf *b, const char *nhs)
{
    if (!nhs)
        return;
    size_t n = strlen(nhs);
    bool digits = n == 10;
    for (size_t i = 0; digits && i < n; i++)
        digits = nhs[i] >= '0' && nhs[i] <= '9';
    if (!digits) {
        buf_adds(b, nhs);
        return;
    }
    buf_addf(b, "%.3s %.3s %.4s", nhs, nhs + 3, nhs + 6);
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Parse the leading digits of s (exactly n of them) into *out. */
static bool digits_at(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

void fmt_date(struct buf *b, const char *iso, bool with_time)
{
    if (!iso || !*iso)
        return;
    int y, m = 0, d = 0, hh, mi;
    if (!digits_at(iso, 4, &y)) {
        buf_adds(b, iso);
        return;
    }
    if (iso[4] == 0) {
        buf_addf(b, "%d", y);
        return;
    }
    if (iso[4] != '-' || !digits_at(iso + 5, 2, &m) || m < 1 || m > 12) {
        buf_adds(b, iso);
        return;
    }
    if (iso[7] == 0) {
        buf_addf(b, "%s %d", months[m - 1], y);
        return;
    }
    if (iso[7] != '-' || !digits_at(iso + 8, 2, &d) || d < 1 || d > 31) {
        buf_adds(b, iso);
        return;
    }
    buf_addf(b, "%d %s %d", d, months[m - 1], y);
    if (with_time && iso[10] == 'T' && digits_at(iso + 11, 2, &hh) && iso[13] == ':' &&
        digits_at(iso + 14, 2, &mi))
        buf_addf(b, " %02d:%02d", hh, mi);
}

static bool ymd(const char *s, int *y, int *m, int *d)
{
    return s && digits_at(s, 4, y) && s[4] == '-' && digits_at(s + 5, 2, m) && s[7] == '-' &&
           digits_at(s + 8, 2, d) && *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

static long days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's civil-day arithmetic, written out for this use. */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool fmt_age(struct buf *b, const char *birth, const char *today)
{
    int by, bm, bd, ty, tm, td;
    if (!ymd(birth, &by, &bm, &bd) || !ymd(today, &ty, &tm, &td))
        return false;
    long days = days_from_civil(ty, tm, td) - days_from_civil(by, bm, bd);
    if (days < 0)
        return false;
    int years = ty - by - ((tm < bm || (tm == bm && td < bd)) ? 1 : 0);
    if (years >= 2) {
        buf_addf(b, "%d years", years);
        return true;
    }
    int mons = (ty - by) * 12 + (tm - bm) - (td < bd ? 1 : 0);
    if (mons >= 2) {
        buf_addf(b, "%d months", mons);
        return true;
    }
    if (days >= 14) {
        buf_addf(b, "%ld weeks", days / 7);
        return true;
    }
    buf_addf(b, "%ld day%s", days, days == 1 ? "" : "s");
    return true;
}

void fmt_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(out, 11, "%Y-%m-%d", &tmv);
}

const char *fmt_cc(const json_t *cc)
{
    cc = first(cc);
    if (!json_is_object(cc))
        return NULL;
    const char *t = str(cc, "text");
    if (t && *t)
        return t;
    const json_t *codings = json_object_get(cc, "coding");
    size_t i;
    const json_t *c;
    json_array_foreach(codings, i, c)
    {
        const char *d = str(c, "display");
        if (d && *d)
            return d;
    }
    c = json_array_get(codings, 0);
    return c ? str(c, "code") : NULL;
}

void fmt_cc_code(struct buf *b, const json_t *cc)
{
    cc = first(cc);
    const json_t *c = json_array_get(json_object_get(cc, "coding"), 0);
    const char *code = str(c, "code");
    if (!code)
        return;
    const char *sys = str(c, "system");
    buf_addf(b, "%s|%s", sys ? sys : "", code);
}

bool fmt_cc_has_code(const json_t *cc, const char *code)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(first(cc), "coding"), i, c)
    {
        const char *v = str(c, "code");
        if (v && strcmp(v, code) == 0)
            return true;
    }
    return false;
}

/* Values as senders give them rarely need more than four significant
 * figures (US test data carries float noise such as 6.15818): four, but
 * never exponent notation for ordinary magnitudes. */
static void add_number(struct buf *b, double v)
{
    char tmp[64];
    if (fabs(v) >= 1000 && fabs(v) < 1e15)
        snprintf(tmp, sizeof tmp, "%.0f", v);
    else
        snprintf(tmp, sizeof tmp, "%.4g", v);
    buf_adds(b, tmp);
}

static bool num(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

/* UCUM codes as written for people.  Exact matches only: a code not here
 * is shown as sent. */
static const struct {
    const char *ucum, *shown;
} units_known[] = {
    {"mm[Hg]", "mmHg"},
    {"mL/min/{1.73_m2}", "mL/min/1.73m²"},
    {"mL/min/1.73m2", "mL/min/1.73m²"},
    {"ml/min/1.73m2", "mL/min/1.73m²"},
    {"mL/min/1.73_m2", "mL/min/1.73m²"},
    {"10*9/L", "×10⁹/L"},
    {"10*12/L", "×10¹²/L"},
    {"10*6/L", "×10⁶/L"},
    {"10*3/uL", "×10³/µL"},
    {"10*6/uL", "×10⁶/µL"},
    {"{score}", "score"},
    {"{beats}/min", "beats/min"},
    {"/min", "/min"},
    {"{breaths}/min", "breaths/min"},
    {"kg/m2", "kg/m²"},
    {"m2", "m²"},
    {"Cel", "°C"},
    {"[degF]", "°F"},
    {"[lb_av]", "lb"},
    {"[in_i]", "in"},
    {"%", "%"},
    {"ug/L", "µg/L"},
    {"umol/L", "µmol/L"},
    {"u[IU]/mL", "µIU/mL"},
    {"[IU]/L", "IU/L"},
    {"m[IU]/L", "mIU/L"},
    {"{ratio}", "ratio"},
    {"{cells}/uL", "cells/µL"},
};

void fmt_unit(struct buf *b, const char *unit)
{
    if (!unit || !*unit || strcmp(unit, "1") == 0)
        return;
    for (size_t i = 0; i < sizeof units_known / sizeof units_known[0]; i++)
        if (strcmp(units_known[i].ucum, unit) == 0) {
            buf_adds(b, units_known[i].shown);
            return;
        }
    buf_adds(b, unit);
}

void fmt_quantity(struct buf *b, const json_t *q)
{
    double v;
    if (!json_is_object(q) || !num(json_object_get(q, "value"), &v))
        return;
    const char *cmp = str(q, "comparator");
    if (cmp)
        buf_adds(b, cmp);
    add_number(b, v);
    const char *unit = str(q, "unit");
    if (!unit)
        unit = str(q, "code");
    if (unit && *unit && strcmp(unit, "1") != 0) {
        buf_addc(b, ' ');
        fmt_unit(b, unit);
    }
}

static bool add_value_x(struct buf *b, const json_t *o)
{
    const json_t *v;
    size_t before = b->len;
    if ((v = json_object_get(o, "valueQuantity")))
        fmt_quantity(b, v);
    else if ((v = json_object_get(o, "valueCodeableConcept"))) {
        const char *t = fmt_cc(v);
        if (t)
            buf_adds(b, t);
    } else if ((v = json_object_get(o, "valueString")) && json_is_string(v))
        buf_adds(b, json_string_value(v));
    else if ((v = json_object_get(o, "valueBoolean")) && json_is_boolean(v))
        buf_adds(b, json_is_true(v) ? "yes" : "no");
    else if ((v = json_object_get(o, "valueInteger")) && json_is_integer(v))
        buf_addf(b, "%lld", (long long)json_integer_value(v));
    else if ((v = json_object_get(o, "valueDateTime")) && json_is_string(v))
        fmt_date(b, json_string_value(v), true);
    else if ((v = json_object_get(o, "valueRange"))) {
        fmt_quantity(b, json_object_get(v, "low"));
        buf_adds(b, " to ");
        fmt_quantity(b, json_object_get(v, "high"));
    } else if ((v = json_object_get(o, "valueRatio"))) {
        fmt_quantity(b, json_object_get(v, "numerator"));
        buf_adds(b, " / ");
        fmt_quantity(b, json_object_get(v, "denominator"));
    } else if ((v = json_object_get(o, "valuePeriod"))) {
        fmt_date(b, str(v, "start"), true);
        buf_adds(b, " to ");
        fmt_date(b, str(v, "end"), true);
    }
    return b->len > before;
}

static const json_t *component(const json_t *obs, const char *code)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(obs, "component"), i, c)
    {
        if (fmt_cc_has_code(json_object_get(c, "code"), code))
            return c;
    }
    return NULL;
}

void fmt_obs_value(struct buf *b, const json_t *obs)
{
    if (add_value_x(b, obs))
        return;
    const json_t *sys = component(obs, "8480-6"), *dia = component(obs, "8462-4");
    double s, d;
    if (sys && dia && num(json_object_get(json_object_get(sys, "valueQuantity"), "value"), &s) &&
        num(json_object_get(json_object_get(dia, "valueQuantity"), "value"), &d)) {
        const char *u = str(json_object_get(sys, "valueQuantity"), "unit");
        if (!u)
            u = str(json_object_get(sys, "valueQuantity"), "code");
        buf_addf(b, "%.0f/%.0f%s", s, d, u && *u ? " " : "");
        fmt_unit(b, u);
        return;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(obs, "component"), i, c)
    {
        size_t mark = b->len;
        if (i)
            buf_adds(b, "; ");
        const char *name = fmt_cc(json_object_get(c, "code"));
        if (name)
            buf_addf(b, "%s: ", name);
        if (!add_value_x(b, c))
            buf_truncate(b, mark);
    }
    if (b->len)
        return;
    const char *absent = fmt_cc(json_object_get(obs, "dataAbsentReason"));
    if (absent)
        buf_addf(b, "not recorded: %s", absent);
}

void fmt_ref_range(struct buf *b, const json_t *obs)
{
    const json_t *rr = json_array_get(json_object_get(obs, "referenceRange"), 0);
    if (!rr)
        return;
    const json_t *lo = json_object_get(rr, "low"), *hi = json_object_get(rr, "high");
    double l = 0, h = 0;
    bool hl = num(json_object_get(lo, "value"), &l), hh = num(json_object_get(hi, "value"), &h);
    const char *unit = str(hl ? lo : hi, "unit");
    if (hl && hh) {
        add_number(b, l);
        buf_adds(b, " to ");
        add_number(b, h);
    } else if (hl) {
        buf_adds(b, "> ");
        add_number(b, l);
    } else if (hh) {
        buf_adds(b, "< ");
        add_number(b, h);
    } else {
        const char *t = str(rr, "text");
        if (t)
            buf_adds(b, t);
        return;
    }
    if (unit && *unit && strcmp(unit, "1") != 0) {
        buf_addc(b, ' ');
        fmt_unit(b, unit);
    }
}

enum fmt_flag fmt_obs_flag(const json_t *obs)
{
    const json_t *interp = json_object_get(obs, "interpretation");
    size_t i;
    const json_t *cc;
    json_array_foreach(interp, i, cc)
    {
        size_t j;
        const json_t *c;
        json_array_foreach(json_object_get(cc, "coding"), j, c)
        {
            const char *code = str(c, "code");
            if (!code)
                continue;
            if (!strcmp(code, "L") || !strcmp(code, "LL") || !strcmp(code, "LU") ||
                !strcmp(code, "<"))
                return FMT_FLAG_LOW;
            if (!strcmp(code, "H") || !strcmp(code, "HH") || !strcmp(code, "HU") ||
                !strcmp(code, ">"))
                return FMT_FLAG_HIGH;
            if (!strcmp(code, "A") || !strcmp(code, "AA") || !strcmp(code, "POS") ||
                !strcmp(code, "DET"))
                return FMT_FLAG_ABNORMAL;
            if (!strcmp(code, "N"))
                return FMT_FLAG_NONE;
        }
    }
    double v = 0, l = 0, h = 0;
    if (!fmt_obs_number(obs, NULL, &v))
        return FMT_FLAG_NONE;
    const json_t *rr = json_array_get(json_object_get(obs, "referenceRange"), 0);
    if (num(json_object_get(json_object_get(rr, "low"), "value"), &l) && v < l)
        return FMT_FLAG_LOW;
    if (num(json_object_get(json_object_get(rr, "high"), "value"), &h) && v > h)
        return FMT_FLAG_HIGH;
    return FMT_FLAG_NONE;
}

bool fmt_obs_number(const json_t *obs, const char *component_code, double *out)
{
    const json_t *src = obs;
    if (component_code) {
        src = component(obs, component_code);
        if (!src)
            return false;
    }
    const json_t *vq = json_object_get(src, "valueQuantity");
    if (vq)
        return num(json_object_get(vq, "value"), out);
    const json_t *vi = json_object_get(src, "valueInteger");
    if (json_is_integer(vi)) {
        *out = (double)json_integer_value(vi);
        return true;
    }
    return false;
}

static const json_t *pick_name(const json_t *names)
{
    static const char *const uses[] = {"official", "usual", NULL};
    for (int u = 0; uses[u]; u++) {
        size_t i;
        const json_t *n;
        json_array_foreach(names, i, n)
        {
            const char *use = str(n, "use");
            if (use && strcmp(use, uses[u]) == 0)
                return n;
        }
    }
    return json_array_get(names, 0);
}

static void upper(struct buf *b, const char *s)
{
    for (; *s; s++)
        buf_addc(b, (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s);
}

void fmt_patient_name(struct buf *b, const json_t *patient)
{
    const json_t *n = pick_name(json_object_get(patient, "name"));
    if (!n)
        return;
    const char *family = str(n, "family");
    size_t start = b->len;
    if (family)
        upper(b, family);
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(n, "given"), i, g)
    {
        if (!json_is_string(g))
            continue;
        buf_adds(b, i == 0 ? (b->len > start ? ", " : "") : " ");
        buf_adds(b, json_string_value(g));
    }
    const json_t *prefix = json_array_get(json_object_get(n, "prefix"), 0);
    if (json_is_string(prefix))
        buf_addf(b, " (%s)", json_string_value(prefix));
    if (b->len == start && str(n, "text"))
        buf_adds(b, str(n, "text"));
}

void fmt_human_name(struct buf *b, const json_t *name)
{
    name = first(name);
    if (!json_is_object(name))
        return;
    const char *text = str(name, "text");
    if (text) {
        buf_adds(b, text);
        return;
    }
    size_t start = b->len, i;
    const json_t *p;
    json_array_foreach(json_object_get(name, "prefix"), i, p)
    {
        if (json_is_string(p))
            buf_addf(b, "%s ", json_string_value(p));
    }
    json_array_foreach(json_object_get(name, "given"), i, p)
    {
        if (json_is_string(p))
            buf_addf(b, "%s ", json_string_value(p));
    }
    if (str(name, "family"))
        buf_adds(b, str(name, "family"));
    else if (b->len > start)
        buf_truncate(b, b->len - 1);
}

void fmt_address(struct buf *b, const json_t *patient)
{
    const json_t *addrs = json_object_get(patient, "address"), *a = NULL, *x;
    size_t i;
    json_array_foreach(addrs, i, x)
    {
        const char *use = str(x, "use");
        if (use && strcmp(use, "home") == 0) {
            a = x;
            break;
        }
    }
    if (!a)
        a = json_array_get(addrs, 0);
    if (!a)
        return;
    size_t start = b->len;
    const json_t *l;
    json_array_foreach(json_object_get(a, "line"), i, l)
    {
        if (json_is_string(l) && *json_string_value(l))
            buf_addf(b, "%s%s", b->len > start ? ", " : "", json_string_value(l));
    }
    static const char *const parts[] = {"city", "district", "state", "postalCode"};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        const char *v = str(a, parts[k]);
        if (v && *v)
            buf_addf(b, "%s%s", b->len > start ? ", " : "", v);
    }
    if (b->len == start && str(a, "text"))
        buf_adds(b, str(a, "text"));
}

const char *fmt_identifier(const json_t *res, const char *system)
{
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(res, "identifier"), i, id)
    {
        const char *s = str(id, "system");
        if (s && strcmp(s, system) == 0)
            return str(id, "value");
    }
    return NULL;
}

/* The kind of encounter in words, from its class (v3 ActCode, as HL7 v2
 * feeds and GP systems send it, by code or display). */
static const char *encounter_kind(const json_t *cls)
{
    static const struct {
        const char *code, *display, *words;
    } kinds[] = {
        {"EMER", "emergency", "Emergency department attendance"},
        {"IMP", "inpatient encounter", "Hospital admission"},
        {"ACUTE", "inpatient acute", "Hospital admission"},
        {"NONAC", "inpatient non-acute", "Hospital admission (non-acute)"},
        {"SS", "short stay", "Short stay admission"},
        {"OBSENC", "observation encounter", "Observation stay"},
        {"AMB", "ambulatory", "Outpatient or clinic appointment"},
        {"HH", "home health", "Home visit"},
        {"VR", "virtual", "Remote consultation"},
        {"PRENC", "pre-admission", "Pre-admission appointment"},
        {"FLD", "field", "Seen away from a care setting"},
    };
    const char *code = str(cls, "code"), *display = str(cls, "display");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((code && strcasecmp(code, kinds[i].code) == 0) ||
            (display && strcasecmp(display, kinds[i].display) == 0))
            return kinds[i].words;
    return display ? display : code;
}

void fmt_encounter_title(struct buf *b, const json_t *enc)
{
    size_t start = b->len;
    const char *t = fmt_cc(json_object_get(enc, "type"));
    const char *service = fmt_cc(json_object_get(enc, "serviceType"));
    /* a bare number is a local service code, not a name */
    if (service && strspn(service, "0123456789") == strlen(service))
        service = NULL;
    const char *kind = encounter_kind(json_object_get(enc, "class"));
    if (t)
        buf_adds(b, t);
    else if (kind)
        buf_adds(b, kind);
    if (service && (!t || strcasecmp(service, t) != 0))
        buf_addf(b, "%s%s", b->len > start ? ", " : "", service);
    const json_t *loc =
        json_object_get(json_array_get(json_object_get(enc, "location"), 0), "location");
    const char *ward = str(loc, "display");
    if (ward && b->len > start)
        buf_addf(b, " (%s)", ward);
    const char *reason = fmt_cc(json_object_get(enc, "reasonCode"));
    if (reason && b->len > start)
        buf_addf(b, " for %s", reason);
}

/* Element names holding a resource's title, tried in order. */
static const char *const title_fields[] = {"code",        "medicationCodeableConcept",
                                           "vaccineCode", "type",
                                           "serviceType", "serviceCategory",
                                           "category",    "class",
                                           "reasonCode",  NULL};

void fmt_resource_title(struct buf *b, const json_t *res)
{
    const char *type = str(res, "resourceType");
    size_t start = b->len;
    if (type && strcmp(type, "Encounter") == 0) {
        fmt_encounter_title(b, res);
        if (b->len > start)
            return;
    }
    if (type && (!strcmp(type, "DocumentReference") || !strcmp(type, "Composition") ||
                 !strcmp(type, "CarePlan") || !strcmp(type, "Goal"))) {
        const char *t = str(res, "title");
        if (!t)
            t = str(res, "description");
        /* a Goal is what its description says; its category only groups it */
        if (!t && !strcmp(type, "Goal"))
            t = fmt_cc(json_object_get(res, "description"));
        if (!t)
            t = fmt_cc(json_object_get(res, "type"));
        if (!t)
            t = fmt_cc(json_object_get(res, "category"));
        if (t) {
            buf_adds(b, t);
            return;
        }
    }
    if (type && !strcmp(type, "Flag")) {
        const char *t = fmt_cc(json_object_get(res, "code"));
        if (t) {
            buf_adds(b, t);
            return;
        }
    }
    if (type && !strcmp(type, "Appointment") && str(res, "description")) {
        buf_adds(b, str(res, "description"));
        return;
    }
    if (type && !strcmp(type, "Patient")) {
        fmt_patient_name(b, res);
        if (b->len > start)
            return;
    }
    if (type && !strcmp(type, "RelatedPerson")) {
        fmt_human_name(b, json_object_get(res, "name"));
        if (b->len > start)
            return;
    }
    if (type && (!strcmp(type, "Organization") || !strcmp(type, "HealthcareService")) &&
        str(res, "name")) {
        buf_adds(b, str(res, "name"));
        return;
    }
    for (int i = 0; title_fields[i]; i++) {
        const json_t *v = json_object_get(res, title_fields[i]);
        if (!v)
            continue;
        const char *t = fmt_cc(v);
        if (t) {
            buf_adds(b, t);
            return;
        }
    }
    const char *d = str(res, "description");
    if (!d)
        d = str(res, "title");
    buf_adds(b, d ? d : fmt_type_label(type));
}

/* Date element names in order of clinical relevance, and the period-valued
 * ones whose start is used. */
static const char *const date_fields[] = {"effectiveDateTime",
                                          "occurrenceDateTime",
                                          "performedDateTime",
                                          "onsetDateTime",
                                          "authoredOn",
                                          "dateAsserted",
                                          "recordedDate",
                                          "issued",
                                          "date",
                                          "created",
                                          "start",
                                          "startDate", /* Goal, as the loader indexes it */
                                          "birthDate",
                                          "dateTime",
                                          "lastOccurrence",
                                          "sent",
                                          NULL};
static const char *const period_fields[] = {"effectivePeriod", "performedPeriod",  "onsetPeriod",
                                            "period",          "occurrencePeriod", NULL};

const char *fmt_resource_date(const json_t *res)
{
    const char *type = str(res, "resourceType");
    if (type && !strcmp(type, "Patient"))
        return NULL;
    for (int i = 0; date_fields[i]; i++) {
        const char *v = str(res, date_fields[i]);
        if (v)
            return v;
    }
    for (int i = 0; period_fields[i]; i++) {
        const json_t *p = json_object_get(res, period_fields[i]);
        if (p) {
            const char *v = str(p, "start");
            if (!v)
                v = str(p, "end");
            if (v)
                return v;
        }
    }
    const json_t *ctx = json_object_get(res, "context");
    return str(json_object_get(ctx, "period"), "start");
}

const char *fmt_resource_received(const json_t *res)
{
    return str(json_object_get(res, "meta"), "lastUpdated");
}

const char *fmt_resource_status(const json_t *res)
{
    const char *t = fmt_cc(json_object_get(res, "clinicalStatus"));
    if (t)
        return t;
    const char *s = str(res, "status");
    if (s)
        return s;
    const json_t *active = json_object_get(res, "active");
    if (json_is_boolean(active))
        return json_is_true(active) ? "active" : "inactive";
    return NULL;
}

static void add_sep(struct buf *b, size_t start)
{
    if (b->len > start)
        buf_adds(b, "; ");
}

void fmt_resource_detail(struct buf *b, const json_t *res)
{
    const char *type = str(res, "resourceType");
    if (!type)
        return;
    size_t start = b->len;
    if (!strcmp(type, "Observation")) {
        fmt_obs_value(b, res);
    } else if (!strcmp(type, "MedicationRequest") || !strcmp(type, "MedicationStatement")) {
        const json_t *dose = json_array_get(json_object_get(res, "dosageInstruction"), 0);
        if (!dose)
            dose = json_array_get(json_object_get(res, "dosage"), 0);
        if (str(dose, "text"))
            buf_adds(b, str(dose, "text"));
        else if (dose) {
            const json_t *timing = json_object_get(json_object_get(dose, "timing"), "repeat");
            const json_t *freq = json_object_get(timing, "frequency");
            const json_t *period = json_object_get(timing, "period");
            const char *unit = str(timing, "periodUnit");
            if (json_is_integer(freq) && json_is_number(period) && unit)
                buf_addf(b, "%lld times every %.6g %s", (long long)json_integer_value(freq),
                         json_number_value(period), unit);
            if (json_is_true(json_object_get(dose, "asNeededBoolean"))) {
                add_sep(b, start);
                buf_adds(b, "as needed");
            }
        }
    } else if (!strcmp(type, "AllergyIntolerance")) {
        const char *crit = str(res, "criticality");
        if (crit)
            buf_addf(b, "criticality %s", crit);
        const json_t *r = json_array_get(json_object_get(res, "reaction"), 0);
        const char *man = fmt_cc(json_object_get(r, "manifestation"));
        if (man) {
            add_sep(b, start);
            buf_addf(b, "reaction: %s", man);
        }
        const char *sev = str(r, "severity");
        if (sev)
            buf_addf(b, " (%s)", sev);
    } else if (!strcmp(type, "Condition")) {
        const char *sev = fmt_cc(json_object_get(res, "severity"));
        if (sev)
            buf_adds(b, sev);
        const char *ab = str(res, "abatementDateTime");
        if (ab) {
            add_sep(b, start);
            buf_adds(b, "resolved ");
            fmt_date(b, ab, false);
        }
    } else if (!strcmp(type, "Encounter")) {
        const json_t *p = json_object_get(res, "period");
        const char *end = str(p, "end");
        if (end) {
            add_sep(b, start);
            buf_adds(b, "ended ");
            fmt_date(b, end, true);
        }
    } else if (!strcmp(type, "Procedure") || !strcmp(type, "Immunization")) {
        const char *reason = fmt_cc(json_object_get(res, "reasonCode"));
        if (reason)
            buf_addf(b, "reason: %s", reason);
    } else if (!strcmp(type, "Flag") || !strcmp(type, "RiskAssessment")) {
        const json_t *pred = json_array_get(json_object_get(res, "prediction"), 0);
        const char *o = fmt_cc(json_object_get(pred, "outcome"));
        const char *q = fmt_cc(json_object_get(pred, "qualitativeRisk"));
        if (o)
            buf_adds(b, o);
        if (q) {
            add_sep(b, start);
            buf_addf(b, "risk: %s", q);
        }
        const char *cat = fmt_cc(json_object_get(res, "category"));
        if (!o && !q && cat)
            buf_adds(b, cat);
    } else if (!strcmp(type, "Appointment")) {
        const char *st = fmt_cc(json_object_get(res, "serviceType"));
        if (st)
            buf_adds(b, st);
    } else if (!strcmp(type, "DiagnosticReport")) {
        const char *c = str(res, "conclusion");
        if (c)
            buf_adds(b, c);
    } else if (!strcmp(type, "Consent")) {
        const char *sc = fmt_cc(json_object_get(res, "scope"));
        if (sc)
            buf_adds(b, sc);
    }
    const char *note = str(json_array_get(json_object_get(res, "note"), 0), "text");
    if (note && b->len == start)
        buf_adds(b, note);
}

static const struct {
    const char *type, *label;
} type_labels[] = {
    {"AllergyIntolerance", "Allergy or intolerance"},
    {"Appointment", "Appointment"},
    {"CarePlan", "Care plan"},
    {"Composition", "Summary"},
    {"Condition", "Condition"},
    {"Consent", "Consent or preference"},
    {"DiagnosticReport", "Report"},
    {"DocumentReference", "Document"},
    {"Encounter", "Encounter"},
    {"EpisodeOfCare", "Episode of care"},
    {"Flag", "Flag"},
    {"Goal", "Goal"},
    {"HealthcareService", "Service"},
    {"ImagingStudy", "Imaging study"},
    {"Immunization", "Immunisation"},
    {"MedicationRequest", "Prescription"},
    {"MedicationStatement", "Medication"},
    {"Observation", "Observation"},
    {"Organization", "Organisation"},
    {"Patient", "Demographics"},
    {"Procedure", "Procedure"},
    {"QuestionnaireResponse", "Assessment"},
    {"RelatedPerson", "Contact"},
    {"ResearchSubject", "Research study"},
    {"RiskAssessment", "Risk assessment"},
    {"ServiceRequest", "Referral"},
};

const char *fmt_type_label(const char *type)
{
    if (!type)
        return "Item";
    for (size_t i = 0; i < sizeof type_labels / sizeof type_labels[0]; i++)
        if (strcmp(type_labels[i].type, type) == 0)
            return type_labels[i].label;
    return type;
}
