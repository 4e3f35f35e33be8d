/*
 * search.c - FHIR search parameters into a store query, and paging links
 * (see search.h).  One pass over the parameters; each known parameter has a
 * small parser that fills the query; everything the query points at is owned
 * by struct fhir_search and freed in fhir_search_free().
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/category.h"
#include "core/url.h"
#include "fhir/search.h"
#include "store/records.h"

static const char *const common_params[] = {"_id", "_lastUpdated", "_count", "_sort", NULL};
static const char *const clinical_params[] = {
    "_id",     "_lastUpdated",     "_count", "_sort", "patient",
    "subject", "_record-category", "code",   "date",  NULL};
static const char *const patient_params[] = {
    "_id", "_lastUpdated", "_count", "_sort", "identifier", "family", "given", "birthdate", NULL};

const char *const *fhir_search_params(const char *type)
{
    if (!type)
        return common_params;
    if (strcmp(type, "Patient") == 0)
        return patient_params;
    return clinical_params;
}

const char *fhir_search_param_type(const char *name)
{
    if (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)
        return "reference";
    if (strcmp(name, "date") == 0 || strcmp(name, "birthdate") == 0 ||
        strcmp(name, "_lastUpdated") == 0)
        return "date";
    if (strcmp(name, "family") == 0 || strcmp(name, "given") == 0)
        return "string";
    if (strcmp(name, "_count") == 0)
        return "number";
    if (strcmp(name, "_sort") == 0)
        return "special";
    return "token";
}

/* ---- errors and warnings ------------------------------------------------------------ */

static int fail(struct fhir_search *fs, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct fhir_search *fs, const char *param, const char *fmt, ...)
{
    snprintf(fs->err_param, sizeof fs->err_param, "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fs->err_msg, sizeof fs->err_msg, fmt, ap);
    va_end(ap);
    return WEFT_EINVAL;
}

static void warn(struct fhir_search *fs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct fhir_search *fs, const char *fmt, ...)
{
    if (fs->nwarnings >= FHIR_SEARCH_MAX_WARNINGS)
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    fs->warnings[fs->nwarnings++] = buf_detach(&b, NULL);
}

/* ---- dates --------------------------------------------------------------------------- */

/* Parse a FHIR date/dateTime (search form) into fields; *prec is the number
 * of fields given: 1 year, 2 month, 3 day, 5 minute, 6 second.  Time zone
 * and fraction are validated and dropped. */
static int parse_date(const char *s, int f[6], int *prec)
{
    memset(f, 0, sizeof(int) * 6);
    const char *p = s;
    int n = 0;
    if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
          isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3])))
        return WEFT_EINVAL;
    f[0] = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    p += 4;
    n = 1;
    static const char seps[] = {'-', '-', 'T', ':', ':'};
    static const int lo[] = {1, 1, 0, 0, 0}, hi[] = {12, 31, 23, 59, 59};
    while (*p && n < 6) {
        if (*p != seps[n - 1])
            break;
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
            return WEFT_EINVAL;
        int v = (p[1] - '0') * 10 + (p[2] - '0');
        if (v < lo[n - 1] || v > hi[n - 1])
            return WEFT_EINVAL;
        f[n] = v;
        n++;
        p += 3;
    }
    if (n == 4) /* hour without minutes */
        return WEFT_EINVAL;
    if (n == 6 && *p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return WEFT_EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (n >= 5 && *p) {
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            if (!(isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) && p[3] == ':' &&
                  isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])))
                return WEFT_EINVAL;
            p += 6;
        }
    }
    if (*p)
        return WEFT_EINVAL;
    if (n >= 3) { /* day must exist in that month */
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0;
        int max = mdays[f[1] - 1] - (f[1] == 2 && !leap ? 1 : 0);
        if (f[2] > max)
            return WEFT_EINVAL;
    }
    *prec = n;
    return WEFT_OK;
}

static void format_date(const int f[6], int prec, char out[32])
{
    switch (prec) {
    case 1:
        snprintf(out, 32, "%04d", f[0]);
        break;
    case 2:
        snprintf(out, 32, "%04d-%02d", f[0], f[1]);
        break;
    case 3:
        snprintf(out, 32, "%04d-%02d-%02d", f[0], f[1], f[2]);
        break;
    case 5:
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d", f[0], f[1], f[2], f[3], f[4]);
        break;
    default:
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d", f[0], f[1], f[2], f[3], f[4], f[5]);
    }
}

