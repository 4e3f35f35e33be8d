/*
 * searchparam.c - look-up of the generated search parameter table, parsing of
 * search values, and matching one resource against one filter (see
 * searchparam.h for the rules).
 *
 * Workload: a patient-scoped search reads the person's items of one type
 * (hundreds to a few thousand) and matches each against a handful of
 * filters, so values are parsed once per search (struct fhir_sp_value) and
 * matching walks the parsed JSON without allocating, except for folding
 * strings.  Dates are compared as text in one normalised form
 * ("YYYY-MM-DDThh:mm:ss", time zone and fractions dropped, as the store's
 * date column), so a range is two strings and every comparison a strcmp.
 */
#define _GNU_SOURCE 1 /* memmem */
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/searchparam.h"

#define DATE_MIN "0000-00-00T00:00:00"
#define DATE_MAX "9999-99-99T99:99:99"
#define MAX_NODES 256

/* ---- the table ---------------------------------------------------------------------------- */

static int row_cmp(const char *type, const char *code, const struct fhir_sp *r)
{
    int c = strcmp(type, r->type);
    return c ? c : strcmp(code, r->code);
}

const struct fhir_sp *fhir_sp_find(const char *type, const char *code)
{
    int lo = 0, hi = fhir_sp_count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = row_cmp(type, code, &fhir_sp_table[mid]);
        if (c == 0)
            return &fhir_sp_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct fhir_sp *fhir_sp_of_type(const char *type, int *n)
{
    int lo = 0, hi = fhir_sp_count;
    while (lo < hi) { /* first row with row.type >= type */
        int mid = lo + (hi - lo) / 2;
        if (strcmp(fhir_sp_table[mid].type, type) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int end = lo;
    while (end < fhir_sp_count && strcmp(fhir_sp_table[end].type, type) == 0)
        end++;
    *n = end - lo;
    return *n ? &fhir_sp_table[lo] : NULL;
}

const char *fhir_sp_type_name(enum fhir_sp_type kind)
{
    static const char *const names[] = {"number",    "date",      "string",   "token",
                                        "reference", "composite", "quantity", "uri"};
    return names[kind];
}

const char *fhir_sp_modifiers(enum fhir_sp_type kind)
{
    switch (kind) {
    case FHIR_SP_TOKEN:
        return "missing,text,not,of-type";
    case FHIR_SP_STRING:
        return "missing,exact,contains";
    case FHIR_SP_REFERENCE:
        return "missing,identifier,[type]";
    case FHIR_SP_URI:
        return "missing,below";
    case FHIR_SP_DATE:
    case FHIR_SP_QUANTITY:
    case FHIR_SP_NUMBER:
        return "missing";
    case FHIR_SP_COMPOSITE:
        return "";
    }
    return "";
}

int fhir_sp_mod_parse(const struct fhir_sp *sp, const char *name, const char **ref_type)
{
    *ref_type = NULL;
    if (strcmp(name, "missing") == 0)
        return sp->kind == FHIR_SP_COMPOSITE ? -1 : FHIR_SP_MOD_MISSING;
    switch (sp->kind) {
    case FHIR_SP_TOKEN:
        if (strcmp(name, "text") == 0)
            return FHIR_SP_MOD_TEXT;
        if (strcmp(name, "not") == 0)
            return FHIR_SP_MOD_NOT;
        if (strcmp(name, "of-type") == 0)
            return FHIR_SP_MOD_OF_TYPE;
        return -1;
    case FHIR_SP_STRING:
        if (strcmp(name, "exact") == 0)
            return FHIR_SP_MOD_EXACT;
        if (strcmp(name, "contains") == 0)
            return FHIR_SP_MOD_CONTAINS;
        return -1;
    case FHIR_SP_URI:
        return strcmp(name, "below") == 0 ? FHIR_SP_MOD_BELOW : -1;
    case FHIR_SP_REFERENCE:
        if (strcmp(name, "identifier") == 0)
            return FHIR_SP_MOD_IDENTIFIER;
        if (isupper((unsigned char)name[0]) && sp->targets) {
            /* :Type, one of the parameter's targets */
            size_t n = strlen(name);
            for (const char *t = sp->targets; *t;) {
                const char *e = strchr(t, ',');
                size_t len = e ? (size_t)(e - t) : strlen(t);
                if (len == n && strncmp(t, name, n) == 0) {
                    *ref_type = name;
                    return FHIR_SP_MOD_TYPE;
                }
                if (!e)
                    break;
                t = e + 1;
            }
        }
        return -1;
    default:
        return -1;
    }
}

/* ---- folding ------------------------------------------------------------------------------ */

/* The base letter of a Latin-1 Supplement letter U+00C0..U+00FF, 0 if none. */
static char latin1_base(unsigned cp)
{
    static const char map[] = "aaaaaaaceeeeiiii"   /* C0-CF */
                              "dnooooo\0ouuuuyts"  /* D0-DF (D7 times, DE thorn, DF sharp s) */
                              "aaaaaaaceeeeiiii"   /* E0-EF */
                              "dnooooo\0ouuuuyty"; /* F0-FF (F7 divide) */
    if (cp < 0xC0 || cp > 0xFF)
        return 0;
    return map[cp - 0xC0];
}

char *fhir_sp_fold(const char *s)
{
    struct buf b = BUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            buf_addc(&b, (char)tolower(*p));
            p++;
            continue;
        }
        if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            unsigned cp = ((unsigned)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            char base = latin1_base(cp);
            if (base) {
                buf_addc(&b, base);
                p += 2;
                continue;
            }
        }
        buf_addc(&b, (char)*p++); /* other bytes as they are */
    }
    if (!b.data)
        return xstrdup("");
    return buf_detach(&b, NULL);
}

/* ---- dates -------------------------------------------------------------------------------- */

/* The normalised form of a date-time (fields already in range). */
static void fmt_date(char out[20], int y, int mo, int d, int h, int mi, int sec)
{
    snprintf(out, 20, "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)y % 10000u, (unsigned)mo % 100u,
             (unsigned)d % 100u, (unsigned)h % 100u, (unsigned)mi % 100u, (unsigned)sec % 100u);
}

/* A date/dateTime/instant as the range [lo, hi) at its precision, both in
 * the normalised form.  false when s is not one. */
static bool date_range(const char *s, char lo[20], char hi[20])
{
    int f[6] = {0, 1, 1, 0, 0, 0};
    int n = 0;
    const char *p = s;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    f[0] =
        atoi(p) ? (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') : 0;
    p += 4;
    n = 1;
    static const char seps[] = {'-', '-', 'T', ':', ':'};
    static const int lim_lo[] = {1, 1, 0, 0, 0}, lim_hi[] = {12, 31, 23, 59, 60};
    while (*p && n < 6 && *p == seps[n - 1] && isdigit((unsigned char)p[1]) &&
           isdigit((unsigned char)p[2])) {
        int v = (p[1] - '0') * 10 + (p[2] - '0');
        if (v < lim_lo[n - 1] || v > lim_hi[n - 1])
            return false;
        f[n++] = v;
        p += 3;
    }
    if (n == 4)
        return false;
    if (n == 6 && *p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (n >= 5 && (*p == 'Z' || *p == '+' || *p == '-')) {
        if (*p == 'Z')
            p++;
        else if (isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) && p[3] == ':' &&
                 isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]))
            p += 6;
        else
            return false;
    }
    if (*p)
        return false;
    if (f[5] == 60)
        f[5] = 59;
    fmt_date(lo, f[0], f[1], f[2], f[3], f[4], f[5]);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    switch (n) {
    case 1:
        tm.tm_year++;
        break;
    case 2:
        tm.tm_mon++;
        break;
    case 3:
        tm.tm_mday++;
        break;
    case 5:
        tm.tm_min++;
        break;
    default:
        tm.tm_sec++;
    }
    time_t t = timegm(&tm);
    struct tm r;
    if (t == (time_t)-1 || !gmtime_r(&t, &r) || r.tm_year + 1900 > 9999) {
        snprintf(hi, 20, "%s", DATE_MAX);
        return true;
    }
    fmt_date(hi, r.tm_year + 1900, r.tm_mon + 1, r.tm_mday, r.tm_hour, r.tm_min, r.tm_sec);
    return true;
}

