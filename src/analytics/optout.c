/*
 * optout.c - national data opt-out lists (optout.h): import, the gate every
 * secondary output passes, membership, and the compact record of whom an
 * output counted.
 *
 * A list of a region's people is up to a few million numbers: held in
 * memory as a sorted array of 64-bit keys (8 bytes a person), so membership
 * is a binary search and loading it is one ordered range read.
 */
#include "analytics/optout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "analytics/day.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "identity/nhs.h"
#include "store/analytics.h"
#include "store/store.h"

uint64_t optout_nhs_key(const char *nhs)
{
    uint64_t k = 0;
    int i = 0;
    for (; nhs && nhs[i]; i++) {
        if (nhs[i] < '0' || nhs[i] > '9' || i >= 10)
            return 0;
        k = k * 10 + (uint64_t)(nhs[i] - '0');
    }
    return i == 10 ? k : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex_encode(md, 32, out);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, got);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read '%s'", path);
        buf_release(&b);
        return NULL;
    }
    if (!b.data)
        buf_adds(&b, "");
    return buf_detach(&b, len);
}

int optout_import(struct store *s, const struct optout_import *in, struct optout_import_result *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    int64_t checked, today, current_checked = 0;
    if (!in->checked || strlen(in->checked) != 10 || !day_parse(in->checked, &checked)) {
        snprintf(err, errlen, "--checked '%s' is not a date (YYYY-MM-DD)",
                 in->checked ? in->checked : "");
        return WEFT_EINVAL;
    }
    if (in->today) {
        if (!day_parse(in->today, &today)) {
            snprintf(err, errlen, "today '%s' is not a date (YYYY-MM-DD)", in->today);
            return WEFT_EINVAL;
        }
    } else {
        today = day_today();
    }
    int valid = in->valid_days > 0 ? in->valid_days : OPTOUT_VALID_DAYS_DEFAULT;
    char exp[11], td[11];
    day_text(checked + valid, exp);
    day_text(today, td);
    if (checked > today) {
        snprintf(err, errlen, "--checked %s is in the future (today is %s)", in->checked, td);
        return WEFT_EINVAL;
    }
    if (checked + valid < today) {
        snprintf(err, errlen,
                 "a list checked on %s expired on %s (%d days after its check date); ask the "
                 "national service again and load the new answer",
                 in->checked, exp, valid);
        return WEFT_EINVAL;
    }
    struct store_optout_list cur;
    int rc = store_optout_list_current(s, &cur);
    if (rc == 0) {
        day_parse(cur.checked, &current_checked);
        if (checked < current_checked) {
            snprintf(err, errlen,
                     "the list in force (list %lld) was checked on %s, after %s: an older "
                     "answer cannot replace it",
                     (long long)cur.id, cur.checked, in->checked);
            store_optout_list_clear(&cur);
            return WEFT_EINVAL;
        }
        store_optout_list_clear(&cur);
    } else if (rc != WEFT_ENOTFOUND) {
        snprintf(err, errlen, "reading the list in force: %s", store_errmsg(s));
        return rc;
    }

    size_t len;
    char *text = read_file(in->cleared_path, &len, err, errlen);
    if (!text)
        return WEFT_EIO;
    char digest[65];
    sha256_hex(text, len, digest);
    uint64_t *keys = NULL;
    size_t nkeys = 0, cap = 0;
    struct buf bad = BUF_INIT;
    int nbad = 0;
    long line = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        char *a = p, *z = le;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == '\r' || z[-1] == ' ' || z[-1] == '\t'))
            z--;
        p = nl ? nl + 1 : end;
        if (a == z)
            continue;
        char field[64], digits[11];
        size_t fl = (size_t)(z - a) < sizeof field - 1 ? (size_t)(z - a) : sizeof field - 1;
        memcpy(field, a, fl);
        field[fl] = '\0';
        bool ok = memchr(a, '\0', (size_t)(z - a)) == NULL && (size_t)(z - a) < sizeof field &&
                  nhs_number_valid(field, digits);
        if (!ok) {
            if (nbad < OPTOUT_MAX_BAD_LINES)
                buf_addf(&bad, "%sline %ld: '%.20s' is not a valid NHS number", nbad ? "; " : "",
                         line, field);
            nbad++;
            continue;
        }
        if (nkeys == cap) {
            cap = cap ? cap * 2 : 1024;
            keys = xrealloc(keys, cap * sizeof *keys);
        }
        keys[nkeys++] = optout_nhs_key(digits);
    }
    free(text);
    if (nbad) {
        snprintf(err, errlen, "%s: %d line(s) refused, nothing loaded: %s%s", in->cleared_path,
                 nbad, bad.data, nbad > OPTOUT_MAX_BAD_LINES ? "; ..." : "");
        buf_release(&bad);
        free(keys);
        return WEFT_EINVAL;
    }
    buf_release(&bad);
    if (nkeys == 0) {
        snprintf(err, errlen, "%s holds no NHS number: nothing loaded", in->cleared_path);
        free(keys);
        return WEFT_EINVAL;
    }
    qsort(keys, nkeys, sizeof *keys, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < nkeys; i++)
        if (i == 0 || keys[i] != keys[i - 1])
            keys[distinct++] = keys[i];
    char(*txt)[11] = xmalloc(distinct * sizeof *txt);
    const char **ptrs = xmalloc(distinct * sizeof *ptrs);
    for (size_t i = 0; i < distinct; i++) {
        snprintf(txt[i], sizeof txt[i], "%010llu", (unsigned long long)keys[i]);
        ptrs[i] = txt[i];
    }
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct store_optout_list l = {.checked = (char *)in->checked,
                                  .expires = exp,
                                  .imported = now,
                                  .imported_by = (char *)(in->by ? in->by : "unknown"),
                                  .sha256 = digest};
    rc = store_optout_list_add(s, &l, ptrs, (int64_t)distinct, &out->list_id);
    free(ptrs);
    free(txt);
    free(keys);
    if (rc) {
        snprintf(err, errlen, "storing the list: %s", store_errmsg(s));
        return rc;
    }
    out->count = (int64_t)distinct;
    out->duplicates = (int64_t)(nkeys - distinct);
    memcpy(out->expires, exp, sizeof out->expires);
    struct buf what = BUF_INIT, why = BUF_INIT;
    buf_addf(&what, "optout-list %lld", (long long)out->list_id);
    buf_addf(&why, "national data opt-out list loaded: checked %s, usable until %s, sha256 %s",
             in->checked, exp, digest);
    struct audit_event ev = {.action = AUDIT_ADMIN,
                             .outcome = AUDIT_OK,
                             .client = in->by,
                             .what = what.data,
                             .count = out->count,
                             .reason = why.data};
    rc = audit_append(s, &ev, NULL);
    buf_release(&what);
    buf_release(&why);
    if (rc)
        snprintf(err, errlen, "the list was stored (list %lld) but its audit entry was not: %s",
                 (long long)out->list_id, store_errmsg(s));
    return rc;
}