/* The start of the next interval at the same precision. */
static void next_date(const int f[6], int prec, int g[6])
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = prec >= 2 ? f[1] - 1 : 0;
    tm.tm_mday = prec >= 3 ? f[2] : 1;
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    switch (prec) {
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
    gmtime_r(&t, &r);
    g[0] = r.tm_year + 1900;
    g[1] = r.tm_mon + 1;
    g[2] = r.tm_mday;
    g[3] = r.tm_hour;
    g[4] = r.tm_min;
    g[5] = r.tm_sec;
}

int fhir_search_date_range(const char *value, char ge[32], char lt[32])
{
    ge[0] = lt[0] = 0;
    char prefix[3] = "eq";
    const char *v = value;
    if (isalpha((unsigned char)v[0]) && isalpha((unsigned char)v[1])) {
        prefix[0] = v[0];
        prefix[1] = v[1];
        v += 2;
    }
    int f[6], g[6], prec;
    if (strcmp(prefix, "ne") == 0 || strcmp(prefix, "sa") == 0 || strcmp(prefix, "eb") == 0 ||
        strcmp(prefix, "ap") == 0)
        return WEFT_EUNSUPPORTED;
    if (strcmp(prefix, "eq") != 0 && strcmp(prefix, "ge") != 0 && strcmp(prefix, "gt") != 0 &&
        strcmp(prefix, "le") != 0 && strcmp(prefix, "lt") != 0)
        return WEFT_EINVAL;
    if (parse_date(v, f, &prec) != 0)
        return WEFT_EINVAL;
    char lo[32], hi[32];
    format_date(f, prec, lo);
    next_date(f, prec, g);
    format_date(g, prec, hi);
    if (g[0] > 9999) {
        /* the interval after one ending with year 9999 is beyond every
         * date: an open upper bound for eq/le, and for gt a lower bound
         * that sorts after any date text ('~' follows every character a
         * date holds), so nothing matches instead of everything */
        snprintf(hi, sizeof hi, "%s", strcmp(prefix, "gt") == 0 ? "~" : "");
    }
    if (strcmp(prefix, "eq") == 0) {
        memcpy(ge, lo, 32);
        memcpy(lt, hi, 32);
    } else if (strcmp(prefix, "ge") == 0) {
        memcpy(ge, lo, 32);
    } else if (strcmp(prefix, "gt") == 0) {
        memcpy(ge, hi, 32);
    } else if (strcmp(prefix, "lt") == 0) {
        memcpy(lt, lo, 32);
    } else { /* le */
        memcpy(lt, hi, 32);
    }
    return WEFT_OK;
}

/* Narrow [*ge, *lt) by the range of value; the bounds live in fs->dates. */
static int add_date(struct fhir_search *fs, const char *param, const char *value, int slot)
{
    char ge[32], lt[32];
    int rc = fhir_search_date_range(value, ge, lt);
    if (rc == WEFT_EUNSUPPORTED)
        return fail(fs, param,
                    "parameter '%s': prefix '%.2s' is not supported (use eq, ge, gt, "
                    "le or lt)",
                    param, value);
    if (rc != 0)
        return fail(fs, param,
                    "parameter '%s': '%.40s' is not a valid date (expected e.g. 2020, "
                    "2020-03, 2020-03-04, 2020-03-04T10:00:00Z, with an optional prefix "
                    "eq/ge/gt/le/lt)",
                    param, value);
    char **pge = &fs->dates[slot], **plt = &fs->dates[slot + 1];
    if (ge[0] && (!*pge || strcmp(ge, *pge) > 0)) {
        free(*pge);
        *pge = xstrdup(ge);
    }
    if (lt[0] && (!*plt || strcmp(lt, *plt) < 0)) {
        free(*plt);
        *plt = xstrdup(lt);
    }
    return WEFT_OK;
}

/* ---- tokens and references ----------------------------------------------------------- */

/* Split a comma-separated list into out[] (malloc'd strings, counted in *n).
 * FHIR escapes a literal comma as "\,". */