static time_t date_secs(const char *d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(d, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

static void secs_date(time_t t, char out[20])
{
    struct tm r;
    if (!gmtime_r(&t, &r) || r.tm_year + 1900 < 1 || r.tm_year + 1900 > 9999) {
        snprintf(out, 20, "%s", t < 0 ? DATE_MIN : DATE_MAX);
        return;
    }
    fmt_date(out, r.tm_year + 1900, r.tm_mon + 1, r.tm_mday, r.tm_hour, r.tm_min, r.tm_sec);
}

/* ---- values ------------------------------------------------------------------------------- */

enum prefix { PFX_EQ, PFX_NE, PFX_GT, PFX_LT, PFX_GE, PFX_LE, PFX_SA, PFX_EB, PFX_AP };

struct fhir_sp_value {
    char *raw;        /* the value as given (unescaped) */
    char *sys, *code; /* tokens: split at '|' (sys NULL: no bar; "" : |code) */
    char *fold;       /* strings, :text: folded raw */
    char *type3;      /* :of-type: the value after the type's system|code */
    enum prefix pfx;
    char dlo[20], dhi[20];        /* dates: the range searched */
    double num, nlo, nhi;         /* numbers: the number and its precision range */
    char *unit_sys, *unit;        /* quantities */
    char rtype[64], rid[65];      /* references: type ("" any) and id */
    struct fhir_sp_filter *parts; /* composites: one filter per component */
    int nparts;
};

static void value_clear(struct fhir_sp_value *v)
{
    free(v->raw);
    free(v->sys);
    free(v->code);
    free(v->fold);
    free(v->type3);
    free(v->unit_sys);
    free(v->unit);
    for (int i = 0; i < v->nparts; i++) {
        /* a component's row is the value's own (parse_composite) */
        struct fhir_sp *row = (struct fhir_sp *)v->parts[i].sp;
        fhir_sp_filter_free(&v->parts[i]);
        if (row)
            free((char *)row->path);
        free(row);
    }
    free(v->parts);
    memset(v, 0, sizeof *v);
}

const char *fhir_sp_filter_value(const struct fhir_sp_filter *f, int i)
{
    return i >= 0 && i < f->nvalues && f->values[i].raw ? f->values[i].raw : "";
}

void fhir_sp_filter_free(struct fhir_sp_filter *f)
{
    for (int i = 0; i < f->nvalues; i++)
        value_clear(&f->values[i]);
    free(f->values);
    free(f->ref_type);
    memset(f, 0, sizeof *f);
}

static int verr(char *err, size_t errlen, const struct fhir_sp *sp, const char *why,
                const char *value)
{
    snprintf(err, errlen, "parameter '%s': '%.60s' %s", sp->code, value, why);
    return WEFT_EINVAL;
}

static enum prefix take_prefix(const char **v)
{
    static const char *const names[] = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"};
    for (int i = 0; i < 9; i++) {
        if (strncmp(*v, names[i], 2) == 0) {
            *v += 2;
            return (enum prefix)i;
        }
    }
    return PFX_EQ;
}

/* A search number: value, and the range its precision implies. */
static bool parse_number(const char *s, double *num, double *lo, double *hi)
{
    char *end = NULL;
    if (!*s)
        return false;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return false;
    const char *dot = strchr(s, '.');
    const char *e = strpbrk(s, "eE");
    int decimals = 0;
    if (dot)
        decimals = (int)((e ? e : s + strlen(s)) - dot - 1);
    int exp10 = e ? atoi(e + 1) : 0;
    double half = 0.5 * pow(10.0, (double)(exp10 - decimals));
    *num = d;
    *lo = d - half;
    *hi = d + half;
    return true;
}

/* split "a|b|c" (unescaped bars) into at most 3 parts; returns the count */
static int split_bars(const char *s, char *parts[3])
{
    int n = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '|' || !*p) {
            if (n < 3) {
                size_t len = (size_t)(p - start);
                parts[n] = xmalloc(len + 1);
                memcpy(parts[n], start, len);
                parts[n][len] = 0;
            }
            n++;
            if (!*p)
                break;
            start = p + 1;
        }
    }
    return n;
}

static int value_parse(struct fhir_sp_value *v, const struct fhir_sp *sp, enum fhir_sp_mod mod,
                       const char *raw, char *err, size_t errlen);

static int parse_composite(struct fhir_sp_value *v, const struct fhir_sp *sp, const char *raw,
                           char *err, size_t errlen)
{
    /* components "kind:path;kind:path" against "a$b" */
    int ncomp = 1;
    for (const char *c = sp->components; *c; c++)
        ncomp += *c == ';';
    v->parts = xcalloc((size_t)ncomp, sizeof *v->parts);
    const char *comp = sp->components;
    const char *val = raw;
    for (int i = 0; i < ncomp; i++) {
        const char *ce = strchr(comp, ';');
        size_t clen = ce ? (size_t)(ce - comp) : strlen(comp);
        const char *dollar = strchr(val, '$');
        if ((i < ncomp - 1) != (dollar != NULL))
            return verr(err, errlen, sp,
                        "is not a composite value (one value per component, "
                        "joined by $)",
                        raw);
        size_t vlen = dollar ? (size_t)(dollar - val) : strlen(val);
        char *cv = xmalloc(vlen + 1);
        memcpy(cv, val, vlen);
        cv[vlen] = 0;
        char *cs = xmalloc(clen + 1);
        memcpy(cs, comp, clen);
        cs[clen] = 0;
        char *colon = strchr(cs, ':');
        assert(colon);
        *colon = 0;
        /* a component row of its own: kind and path (kept in the value) */
        struct fhir_sp *row = xcalloc(1, sizeof *row);
        static const char *const kinds[] = {"number",    "date",      "string",   "token",
                                            "reference", "composite", "quantity", "uri"};
        for (int k = 0; k < 8; k++)
            if (strcmp(cs, kinds[k]) == 0)
                row->kind = (enum fhir_sp_type)k;
        row->type = sp->type;
        row->code = sp->code;
        row->path = xstrdup(colon + 1);
        free(cs);
        struct fhir_sp_filter *part = &v->parts[v->nparts++];
        part->sp = row;
        part->values = xcalloc(1, sizeof *part->values);
        part->nvalues = 1;
        int rc = value_parse(&part->values[0], row, FHIR_SP_MOD_NONE, cv, err, errlen);
        free(cv);
        if (rc)
            return rc;
        comp = ce ? ce + 1 : comp + clen;
        val = dollar ? dollar + 1 : val + vlen;
    }
    return WEFT_OK;
}

