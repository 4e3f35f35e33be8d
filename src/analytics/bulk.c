/*
 * bulk.c - FHIR Bulk Data exports: kick-off parameters, groups, and the
 * run of one job (bulk.h).
 *
 * The run is one keyset-paged query across people through the scoped-read
 * path (access_read_search, pages of BULK_PAGE rows at one store snapshot,
 * so the export is a consistent picture as of its transactionTime), each
 * row appended to the NDJSON file of its type.  Tuned for the direct
 * export's hot path: the stored JSON is written as it is (no parse); only a
 * secondary export parses each resource, to de-identify it.  People are
 * looked up once each (group membership: a sorted array; opt-out
 * clearance: a hash map from person id to a flag, filled for every person
 * with an NHS number by one scan when the run starts).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "access/read.h"
#include "analytics/bulk.h"
#include "analytics/day.h"
#include "analytics/deid.h"
#include "analytics/efi.h"
#include "analytics/ndjson.h"
#include "analytics/optout.h"
#include "analytics/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/strmap.h"
#include "fhir/searchparam.h"
#include "store/analytics.h"
#include "store/bulk.h"
#include "store/records.h"
#include "store/store.h"

#define BULK_PAGE 2000
#define PROGRESS_EVERY_NS 2000000000ull

const char *bulk_kind_name(enum bulk_kind k)
{
    return k == BULK_PATIENT ? "patient" : k == BULK_GROUP ? "group" : "system";
}

/* ---- kick-off parameters ------------------------------------------------------------- */

static bool is_type(const char *t)
{
    int n = 0;
    if (!*t || strlen(t) >= 64 || !isupper((unsigned char)t[0]))
        return false;
    return fhir_sp_of_type(t, &n) != NULL;
}

/* A FHIR instant (or a date: its midnight UTC) -> "YYYY-MM-DDThh:mm:ss.mmmZ"
 * in UTC.  false when it is neither. */
static bool parse_instant(const char *s, char out[32])
{
    int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
        return false;
    const char *p = s + 10;
    int ms = 0, off = 0;
    if (*p) {
        int k = 0;
        if (sscanf(p, "T%2d:%2d:%2d%n", &h, &m, &sec, &k) != 3 || k != 9)
            return false;
        p += 9;
        if (*p == '.') {
            p++;
            int digits = 0, frac = 0;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3)
                    frac = frac * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (digits == 0 || digits > 9)
                return false;
            for (int d = digits; d < 3; d++)
                frac *= 10;
            ms = frac;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, k2 = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k2) != 2 || k2 != 5 || oh > 14 || om > 59)
                return false;
            off = (*p == '+' ? 1 : -1) * (oh * 60 + om);
            p += 6;
        } else {
            return false; /* an instant has a zone */
        }
        if (*p)
            return false;
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm) - (time_t)off * 60;
    struct tm g;
    gmtime_r(&t, &g);
    if (off == 0 && (g.tm_mday != D || g.tm_mon != M - 1))
        return false; /* 2024-02-31 */
    char ymd[24];
    strftime(ymd, sizeof ymd, "%Y-%m-%dT%H:%M:%S", &g);
    snprintf(out, 32, "%.19s.%03dZ", ymd, (ms) % 1000);
    return true;
}