static int split_list(struct fhir_search *fs, const char *param, const char *value, char **out,
                      int *n)
{
    const char *p = value;
    for (;;) {
        struct buf b = BUF_INIT;
        while (*p && *p != ',') {
            if (*p == '\\' && (p[1] == ',' || p[1] == '\\' || p[1] == '|' || p[1] == '$')) {
                buf_addc(&b, p[1]);
                p += 2;
                continue;
            }
            buf_addc(&b, *p++);
        }
        if (b.len == 0) {
            buf_release(&b);
            return fail(fs, param, "parameter '%s': empty value", param);
        }
        if (*n >= FHIR_SEARCH_MAX_VALUES) {
            buf_release(&b);
            return fail(fs, param, "parameter '%s': too many values (at most %d)", param,
                        FHIR_SEARCH_MAX_VALUES);
        }
        out[(*n)++] = buf_detach(&b, NULL);
        if (*p != ',')
            break;
        p++;
    }
    return WEFT_OK;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

/* One Patient reference ("Patient/ID", an absolute URL ending in it, or
 * "ID") into a malloc'd id; 0 or an error (fs->err_* set). */
static int patient_ref_id(struct fhir_search *fs, const char *param, const char *value, char **out)
{
    const char *id = value;
    const char *slash = strrchr(value, '/');
    if (slash) {
        /* "Patient/ID" or an absolute URL ending in "Patient/ID" */
        size_t plen = (size_t)(slash - value);
        if (plen < 7 || strncmp(slash - 7, "Patient", 7) != 0 || (plen > 7 && slash[-8] != '/'))
            return fail(fs, param,
                        "parameter '%s': '%.80s' is not a Patient reference (use Patient/ID)",
                        param, value);
        id = slash + 1;
    }
    if (!valid_id(id))
        return fail(fs, param, "parameter '%s': '%.80s' is not a valid resource id", param, id);
    *out = xstrdup(id);
    return WEFT_OK;
}

/* patient=/subject=: one Patient, or several separated by commas (OR). */
static int parse_patient_ref(struct fhir_search *fs, const char *param, const char *value)
{
    if (fs->patient_id || fs->npatient_ids > 0)
        return fail(fs, param,
                    "parameter '%s': the patients of a search are given once (several: "
                    "comma-separated, patient=a,b)",
                    param);
    char *vals[FHIR_SEARCH_MAX_VALUES];
    int n = 0;
    int rc = split_list(fs, param, value, vals, &n);
    if (rc == 0 && n > FHIR_SEARCH_MAX_PATIENTS)
        rc = fail(fs, param, "parameter '%s': at most %d patients in one search", param,
                  FHIR_SEARCH_MAX_PATIENTS);
    for (int i = 0; i < n; i++) {
        char *id = NULL;
        if (rc == 0)
            rc = patient_ref_id(fs, param, vals[i], &id);
        bool dup = false;
        for (int k = 0; id && k < fs->npatient_ids && !dup; k++)
            dup = strcmp(fs->patient_ids[k], id) == 0;
        if (id && !dup)
            fs->patient_ids[fs->npatient_ids++] = id;
        else
            free(id);
        free(vals[i]);
    }
    if (rc == 0 && fs->npatient_ids == 1) { /* one patient: as before */
        fs->patient_id = fs->patient_ids[0];
        fs->patient_ids[0] = NULL;
        fs->npatient_ids = 0;
    }
    return rc;
}

static int add_term(struct fhir_search *fs, const char *param, const char *value, bool prefix)
{
    if (fs->q.nterms >= FHIR_SEARCH_MAX_TERMS)
        return fail(fs, param,
                    "too many search terms: at most %d identifier, family, given and birthdate "
                    "values in one search",
                    FHIR_SEARCH_MAX_TERMS);
    assert(fs->q.nterms >= 0 && (fs->q.terms == NULL || fs->q.terms == fs->terms));
    char *v = xstrdup(value);
    fs->term_values[fs->q.nterms] = v;
    fs->terms[fs->q.nterms].param = param;
    fs->terms[fs->q.nterms].value = v;
    fs->terms[fs->q.nterms].prefix = prefix;
    fs->q.nterms++;
    fs->q.terms = fs->terms;
    return WEFT_OK;
}

static bool is_known(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* ---- specification parameters ------------------------------------------------------------ */

/* Parameters the store answers from its own columns and terms (indexed,
 * across patients too) when given without a modifier. */
static bool store_param(const char *type, const char *code)
{
    return is_known(fhir_search_params(type), code);
}

/* Is name a parameter of type, in the table or answered by the store? */
static bool param_exists(const char *type, const char *name)
{
    char code[64];
    snprintf(code, sizeof code, "%s", name);
    char *colon = strchr(code, ':');
    if (colon)
        *colon = 0;
    return fhir_sp_find(type, code) || store_param(type, code);
}

static bool is_target(const struct fhir_sp *sp, const char *type)
{
    const char *rt = NULL;
    return sp->kind == FHIR_SP_REFERENCE && fhir_sp_mod_parse(sp, type, &rt) == FHIR_SP_MOD_TYPE;
}

static struct fhir_search_chain *add_chain(struct fhir_search *fs, const char *param)
{
    if (fs->nchains >= FHIR_SEARCH_MAX_CHAINS || fs->nfilters >= FHIR_SEARCH_MAX_FILTERS) {
        fail(fs, param, "too many chained, _has and other parameters in one search");
        return NULL;
    }
    struct fhir_search_chain *c = &fs->chains[fs->nchains++];
    memset(c, 0, sizeof *c);
    c->filter = fs->nfilters++;
    memset(&fs->filters[c->filter], 0, sizeof fs->filters[c->filter]);
    return c;
}

/* _has:TYPE:REF:PARAM=value: resources of the searched type that a TYPE
 * matching PARAM=value points at through its reference parameter REF. */
static int parse_has(struct fhir_search *fs, const char *type, const char *name, const char *value)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", name + 5);
    char *ref = strchr(buf, ':');
    char *param = ref ? strchr(ref + 1, ':') : NULL;
    if (!ref || !param || !param[1])
        return fail(fs, name,
                    "parameter '%.60s': expected _has:Type:reference:parameter, e.g. "
                    "_has:Observation:patient:code",
                    name);
    *ref++ = 0;
    *param++ = 0;
    const struct fhir_sp *rsp = fhir_sp_find(buf, ref);
    if (!rsp || !is_target(rsp, type))
        return fail(fs, name, "parameter '%.60s': %.40s has no reference parameter '%.40s' to %s",
                    name, buf, ref, type);
    if (strchr(param, '.') || strncmp(param, "_has", 4) == 0)
        return fail(fs, name, "parameter '%.60s': only one level of _has is supported", name);
    if (!param_exists(buf, param))
        return fail(fs, name, "parameter '%.60s': unknown search parameter '%.40s' for %s", name,
                    param, buf);
    struct fhir_search_chain *c = add_chain(fs, name);
    if (!c)
        return WEFT_EINVAL;
    struct fhir_sp_filter *f = &fs->filters[c->filter];
    f->sp = fhir_sp_find(type, "_id");
    f->mod = FHIR_SP_MOD_IDS;
    if (!f->sp)
        return fail(fs, name, "parameter '%.60s' is not supported for %s", name, type);
    c->has = true;
    c->type = xstrdup(buf);
    c->ref = xstrdup(ref);
    c->name = xstrdup(param);
    c->value = xstrdup(value);
    return WEFT_OK;
}

/* A chain: REF[:Type].PARAM=value. */
static int parse_chain(struct fhir_search *fs, const struct fhir_sp *sp, const char *name,
                       const char *mod, const char *inner, const char *value)
{
    if (sp->kind != FHIR_SP_REFERENCE)
        return fail(fs, name, "parameter '%.60s': '%s' is not a reference and cannot be chained",
                    name, sp->code);
    const char *target = NULL;
    if (mod) {
        if (!is_target(sp, mod))
            return fail(fs, name, "parameter '%.60s': '%.40s' is not a target type of '%s'", name,
                        mod, sp->code);
        target = mod;
    } else if (sp->targets && !strchr(sp->targets, ',')) {
        target = sp->targets;
    } else {
        return fail(fs, name,
                    "parameter '%.60s': '%s' may point at several types; name one, e.g. "
                    "%s:Patient.%s",
                    name, sp->code, sp->code, inner);
    }
    if (strchr(inner, '.'))
        return fail(fs, name, "parameter '%.60s': only one level of chaining is supported", name);
    if (!param_exists(target, inner))
        return fail(fs, name, "parameter '%.60s': unknown search parameter '%.40s' for %s", name,
                    inner, target);
    struct fhir_search_chain *c = add_chain(fs, name);
    if (!c)
        return WEFT_EINVAL;
    struct fhir_sp_filter *f = &fs->filters[c->filter];
    f->sp = sp;
    f->mod = FHIR_SP_MOD_TYPE;
    f->ref_type = xstrdup(target);
    c->type = xstrdup(target);
    c->name = xstrdup(inner);
    c->value = xstrdup(value);
    return WEFT_OK;
}

/* A specification parameter of type: 0 when taken, 1 when it is the
 * store's (or unknown), else an error. */
static int parse_spec(struct fhir_search *fs, const char *type, const char *name, const char *value)
{
    if (strncmp(name, "_has:", 5) == 0)
        return parse_has(fs, type, name, value);
    char nm[128];
    if (strlen(name) >= sizeof nm)
        return 1;
    snprintf(nm, sizeof nm, "%s", name);
    char *chain = strchr(nm, '.');
    if (chain)
        *chain++ = 0;
    char *mod = strchr(nm, ':');
    if (mod)
        *mod++ = 0;
    const struct fhir_sp *sp = fhir_sp_find(type, nm);
    if (!sp)
        return 1;
    if (!mod && !chain && store_param(type, nm)) {
        /* the store's date column takes eq ge gt le lt; the others are matched here */
        bool other_prefix = strcmp(nm, "date") == 0 &&
                            (strncmp(value, "ne", 2) == 0 || strncmp(value, "sa", 2) == 0 ||
                             strncmp(value, "eb", 2) == 0 || strncmp(value, "ap", 2) == 0);
        /* the store's birthdate term is an exact or partial date; prefixes are matched here */
        other_prefix |= strcmp(nm, "birthdate") == 0 && isalpha((unsigned char)value[0]);
        if (!other_prefix)
            return 1;
    }
    if (chain)
        return parse_chain(fs, sp, name, mod, chain, value);
    if (fs->nfilters >= FHIR_SEARCH_MAX_FILTERS)
        return fail(fs, name, "too many search parameters: at most %d matched per item",
                    FHIR_SEARCH_MAX_FILTERS);
    int m = FHIR_SP_MOD_NONE;
    const char *rt = NULL;
    if (mod) {
        m = fhir_sp_mod_parse(sp, mod, &rt);
        if (m < 0) { /* 2: unsupported, ignored under lenient handling */
            fail(fs, name,
                 "parameter '%.60s': modifier ':%.30s' is not supported for a %s "
                 "parameter (supported: %s)",
                 name, mod, fhir_sp_type_name(sp->kind), fhir_sp_modifiers(sp->kind));
            return 2;
        }
    }
    char err[256];
    struct fhir_sp_filter *f = &fs->filters[fs->nfilters++];
    int rc = fhir_sp_filter_parse(f, sp, (enum fhir_sp_mod)m, rt, value, err, sizeof err);
    if (rc)
        return fail(fs, name, "%s", err);
    return WEFT_OK;
}

/* ---- the parser -------------------------------------------------------------------------- */

static int parse_one(struct fhir_search *fs, enum fhir_search_mode mode, const char *type,
                     const char *name, const char *value)
{
    /* result parameters, valid everywhere */
    if (strcmp(name, "_count") == 0) {
        char *end = NULL;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || end == value || *end || n < 0)
            return fail(fs, name, "parameter '_count': '%.40s' is not a non-negative integer",
                        value);
        if (n > FHIR_COUNT_MAX) {
            warn(fs, "_count %ld reduced to the maximum page size %d", n, FHIR_COUNT_MAX);
            n = FHIR_COUNT_MAX;
        }
        fs->count = (int)n;
        fs->summary_count = n == 0;
        return WEFT_OK;
    }
    if (strcmp(name, "_summary") == 0) {
        if (strcmp(value, "count") == 0) { /* the total only, like _count=0 */
            fs->count = 0;
            fs->summary_count = true;
            return WEFT_OK;
        }
        if (strcmp(value, "false") == 0)
            return WEFT_OK;
        return fail(fs, name,
                    "parameter '_summary': only count and false are supported, not "
                    "'%.40s'",
                    value);
    }
    if (strcmp(name, "_cursor") == 0) {
        free(fs->cursor);
        free(fs->after);
        fs->after = NULL;
        fs->cursor = xstrdup(value);
        if (fhir_search_cursor_decode(value, &fs->snapshot, &fs->total, &fs->after) != 0)
            return fail(fs, name,
                        "parameter '_cursor': not a paging cursor issued by this "
                        "server (follow the 'next' link as given)");
        return WEFT_OK;
    }
    if (strcmp(name, "_format") == 0) {
        if (strcmp(value, "json") == 0 || strcmp(value, "application/fhir+json") == 0 ||
            strcmp(value, "application/json") == 0 || strcmp(value, "application/json+fhir") == 0)
            return WEFT_OK;
        return fail(fs, name, "parameter '_format': only JSON is supported, not '%.40s'", value);
    }
    if (strcmp(name, "_total") == 0) {
        if (strcmp(value, "none") == 0) {
            fs->no_total = true; /* saves the count on the first page */
            return WEFT_OK;
        }
        if (strcmp(value, "estimate") == 0 || strcmp(value, "accurate") == 0) {
            fs->no_total = false;
            return WEFT_OK;
        }
        return fail(fs, name, "parameter '_total': '%.40s' is not none, estimate or accurate",
                    value);
    }
    if (strcmp(name, "_sort") == 0) {
        fs->sort_given = true;
        if (strcmp(value, "date") == 0)
            fs->q.sort = STORE_SORT_DATE;
        else if (strcmp(value, "-date") == 0)
            fs->q.sort = STORE_SORT_DATE_DESC;
        else if (strcmp(value, "_lastUpdated") == 0)
            fs->q.sort = STORE_SORT_LASTUPDATED;
        else if (strcmp(value, "-_lastUpdated") == 0)
            fs->q.sort = STORE_SORT_LASTUPDATED_DESC;
        else if (strcmp(value, "_id") == 0)
            fs->q.sort = STORE_SORT_ID;
        else if (type && mode == FHIR_SEARCH_TYPE && !strchr(value, ',') &&
                 (fs->sort_sp = fhir_sp_find(type, value[0] == '-' ? value + 1 : value)) &&
                 fs->sort_sp->kind != FHIR_SP_COMPOSITE)
            fs->sort_desc = value[0] == '-';
        else
            return fail(fs, name,
                        "parameter '_sort': '%.40s' is not supported (one key: a search "
                        "parameter of the type, '-' before it for descending)",
                        value);
        return WEFT_OK;
    }
    if (strcmp(name, "_lastUpdated") == 0 || strcmp(name, "_since") == 0) {
        if (strcmp(name, "_since") == 0) {
            if (mode != FHIR_SEARCH_EVERYTHING)
                goto unknown;
            struct buf b = BUF_INIT;
            buf_addf(&b, "ge%s", value);
            int rc = add_date(fs, name, b.data, 2);
            buf_release(&b);
            return rc;
        }
        return add_date(fs, name, value, 2);
    }
    if (mode == FHIR_SEARCH_EVERYTHING)
        goto unknown;

    if (type) {
        int rc = parse_spec(fs, type, name, value);
        if (rc != 1)
            return rc;
    }
    const char *const *known = fhir_search_params(type);
    if (!is_known(known, name))
        goto unknown;
    if (strcmp(name, "_id") == 0) {
        int first = fs->nids;
        int rc = split_list(fs, name, value, fs->ids, &fs->nids);
        if (rc)
            return rc;
        for (int i = first; i < fs->nids; i++)
            if (!valid_id(fs->ids[i]))
                return fail(fs, name, "parameter '_id': '%.80s' is not a valid resource id",
                            fs->ids[i]);
        return WEFT_OK;
    }
    if (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)
        return parse_patient_ref(fs, name, value);
    if (strcmp(name, "_record-category") == 0) {
        int first = fs->q.ncategories;
        int n = first;
        int rc = split_list(fs, name, value, fs->categories, &n);
        fs->q.ncategories = n;
        fs->q.categories = (const char *const *)fs->categories;
        if (rc)
            return rc;
        /* a token may carry a system; record categories are plain codes */
        for (int i = first; i < n; i++) {
            char *bar = strchr(fs->categories[i], '|');
            if (bar)
                memmove(fs->categories[i], bar + 1, strlen(bar + 1) + 1);
            if (!category_valid(fs->categories[i]))
                return fail(fs, name,
                            "parameter '_record-category': '%.40s' is not a record category (e.g. "
                            "results, medications, encounters; see the CapabilityStatement)",
                            fs->categories[i]);
        }
        if (first > 0)
            return fail(fs, name, "parameter '_record-category' given twice (use a comma for OR)");
        return WEFT_OK;
    }
    if (strcmp(name, "code") == 0) {
        if (fs->q.ncodes > 0)
            return fail(fs, name, "parameter 'code' given twice (use a comma for OR)");
        int n = 0;
        int rc = split_list(fs, name, value, fs->codes, &n);
        fs->q.ncodes = n;
        fs->q.codes = (const char *const *)fs->codes;
        if (rc)
            return rc;
        for (int i = 0; i < n; i++) {
            const char *bar = strchr(fs->codes[i], '|');
            if (bar && (bar[1] == 0 || strchr(bar + 1, '|')))
                return fail(fs, name, "parameter 'code': '%.80s' is not a token (system|code)",
                            fs->codes[i]);
        }
        return WEFT_OK;
    }
    if (strcmp(name, "date") == 0)
        return add_date(fs, name, value, 0);
    if (strcmp(name, "identifier") == 0) {
        if (strchr(value, ',') && !strstr(value, "\\,"))
            return fail(fs, name,
                        "parameter 'identifier': one value per parameter (repeat the "
                        "parameter for AND)");
        const char *bar = strchr(value, '|');
        if (!value[0] || (bar && bar[1] == 0))
            return fail(fs, name,
                        "parameter 'identifier': '%.80s' has no value (use "
                        "system|value or value)",
                        value);
        return add_term(fs, "identifier", value, false);
    }
    if (strcmp(name, "family") == 0 || strcmp(name, "given") == 0) {
        if (!value[0])
            return fail(fs, name, "parameter '%s': empty value", name);
        return add_term(fs, name, value, true);
    }
    if (strcmp(name, "birthdate") == 0) {
        int f[6], prec;
        if (parse_date(value, f, &prec) != 0 || prec > 3) {
            if (isalpha((unsigned char)value[0]))
                return fail(fs, name,
                            "parameter 'birthdate': prefixes are not supported; give "
                            "a date (1970-01-31) or a partial date (1970, 1970-01)");
            return fail(fs, name,
                        "parameter 'birthdate': '%.40s' is not a date (YYYY, "
                        "YYYY-MM or YYYY-MM-DD)",
                        value);
        }
        char d[32];
        format_date(f, prec, d);
        return add_term(fs, "birthdate", d, prec < 3);
    }
unknown:
    return 1; /* not a parameter of this search */
}