static int value_parse(struct fhir_sp_value *v, const struct fhir_sp *sp, enum fhir_sp_mod mod,
                       const char *raw, char *err, size_t errlen)
{
    v->raw = xstrdup(raw);
    if (mod == FHIR_SP_MOD_MISSING)
        return WEFT_OK;
    if (mod == FHIR_SP_MOD_IDS)
        return WEFT_OK;
    switch (sp->kind) {
    case FHIR_SP_TOKEN: {
        if (mod == FHIR_SP_MOD_TEXT) {
            v->fold = fhir_sp_fold(raw);
            return WEFT_OK;
        }
        char *parts[3] = {NULL, NULL, NULL};
        int n = split_bars(raw, parts);
        int rc = WEFT_OK;
        if (mod == FHIR_SP_MOD_OF_TYPE) {
            if (n != 3 || !parts[1][0] || !parts[2][0])
                rc = verr(err, errlen, sp, "is not system|code|value (:of-type)", raw);
            v->sys = parts[0];
            v->code = parts[1];
            v->type3 = parts[2];
            return rc;
        }
        if (n > 2) {
            rc = verr(err, errlen, sp, "is not a token (code, system|code or |code)", raw);
        } else if (n == 2) {
            v->sys = parts[0];
            v->code = parts[1];
            parts[0] = parts[1] = NULL;
            if (!v->sys[0] && !v->code[0])
                rc = verr(err, errlen, sp, "is not a token (code, system|code or |code)", raw);
        } else {
            v->code = parts[0];
            parts[0] = NULL;
        }
        for (int i = 0; i < 3; i++)
            free(parts[i]);
        return rc;
    }
    case FHIR_SP_STRING:
        v->fold = fhir_sp_fold(raw);
        return WEFT_OK;
    case FHIR_SP_URI:
        return WEFT_OK;
    case FHIR_SP_DATE: {
        const char *p = raw;
        if (isalpha((unsigned char)p[0]))
            v->pfx = take_prefix(&p);
        if (!date_range(p, v->dlo, v->dhi))
            return verr(err, errlen, sp,
                        "is not a date (e.g. 2020, 2020-03, 2020-03-04, 2020-03-04T10:00:00Z, "
                        "with an optional prefix eq ne gt lt ge le sa eb ap)",
                        raw);
        return WEFT_OK;
    }
    case FHIR_SP_NUMBER:
    case FHIR_SP_QUANTITY: {
        const char *p = raw;
        if (isalpha((unsigned char)p[0]))
            v->pfx = take_prefix(&p);
        char *parts[3] = {NULL, NULL, NULL};
        int n = split_bars(p, parts);
        int rc = WEFT_OK;
        if (n != 1 && n != 3)
            rc = verr(err, errlen, sp,
                      "is not a quantity (number, number|system|code or "
                      "number||code)",
                      raw);
        else if (n == 3 && sp->kind == FHIR_SP_NUMBER)
            rc = verr(err, errlen, sp, "is not a number", raw);
        else if (!parse_number(parts[0], &v->num, &v->nlo, &v->nhi))
            rc = verr(err, errlen, sp,
                      "is not a number (with an optional prefix eq ne gt lt ge "
                      "le sa eb ap)",
                      raw);
        if (rc == WEFT_OK && n == 3) {
            v->unit_sys = parts[1][0] ? xstrdup(parts[1]) : NULL;
            v->unit = parts[2][0] ? xstrdup(parts[2]) : NULL;
        }
        for (int i = 0; i < 3; i++)
            free(parts[i]);
        return rc;
    }
    case FHIR_SP_REFERENCE: {
        if (mod == FHIR_SP_MOD_IDENTIFIER) {
            struct fhir_sp tok = *sp;
            tok.kind = FHIR_SP_TOKEN;
            free(v->raw);
            v->raw = NULL;
            return value_parse(v, &tok, FHIR_SP_MOD_NONE, raw, err, errlen);
        }
        if (strchr(raw, '/')) {
            if (!fhir_sp_ref_split(raw, v->rtype, v->rid))
                return verr(err, errlen, sp,
                            "is not a reference (Type/id, id or a URL ending "
                            "in Type/id)",
                            raw);
        } else {
            if (strlen(raw) > 64 || !raw[0])
                return verr(err, errlen, sp, "is not a resource id", raw);
            snprintf(v->rid, sizeof v->rid, "%s", raw);
        }
        return WEFT_OK;
    }
    case FHIR_SP_COMPOSITE:
        return parse_composite(v, sp, raw, err, errlen);
    }
    return WEFT_OK;
}

int fhir_sp_filter_add(struct fhir_sp_filter *f, const char *value, char *err, size_t errlen)
{
    if (f->nvalues >= FHIR_SP_MAX_VALUES) {
        snprintf(err, errlen, "parameter '%s': too many values (at most %d)", f->sp->code,
                 FHIR_SP_MAX_VALUES);
        return WEFT_EINVAL;
    }
    f->values = xrealloc(f->values, sizeof *f->values * (size_t)(f->nvalues + 1));
    struct fhir_sp_value *v = &f->values[f->nvalues++];
    memset(v, 0, sizeof *v);
    return value_parse(v, f->sp, f->mod, value, err, errlen);
}

int fhir_sp_filter_parse(struct fhir_sp_filter *f, const struct fhir_sp *sp, enum fhir_sp_mod mod,
                         const char *ref_type, const char *value, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->sp = sp;
    f->mod = mod;
    f->ref_type = ref_type ? xstrdup(ref_type) : NULL;
    if (mod == FHIR_SP_MOD_MISSING) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(err, errlen, "parameter '%s:missing': '%.40s' is not true or false", sp->code,
                     value);
            return WEFT_EINVAL;
        }
        f->missing = strcmp(value, "true") == 0;
        return WEFT_OK;
    }
    const char *p = value;
    for (;;) {
        struct buf b = BUF_INIT;
        while (*p && *p != ',') {
            if (*p == '\\' && (p[1] == ',' || p[1] == '\\' || p[1] == '$' ||
                               (p[1] == '|' && sp->kind == FHIR_SP_STRING))) {
                buf_addc(&b, p[1]);
                p += 2;
                continue;
            }
            buf_addc(&b, *p++);
        }
        if (b.len == 0) {
            buf_release(&b);
            snprintf(err, errlen, "parameter '%s': empty value", sp->code);
            return WEFT_EINVAL;
        }
        int rc = fhir_sp_filter_add(f, b.data, err, errlen);
        buf_release(&b);
        if (rc)
            return rc;
        if (*p != ',')
            break;
        p++;
    }
    return WEFT_OK;
}

/* ---- paths -------------------------------------------------------------------------------- */

static void push(const json_t **out, int *n, int max, const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) push(out, n, max, x);
        return;
    }
    if (v && *n < max)
        out[(*n)++] = v;
}

/* Does reference node v point at a resource of type t? */
static bool ref_is(const json_t *v, const char *t, size_t tlen)
{
    const char *ref = json_string_value(json_object_get(v, "reference"));
    if (ref) {
        char type[64], id[65];
        if (fhir_sp_ref_split(ref, type, id))
            return strlen(type) == tlen && strncmp(type, t, tlen) == 0;
    }
    const char *rt = json_string_value(json_object_get(v, "type"));
    return rt && strlen(rt) == tlen && strncmp(rt, t, tlen) == 0;
}

/* One step of a path ("name", "name[x]", "name@Type", "name[k=v]") from
 * each node of in[0..nin) into out. */
static int step(const char *s, size_t len, const json_t **in, int nin, const json_t **out, int max)
{
    char name[64];
    size_t nl = 0;
    while (nl < len && s[nl] != '[' && s[nl] != '@')
        nl++;
    if (nl >= sizeof name)
        return 0;
    memcpy(name, s, nl);
    name[nl] = 0;
    bool choice = nl + 3 <= len && strncmp(s + nl, "[x]", 3) == 0;
    const char *rest = s + nl + (choice ? 3 : 0);
    size_t restlen = len - nl - (choice ? 3 : 0);
    int n = 0;
    for (int i = 0; i < nin; i++) {
        int first = n;
        if (choice) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)in[i], k, v)
            {
                if (strncmp(k, name, nl) == 0 && isupper((unsigned char)k[nl]))
                    push(out, &n, max, v);
            }
        } else {
            push(out, &n, max, json_object_get(in[i], name));
        }
        if (restlen == 0)
            continue;
        /* filter what this node added */
        int keep = first;
        for (int j = first; j < n; j++) {
            bool ok = true;
            if (rest[0] == '@') {
                ok = ref_is(out[j], rest + 1, restlen - 1);
            } else if (rest[0] == '[') {
                const char *eq = memchr(rest, '=', restlen);
                if (eq) {
                    char k[32];
                    size_t kl = (size_t)(eq - rest - 1);
                    size_t vl = restlen - (size_t)(eq - rest) - 2;
                    if (kl < sizeof k) {
                        memcpy(k, rest + 1, kl);
                        k[kl] = 0;
                        const char *have = json_string_value(json_object_get(out[j], k));
                        ok = have && strlen(have) == vl && strncmp(have, eq + 1, vl) == 0;
                    }
                }
            }
            if (ok)
                out[keep++] = out[j];
        }
        n = keep;
    }
    return n;
}