static int add_types(struct bulk_request *out, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char t[64];
        if (n == 0 || n >= sizeof t) {
            snprintf(err, errlen, "_type: '%.60s' is not a list of resource types", list);
            return WEFT_EINVAL;
        }
        memcpy(t, p, n);
        t[n] = 0;
        if (!is_type(t)) {
            snprintf(err, errlen, "_type: '%.60s' is not a FHIR R4 resource type", t);
            return WEFT_EINVAL;
        }
        bool dup = false;
        for (int i = 0; i < out->ntypes; i++)
            dup |= strcmp(out->types[i], t) == 0;
        if (!dup) {
            if (out->ntypes == BULK_MAX_TYPES) {
                snprintf(err, errlen, "_type: at most %d resource types", BULK_MAX_TYPES);
                return WEFT_EINVAL;
            }
            memcpy(out->types[out->ntypes++], t, n + 1);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return WEFT_OK;
}

int bulk_request_parse(enum bulk_kind kind, const char *group_id, const struct url_kv *args,
                       int nargs, struct bulk_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (kind == BULK_GROUP)
        snprintf(out->group_id, sizeof out->group_id, "%s", group_id ? group_id : "");
    for (int i = 0; i < nargs; i++) {
        const char *n = args[i].name, *v = args[i].value ? args[i].value : "";
        if (strcmp(n, "_type") == 0) {
            if (add_types(out, v, err, errlen) != 0)
                return WEFT_EINVAL;
        } else if (strcmp(n, "_since") == 0) {
            if (!parse_instant(v, out->since)) {
                snprintf(err, errlen,
                         "_since: '%.40s' is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)", v);
                return WEFT_EINVAL;
            }
        } else if (strcmp(n, "_outputFormat") == 0) {
            if (strcmp(v, "application/fhir+ndjson") != 0 && strcmp(v, "application/ndjson") != 0 &&
                strcmp(v, "ndjson") != 0) {
                snprintf(err, errlen,
                         "_outputFormat: '%.60s' is not supported (only application/fhir+ndjson, "
                         "application/ndjson or ndjson)",
                         v);
                return WEFT_EINVAL;
            }
        } else {
            snprintf(err, errlen,
                     "parameter '%.40s' is not supported by $export here (supported: _type, "
                     "_since, _outputFormat)",
                     n);
            return WEFT_EINVAL;
        }
    }
    return WEFT_OK;
}

/* ---- groups ---------------------------------------------------------------------------- */

static bool valid_ods(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!(isupper((unsigned char)s[n]) || isdigit((unsigned char)s[n])))
            return false;
    return n >= 3 && n <= 16;
}

/* The eFI band named s, or -1. */
static int band_of(const char *s)
{
    for (int b = EFI_FIT; b <= EFI_SEVERE; b++)
        if (strcmp(s, efi_band_name((enum efi_band)b)) == 0)
            return b;
    return -1;
}

int bulk_group_describe(const char *id, char *name, size_t cap)
{
    if (strncmp(id, "practice-", 9) == 0 && valid_ods(id + 9)) {
        snprintf(name, cap, "The registered patients of GP practice %s", id + 9);
        return WEFT_OK;
    }
    if (strncmp(id, "efi-", 4) == 0 && band_of(id + 4) >= 0) {
        snprintf(name, cap,
                 "People aged 65 and over whose electronic Frailty Index band is %s today", id + 4);
        return WEFT_OK;
    }
    return WEFT_ENOTFOUND;
}

char *bulk_group_resource(const char *id)
{
    char name[160];
    if (bulk_group_describe(id, name, sizeof name) != 0)
        return NULL;
    json_t *g = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "resourceType", "Group", "id", id,
                          "type", "person", "actual", 1, "name", name, "code", "");
    json_object_del(g, "code");
    json_t *ch;
    if (strncmp(id, "practice-", 9) == 0)
        ch = json_pack("{s:{s:s}, s:{s:s, s:s}, s:b}", "code", "text", "registered GP practice",
                       "valueReference", "reference", "Organization", "identifier", "", "exclude",
                       0);
    else
        ch = json_pack("{s:{s:s}, s:{s:s}, s:b}", "code", "text",
                       "electronic Frailty Index band (aged 65 and over)", "valueCodeableConcept",
                       "text", id + 4, "exclude", 0);
    if (strncmp(id, "practice-", 9) == 0) {
        json_t *ref = json_object_get(ch, "valueReference");
        json_object_del(ref, "reference");
        json_object_del(ref, "identifier");
        json_object_set_new(ref, "identifier",
                            json_pack("{s:s, s:s}", "system",
                                      "https://fhir.nhs.uk/Id/ods-organization-code", "value",
                                      id + 9));
    }
    json_object_set_new(g, "characteristic", json_pack("[o]", ch));
    char *text = json_dumps(g, JSON_COMPACT);
    json_decref(g);
    return text;
}