int fhir_search_parse(struct fhir_search *fs, enum fhir_search_mode mode, const char *type,
                      const struct url_kv *args, int nargs, bool lenient)
{
    memset(fs, 0, sizeof *fs);
    fs->q.type = type;
    fs->q.sort = STORE_SORT_ID;
    fs->q.want_total = true;
    fs->total = -1;
    fs->count = mode == FHIR_SEARCH_EVERYTHING ? 100 : FHIR_COUNT_DEFAULT;
    if (nargs > FHIR_SEARCH_MAX_PARAMS)
        return fail(fs, "", "too many search parameters: %d given, at most %d in one search", nargs,
                    FHIR_SEARCH_MAX_PARAMS);
    for (int i = 0; i < nargs; i++) {
        const char *name = args[i].name, *value = args[i].value;
        int rc = parse_one(fs, mode, type, name, value);
        if (rc < 0)
            return rc;
        if (rc == 2) {
            if (!lenient)
                return WEFT_EINVAL;
            warn(fs, "%s; it was ignored", fs->err_msg);
            fs->err_msg[0] = fs->err_param[0] = 0;
            continue;
        }
        if (rc == 1) {
            const char *colon = strchr(name, ':');
            if (lenient) {
                warn(fs, "parameter '%.60s' is not supported%s and was ignored", name,
                     colon ? " (modifiers are not supported)" : "");
                continue;
            }
            if (colon)
                return fail(fs, name,
                            "parameter '%.60s': modifiers are not supported for this search", name);
            if (mode == FHIR_SEARCH_EVERYTHING)
                return fail(fs, name,
                            "parameter '%.60s' is not supported by $everything (supported: "
                            "_count, _since)",
                            name);
            return fail(fs, name, "unknown search parameter '%.60s' for %s", name,
                        type ? type : "this search");
        }
    }
    if (fs->nids > 0) {
        bool other = fs->patient_id || fs->npatient_ids || fs->q.ncategories || fs->q.ncodes ||
                     fs->q.nterms || fs->nfilters || fs->dates[0] || fs->dates[1] || fs->dates[2] ||
                     fs->dates[3];
        if (other)
            return fail(fs, "_id", "parameter '_id' cannot be combined with other filters");
    }
    fs->q.date_ge = fs->dates[0];
    fs->q.date_lt = fs->dates[1];
    fs->q.lastupd_ge = fs->dates[2];
    fs->q.lastupd_lt = fs->dates[3];
    fs->q.limit = fs->count;
    fs->q.snapshot = fs->snapshot;
    fs->q.after = fs->after;
    fs->q.want_total = fs->total < 0 && !fs->no_total;
    return WEFT_OK;
}