static int eval_one(const char *path, size_t len, const json_t *r, const json_t **out, int max)
{
    if (len == 0) {
        if (max > 0)
            out[0] = r;
        return max > 0;
    }
    const json_t *a[MAX_NODES], *b[MAX_NODES];
    const json_t **cur = a, **next = b;
    int n = 1;
    cur[0] = r;
    const char *p = path, *end = path + len;
    while (p < end && n > 0) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t sl = dot ? (size_t)(dot - p) : (size_t)(end - p);
        n = step(p, sl, cur, n, next, MAX_NODES);
        const json_t **t = cur;
        cur = next;
        next = t;
        p += sl + (dot ? 1 : 0);
        if (!dot)
            break;
    }
    if (n > max)
        n = max;
    memcpy(out, cur, sizeof *out * (size_t)n);
    return n;
}

int fhir_sp_eval(const char *path, const json_t *r, const json_t **out, int max)
{
    int n = 0;
    const char *p = path;
    for (;;) {
        const char *bar = strstr(p, " | ");
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        n += eval_one(p, len, r, out + n, max - n);
        if (!bar)
            break;
        p = bar + 3;
    }
    return n;
}

/* ---- matching ----------------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* one coding-like (system, code) against a token value */
static bool coding_match(const char *sys, const char *code, const struct fhir_sp_value *v)
{
    if (!code)
        return false;
    if (!v->sys) /* code */
        return strcmp(code, v->code) == 0;
    if (!v->sys[0]) /* |code: no system */
        return !sys && strcmp(code, v->code) == 0;
    if (!v->code[0]) /* system| */
        return str_eq(sys, v->sys);
    return str_eq(sys, v->sys) && strcmp(code, v->code) == 0;
}

static bool fold_has(const char *text, const char *needle, bool prefix)
{
    if (!text)
        return false;
    char *f = fhir_sp_fold(text);
    bool ok = prefix ? strncmp(f, needle, strlen(needle)) == 0 : strstr(f, needle) != NULL;
    free(f);
    return ok;
}

static bool token_node(const json_t *node, const struct fhir_sp_value *v, enum fhir_sp_mod mod)
{
    if (mod == FHIR_SP_MOD_TEXT) {
        if (fold_has(json_string_value(json_object_get(node, "text")), v->fold, false))
            return true;
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(node, "coding"), i, c)
        {
            if (fold_has(json_string_value(json_object_get(c, "display")), v->fold, false))
                return true;
        }
        return fold_has(json_string_value(json_object_get(node, "display")), v->fold, false);
    }
    if (mod == FHIR_SP_MOD_OF_TYPE) {
        const char *val = json_string_value(json_object_get(node, "value"));
        if (!str_eq(val, v->type3))
            return false;
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(json_object_get(node, "type"), "coding"), i, c)
        {
            if (str_eq(json_string_value(json_object_get(c, "system")), v->sys) &&
                str_eq(json_string_value(json_object_get(c, "code")), v->code))
                return true;
        }
        return false;
    }
    if (json_is_string(node))
        return coding_match(NULL, json_string_value(node), v);
    if (json_is_boolean(node))
        return coding_match(NULL, json_is_true(node) ? "true" : "false", v);
    if (!json_is_object(node))
        return false;
    const json_t *codings = json_object_get(node, "coding");
    if (codings) {
        size_t i;
        const json_t *c;
        json_array_foreach(codings, i, c)
        {
            if (coding_match(json_string_value(json_object_get(c, "system")),
                             json_string_value(json_object_get(c, "code")), v))
                return true;
        }
        return false;
    }
    const char *sys = json_string_value(json_object_get(node, "system"));
    const char *code = json_string_value(json_object_get(node, "code"));
    if (code) /* Coding */
        return coding_match(sys, code, v);
    /* Identifier, ContactPoint */
    return coding_match(sys, json_string_value(json_object_get(node, "value")), v);
}

/* every string leaf of a node (HumanName, Address, string) */
static bool string_node(const json_t *node, const struct fhir_sp_value *v, enum fhir_sp_mod mod,
                        int depth)
{
    if (json_is_string(node)) {
        const char *s = json_string_value(node);
        if (mod == FHIR_SP_MOD_EXACT)
            return strcmp(s, v->raw) == 0;
        return fold_has(s, v->fold, mod != FHIR_SP_MOD_CONTAINS);
    }
    if (depth > 2)
        return false;
    if (json_is_array(node)) {
        size_t i;
        const json_t *x;
        json_array_foreach(node, i, x)
        {
            if (string_node(x, v, mod, depth + 1))
                return true;
        }
        return false;
    }
    if (json_is_object(node)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)node, k, x)
        {
            if (strcmp(k, "extension") == 0 || strcmp(k, "period") == 0 || strcmp(k, "use") == 0 ||
                strcmp(k, "type") == 0)
                continue;
            if (string_node(x, v, mod, depth + 1))
                return true;
        }
    }
    return false;
}

/* A date-bearing node as a range [lo, hi); false when it holds none. */
static bool node_range(const json_t *node, char lo[20], char hi[20])
{
    if (json_is_string(node))
        return date_range(json_string_value(node), lo, hi);
    if (!json_is_object(node))
        return false;
    const char *st = json_string_value(json_object_get(node, "start"));
    const char *en = json_string_value(json_object_get(node, "end"));
    if (st || en) { /* Period */
        char a[20], b[20];
        snprintf(lo, 20, "%s", DATE_MIN);
        snprintf(hi, 20, "%s", DATE_MAX);
        if (st && date_range(st, a, b))
            memcpy(lo, a, 20);
        if (en && date_range(en, a, b))
            memcpy(hi, b, 20);
        return true;
    }
    return false;
}

static bool date_cmp(const char *rlo, const char *rhi, const struct fhir_sp_value *v)
{
    switch (v->pfx) {
    case PFX_EQ:
        return strcmp(rlo, v->dlo) >= 0 && strcmp(rhi, v->dhi) <= 0;
    case PFX_NE:
        return !(strcmp(rlo, v->dlo) >= 0 && strcmp(rhi, v->dhi) <= 0);
    case PFX_GT:
        return strcmp(rhi, v->dhi) > 0;
    case PFX_LT:
        return strcmp(rlo, v->dlo) < 0;
    case PFX_GE:
        return strcmp(rhi, v->dlo) > 0;
    case PFX_LE:
        return strcmp(rlo, v->dhi) < 0;
    case PFX_SA:
        return strcmp(rlo, v->dhi) >= 0;
    case PFX_EB:
        return strcmp(rhi, v->dlo) <= 0;
    case PFX_AP: {
        /* overlap with the range widened by 10% of its distance from now
         * (at least a day) on each side */
        time_t now = time(NULL), lo = date_secs(v->dlo), hi = date_secs(v->dhi);
        double gap = fabs((double)(now - lo)) * 0.1;
        if (gap < 86400)
            gap = 86400;
        char wlo[20], whi[20];
        secs_date(lo - (time_t)gap, wlo);
        secs_date(hi + (time_t)gap, whi);
        return strcmp(rlo, whi) < 0 && strcmp(rhi, wlo) > 0;
    }
    }
    return false;
}

static bool date_node(const json_t *node, const struct fhir_sp_value *v)
{
    char lo[20], hi[20];
    if (node_range(node, lo, hi))
        return date_cmp(lo, hi, v);
    if (!json_is_object(node))
        return false;
    /* Timing: each event, and the bounds */
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(node, "event"), i, e)
    {
        if (node_range(e, lo, hi) && date_cmp(lo, hi, v))
            return true;
    }
    const json_t *bounds = json_object_get(json_object_get(node, "repeat"), "boundsPeriod");
    return bounds && node_range(bounds, lo, hi) && date_cmp(lo, hi, v);
}