struct members {
    char **v;
    int n, cap;
    /* selection */
    const char *practice;
    int band; /* -1: by practice */
    struct efi_codes *efi;
    int64_t today;
};

static void members_add(struct members *m, const char *id)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->v = xrealloc(m->v, (size_t)m->cap * sizeof *m->v);
    }
    m->v[m->n++] = xstrdup(id);
}

static void members_free(struct members *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    efi_codes_free(m->efi);
    memset(m, 0, sizeof *m);
}

static int add_id(const char *id, void *ctx)
{
    members_add(ctx, id);
    return 0;
}

static int select_person(const struct analytics_person *p, void *ctx)
{
    struct members *m = ctx;
    if (p->deceased)
        return 0;
    if (m->band < 0) {
        if (p->gp && strcmp(p->gp, m->practice) == 0)
            members_add(m, p->person_id);
        return 0;
    }
    struct efi_result e;
    if (efi_assess(m->efi, p, m->today, &e) == 0) {
        if ((int)e.band == m->band)
            members_add(m, p->person_id);
        efi_result_free(&e);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The members of group id, sorted. */
static int group_members(struct store *s, const char *id, struct members *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->today = day_today();
    int rc;
    if (strncmp(id, "practice-", 9) == 0) {
        out->practice = id + 9;
        out->band = -1;
        struct members cand = {0};
        rc = store_analytics_org_persons(s, out->practice, add_id, &cand);
        if (rc == 0 && cand.n > 0) {
            struct analytics_read sel = {(const char *const *)cand.v, cand.n};
            rc = analytics_read_persons(s, &sel, select_person, out);
        }
        members_free(&cand);
    } else {
        out->band = band_of(id + 4);
        if ((rc = efi_codes_load(NULL, &out->efi, err, errlen)) != 0)
            return rc;
        rc = analytics_read_persons(s, &(struct analytics_read){NULL, 0}, select_person, out);
    }
    if (rc != 0) {
        snprintf(err, errlen, "the group's members could not be worked out: %s", store_errmsg(s));
        members_free(out);
        return rc;
    }
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return WEFT_OK;
}

static bool members_has(const struct members *m, const char *id)
{
    return bsearch(&id, m->v, (size_t)m->n, sizeof *m->v, cmp_str) != NULL;
}

/* ---- the check at kick-off ------------------------------------------------------------ */

int bulk_check(struct store *s, const struct principal *p, const struct bulk_request *req,
               int *status, char *err, size_t errlen)
{
    *status = 0;
    err[0] = 0;
    if (p->kind != PRINCIPAL_CLIENT || p->client_id <= 0) {
        *status = 403;
        snprintf(err, errlen,
                 "FHIR Bulk Data export is for registered API clients (weft client add); "
                 "this credential is not one");
        return authz_audit_denial(s, p, AUDIT_EXPORT, NULL, "bulk export: not an API client");
    }
    /* the read a secondary client's export makes is de-identified */
    struct principal rp = *p;
    rp.deidentified_export = p->client_purpose == PRINCIPAL_CLIENT_PURPOSE_SECONDARY;
    p = &rp;
    struct access_read r;
    access_read_begin(&r, s, p, AUDIT_EXPORT);
    const char *reason = NULL;
    int rc = 0;
    for (int i = 0; rc == 0 && !reason && i < req->ntypes; i++)
        rc = access_read_check(&r, req->types[i], &reason);
    if (rc == 0 && !reason)
        rc = access_read_check(&r, NULL, &reason);
    access_read_close(&r);
    if (rc < 0)
        return rc;
    if (reason) { /* audited by the check */
        *status = 403;
        snprintf(err, errlen, "%s", reason);
        return WEFT_OK;
    }
    if (req->kind == BULK_GROUP) {
        char name[160];
        if (bulk_group_describe(req->group_id, name, sizeof name) != 0) {
            *status = 404;
            snprintf(err, errlen,
                     "no group '%.60s' (groups: practice-ODS, efi-fit, efi-mild, efi-moderate, "
                     "efi-severe)",
                     req->group_id);
            return WEFT_OK;
        }
        bool yes;
        rc = store_analytics_org_has_person(s, "X", "-", &yes);
        if (rc == WEFT_EUNSUPPORTED) {
            *status = 501;
            snprintf(err, errlen, "Group exports: %s", store_errmsg(s));
            return WEFT_OK;
        }
        if (rc < 0)
            return rc;
    }
    if (p->client_purpose == PRINCIPAL_CLIENT_PURPOSE_SECONDARY) {
        struct optout_gate g;
        char why[512];
        rc = optout_gate(s, NULL, &g, why, sizeof why);
        if (rc == WEFT_EDENIED) {
            *status = 403;
            snprintf(err, errlen, "secondary-use export refused: %s", why);
            return authz_audit_denial(s, p, AUDIT_EXPORT, NULL,
                                      "bulk export: no national data opt-out list in force");
        }
        if (rc == WEFT_EUNSUPPORTED) {
            *status = 501;
            snprintf(err, errlen, "secondary-use exports (national data opt-out): %s",
                     store_errmsg(s));
            return WEFT_OK;
        }
        if (rc < 0)
            return rc;
    }
    return WEFT_OK;
}

/* ---- the run --------------------------------------------------------------------------- */

struct out_file {
    char type[64];
    struct ndjson_writer w;
};

struct run_state {
    struct bulk_run *r;
    struct out_file *files;
    int nfiles;
    /* secondary */
    bool secondary;
    struct optout_set cleared;
    struct strmap seen; /* person id -> 1 cleared, 0 not */
    char **seen_keys;
    int nseen, seen_cap;
    struct deid_key key;
    struct deid_text deid; /* the single-pass rewriter, over key */
    struct buf line;
    /* whose records were exported, and how many items of each: audited once
     * per person at the end (a page-by-page audit wrote an entry per row:
     * rows come in store order, not person order) */
    struct strmap people; /* person id -> index in pcount */
    char **pkeys;
    int64_t *pcount;
    int npeople, pcap;
};

static void count_person(struct run_state *st, const char *person)
{
    int i = strmap_get(&st->people, person);
    if (i < 0) {
        if (st->npeople == st->pcap) {
            st->pcap = st->pcap ? st->pcap * 2 : 1024;
            st->pkeys = xrealloc(st->pkeys, (size_t)st->pcap * sizeof *st->pkeys);
            st->pcount = xrealloc(st->pcount, (size_t)st->pcap * sizeof *st->pcount);
        }
        i = st->npeople++;
        st->pkeys[i] = xstrdup(person);
        st->pcount[i] = 0;
        strmap_put(&st->people, st->pkeys[i], i);
    }
    st->pcount[i]++;
}

/* One audit entry per person exported (action export, the count of their
 * items), then none is kept.  Returns 0 or the first audit error. */
static int audit_people(struct run_state *st, const struct principal *p, const char *what)
{
    int rc = 0;
    for (int i = 0; i < st->npeople; i++) {
        int e = authz_audit_access(st->r->s, p, AUDIT_EXPORT, st->pkeys[i], what, st->pcount[i]);
        if (e && !rc)
            rc = e;
        free(st->pkeys[i]);
    }
    free(st->pkeys);
    free(st->pcount);
    st->pkeys = NULL;
    st->pcount = NULL;
    st->npeople = st->pcap = 0;
    return rc;
}

static struct ndjson_writer *file_for(struct run_state *st, const char *type, int *rc)
{
    for (int i = 0; i < st->nfiles; i++)
        if (strcmp(st->files[i].type, type) == 0)
            return &st->files[i].w;
    st->files = xrealloc(st->files, (size_t)(st->nfiles + 1) * sizeof *st->files);
    struct out_file *f = &st->files[st->nfiles];
    snprintf(f->type, sizeof f->type, "%s", type);
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/%s.ndjson", st->r->dir, type);
    *rc = ndjson_writer_open(&f->w, path.data);
    buf_release(&path);
    if (*rc != 0)
        return NULL;
    st->nfiles++;
    return &f->w;
}

static void seen_put(struct run_state *st, const char *person, bool yes)
{
    if (st->nseen == st->seen_cap) {
        st->seen_cap = st->seen_cap ? st->seen_cap * 2 : 1024;
        st->seen_keys = xrealloc(st->seen_keys, (size_t)st->seen_cap * sizeof *st->seen_keys);
    }
    char *k = xstrdup(person);
    st->seen_keys[st->nseen++] = k;
    strmap_put(&st->seen, k, yes ? 1 : 0);
}

/* store_person_nhs_scan's callback: every person with an NHS number, whether
 * it is on the list, noted before the export reads a row. */
static int seen_scan(const char *person, const char *nhs, void *ctx)
{
    struct run_state *st = ctx;
    if (strmap_get(&st->seen, person) < 0)
        seen_put(st, person, optout_set_has(&st->cleared, nhs));
    return 0;
}

/* Whether person (a person id) is on the opt-out list in force: as the scan
 * at the start found it, else (a person that scan did not list: without an
 * NHS number, or new since) read now. */
static int cleared(struct run_state *st, const char *person, bool *yes)
{
    int v = strmap_get(&st->seen, person);
    if (v >= 0) {
        *yes = v == 1;
        return 0;
    }
    struct store_person sp;
    memset(&sp, 0, sizeof sp);
    int rc = store_person_get(st->r->s, person, &sp);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    *yes = rc == 0 && sp.nhs && optout_set_has(&st->cleared, sp.nhs);
    store_person_clear(&sp);
    seen_put(st, person, *yes);
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void state_free(struct run_state *st, bool remove)
{
    for (int i = 0; i < st->nfiles; i++)
        if (remove)
            ndjson_writer_abort(&st->files[i].w);
        else
            ndjson_writer_close(&st->files[i].w);
    free(st->files);
    st->files = NULL;
    st->nfiles = 0;
    if (st->secondary) {
        optout_set_free(&st->cleared);
        strmap_free(&st->seen);
        for (int i = 0; i < st->nseen; i++)
            free(st->seen_keys[i]);
        free(st->seen_keys);
        deid_text_free(&st->deid);
        deid_key_clear(&st->key);
    }
    buf_release(&st->line);
    for (int i = 0; i < st->npeople; i++)
        free(st->pkeys[i]);
    free(st->pkeys);
    free(st->pcount);
    strmap_free(&st->people);
}

/* Record why the run failed: text with its one "%s" replaced by detail. */
static int fail(struct bulk_run *r, int rc, const char *text, const char *detail)
{
    const char *pct = strstr(text, "%s");
    struct buf b = BUF_INIT;
    if (pct) {
        buf_add(&b, text, (size_t)(pct - text));
        buf_adds(&b, detail ? detail : "");
        buf_adds(&b, pct + 2);
    } else {
        buf_adds(&b, text);
    }
    snprintf(r->error, sizeof r->error, "%.*s", (int)(sizeof r->error - 1), b.data);
    buf_release(&b);
    return rc;
}

int bulk_run_job(struct bulk_run *r)
{
    r->output = NULL;
    r->count = 0;
    r->error[0] = 0;
    const struct store_bulk_job *job = r->job;
    struct bulk_request req;
    memset(&req, 0, sizeof req);
    char err[512];
    if (job->types && add_types(&req, job->types, err, sizeof err) != 0)
        return fail(r, WEFT_EINVAL, "%s", err);
    req.kind = strcmp(job->kind, "patient") == 0 ? BULK_PATIENT
               : strcmp(job->kind, "group") == 0 ? BULK_GROUP
                                                 : BULK_SYSTEM;

    struct run_state st;
    memset(&st, 0, sizeof st);
    st.r = r;
    buf_init(&st.line);
    strmap_init(&st.people, 4096);
    st.secondary = strcmp(job->purpose, "secondary") == 0;
    int rc;
    if (st.secondary) {
        struct optout_gate g;
        char why[512];
        rc = optout_gate(r->s, NULL, &g, why, sizeof why);
        if (rc == WEFT_EDENIED)
            return fail(r, WEFT_EDENIED, "secondary-use export refused: %s", why);
        if (rc != 0)
            return fail(r, rc, "the national data opt-out list could not be read%s", "");
        if ((rc = optout_set_load(r->s, g.list_id, &st.cleared)) != 0)
            return fail(r, rc, "the national data opt-out list could not be read%s", "");
        strmap_init(&st.seen, 1024);
        deid_key_init(&st.key);
        deid_text_init(&st.deid, &st.key);
        /* every person's NHS number in one read, not one read per person
         * (a backend without the scan: each is read when first met) */
        rc = store_person_nhs_scan(r->s, seen_scan, &st);
        if (rc != 0 && rc != WEFT_EUNSUPPORTED) {
            state_free(&st, true);
            return fail(r, rc, "the national data opt-out list could not be applied: %s",
                        store_errmsg(r->s));
        }
    }
    struct members group = {0};
    if (req.kind == BULK_GROUP && (rc = group_members(r->s, job->group_id ? job->group_id : "",
                                                      &group, err, sizeof err)) != 0) {
        state_free(&st, true);
        return fail(r, rc, "%s", err);
    }

    struct access_read ar;
    rc = access_read_open_type(&ar, r->s, r->p, AUDIT_EXPORT, req.ntypes == 1 ? req.types[0] : NULL,
                               NULL);
    if (rc == 0 && !ar.scope.allowed)
        rc = fail(r, WEFT_EDENIED, "%s",
                  ar.scope.reason ? ar.scope.reason : "your access does not include this export");
    for (int i = 0; rc == 0 && req.ntypes > 1 && i < req.ntypes; i++)
        if (!authz_type_allowed(r->p, req.types[i]))
            rc = fail(r, WEFT_EDENIED, "your access does not include %s resources", req.types[i]);
    /* One type at a time, in store order: each type's rows stream from the
     * store's (type) index in one statement per page (sqlite_search's
     * streamed path), where a query over several types at once would sort
     * the whole table for every page.  Every type of R4 when none was asked
     * for (an absent type costs one index probe). */
    const char **tlist = NULL;
    int ntl = 0;
    if (req.ntypes > 0) {
        tlist = xcalloc((size_t)req.ntypes, sizeof *tlist);
        for (int i = 0; i < req.ntypes; i++)
            tlist[ntl++] = req.types[i];
    } else {
        tlist = xcalloc((size_t)fhir_sp_count + 1, sizeof *tlist);
        for (int i = 0; i < fhir_sp_count; i++)
            if (ntl == 0 || strcmp(tlist[ntl - 1], fhir_sp_table[i].type) != 0)
                tlist[ntl++] = fhir_sp_table[i].type;
    }
    struct store_query q;
    memset(&q, 0, sizeof q);
    /* the snapshot and its transactionTime together: whatever the snapshot
     * leaves out (a writer in flight) has lastUpdated at or after it, so an
     * export asked with _since = this transactionTime holds it */
    if (rc == 0 && (rc = store_snapshot_since(r->s, &q.snapshot, r->transaction_time)) != 0)
        fail(r, rc, "the record could not be read: %s", store_errmsg(r->s));
    q.lastupd_ge = job->since;
    q.sort = STORE_SORT_SEQ;
    q.limit = BULK_PAGE;
    char *cursor = NULL;
    uint64_t last_progress = now_ns();
    bool cancelled = false;
    int ti = 0;
    q.type = ntl > 0 ? tlist[0] : NULL;
    while (rc == 0 && q.type) {
        if (atomic_load(r->cancel)) {
            cancelled = true;
            break;
        }
        struct store_result res;
        memset(&res, 0, sizeof res);
        q.after = cursor;
        rc = access_read_search(&ar, &q, &res);
        if (rc != 0) {
            fail(r, rc, "the record could not be read: %s", store_errmsg(r->s));
            break;
        }
        q.snapshot = res.snapshot;
        for (int i = 0; rc == 0 && i < res.nrows; i++) {
            const struct store_row *row = &res.rows[i];
            if (row->deleted || !row->json)
                continue;
            if (req.kind != BULK_SYSTEM && !row->person_id)
                continue;
            if (req.kind == BULK_GROUP && !members_has(&group, row->person_id))
                continue;
            if (st.secondary) {
                bool ok = false;
                if (!row->person_id)
                    continue; /* not about a person: nothing to clear, nothing to de-identify
                                 against; a secondary export holds people's records only */
                if ((rc = cleared(&st, row->person_id, &ok)) != 0) {
                    fail(r, rc, "the record could not be read: %s", store_errmsg(r->s));
                    break;
                }
                if (!ok)
                    continue;
            }
            struct ndjson_writer *w = file_for(&st, row->type, &rc);
            if (!w) {
                fail(r, rc, "the export folder could not be written%s", "");
                break;
            }
            if (st.secondary) {
                buf_reset(&st.line);
                if (deid_text(&st.deid, row->json, row->json_len, &st.line) != 0)
                    continue; /* not a resource: never written as it is */
                rc = ndjson_writer_add(w, st.line.data, st.line.len);
            } else {
                rc = ndjson_writer_add(w, row->json, row->json_len);
            }
            if (rc == WEFT_EINVAL) {
                rc = 0;
                continue;
            }
            if (rc != 0) {
                fail(r, rc, "the export folder could not be written%s", "");
                break;
            }
            if (row->person_id)
                count_person(&st, row->person_id);
            r->count++;
        }
        free(cursor);
        cursor = res.next ? xstrdup(res.next) : NULL;
        store_result_clear(&res);
        if (rc != 0)
            break;
        if (!cursor) /* this type is done: the next */
            q.type = ++ti < ntl ? tlist[ti] : NULL;
        if (r->progress && now_ns() - last_progress > PROGRESS_EVERY_NS) {
            char text[128];
            snprintf(text, sizeof text, "%lld resources written", (long long)r->count);
            r->progress(r->progress_ctx, text);
            last_progress = now_ns();
        }
    }
    free(cursor);
    free(tlist);
    members_free(&group);
    if (rc != 0 || cancelled) {
        /* read but never delivered (the files are removed): still audited */
        struct buf w = BUF_INIT;
        buf_addf(&w, "bulk export %s %s: files removed", job->id,
                 cancelled ? "cancelled" : "failed");
        audit_people(&st, r->p, w.data);
        buf_release(&w);
        access_read_close(&ar);
        state_free(&st, true);
        return cancelled ? BULK_CANCELLED : rc;
    }
    /* close every file (fsync) before the manifest names it */
    json_t *out = json_array();
    struct buf what = BUF_INIT;
    buf_addf(&what, "bulk export %s (%s, %s):", job->id, job->kind, job->purpose);
    for (int i = 0; i < st.nfiles; i++) {
        int64_t lines = st.files[i].w.lines;
        if (rc == 0 && (rc = ndjson_writer_close(&st.files[i].w)) != 0)
            fail(r, rc, "the export folder could not be written%s", "");
        buf_addf(&what, " %s %lld", st.files[i].type, (long long)lines);
        struct buf url = BUF_INIT;
        buf_addf(&url, "%s/%s.ndjson", r->file_url, st.files[i].type);
        json_array_append_new(out, json_pack("{s:s, s:s, s:I}", "type", st.files[i].type, "url",
                                             url.data, "count", (json_int_t)lines));
        buf_release(&url);
    }
    st.nfiles = rc == 0 ? 0 : st.nfiles; /* closed: nothing to abort */
    if (rc == 0) {
        struct buf w = BUF_INIT;
        buf_addf(&w, "bulk export %s", job->id);
        rc = audit_people(&st, r->p, w.data);
        buf_release(&w);
    }
    if (rc == 0) {
        /* the completion, with its counts: one entry for the export as a whole */
        rc = access_read_audit(&ar, what.data, r->count);
        if (rc != 0)
            fail(r, rc, "the export could not be audited%s", "");
    }
    buf_release(&what);
    access_read_close(&ar);
    state_free(&st, rc != 0);
    if (rc == 0)
        r->output = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return rc;
}

void bulk_run_clear(struct bulk_run *r)
{
    free(r->output);
    r->output = NULL;
}