void fhir_search_free(struct fhir_search *fs)
{
    free(fs->patient_id);
    for (int i = 0; i < fs->npatient_ids; i++)
        free(fs->patient_ids[i]);
    for (int i = 0; i < fs->nids; i++)
        free(fs->ids[i]);
    free(fs->cursor);
    free(fs->after);
    for (int i = 0; i < fs->nwarnings; i++)
        free(fs->warnings[i]);
    for (int i = 0; i < fs->q.ncodes; i++)
        free(fs->codes[i]);
    /* not q.ncategories: the authorisation point may have narrowed q to the
     * allowed ones (api_authz_search), the parsed strings are all here */
    for (int i = 0; i < FHIR_SEARCH_MAX_VALUES; i++)
        free(fs->categories[i]);
    for (int i = 0; i < fs->q.nterms; i++)
        free(fs->term_values[i]);
    for (int i = 0; i < 4; i++)
        free(fs->dates[i]);
    for (int i = 0; i < fs->nfilters; i++)
        fhir_sp_filter_free(&fs->filters[i]);
    for (int i = 0; i < fs->nix; i++)
        fhir_sp_index_cond_free(&fs->ix[i]);
    for (int i = 0; i < fs->nchains; i++) {
        free(fs->chains[i].type);
        free(fs->chains[i].ref);
        free(fs->chains[i].name);
        free(fs->chains[i].value);
    }
    memset(fs, 0, sizeof *fs);
}