static bool num_cmp(double lo, double hi, const struct fhir_sp_value *v)
{
    /* [lo, hi]: the item's value (lo == hi for a point) */
    switch (v->pfx) {
    case PFX_EQ:
        return lo >= v->nlo && hi < v->nhi;
    case PFX_NE:
        return !(lo >= v->nlo && hi < v->nhi);
    case PFX_GT:
    case PFX_SA:
        return hi > v->num;
    case PFX_LT:
    case PFX_EB:
        return lo < v->num;
    case PFX_GE:
        return hi >= v->num;
    case PFX_LE:
        return lo <= v->num;
    case PFX_AP: {
        double d = fabs(v->num) * 0.1;
        return hi >= v->num - d && lo <= v->num + d;
    }
    }
    return false;
}

static bool quantity_node(const json_t *node, const struct fhir_sp_value *v)
{
    if (json_is_number(node))
        return num_cmp(json_number_value(node), json_number_value(node), v);
    if (!json_is_object(node))
        return false;
    const json_t *low = json_object_get(node, "low"), *high = json_object_get(node, "high");
    if (low || high) { /* Range */
        double lo = -INFINITY, hi = INFINITY;
        const json_t *q = low ? low : high;
        if (low && json_is_number(json_object_get(low, "value")))
            lo = json_number_value(json_object_get(low, "value"));
        if (high && json_is_number(json_object_get(high, "value")))
            hi = json_number_value(json_object_get(high, "value"));
        node = q;
        if (!num_cmp(lo, hi, v))
            return false;
    } else {
        const json_t *val = json_object_get(node, "value");
        if (!json_is_number(val))
            return false;
        double d = json_number_value(val);
        if (!num_cmp(d, d, v))
            return false;
    }
    if (v->unit_sys && !str_eq(json_string_value(json_object_get(node, "system")), v->unit_sys))
        return false;
    if (v->unit && !str_eq(json_string_value(json_object_get(node, "code")), v->unit) &&
        !str_eq(json_string_value(json_object_get(node, "unit")), v->unit))
        return false;
    return true;
}

bool fhir_sp_ref_split(const char *s, char type[64], char id[65])
{
    const char *h = strstr(s, "/_history/");
    size_t len = h ? (size_t)(h - s) : strlen(s);
    const char *end = s + len;
    const char *slash = NULL;
    for (const char *p = end; p > s; p--)
        if (p[-1] == '/') {
            slash = p - 1;
            break;
        }
    if (!slash || slash == s)
        return false;
    const char *tstart = slash;
    while (tstart > s && tstart[-1] != '/')
        tstart--;
    size_t tl = (size_t)(slash - tstart), il = (size_t)(end - slash - 1);
    if (tl == 0 || tl >= 64 || il == 0 || il > 64 || !isupper((unsigned char)tstart[0]))
        return false;
    memcpy(type, tstart, tl);
    type[tl] = 0;
    memcpy(id, slash + 1, il);
    id[il] = 0;
    return true;
}

static bool reference_node(const json_t *node, const struct fhir_sp_value *v,
                           const struct fhir_sp_filter *f)
{
    if (f->mod == FHIR_SP_MOD_IDENTIFIER)
        return token_node(json_object_get(node, "identifier"), v, FHIR_SP_MOD_NONE);
    const char *ref = json_is_string(node) ? json_string_value(node)
                                           : json_string_value(json_object_get(node, "reference"));
    if (!ref)
        return false;
    char type[64], id[65];
    if (!fhir_sp_ref_split(ref, type, id))
        return strcmp(ref, v->raw) == 0; /* canonical, urn: as written */
    if (f->ref_type && strcmp(type, f->ref_type) != 0)
        return false;
    if (v->rtype[0] && strcmp(type, v->rtype) != 0)
        return false;
    return strcmp(id, v->rid) == 0;
}

static bool node_match(const struct fhir_sp_filter *f, const json_t *node,
                       const struct fhir_sp_value *v)
{
    switch (f->sp->kind) {
    case FHIR_SP_TOKEN:
        return token_node(node, v, f->mod);
    case FHIR_SP_STRING:
        return string_node(node, v, f->mod, 0);
    case FHIR_SP_DATE:
        return date_node(node, v);
    case FHIR_SP_QUANTITY:
    case FHIR_SP_NUMBER:
        return quantity_node(node, v);
    case FHIR_SP_REFERENCE:
        return reference_node(node, v, f);
    case FHIR_SP_URI: {
        const char *s = json_string_value(node);
        if (!s)
            return false;
        if (f->mod == FHIR_SP_MOD_BELOW)
            return strncmp(s, v->raw, strlen(v->raw)) == 0;
        return strcmp(s, v->raw) == 0;
    }
    case FHIR_SP_COMPOSITE:
        for (int i = 0; i < v->nparts; i++) {
            const struct fhir_sp_filter *part = &v->parts[i];
            if (!fhir_sp_match(part, node))
                return false;
        }
        return true;
    }
    return false;
}

/* Text that JSON writes as it is (no escapes), so it can be searched for
 * in the stored JSON text. */
static bool plain_text(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("-._:/|+=@ ", *s)))
            return false;
    return true;
}

bool fhir_sp_may_match(const struct fhir_sp_filter *f, const char *json, size_t len)
{
    if (!f->sp)
        return true;
    bool ids = f->mod == FHIR_SP_MOD_IDS;
    bool positive = f->mod == FHIR_SP_MOD_NONE || f->mod == FHIR_SP_MOD_TYPE || ids;
    enum fhir_sp_type k = f->sp->kind;
    if (!positive || !(ids || k == FHIR_SP_TOKEN || k == FHIR_SP_REFERENCE || k == FHIR_SP_URI))
        return true;
    for (int i = 0; i < f->nvalues; i++) {
        const struct fhir_sp_value *v = &f->values[i];
        const char *needle = ids || k == FHIR_SP_URI  ? v->raw
                             : k == FHIR_SP_REFERENCE ? v->rid
                             : v->code && v->code[0]  ? v->code
                                                      : v->sys;
        if (!plain_text(needle))
            return true; /* cannot tell from the text */
        if (memmem(json, len, needle, strlen(needle)))
            return true;
    }
    return false;
}

bool fhir_sp_match(const struct fhir_sp_filter *f, const json_t *r)
{
    if (f->mod == FHIR_SP_MOD_IDS) {
        const char *id = json_string_value(json_object_get(r, "id"));
        for (int i = 0; id && i < f->nvalues; i++)
            if (strcmp(id, f->values[i].raw) == 0)
                return true;
        return false;
    }
    const json_t *nodes[MAX_NODES];
    int n = fhir_sp_eval(f->sp->path, r, nodes, MAX_NODES);
    if (f->mod == FHIR_SP_MOD_MISSING)
        return f->missing ? n == 0 : n > 0;
    if (f->mod == FHIR_SP_MOD_NOT) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < f->nvalues; j++)
                if (token_node(nodes[i], &f->values[j], FHIR_SP_MOD_NONE))
                    return false;
        return true;
    }
    /* ne on a date, number or quantity: no element equal to the value */
    for (int j = 0; j < f->nvalues; j++) {
        const struct fhir_sp_value *v = &f->values[j];
        if (v->pfx == PFX_NE && f->sp->kind != FHIR_SP_COMPOSITE) {
            bool any = n > 0;
            for (int i = 0; i < n && any; i++)
                if (!node_match(f, nodes[i], v))
                    any = false;
            if (any)
                return true;
            continue;
        }
        for (int i = 0; i < n; i++)
            if (node_match(f, nodes[i], v))
                return true;
    }
    return false;
}

/* ---- sorting ------------------------------------------------------------------------------ */

/* a double as text that sorts as the number (sign, biased exponent, mantissa) */
static void num_key(double d, char *key, size_t keylen)
{
    /* shift to positive, fixed width: enough for clinical values */
    snprintf(key, keylen, "%025.6f", d + 1e15);
}