int optout_gate(struct store *s, const char *today, struct optout_gate *g, char *why, size_t whylen)
{
    memset(g, 0, sizeof *g);
    why[0] = '\0';
    int64_t td;
    if (today ? !day_parse(today, &td) : (td = day_today(), false)) {
        snprintf(why, whylen, "'%s' is not a date (YYYY-MM-DD)", today);
        return WEFT_EINVAL;
    }
    struct store_optout_list l;
    int rc = store_optout_list_current(s, &l);
    if (rc == WEFT_ENOTFOUND) {
        snprintf(why, whylen,
                 "no national data opt-out list has been loaded, so nobody may be counted in "
                 "secondary uses; load the answer of the national opt-out check with "
                 "`weft optout import --db PATH --cleared FILE --checked YYYY-MM-DD`");
        return WEFT_EDENIED;
    }
    if (rc) {
        snprintf(why, whylen, "reading the opt-out list: %s", store_errmsg(s));
        return rc;
    }
    int64_t exp;
    if (!day_parse(l.expires, &exp) || exp < td) {
        char tds[11];
        snprintf(why, whylen,
                 "the national data opt-out list in force (list %lld, checked %s) expired on "
                 "%s (today is %s); secondary outputs are refused until a newer list is loaded "
                 "with `weft optout import`",
                 (long long)l.id, l.checked, l.expires, day_text(td, tds));
        store_optout_list_clear(&l);
        return WEFT_EDENIED;
    }
    g->list_id = l.id;
    g->count = l.count;
    snprintf(g->checked, sizeof g->checked, "%s", l.checked);
    snprintf(g->expires, sizeof g->expires, "%s", l.expires);
    store_optout_list_clear(&l);
    return WEFT_OK;
}

struct load_ctx {
    struct optout_set *set;
    size_t cap;
};

static int load_one(const char *nhs, void *p)
{
    struct load_ctx *c = p;
    if (c->set->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->set->v = xrealloc(c->set->v, c->cap * sizeof *c->set->v);
    }
    c->set->v[c->set->n++] = optout_nhs_key(nhs);
    return 0;
}

int optout_set_load(struct store *s, int64_t list_id, struct optout_set *out)
{
    memset(out, 0, sizeof *out);
    struct load_ctx c = {out, 0};
    int rc = store_optout_cleared_scan(s, list_id, load_one, &c);
    if (rc) {
        optout_set_free(out);
        return rc;
    }
    /* stored as text ordered by text: 10 digits each, so the same order */
    return WEFT_OK;
}

void optout_set_free(struct optout_set *set)
{
    free(set->v);
    memset(set, 0, sizeof *set);
}

bool optout_set_has(const struct optout_set *set, const char *nhs)
{
    uint64_t k = optout_nhs_key(nhs);
    if (!k)
        return false;
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->v[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < set->n && set->v[lo] == k;
}

unsigned char *optout_set_encode(const uint64_t *v, size_t n, size_t *len_out)
{
    struct buf b = BUF_INIT;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = v[i] - prev;
        prev = v[i];
        do {
            unsigned char byte = (unsigned char)(d & 0x7f);
            d >>= 7;
            buf_addc(&b, (char)(d ? byte | 0x80 : byte));
        } while (d);
    }
    if (!b.data)
        buf_adds(&b, "");
    return (unsigned char *)buf_detach(&b, len_out);
}

int optout_set_decode(const unsigned char *blob, size_t len, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < len;) {
        uint64_t d = 0;
        int shift = 0;
        for (;;) {
            if (i >= len || shift > 63) {
                free(*out);
                *out = NULL;
                *n = 0;
                return WEFT_EPARSE;
            }
            unsigned char byte = blob[i++];
            d |= (uint64_t)(byte & 0x7f) << shift;
            shift += 7;
            if (!(byte & 0x80))
                break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        prev += d;
        (*out)[(*n)++] = prev;
    }
    return WEFT_OK;
}