/* ---- cursors and links -------------------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void fhir_search_cursor_encode(struct buf *b, int64_t snapshot, int64_t total, const char *after)
{
    buf_addf(b, "%lld.%lld.", (long long)snapshot, (long long)total);
    const unsigned char *s = (const unsigned char *)(after ? after : "");
    size_t n = strlen((const char *)s);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        buf_addc(b, b64url[(v >> 18) & 63]);
        buf_addc(b, b64url[(v >> 12) & 63]);
        if (i + 1 < n)
            buf_addc(b, b64url[(v >> 6) & 63]);
        if (i + 2 < n)
            buf_addc(b, b64url[v & 63]);
    }
}

static int b64val(char c)
{
    const char *p = strchr(b64url, c);
    return (c && p) ? (int)(p - b64url) : -1;
}

int fhir_search_cursor_decode(const char *cursor, int64_t *snapshot, int64_t *total, char **after)
{
    *after = NULL;
    char *end = NULL;
    errno = 0;
    if (!isdigit((unsigned char)cursor[0]))
        return WEFT_EINVAL;
    long long snap = strtoll(cursor, &end, 10);
    if (errno || end == cursor || *end != '.' || snap <= 0)
        return WEFT_EINVAL;
    const char *t = end + 1;
    if (!isdigit((unsigned char)t[0]))
        return WEFT_EINVAL;
    long long tot = strtoll(t, &end, 10);
    if (errno || end == t || *end != '.' || tot < 0)
        return WEFT_EINVAL;
    const char *p = end + 1;
    size_t n = strlen(p);
    if (n % 4 == 1 || n > 4096)
        return WEFT_EINVAL;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i += 4) {
        int v[4] = {0, 0, 0, 0};
        size_t k = n - i < 4 ? n - i : 4;
        for (size_t j = 0; j < k; j++) {
            v[j] = b64val(p[i + j]);
            if (v[j] < 0) {
                buf_release(&b);
                return WEFT_EINVAL;
            }
        }
        unsigned x = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        char out[3] = {(char)(x >> 16), (char)(x >> 8), (char)x};
        size_t nout = k - 1;
        for (size_t j = 0; j < nout; j++) {
            if (out[j] == 0) { /* no NUL inside a cursor */
                buf_release(&b);
                return WEFT_EINVAL;
            }
        }
        buf_add(&b, out, nout);
    }
    *snapshot = snap;
    *total = tot;
    *after = b.len ? buf_detach(&b, NULL) : NULL;
    buf_release(&b);
    return WEFT_OK;
}

void fhir_search_page_url(struct buf *b, const char *base, const struct url_kv *args, int nargs,
                          const char *cursor)
{
    buf_adds(b, base);
    char sep = '?';
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i].name, "_cursor") == 0)
            continue;
        buf_addc(b, sep);
        sep = '&';
        url_encode(b, args[i].name);
        buf_addc(b, '=');
        url_encode(b, args[i].value);
    }
    if (cursor) {
        buf_addc(b, sep);
        buf_adds(b, "_cursor=");
        url_encode(b, cursor);
    }
}