void fhir_sp_sort_key(const struct fhir_sp *sp, const json_t *r, bool desc, char *key,
                      size_t keylen)
{
    const json_t *nodes[MAX_NODES];
    int n = sp->kind == FHIR_SP_COMPOSITE ? 0 : fhir_sp_eval(sp->path, r, nodes, MAX_NODES);
    key[0] = 0;
    bool have = false;
    for (int i = 0; i < n; i++) {
        char k[128];
        k[0] = 0;
        const json_t *x = nodes[i];
        switch (sp->kind) {
        case FHIR_SP_DATE: {
            char lo[20], hi[20];
            if (node_range(x, lo, hi) ||
                (json_is_object(x) &&
                 node_range(json_object_get(json_object_get(x, "repeat"), "boundsPeriod"), lo, hi)))
                snprintf(k, sizeof k, "%s", desc ? hi : lo);
            break;
        }
        case FHIR_SP_NUMBER:
        case FHIR_SP_QUANTITY: {
            const json_t *val = json_is_number(x) ? x : json_object_get(x, "value");
            if (json_is_number(val))
                num_key(json_number_value(val), k, sizeof k);
            break;
        }
        case FHIR_SP_STRING: {
            const char *s = json_string_value(x);
            if (!s && json_is_object(x)) {
                s = json_string_value(json_object_get(x, "family"));
                if (!s)
                    s = json_string_value(json_object_get(x, "text"));
                if (!s)
                    s = json_string_value(json_array_get(json_object_get(x, "given"), 0));
                if (!s)
                    s = json_string_value(json_object_get(x, "city"));
            }
            if (s) {
                char *f = fhir_sp_fold(s);
                snprintf(k, sizeof k, "%s", f);
                free(f);
            }
            break;
        }
        case FHIR_SP_TOKEN: {
            const char *s = json_string_value(x);
            if (!s)
                s = json_string_value(json_object_get(x, "code"));
            if (!s)
                s = json_string_value(
                    json_object_get(json_array_get(json_object_get(x, "coding"), 0), "code"));
            if (!s)
                s = json_string_value(json_object_get(x, "value"));
            if (s)
                snprintf(k, sizeof k, "%s", s);
            break;
        }
        case FHIR_SP_REFERENCE:
        case FHIR_SP_URI: {
            const char *s = json_is_string(x) ? json_string_value(x)
                                              : json_string_value(json_object_get(x, "reference"));
            if (s)
                snprintf(k, sizeof k, "%s", s);
            break;
        }
        case FHIR_SP_COMPOSITE:
            break;
        }
        if (!k[0])
            continue;
        if (!have || (desc ? strcmp(k, key) > 0 : strcmp(k, key) < 0))
            snprintf(key, keylen, "%s", k);
        have = true;
    }
}

/* ---- the search index --------------------------------------------------------------------- */

/* Rows are a narrowing, never the answer: a search that uses them still
 * matches every candidate with fhir_sp_match, so a row set only has to
 * hold, for every item a filter matches, a row the filter's condition
 * (fhir_sp_index_cond) selects.  Hence values may be cut and lower-cased,
 * and a date keeps only its day. */
#define IX_VALUE_MAX 128 /* bytes of a token or reference value kept */
#define IX_STRING_MAX 32 /* bytes of a folded string kept (starts-with search) */
#define IX_DAY 10        /* "YYYY-MM-DD" */

/* Token parameters whose values come from a handful of codes of a fixed
 * set shared by every item of a type (status, intent, an Encounter's class,
 * a Condition's clinical status ...): a row per item that narrows nothing a
 * search across patients could use (a tenth or half of the type), so they
 * are matched item by item after the rest has narrowed.  (category stays:
 * its codes are open, and a rare one - imaging - is a search across
 * patients of its own.) */
static const char *const ix_coarse[] = {
    "status",
    "intent",
    "priority",
    "class",
    "clinical-status",
    "verification-status",
    "severity",
    "criticality",
    "gender",
    "kind",
    "mode",
};

/* The parameters the index serves: token, reference, string and date, not
 * _id and _lastUpdated (the store's columns) nor the meta ones (_tag ...),
 * not a union that holds another parameter's path (Observation's combo-*:
 * their values are those of code, value-concept ... again), and not the
 * coarse tokens above. */
static bool ix_param(const struct fhir_sp *sp)
{
    if (sp->code[0] == '_')
        return false;
    if (!(sp->kind == FHIR_SP_TOKEN || sp->kind == FHIR_SP_REFERENCE ||
          sp->kind == FHIR_SP_STRING || sp->kind == FHIR_SP_DATE))
        return false;
    if (sp->kind == FHIR_SP_TOKEN)
        for (size_t i = 0; i < sizeof ix_coarse / sizeof ix_coarse[0]; i++)
            if (strcmp(sp->code, ix_coarse[i]) == 0)
                return false;
    if (!strchr(sp->path, '|'))
        return true;
    /* a union one of whose branches is another parameter's whole path:
     * Observation's combo-code is code | component.code */
    int n = 0;
    const struct fhir_sp *all = fhir_sp_of_type(sp->type, &n);
    for (const char *p = sp->path; *p;) {
        while (*p == ' ' || *p == '|')
            p++;
        size_t len = strcspn(p, " |");
        for (int i = 0; i < n && len > 0; i++)
            if (&all[i] != sp && strlen(all[i].path) == len && strncmp(all[i].path, p, len) == 0)
                return false;
        p += len;
    }
    return true;
}

/* s lower-cased (ASCII), at most max bytes, cut on a character boundary,
 * into out (max + 1 bytes). */
static void ix_norm(const char *s, size_t max, char *out)
{
    size_t n = 0;
    for (; s[n] && n < max; n++)
        out[n] = (char)tolower((unsigned char)s[n]);
    if (s[n]) /* cut: not inside a UTF-8 sequence */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    out[n] = 0;
}

void fhir_sp_ix_norm(const char *s, char out[FHIR_SP_IX_VALUE_MAX + 1])
{
    ix_norm(s, FHIR_SP_IX_VALUE_MAX, out);
}

void fhir_sp_ixrows_add(struct fhir_sp_ixrows *x, const char *param, const char *value)
{
    if (!value || !*value)
        return;
    char v[IX_VALUE_MAX + 1];
    ix_norm(value, IX_VALUE_MAX, v);
    if (!v[0])
        return;
    size_t pl = strlen(param), vl = strlen(v);
    const char *p = x->buf.data;
    for (int i = 0; i < x->n; i++) { /* once each (rows per item: tens) */
        size_t a = strlen(p);
        const char *val = p + a + 1;
        size_t b = strlen(val);
        if (a == pl && b == vl && memcmp(p, param, pl) == 0 && memcmp(val, v, vl) == 0)
            return;
        p = val + b + 1;
    }
    buf_add(&x->buf, param, pl + 1);
    buf_add(&x->buf, v, vl + 1);
    x->n++;
}

static void ix_token(struct fhir_sp_ixrows *x, const char *param, const json_t *node)
{
    if (json_is_string(node)) {
        fhir_sp_ixrows_add(x, param, json_string_value(node));
        return;
    }
    if (json_is_boolean(node)) {
        fhir_sp_ixrows_add(x, param, json_is_true(node) ? "true" : "false");
        return;
    }
    const json_t *codings = json_object_get(node, "coding");
    if (codings) {
        size_t i;
        const json_t *c;
        json_array_foreach(codings, i, c)
        {
            fhir_sp_ixrows_add(x, param, json_string_value(json_object_get(c, "code")));
        }
        return;
    }
    const char *code = json_string_value(json_object_get(node, "code"));
    fhir_sp_ixrows_add(x, param, code ? code : json_string_value(json_object_get(node, "value")));
}

static void ix_reference(struct fhir_sp_ixrows *x, const char *param, const json_t *node)
{
    const char *ref = json_is_string(node) ? json_string_value(node)
                                           : json_string_value(json_object_get(node, "reference"));
    if (!ref)
        return;
    char type[64], id[65];
    if (!fhir_sp_ref_split(ref, type, id))
        fhir_sp_ixrows_add(x, param, ref);
    else if (fhir_sp_ix_ref_rows(type)) /* not to a patient's own items */
        fhir_sp_ixrows_add(x, param, id);
}

/* every string leaf, as string_node reads them */
static void ix_string(struct fhir_sp_ixrows *x, const char *param, const json_t *node, int depth)
{
    if (json_is_string(node)) {
        char *f = fhir_sp_fold(json_string_value(node));
        char v[IX_STRING_MAX + 1];
        ix_norm(f, IX_STRING_MAX, v);
        free(f);
        fhir_sp_ixrows_add(x, param, v);
        return;
    }
    if (depth > 2)
        return;
    size_t i;
    const char *k;
    const json_t *c;
    if (json_is_array(node)) {
        json_array_foreach(node, i, c) ix_string(x, param, c, depth + 1);
    } else if (json_is_object(node)) {
        json_object_foreach((json_t *)node, k, c)
        {
            if (strcmp(k, "extension") == 0 || strcmp(k, "period") == 0 || strcmp(k, "use") == 0 ||
                strcmp(k, "type") == 0)
                continue;
            ix_string(x, param, c, depth + 1);
        }
    }
}

/* The first and last day of a date's range as rows, from its text alone
 * (no calendar arithmetic: this runs for every date of every resource
 * loaded): "2020-03-04T10:15:00Z" is 2020-03-04 twice (one row), "2020-03"
 * 2020-03-01 and 2020-03-31, "2020" 2020-01-01 and 2020-12-31 (a text bound,
 * "2020-02-31" included: rows are compared as text, never parsed).  Enough
 * for fhir_sp_index_cond: a range [lo, hi) at day precision or finer ends
 * before the next day begins, so for every d, hi > d implies the day of lo
 * >= the day of d. */
static void ix_day(struct fhir_sp_ixrows *x, const char *param, const char *s, bool open_lo,
                   bool open_hi)
{
    char lo[IX_DAY + 1], hi[IX_DAY + 1];
    if (!s) {
        snprintf(lo, sizeof lo, "%.10s", open_lo ? DATE_MIN : DATE_MAX);
        fhir_sp_ixrows_add(x, param, lo);
        return;
    }
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i]))
            return;
    bool month = s[4] == '-' && isdigit((unsigned char)s[5]) && isdigit((unsigned char)s[6]);
    bool day = month && s[7] == '-' && isdigit((unsigned char)s[8]) && isdigit((unsigned char)s[9]);
    if (day) {
        memcpy(lo, s, IX_DAY);
        lo[IX_DAY] = 0;
        fhir_sp_ixrows_add(x, param, lo);
        return;
    }
    snprintf(lo, sizeof lo, "%.4s-%.2s-01", s, month ? s + 5 : "01");
    snprintf(hi, sizeof hi, "%.4s-%.2s-31", s, month ? s + 5 : "12");
    if (open_lo || !open_hi) /* a range's start, or a value alone */
        fhir_sp_ixrows_add(x, param, lo);
    if (open_hi || !open_lo) /* a range's end, or a value alone */
        fhir_sp_ixrows_add(x, param, hi);
}

/* a date, dateTime, instant or Period: the rows of its range */
static bool ix_node_days(struct fhir_sp_ixrows *x, const char *param, const json_t *node)
{
    if (json_is_string(node)) {
        ix_day(x, param, json_string_value(node), false, false);
        return true;
    }
    const char *st = json_string_value(json_object_get(node, "start"));
    const char *en = json_string_value(json_object_get(node, "end"));
    if (!st && !en)
        return false;
    ix_day(x, param, st, true, false); /* open start: DATE_MIN */
    ix_day(x, param, en, false, true); /* open end: DATE_MAX */
    return true;
}

static void ix_date(struct fhir_sp_ixrows *x, const char *param, const json_t *node)
{
    if (ix_node_days(x, param, node) || !json_is_object(node))
        return;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(node, "event"), i, e) ix_node_days(x, param, e);
    const json_t *bounds = json_object_get(json_object_get(node, "repeat"), "boundsPeriod");
    if (bounds)
        ix_node_days(x, param, bounds);
}

/* What the indexer needs of each type, decided once (the loader asks for
 * every resource it loads): the type's indexed parameters (ix_param) with
 * the first element of each path, so that the parameters absent from a
 * resource cost one look-up each, and whether the type's items belong to
 * a patient (it has a "patient" parameter: the patient compartment), so
 * that references to them need no rows (ix_reference). */
#define IX_KEYS 4
struct ix_param_of {
    const struct fhir_sp *sp;
    char key[IX_KEYS][40]; /* first element of each branch of the path */
    bool choice[IX_KEYS];  /* key is a choice element's stem (value[x]) */
    int nkeys;             /* 0: evaluate always */
};
struct ix_type {
    const char *type;
    bool owned;              /* items belong to a patient */
    bool has_code, has_date; /* the type has code / date parameters */
    struct ix_param_of *params;
    int nparams;
};
static struct ix_type *ix_types;
static int ix_ntypes;
static pthread_once_t ix_once = PTHREAD_ONCE_INIT;

/* The first element of each branch of o's path, so that a parameter
 * absent from a resource costs a look-up per branch; none (always
 * evaluated) when a branch starts at the node itself or has a long name. */
static void ix_keys(struct ix_param_of *o)
{
    o->nkeys = 0;
    for (const char *p = o->sp->path;;) {
        while (*p == ' ' || *p == '|')
            p++;
        if (!*p)
            return;
        size_t k = strcspn(p, ".[@ |");
        if (k == 0 || k >= sizeof o->key[0] || o->nkeys == IX_KEYS) {
            o->nkeys = 0;
            return;
        }
        memcpy(o->key[o->nkeys], p, k);
        o->key[o->nkeys][k] = 0;
        o->choice[o->nkeys] = strncmp(p + k, "[x]", 3) == 0;
        o->nkeys++;
        p += strcspn(p, "|");
    }
}

static bool ix_targets_have_rows(const char *targets);
static bool ix_ref_rows(const char *type);
static const struct ix_type *ix_type_find(const char *type);

/* Whether parameter sp can have rows: a reference parameter only when
 * references to one of its targets have (fhir_sp_ix_ref_rows); a
 * reference not written as Type/id has its text as the row, so a
 * parameter with no declared targets keeps its rows. */
static bool ix_param_rows(const struct fhir_sp *sp)
{
    if (sp->kind != FHIR_SP_REFERENCE || !sp->targets)
        return true;
    for (const char *p = sp->targets; *p;) {
        size_t n = strcspn(p, ",");
        char t[64];
        if (n > 0 && n < sizeof t) {
            memcpy(t, p, n);
            t[n] = 0;
            if (ix_ref_rows(t))
                return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static void ix_types_init(void)
{
    ix_types = xcalloc((size_t)fhir_sp_count + 1, sizeof *ix_types);
    for (int i = 0; i < fhir_sp_count;) {
        int n = 0;
        const struct fhir_sp *all = fhir_sp_of_type(fhir_sp_table[i].type, &n);
        struct ix_type *t = &ix_types[ix_ntypes++];
        t->type = all[0].type;
        t->params = xcalloc((size_t)n, sizeof *t->params);
        for (int j = 0; j < n; j++) {
            if (strcmp(all[j].code, "patient") == 0)
                t->owned = true;
            t->has_code |= strcmp(all[j].code, "code") == 0;
            t->has_date |= strcmp(all[j].code, "date") == 0;
            if (!ix_param(&all[j]))
                continue;
            struct ix_param_of *o = &t->params[t->nparams++];
            o->sp = &all[j];
            ix_keys(o);
        }
        i += n;
    }
    /* a reference parameter none of whose targets has rows (patient=,
     * encounter= ...) is left out whole: its path is not evaluated */
    for (int i = 0; i < ix_ntypes; i++) {
        struct ix_type *t = &ix_types[i];
        int k = 0;
        for (int j = 0; j < t->nparams; j++)
            if (ix_param_rows(t->params[j].sp))
                t->params[k++] = t->params[j];
        t->nparams = k;
    }
}

static const struct ix_type *ix_type_find(const char *type)
{
    int lo = 0, hi = ix_ntypes;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(type, ix_types[mid].type);
        if (c == 0)
            return &ix_types[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const struct ix_type *ix_type_of(const char *type)
{
    pthread_once(&ix_once, ix_types_init);
    return ix_type_find(type);
}

/* fhir_sp_ix_ref_rows once ix_types is built (ix_types_init builds the
 * owned flags of every type before it asks). */
static bool ix_ref_rows(const char *type)
{
    if (strcmp(type, "Patient") == 0)
        return false;
    const struct ix_type *t = ix_type_find(type);
    return !t || !t->owned;
}

bool fhir_sp_ix_ref_rows(const char *type)
{
    pthread_once(&ix_once, ix_types_init);
    return ix_ref_rows(type);
}

/* Whether r may hold anything at o's path: its first element is present (a
 * choice element value[x]: any key starting value). */
static bool ix_present(const json_t *r, const struct ix_param_of *o)
{
    if (o->nkeys == 0)
        return true;
    for (int i = 0; i < o->nkeys; i++) {
        if (!o->choice[i]) {
            if (json_object_get(r, o->key[i]))
                return true;
            continue;
        }
        size_t n = strlen(o->key[i]);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)r, k, v)
        {
            if (strncmp(k, o->key[i], n) == 0)
                return true;
        }
    }
    return false;
}

void fhir_sp_ixrows_resource(struct fhir_sp_ixrows *x, const char *type, const json_t *r)
{
    const struct ix_type *t = ix_type_of(type);
    for (int i = 0; t && i < t->nparams; i++) {
        const struct ix_param_of *o = &t->params[i];
        if (!ix_present(r, o))
            continue;
        const struct fhir_sp *sp = o->sp;
        const json_t *nodes[MAX_NODES];
        int k = fhir_sp_eval(sp->path, r, nodes, MAX_NODES);
        for (int j = 0; j < k; j++) {
            switch (sp->kind) {
            case FHIR_SP_TOKEN:
                ix_token(x, sp->code, nodes[j]);
                break;
            case FHIR_SP_REFERENCE:
                ix_reference(x, sp->code, nodes[j]);
                break;
            case FHIR_SP_STRING:
                ix_string(x, sp->code, nodes[j], 0);
                break;
            case FHIR_SP_DATE:
                ix_date(x, sp->code, nodes[j]);
                break;
            default:
                break;
            }
        }
    }
}

void fhir_sp_ixrows_columns(struct fhir_sp_ixrows *x, const char *type, const json_t *concept,
                            const char *eff)
{
    const struct ix_type *t = ix_type_of(type);
    if (!t)
        return;
    size_t i;
    const json_t *cd;
    if (t->has_code)
        json_array_foreach(json_object_get(concept, "coding"), i, cd)
        {
            fhir_sp_ixrows_add(x, "code", json_string_value(json_object_get(cd, "code")));
        }
    if (eff && t->has_date) {
        char day[IX_DAY + 1];
        size_t n = strnlen(eff, IX_DAY);
        memcpy(day, eff, n);
        day[n] = 0;
        fhir_sp_ixrows_add(x, "date", day);
    }
}

int fhir_sp_ixrows_pairs(const struct fhir_sp_ixrows *x, const char **pairs)
{
    const char *p = x->buf.data;
    for (int i = 0; i < x->n; i++) {
        pairs[2 * i] = p;
        p += strlen(p) + 1;
        pairs[2 * i + 1] = p;
        p += strlen(p) + 1;
    }
    return x->n;
}

void fhir_sp_ixrows_release(struct fhir_sp_ixrows *x)
{
    buf_release(&x->buf);
    x->n = 0;
}

static char *ix_dup(const char *s, size_t max)
{
    char v[IX_VALUE_MAX + 1];
    ix_norm(s, max < IX_VALUE_MAX ? max : IX_VALUE_MAX, v);
    return xstrdup(v);
}

static char *ix_cut_day(const char d[20])
{
    return xstrndup(d, IX_DAY);
}

/* Whether references to every one of targets ("Organization,Location";
 * NULL: any type) have rows. */
static bool ix_targets_have_rows(const char *targets)
{
    if (!targets)
        return false;
    for (const char *p = targets; *p;) {
        size_t n = strcspn(p, ",");
        char t[64];
        if (n == 0 || n >= sizeof t)
            return false;
        memcpy(t, p, n);
        t[n] = 0;
        if (!fhir_sp_ix_ref_rows(t))
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

bool fhir_sp_index_cond(const struct fhir_sp_filter *f, struct store_ixcond *c)
{
    memset(c, 0, sizeof *c);
    if (!f->sp || !ix_param(f->sp) || !ix_param_rows(f->sp) || f->nvalues <= 0)
        return false;
    enum fhir_sp_type k = f->sp->kind;
    bool mod_ok = f->mod == FHIR_SP_MOD_NONE ||
                  (k == FHIR_SP_REFERENCE && f->mod == FHIR_SP_MOD_TYPE) ||
                  (k == FHIR_SP_STRING && f->mod == FHIR_SP_MOD_EXACT);
    if (!mod_ok)
        return false;
    struct store_ixval *vals = xcalloc((size_t)f->nvalues, sizeof *vals);
    c->vals = vals;
    c->param = f->sp->code;
    for (int i = 0; i < f->nvalues; i++) {
        const struct fhir_sp_value *v = &f->values[i];
        struct store_ixval *o = &vals[c->nvals++];
        switch (k) {
        case FHIR_SP_TOKEN:
            if (!v->code || !v->code[0])
                goto no; /* system| */
            o->op = STORE_IX_EQ;
            o->a = ix_dup(v->code, IX_VALUE_MAX);
            break;
        case FHIR_SP_REFERENCE:
            /* references to a Patient or to a patient's own items (an
             * Encounter, an Observation ...) have no rows (the store's
             * person answers patient=; fhir_sp_ix_ref_rows); a bare id may
             * be one */
            if (!v->rid[0] || (v->rtype[0] && !fhir_sp_ix_ref_rows(v->rtype)) ||
                (f->ref_type && !fhir_sp_ix_ref_rows(f->ref_type)) ||
                (!v->rtype[0] && !f->ref_type && !ix_targets_have_rows(f->sp->targets)))
                goto no;
            o->op = STORE_IX_EQ;
            o->a = ix_dup(v->rid, IX_VALUE_MAX);
            break;
        case FHIR_SP_STRING:
            if (!v->fold || !v->fold[0])
                goto no;
            o->op = STORE_IX_PREFIX;
            o->a = ix_dup(v->fold, IX_STRING_MAX);
            break;
        case FHIR_SP_DATE:
            /* an item's range [lo, hi) has rows for the days of lo and hi */
            o->op = STORE_IX_RANGE;
            switch (v->pfx) {
            case PFX_EQ: /* lo >= dlo and lo < dhi */
                o->a = ix_cut_day(v->dlo);
                o->b = ix_cut_day(v->dhi);
                break;
            case PFX_GE: /* hi > dlo */
                o->a = ix_cut_day(v->dlo);
                break;
            case PFX_GT: /* hi > dhi */
            case PFX_SA: /* lo >= dhi */
                o->a = ix_cut_day(v->dhi);
                break;
            case PFX_LE: /* lo < dhi */
                o->b = ix_cut_day(v->dhi);
                break;
            case PFX_LT: /* lo < dlo */
            case PFX_EB: /* hi <= dlo */
                o->b = ix_cut_day(v->dlo);
                break;
            default: /* ne, ap */
                goto no;
            }
            break;
        default:
            goto no;
        }
    }
    return true;
no:
    fhir_sp_index_cond_free(c);
    return false;
}

void fhir_sp_index_cond_free(struct store_ixcond *c)
{
    struct store_ixval *vals = (struct store_ixval *)c->vals;
    for (int i = 0; i < c->nvals; i++) {
        free((char *)vals[i].a);
        free((char *)vals[i].b);
    }
    free(vals);
    memset(c, 0, sizeof *c);
}
