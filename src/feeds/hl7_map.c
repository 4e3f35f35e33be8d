/*
 * hl7_map.c - HL7 v2 → FHIR R4 (see hl7_map.h and docs/feeds/hl7v2.md).
 *
 * One context per message holds the parsed message, a scratch buffer for
 * unescaped values and the bundle being built.  Each segment kind has one
 * small mapping function; they all read values through get()/jtext(), which
 * unescape, trim and turn text that is not UTF-8 (ISO 8859-1 senders) into
 * UTF-8, so jansson never sees invalid strings.  Values that are absent,
 * empty or the HL7 null "" are skipped: the mapping holds what the message
 * holds and nothing else; "" never becomes text.
 *
 * Omitted versus null (HL7 v2.4 ch. 2.7): a field left out means "no
 * information, keep what you have", the null "" means "delete it".  A FHIR
 * PUT replaces the whole Patient, so for the Patient's demographics the
 * difference is passed to the loader: each element whose fields were all
 * omitted (or were valued but mapped to nothing, e.g. an impossible date) is
 * named in the Patient entry's private member LOAD_KEEP_ABSENT
 * ("_keepAbsent", fhir/load.h), e.g. "_keepAbsent": ["address", "telecom"],
 * and the loader copies it from the current version; an element whose field
 * was "" is neither set nor named, so the new version has none.  Elements:
 * name (PID-5), birthDate (PID-7), gender (PID-8), address (PID-11), telecom
 * (PID-13 + PID-14), deceased[x] (PID-29 + PID-30), generalPractitioner
 * (PD1-3 + PD1-4; no PD1 = omitted) and contact (NK1; no NK1 segment =
 * omitted).  An element made from two fields is whole: when either field
 * has a value the element is what the message holds (see keep_or_clear()).
 * identifier (PID-3) is required and always sent, merged with the stored
 * ones by system ("+identifier").  The Encounter, AllergyIntolerance,
 * Condition, Procedure and Appointment follow the same rule for their
 * fields (see each mapping).
 */
#include "feeds/hl7_map.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/systems.h"
#include "fhir/load.h"

struct mctx {
    const struct hl7_msg *m;
    const struct hl7_delims *d;
    const char *ods;
    struct hl7_map_result *r;
    struct buf t; /* scratch: last get() value */
    json_t *entries;
    json_t *seen; /* "Type/id" → true, to keep ids unique in the bundle */
    char pat_id[65], pat_url[64];
    char enc_id[65], enc_url[64];
    int have_enc;
    json_t *visit_ref; /* ORU/MDM: logical reference to the visit (PV1-19), or NULL */
};

/* ---- small helpers --------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void hl7_map_fhir_id(const char *text, size_t len, char out[65])
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < 64; i++) {
        char c = text[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.';
        out[o++] = ok ? c : '-';
    }
    if (len > 64) {
        uint64_t h = fnv1a(text, len, 0xcbf29ce484222325ull);
        snprintf(out + 47, 18, "-%016llx", (unsigned long long)h);
        o = 64;
    }
    if (o == 0)
        out[o++] = '0';
    out[o] = 0;
}

static void make_uuid(const char *type, const char *id, char out[64])
{
    char key[160];
    int n = snprintf(key, sizeof key, "%s/%s", type, id);
    uint64_t a = fnv1a(key, (size_t)n, 0xcbf29ce484222325ull);
    uint64_t b = fnv1a(key, (size_t)n, 0x84222325cbf29ce4ull ^ a);
    unsigned char u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(a >> (8 * i));
        u[8 + i] = (unsigned char)(b >> (8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x80); /* version 8: name-based, custom hash */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "urn:uuid:", 9);
    char *o = out + 9;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = 0;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            k = 1;
        else if ((c & 0xf0) == 0xe0)
            k = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            k = 3;
        else
            return 0;
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        if (k == 2 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0)))
            return 0;
        if (k == 3 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Make b valid UTF-8 and drop control characters other than tab/LF/CR. */
static void clean_text(struct buf *b)
{
    if (!utf8_valid((const unsigned char *)b->data, b->len)) {
        /* Not UTF-8: read it as ISO 8859-1 (the usual MSH-18 "8859/1"). */
        struct buf u = BUF_INIT;
        for (size_t i = 0; i < b->len; i++) {
            unsigned char c = (unsigned char)b->data[i];
            if (c < 0x80) {
                buf_addc(&u, (char)c);
            } else {
                buf_addc(&u, (char)(0xc0 | (c >> 6)));
                buf_addc(&u, (char)(0x80 | (c & 0x3f)));
            }
        }
        buf_reset(b);
        buf_add(b, u.data, u.len);
        buf_release(&u);
    }
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            continue;
        b->data[o++] = (char)c;
    }
    buf_truncate(b, o);
}

static void trim(struct buf *b)
{
    size_t s = 0, e = b->len;
    while (s < e &&
           (b->data[s] == ' ' || b->data[s] == '\t' || b->data[s] == '\r' || b->data[s] == '\n'))
        s++;
    while (e > s && (b->data[e - 1] == ' ' || b->data[e - 1] == '\t' || b->data[e - 1] == '\r' ||
                     b->data[e - 1] == '\n'))
        e--;
    if (s > 0)
        memmove(b->data, b->data + s, e - s);
    buf_truncate(b, e - s);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* v without surrounding white space. */
static struct hl7_span span_trim(struct hl7_span v)
{
    while (v.len && is_space(v.p[0]))
        v.p++, v.len--;
    while (v.len && is_space(v.p[v.len - 1]))
        v.len--;
    return v;
}

/* Decode span v into c->t (trimmed, UTF-8).  Returns c->t.len; the HL7 null
 * "" (also with white space around it) counts as empty. */
static size_t dec(struct mctx *c, struct hl7_span v)
{
    buf_reset(&c->t);
    if (hl7_span_is_null(span_trim(v)))
        return 0;
    hl7_unescape_buf(c->d, v, &c->t);
    clean_text(&c->t);
    trim(&c->t);
    return c->t.len;
}

/* Value of segment index seg into c->t; returns its length (0 = absent). */
static size_t get(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub)
{
    struct hl7_span v;
    buf_reset(&c->t);
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, r, comp, sub, &v))
        return 0;
    return dec(c, v);
}

/* Repetitions of field f of segment seg in one pass; none when the field is
 * absent or empty (as hl7_seg_rep_count() counts them). */
static void reps_init(struct mctx *c, long seg, size_t f, struct hl7_iter *it)
{
    struct hl7_span v = {"", 0};
    hl7_iter_init(it, v);
    it->done = true;
    if (seg >= 0 && !hl7_seg_get(c->m, (size_t)seg, f, 0, 0, 0, &v) && v.len > 0)
        hl7_iter_init(it, v);
}

#define FOR_REPS(c, seg, f, it, v)                                                                 \
    for (reps_init(c, seg, f, &(it)); hl7_iter_next(&(it), (c)->d->rep, &(v));)

/* JSON string of the value, or NULL if absent. */
static json_t *jget(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub)
{
    if (!get(c, seg, f, r, comp, sub))
        return NULL;
    return json_stringn(c->t.data, c->t.len);
}

static json_t *jspan(struct mctx *c, struct hl7_span v)
{
    if (!dec(c, v))
        return NULL;
    return json_stringn(c->t.data, c->t.len);
}

/* snprintf's result as the length actually written into a buffer of cap. */
static size_t clamp_len(int n, size_t cap)
{
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void set_if(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

static void append_if(json_t *a, json_t *v)
{
    if (v)
        json_array_append_new(a, v);
}

/* Set o[key] to a if it has items, else drop it. */
static void set_array(json_t *o, const char *key, json_t *a)
{
    if (json_array_size(a) > 0)
        json_object_set_new(o, key, a);
    else
        json_decref(a);
}

static int span_eq_ci(struct hl7_span s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = s.p[i], b = lit[i];
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 32);
        if (a != b)
            return 0;
    }
    return 1;
}

/* ---- dates ------------------------------------------------------------ */

static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Day (of month) of the last Sunday of month m in year y. */
static int last_sunday(int y, int m)
{
    int last = days_in_month(y, m);
    long long dn = days_from_civil(y, m, last);
    int wd = (int)(((dn % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    return last - wd;
}

/* UK offset in minutes for a local wall-clock time (BST: last Sunday of
 * March 01:00 to last Sunday of October 01:00 UTC; the hour around each
 * change is taken as the later offset). */
static int uk_offset(int y, int mo, int d, int h)
{
    if (mo < 3 || mo > 10)
        return 0;
    if (mo > 3 && mo < 10)
        return 60;
    int ls = last_sunday(y, mo);
    if (mo == 3)
        return (d > ls || (d == ls && h >= 1)) ? 60 : 0;
    return (d < ls || (d == ls && h < 1)) ? 60 : 0;
}

static int digits(const char *s, size_t n, size_t at, size_t k, int *v)
{
    if (at + k > n)
        return 0;
    int x = 0;
    for (size_t i = at; i < at + k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

int hl7_map_datetime(const char *s, size_t len, int kind, char *out, size_t cap, long long *epoch)
{
    int y, mo = 0, d = 0, h = -1, mi = 0, se = 0, tz = 0, have_tz = 0;
    size_t i = 0;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (!digits(s, len, 0, 4, &y) || y < 1800 || y > 2200)
        return WEFT_EINVAL;
    i = 4;
    char frac[8] = "";
    if (digits(s, len, i, 2, &mo)) {
        i += 2;
        if (mo < 1 || mo > 12)
            return WEFT_EINVAL;
        if (digits(s, len, i, 2, &d)) {
            i += 2;
            if (d < 1 || d > days_in_month(y, mo))
                return WEFT_EINVAL;
            if (digits(s, len, i, 2, &h)) {
                i += 2;
                if (h > 23)
                    return WEFT_EINVAL;
                if (digits(s, len, i, 2, &mi)) {
                    i += 2;
                    if (mi > 59)
                        return WEFT_EINVAL;
                    if (digits(s, len, i, 2, &se)) {
                        i += 2;
                        if (se > 59)
                            return WEFT_EINVAL;
                        if (i < len && s[i] == '.') {
                            size_t k = 0;
                            i++;
                            while (i < len && s[i] >= '0' && s[i] <= '9') {
                                if (k < 4)
                                    frac[k++] = s[i];
                                i++;
                            }
                            frac[k] = 0;
                        }
                    }
                }
            }
        }
    }
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        int zh, zm;
        if (!digits(s, len, i + 1, 2, &zh) || !digits(s, len, i + 3, 2, &zm) || zh > 14 || zm > 59)
            return WEFT_EINVAL;
        tz = (zh * 60 + zm) * (s[i] == '-' ? -1 : 1);
        have_tz = 1;
        i += 5;
    }
    if (i != len)
        return WEFT_EINVAL;
    if (kind == 2 && h < 0)
        return WEFT_EINVAL;
    if (h >= 0 && !have_tz)
        tz = uk_offset(y, mo, d, h);
    if (epoch) {
        long long dn = days_from_civil(y, mo ? mo : 1, d ? d : 1);
        *epoch = dn * 86400 + (h > 0 ? h : 0) * 3600 + mi * 60 + se - (long long)tz * 60;
    }
    if (kind == 0 || h < 0) {
        if (mo == 0)
            snprintf(out, cap, "%04d", y);
        else if (d == 0)
            snprintf(out, cap, "%04d-%02d", y, mo);
        else
            snprintf(out, cap, "%04d-%02d-%02d", y, mo, d);
        return 0;
    }
    char z[16];
    if (tz == 0)
        snprintf(z, sizeof z, "Z");
    else
        snprintf(z, sizeof z, "%c%02d:%02d", tz < 0 ? '-' : '+', abs(tz) / 60, abs(tz) % 60);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%s%s", y, mo, d, h, mi, se,
             frac[0] ? "." : "", frac, z);
    return 0;
}

/* Date/time value at the given place as a JSON string, or NULL. */
static json_t *jdate(struct mctx *c, long seg, size_t f, size_t r, size_t comp, int kind)
{
    if (!get(c, seg, f, r, comp, 0))
        return NULL;
    char out[48];
    if (hl7_map_datetime(c->t.data, c->t.len, kind, out, sizeof out, NULL))
        return NULL;
    return json_string(out);
}

/* ---- codes ------------------------------------------------------------ */

const char *hl7_map_code_system(const char *name, size_t len)
{
    static const struct {
        const char *name, *uri;
    } t[] = {
        {"SCT", SNOMED_SYSTEM},
        {"SNOMED", SNOMED_SYSTEM},
        {"SNOMEDCT", SNOMED_SYSTEM},
        {"SNOMED-CT", SNOMED_SYSTEM},
        {"SNM", SNOMED_SYSTEM},
        {"SNM3", SNOMED_SYSTEM},
        {"LN", LOINC_SYSTEM},
        {"LOINC", LOINC_SYSTEM},
        {"I10", "http://hl7.org/fhir/sid/icd-10"},
        {"ICD10", "http://hl7.org/fhir/sid/icd-10"},
        {"ICD-10", "http://hl7.org/fhir/sid/icd-10"},
        {"I10C", "http://hl7.org/fhir/sid/icd-10-cm"},
        {"ICD10CM", "http://hl7.org/fhir/sid/icd-10-cm"},
        {"I9", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"I9C", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"ICD9", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"UCUM", UCUM_SYSTEM},
        {"CVX", "http://hl7.org/fhir/sid/cvx"},
        {"RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"},
        {"RXN", "http://www.nlm.nih.gov/research/umls/rxnorm"},
        {"NDC", "http://hl7.org/fhir/sid/ndc"},
        {"C4", "http://www.ama-assn.org/go/cpt"},
        {"CPT", "http://www.ama-assn.org/go/cpt"},
        {"READ", "http://read.info/readv2"},
        {"RD2", "http://read.info/readv2"},
        {"CTV3", "http://read.info/ctv3"},
        {"DMD", "https://dmd.nhs.uk"},
    };
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct hl7_span s = {name, len};
        if (span_eq_ci(s, t[i].name))
            return t[i].uri;
    }
    if (len >= 6 && len <= 8 && !memcmp(name, "HL7", 3)) {
        int ok = 1;
        for (size_t i = 3; i < len; i++)
            ok &= name[i] >= '0' && name[i] <= '9';
        if (ok) {
            static __thread char uri[64];
            snprintf(uri, sizeof uri, "http://terminology.hl7.org/CodeSystem/v2-%.*s",
                     (int)(len - 3), name + 3);
            return uri;
        }
    }
    return NULL;
}

/* One Coding from code/text/system at components base, base+1, base+2. */
static json_t *coding_at(struct mctx *c, struct hl7_span v, size_t base, const char *dflt_system)
{
    json_t *cd = json_object();
    struct hl7_span code = hl7_span_part(v, c->d->comp, base);
    struct hl7_span text = hl7_span_part(v, c->d->comp, base + 1);
    struct hl7_span sys = hl7_span_part(v, c->d->comp, base + 2);
    if (dec(c, sys)) {
        const char *uri = hl7_map_code_system(c->t.data, c->t.len);
        json_object_set_new(cd, "system",
                            uri ? json_string(uri) : json_stringn(c->t.data, c->t.len));
    } else if (dflt_system) {
        json_object_set_new(cd, "system", json_string(dflt_system));
    }
    set_if(cd, "code", jspan(c, code));
    set_if(cd, "display", jspan(c, text));
    if (!json_object_get(cd, "code")) {
        json_decref(cd);
        return NULL;
    }
    return cd;
}

/* CodeableConcept from a CE/CWE/CNE span (first repetition given). */
static json_t *concept_span(struct mctx *c, struct hl7_span v, const char *dflt_system)
{
    json_t *cc = json_object();
    json_t *codings = json_array();
    append_if(codings, coding_at(c, v, 1, dflt_system));
    append_if(codings, coding_at(c, v, 4, NULL));
    set_array(cc, "coding", codings);
    json_t *txt = jspan(c, hl7_span_part(v, c->d->comp, 2));
    if (!txt && hl7_span_count(v, c->d->comp) >= 9)
        txt = jspan(c, hl7_span_part(v, c->d->comp, 9)); /* CWE-9 original text */
    set_if(cc, "text", txt);
    if (json_object_size(cc) == 0) {
        json_decref(cc);
        return NULL;
    }
    return cc;
}

static json_t *concept(struct mctx *c, long seg, size_t f, size_t r, const char *dflt_system)
{
    struct hl7_span v;
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, r ? r : 1, 0, 0, &v) || v.len == 0)
        return NULL;
    return concept_span(c, v, dflt_system);
}

static json_t *concept_code(const char *system, const char *code, const char *display)
{
    json_t *cd = json_pack("{s:s,s:s}", "system", system, "code", code);
    if (display)
        json_object_set_new(cd, "display", json_string(display));
    return json_pack("{s:[o]}", "coding", cd);
}

/* ---- bundle ----------------------------------------------------------- */

/* Add resource res (stolen) as type/id; writes its fullUrl to url_out. */
static void add_entry(struct mctx *c, const char *type, const char *want_id, json_t *res,
                      char *id_out, char url_out[64])
{
    char id[65], key[160], base[160];
    snprintf(id, sizeof id, "%s", want_id);
    snprintf(base, sizeof base, "%s/%s", type, id);
    memcpy(key, base, sizeof key);
    /* seen["Type/id"] holds the last suffix tried for that base id, so many
     * entries wanting one id cost one lookup each, not one per earlier twin */
    json_t *last = json_object_get(c->seen, base);
    if (last) {
        json_int_t k = json_integer_value(last);
        for (;;) {
            k++;
            char suffix[24];
            int sl = snprintf(suffix, sizeof suffix, "-%lld", (long long)k);
            size_t bl = strlen(want_id);
            if (bl + (size_t)sl > 64)
                bl = 64 - (size_t)sl;
            snprintf(id, sizeof id, "%.*s%s", (int)bl, want_id, suffix);
            snprintf(key, sizeof key, "%s/%s", type, id);
            if (!json_object_get(c->seen, key))
                break;
        }
        json_integer_set(last, k);
    }
    json_object_set_new(c->seen, key, json_integer(1));
    char url[64];
    make_uuid(type, id, url);
    json_object_set_new(res, "resourceType", json_string(type));
    json_object_set_new(res, "id", json_string(id));
    json_t *e = json_object();
    json_object_set_new(e, "fullUrl", json_string(url));
    json_object_set_new(e, "resource", res);
    json_object_set_new(e, "request", json_pack("{s:s,s:s}", "method", "PUT", "url", key));
    json_array_append_new(c->entries, e);
    if (id_out)
        memcpy(id_out, id, strlen(id) + 1);
    if (url_out)
        memcpy(url_out, url, strlen(url) + 1);
}

static json_t *ref(const char *url)
{
    return json_pack("{s:s}", "reference", url);
}

static json_t *patient_ref(struct mctx *c)
{
    return ref(c->pat_url);
}

/* An id from parts joined with '-'. */
static void make_id(char out[65], const char *a, const char *b, const char *d)
{
    char tmp[512];
    int n = snprintf(tmp, sizeof tmp, "%s%s%s%s%s", a, b && *b ? "-" : "", b ? b : "",
                     d && *d ? "-" : "", d ? d : "");
    hl7_map_fhir_id(tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1, out);
}

static int fail(struct mctx *c, int rc, const char *seg, int field, int code, const char *why)
{
    c->r->ack_code = "AR";
    snprintf(c->r->reason, sizeof c->r->reason, "%s", why);
    if (seg) {
        snprintf(c->r->err_segment, sizeof c->r->err_segment, "%s", seg);
        c->r->err.segment = c->r->err_segment;
        c->r->err.seg_seq = 1;
        c->r->err.field = field;
    }
    c->r->err.code = code;
    return rc;
}

/* ---- Patient ---------------------------------------------------------- */

static int nhs_valid(const char *s, size_t n)
{
    if (n != 10)
        return 0;
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (i < 9)
            sum += (s[i] - '0') * (10 - i);
    }
    int chk = 11 - sum % 11;
    if (chk == 11)
        chk = 0;
    return chk != 10 && chk == s[9] - '0';
}

/* FHIR Identifier from a CX span; kind_out gets the identifier type (lower
 * case, "nhs" for NHS numbers).  NULL when the CX has no value. */
static json_t *identifier_cx(struct mctx *c, struct hl7_span cx, char kind_out[16])
{
    char value[128], type[16] = "", auth[32] = "";
    if (!dec(c, hl7_span_part(cx, c->d->comp, 1)))
        return NULL;
    snprintf(value, sizeof value, "%.*s", (int)c->t.len, c->t.data);
    struct hl7_span auth_s = hl7_span_part(hl7_span_part(cx, c->d->comp, 4), c->d->sub, 1);
    if (dec(c, auth_s))
        snprintf(auth, sizeof auth, "%.*s", (int)c->t.len, c->t.data);
    if (dec(c, hl7_span_part(cx, c->d->comp, 5)))
        snprintf(type, sizeof type, "%.*s", (int)c->t.len, c->t.data);
    json_t *id = json_object();
    int is_nhs = !strcmp(type, "NH") || !strcmp(type, "NHS") || !strcmp(type, "NHSNBR") ||
                 !strcmp(auth, "NHS") || !strcmp(auth, "NHSNBR");
    /* spaces inside NHS numbers are common ("999 123 4567") */
    char compact[16];
    size_t cl = 0;
    for (size_t i = 0; value[i] && cl < sizeof compact - 1; i++)
        if (value[i] != ' ')
            compact[cl++] = value[i];
    compact[cl] = 0;
    if (is_nhs && nhs_valid(compact, cl)) {
        json_object_set_new(id, "system", json_string(NHS_NUMBER_SYSTEM));
        json_object_set_new(id, "value", json_string(compact));
        snprintf(kind_out, 16, "nhs");
        return id;
    }
    char kind[16];
    if (is_nhs)
        snprintf(kind, sizeof kind, "nh-unverified");
    else if (type[0]) {
        size_t k = 0;
        for (; type[k] && k < sizeof kind - 1; k++) {
            char ch = type[k];
            kind[k] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
            if (!((kind[k] >= 'a' && kind[k] <= 'z') || (kind[k] >= '0' && kind[k] <= '9')))
                kind[k] = '-';
        }
        kind[k] = 0;
    } else
        snprintf(kind, sizeof kind, "local");
    char sys[96];
    snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:%s", c->ods, kind);
    json_object_set_new(id, "system", json_string(sys));
    json_object_set_new(id, "value", json_string(value));
    if (type[0])
        json_object_set_new(id, "type",
                            json_pack("{s:[{s:s,s:s}]}", "coding", "system",
                                      "http://terminology.hl7.org/CodeSystem/v2-0203", "code",
                                      type));
    snprintf(kind_out, 16, "%s", kind);
    return id;
}

static json_t *human_name(struct mctx *c, struct hl7_span xpn)
{
    json_t *n = json_object();
    const char comp = c->d->comp;
    set_if(n, "family", jspan(c, hl7_span_part(hl7_span_part(xpn, comp, 1), c->d->sub, 1)));
    json_t *given = json_array();
    append_if(given, jspan(c, hl7_span_part(xpn, comp, 2)));
    append_if(given, jspan(c, hl7_span_part(xpn, comp, 3)));
    set_array(n, "given", given);
    json_t *suffix = json_array();
    append_if(suffix, jspan(c, hl7_span_part(xpn, comp, 4)));
    set_array(n, "suffix", suffix);
    json_t *prefix = json_array();
    append_if(prefix, jspan(c, hl7_span_part(xpn, comp, 5)));
    set_array(n, "prefix", prefix);
    if (json_object_size(n) == 0) {
        json_decref(n);
        return NULL;
    }
    struct hl7_span use = hl7_span_part(xpn, comp, 7);
    const char *u = NULL;
    if (hl7_span_eq(use, "L"))
        u = "official";
    else if (hl7_span_eq(use, "D"))
        u = "usual";
    else if (hl7_span_eq(use, "M") || hl7_span_eq(use, "B"))
        u = "maiden";
    else if (hl7_span_eq(use, "N"))
        u = "nickname";
    else if (hl7_span_eq(use, "A") || hl7_span_eq(use, "S"))
        u = "anonymous";
    else if (hl7_span_eq(use, "U"))
        u = "temp";
    if (u)
        json_object_set_new(n, "use", json_string(u));
    return n;
}

static json_t *address(struct mctx *c, struct hl7_span xad)
{
    json_t *a = json_object();
    const char comp = c->d->comp;
    json_t *lines = json_array();
    append_if(lines, jspan(c, hl7_span_part(hl7_span_part(xad, comp, 1), c->d->sub, 1)));
    append_if(lines, jspan(c, hl7_span_part(xad, comp, 2)));
    set_array(a, "line", lines);
    set_if(a, "city", jspan(c, hl7_span_part(xad, comp, 3)));
    set_if(a, "district", jspan(c, hl7_span_part(xad, comp, 4)));
    set_if(a, "postalCode", jspan(c, hl7_span_part(xad, comp, 5)));
    set_if(a, "country", jspan(c, hl7_span_part(xad, comp, 6)));
    if (json_object_size(a) == 0) {
        json_decref(a);
        return NULL;
    }
    struct hl7_span type = hl7_span_part(xad, comp, 7);
    if (hl7_span_eq(type, "H") || hl7_span_eq(type, "L"))
        json_object_set_new(a, "use", json_string("home"));
    else if (hl7_span_eq(type, "B") || hl7_span_eq(type, "O"))
        json_object_set_new(a, "use", json_string("work"));
    else if (hl7_span_eq(type, "C"))
        json_object_set_new(a, "use", json_string("temp"));
    return a;
}

static json_t *telecom(struct mctx *c, struct hl7_span xtn, const char *dflt_use)
{
    const char comp = c->d->comp;
    struct hl7_span use = hl7_span_part(xtn, comp, 2);
    struct hl7_span equip = hl7_span_part(xtn, comp, 3);
    json_t *t = json_object();
    const char *system = "phone";
    json_t *value = NULL;
    if (hl7_span_eq(equip, "Internet") || hl7_span_eq(equip, "X.400") || hl7_span_eq(use, "NET")) {
        system = "email";
        value = jspan(c, hl7_span_part(xtn, comp, 4));
    } else if (hl7_span_eq(equip, "FX")) {
        system = "fax";
    }
    if (!value)
        value = jspan(c, hl7_span_part(xtn, comp, 1));
    if (!value)
        value = jspan(c, hl7_span_part(xtn, comp, 12));
    if (!value) {
        char num[96];
        size_t n = 0;
        if (dec(c, hl7_span_part(xtn, comp, 6)))
            n = clamp_len(snprintf(num, sizeof num, "%.*s ", (int)c->t.len, c->t.data), sizeof num);
        if (dec(c, hl7_span_part(xtn, comp, 7))) {
            snprintf(num + n, sizeof num - n, "%.*s", (int)c->t.len, c->t.data);
            value = json_string(num);
        }
    }
    if (!value) {
        json_decref(t);
        return NULL;
    }
    json_object_set_new(t, "system", json_string(system));
    json_object_set_new(t, "value", value);
    const char *u = dflt_use;
    if (hl7_span_eq(equip, "CP"))
        u = "mobile";
    if (u)
        json_object_set_new(t, "use", json_string(u));
    return t;
}

/* ---- omitted fields and the HL7 null (see the top of this file) ------ */

/* What field values say about the element they map to. */
enum presence {
    P_OMITTED = 0, /* not sent, empty or only delimiters: no information */
    P_NULL,        /* only "" (and delimiters): the HL7 null, delete the value */
    P_VALUED,      /* anything else */
};

/* Presence of a sent value: P_VALUED when any repetition, component or
 * subcomponent holds something other than white space or "". */
static enum presence presence_span(const struct hl7_delims *d, struct hl7_span v)
{
    enum presence p = P_OMITTED;
    size_t i = 0;
    while (i < v.len) {
        size_t j = i;
        while (j < v.len && v.p[j] != d->rep && v.p[j] != d->comp && v.p[j] != d->sub)
            j++;
        struct hl7_span a = span_trim((struct hl7_span){v.p + i, j - i});
        if (hl7_span_is_null(a))
            p = P_NULL;
        else if (a.len)
            return P_VALUED;
        i = j + 1;
    }
    return p;
}

/* Presence of field f of segment seg (P_OMITTED when either is not there). */
static enum presence presence(struct mctx *c, long seg, size_t f)
{
    struct hl7_span v;
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, 0, 0, 0, &v))
        return P_OMITTED;
    return presence_span(c->d, v);
}

/* The rule for one Patient element made from fields whose presences are
 * p[0..n-1]: when the mapping set it (set), nothing to do; else, when a
 * field was the HL7 null, the element is cleared (left out, not listed);
 * else it is named in keep, so the loader keeps the previous value.  A field
 * sent with a value that maps to nothing (an impossible date, an unknown
 * code) counts as omitted: the sender did not ask to delete anything. */
static void keep_or_clear(json_t *keep, const char *element, bool set, const enum presence *p,
                          size_t n)
{
    if (set)
        return;
    for (size_t i = 0; i < n; i++)
        if (p[i] == P_NULL)
            return;
    json_array_append_new(keep, json_string(element));
}

/* The last entry added gets keep as its LOAD_KEEP_ABSENT (stolen; dropped
 * when empty). */
static void keep_attach(struct mctx *c, json_t *keep)
{
    json_t *entry = json_array_get(c->entries, json_array_size(c->entries) - 1);
    if (entry && json_array_size(keep))
        json_object_set_new(entry, LOAD_KEEP_ABSENT, keep);
    else
        json_decref(keep);
}

static json_t *gender(struct hl7_span s)
{
    if (span_eq_ci(s, "M"))
        return json_string("male");
    if (span_eq_ci(s, "F"))
        return json_string("female");
    if (span_eq_ci(s, "O") || span_eq_ci(s, "A"))
        return json_string("other");
    if (span_eq_ci(s, "U") || span_eq_ci(s, "N"))
        return json_string("unknown");
    return NULL;
}

/* Patient.contact from every NK1.  No NK1 segment: contact is omitted
 * (kept); NK1 segments that make no contact clear it when one of their
 * fields 2-7 is "", else they count as omitted too (senders' empty
 * placeholder "NK1|1"). */
static void map_contacts(struct mctx *c, json_t *pat, json_t *keep)
{
    json_t *contacts = json_array();
    enum presence p = P_OMITTED;
    for (long k = hl7_seg_find(c->m, "NK1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "NK1")) {
        for (size_t f = 2; f <= 7; f++)
            if (presence(c, k, f) == P_NULL)
                p = P_NULL;
        json_t *ct = json_object();
        struct hl7_span v;
        if (!hl7_seg_get(c->m, (size_t)k, 2, 1, 0, 0, &v))
            set_if(ct, "name", human_name(c, v));
        json_t *rels = json_array();
        json_t *rel = concept(c, k, 3, 1, "http://terminology.hl7.org/CodeSystem/v2-0063");
        append_if(rels, rel);
        append_if(rels, concept(c, k, 7, 1, "http://terminology.hl7.org/CodeSystem/v2-0131"));
        set_array(ct, "relationship", rels);
        if (!hl7_seg_get(c->m, (size_t)k, 4, 1, 0, 0, &v))
            set_if(ct, "address", address(c, v));
        json_t *tel = json_array();
        struct hl7_iter it;
        FOR_REPS(c, k, 5, it, v)
        append_if(tel, telecom(c, v, "home"));
        FOR_REPS(c, k, 6, it, v)
        append_if(tel, telecom(c, v, "work"));
        set_array(ct, "telecom", tel);
        if (json_object_get(ct, "name") || json_object_get(ct, "telecom") ||
            json_object_get(ct, "address"))
            json_array_append_new(contacts, ct);
        else
            json_decref(ct);
    }
    set_array(pat, "contact", contacts);
    keep_or_clear(keep, "contact", json_object_get(pat, "contact") != NULL, &p, 1);
}

/* Patient.generalPractitioner from PD1-3 and PD1-4 (no PD1: omitted). */
static void map_gp(struct mctx *c, json_t *pat, json_t *keep)
{
    long pd1 = hl7_seg_find(c->m, "PD1", 1);
    const enum presence p[2] = {presence(c, pd1, 3), presence(c, pd1, 4)};
    json_t *gps = json_array();
    struct hl7_span v;
    /* PD1-3 practice (XON): name, XON-3 (v2.4) or XON-10 (v2.5+) the ODS code */
    if (pd1 >= 0 && !hl7_seg_get(c->m, (size_t)pd1, 3, 1, 0, 0, &v) && v.len) {
        json_t *org = json_object();
        json_t *code = jspan(c, hl7_span_part(v, c->d->comp, 10));
        if (!code)
            code = jspan(c, hl7_span_part(v, c->d->comp, 3));
        if (code)
            json_object_set_new(org, "identifier",
                                json_pack("{s:s,s:o}", "system", ODS_SYSTEM, "value", code));
        set_if(org, "display", jspan(c, hl7_span_part(v, c->d->comp, 1)));
        if (json_object_size(org)) {
            json_object_set_new(org, "type", json_string("Organization"));
            json_array_append_new(gps, org);
        } else
            json_decref(org);
    }
    /* PD1-4 GP (XCN): id^family^given */
    if (pd1 >= 0 && !hl7_seg_get(c->m, (size_t)pd1, 4, 1, 0, 0, &v) && v.len) {
        json_t *gp = json_object();
        json_t *code = jspan(c, hl7_span_part(v, c->d->comp, 1));
        if (code)
            json_object_set_new(gp, "identifier",
                                json_pack("{s:s,s:o}", "system",
                                          "https://fhir.hl7.org.uk/Id/gmp-number", "value", code));
        char disp[160] = "";
        size_t dl = 0;
        if (dec(c, hl7_span_part(v, c->d->comp, 3)))
            dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data),
                           sizeof disp);
        if (dec(c, hl7_span_part(v, c->d->comp, 2)))
            snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
        if (disp[0])
            json_object_set_new(gp, "display", json_string(disp));
        if (json_object_size(gp)) {
            json_object_set_new(gp, "type", json_string("Practitioner"));
            json_array_append_new(gps, gp);
        } else
            json_decref(gp);
    }
    set_array(pat, "generalPractitioner", gps);
    keep_or_clear(keep, "generalPractitioner", json_object_get(pat, "generalPractitioner") != NULL,
                  p, 2);
}

/* Patient from PID (+ PD1, NK1).  Returns 0 or a failure. */
static int map_patient(struct mctx *c)
{
    long pid = hl7_seg_find(c->m, "PID", 1);
    if (pid < 0)
        return fail(c, WEFT_EINVAL, "PID", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "message has no PID segment: no patient to file it against");
    json_t *pat = json_object();
    json_t *ids = json_array();
    char best[160] = "";
    int best_rank = 99;
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, pid, 3, it, cx)
    {
        char kind[16];
        json_t *id = identifier_cx(c, cx, kind);
        if (!id)
            continue;
        /* the Patient's source id: prefer MR, then PI, then other local, then NHS */
        int rank = !strcmp(kind, "mr") ? 0 : !strcmp(kind, "pi") ? 1 : !strcmp(kind, "nhs") ? 3 : 2;
        if (rank < best_rank) {
            best_rank = rank;
            snprintf(best, sizeof best, "%s-%s", kind,
                     json_string_value(json_object_get(id, "value")));
        }
        json_array_append_new(ids, id);
    }
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        json_decref(pat);
        return fail(c, WEFT_EINVAL, "PID", 3, HL7_ERR_REQUIRED_FIELD,
                    "PID-3 (patient identifier list) holds no identifier");
    }
    json_object_set_new(pat, "identifier", ids);
    /* every other element: set, cleared ("") or named in keep (omitted);
     * the identifiers are merged by system ("+identifier"): a lab's thin
     * PID-3 (hospital number only) keeps the NHS number the PAS sent */
    json_t *keep = json_array();
    json_array_append_new(keep, json_string("+identifier"));
    enum presence p[2];
    json_t *names = json_array();
    struct hl7_span v;
    FOR_REPS(c, pid, 5, it, v)
    {
        append_if(names, human_name(c, v));
    }
    set_array(pat, "name", names);
    p[0] = presence(c, pid, 5);
    keep_or_clear(keep, "name", json_object_get(pat, "name") != NULL, p, 1);
    set_if(pat, "birthDate", jdate(c, pid, 7, 1, 1, 0));
    p[0] = presence(c, pid, 7);
    keep_or_clear(keep, "birthDate", json_object_get(pat, "birthDate") != NULL, p, 1);
    if (!hl7_seg_get(c->m, (size_t)pid, 8, 1, 1, 0, &v))
        set_if(pat, "gender", gender(span_trim(v)));
    p[0] = presence(c, pid, 8);
    keep_or_clear(keep, "gender", json_object_get(pat, "gender") != NULL, p, 1);
    json_t *addrs = json_array();
    FOR_REPS(c, pid, 11, it, v)
    {
        append_if(addrs, address(c, v));
    }
    set_array(pat, "address", addrs);
    p[0] = presence(c, pid, 11);
    keep_or_clear(keep, "address", json_object_get(pat, "address") != NULL, p, 1);
    json_t *tel = json_array();
    FOR_REPS(c, pid, 13, it, v)
    {
        append_if(tel, telecom(c, v, "home"));
    }
    FOR_REPS(c, pid, 14, it, v)
    {
        append_if(tel, telecom(c, v, "work"));
    }
    set_array(pat, "telecom", tel);
    p[0] = presence(c, pid, 13), p[1] = presence(c, pid, 14);
    keep_or_clear(keep, "telecom", json_object_get(pat, "telecom") != NULL, p, 2);
    /* PID-29 death time, else PID-30 death indicator (Y/N; anything else,
     * and "", makes no deceasedBoolean) */
    json_t *dd = jdate(c, pid, 29, 1, 1, 1);
    if (dd)
        json_object_set_new(pat, "deceasedDateTime", dd);
    else if (!hl7_seg_get(c->m, (size_t)pid, 30, 1, 1, 0, &v) &&
             (span_eq_ci(span_trim(v), "Y") || span_eq_ci(span_trim(v), "N")))
        json_object_set_new(pat, "deceasedBoolean", json_boolean(span_eq_ci(span_trim(v), "Y")));
    p[0] = presence(c, pid, 29), p[1] = presence(c, pid, 30);
    keep_or_clear(keep, "deceased[x]",
                  json_object_get(pat, "deceasedDateTime") != NULL ||
                      json_object_get(pat, "deceasedBoolean") != NULL,
                  p, 2);
    map_gp(c, pat, keep);
    map_contacts(c, pat, keep);
    char id[65];
    hl7_map_fhir_id(best, strlen(best), id);
    add_entry(c, "Patient", id, pat, c->pat_id, c->pat_url);
    keep_attach(c, keep);
    return 0;
}

/* ---- Encounter -------------------------------------------------------- */

static void location_display(struct mctx *c, long pv1, size_t field, struct buf *out)
{
    static const char *const labels[] = {"", "", "room ", "bed ",      "",
                                         "", "", "",      "building ", "floor "};
    struct hl7_span v;
    buf_reset(out);
    if (hl7_seg_get(c->m, (size_t)pv1, field, 1, 0, 0, &v) || v.len == 0)
        return;
    const size_t order[] = {4, 1, 2, 3, 8, 9};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t k = order[i];
        if (!dec(c, hl7_span_part(hl7_span_part(v, c->d->comp, k), c->d->sub, 1)))
            continue;
        if (out->len)
            buf_adds(out, ", ");
        buf_adds(out, labels[k]);
        buf_add(out, c->t.data, c->t.len);
    }
}

/* Encounter.location.status for a stay of status st (as fhir/load.c's
 * LOAD_KEEP_ABSENT rule for a "?status" Encounter does). */
static const char *location_status(const char *st)
{
    if (!strcmp(st, "planned"))
        return "planned";
    if (!strcmp(st, "finished") || !strcmp(st, "cancelled") || !strcmp(st, "entered-in-error"))
        return "completed";
    return "active";
}

static int map_encounter(struct mctx *c, const char *trigger)
{
    long pv1 = hl7_seg_find(c->m, "PV1", 1);
    if (pv1 < 0)
        return 0;
    struct hl7_span pclass;
    hl7_seg_get(c->m, (size_t)pv1, 2, 1, 1, 0, &pclass);
    if (hl7_span_eq(pclass, "N")) /* "not applicable": no visit */
        return 0;
    long evn = hl7_seg_find(c->m, "EVN", 1);
    json_t *admit = jdate(c, pv1, 44, 1, 1, 1);
    json_t *disch = jdate(c, pv1, 45, 1, 1, 1);
    /* identity: the visit number, else the admit time */
    char visit[96] = "";
    if (get(c, pv1, 19, 1, 1, 0))
        snprintf(visit, sizeof visit, "%.*s", (int)c->t.len, c->t.data);
    char id[65];
    bool admission = !strcmp(trigger, "A01") || !strcmp(trigger, "A04");
    json_t *evtime = NULL;
    if (!visit[0] && !admit && admission) {
        /* an admission with neither a visit number nor an admit time: the
         * stay is keyed, and starts, at the event time (EVN-2, else MSH-7) */
        evtime = jdate(c, evn, 2, 1, 1, 1);
        if (!evtime)
            evtime = jdate(c, 0, 7, 1, 1, 1);
    }
    if (visit[0])
        make_id(id, "enc", visit, NULL);
    else if (admit)
        make_id(id, "enc", c->pat_id, json_string_value(admit));
    else if (evtime)
        make_id(id, "enc", c->pat_id, json_string_value(evtime));
    else {
        json_decref(admit);
        json_decref(disch);
        return 0; /* nothing stable to name it by: Patient only */
    }
    json_t *enc = json_object();
    /* Omitted PV1 fields keep what is stored (the Patient's rule, see the
     * top of this file): an A08 that restates demographics must not reopen
     * a finished stay, nor an A03 without PV1-44 lose the admission time.
     * "?name": a default is set for a new encounter, the stored value wins. */
    json_t *keep = json_array();
    const char *status = "in-progress";
    if (!strcmp(trigger, "A08") && !disch && presence(c, pv1, 45) != P_NULL)
        json_array_append_new(keep, json_string("?status"));
    if (!strcmp(trigger, "A03"))
        status = "finished";
    else if (!strcmp(trigger, "A05"))
        status = "planned";
    else if (!strcmp(trigger, "A11"))
        status = "entered-in-error";
    else if (!strcmp(trigger, "A13"))
        status = "in-progress";
    else if (!strcmp(trigger, "A08") && disch)
        status = "finished";
    json_object_set_new(enc, "status", json_string(status));
    const char *code = "AMB", *disp = "ambulatory";
    if (hl7_span_eq(pclass, "I") || hl7_span_eq(pclass, "B"))
        code = "IMP", disp = "inpatient encounter";
    else if (hl7_span_eq(pclass, "E"))
        code = "EMER", disp = "emergency";
    else if (hl7_span_eq(pclass, "P"))
        code = "PRENC", disp = "pre-admission";
    else if (pclass.len == 0 && (!strcmp(trigger, "A01") || !strcmp(trigger, "A02")))
        code = "IMP", disp = "inpatient encounter";
    json_object_set_new(enc, "class",
                        json_pack("{s:s,s:s,s:s}", "system",
                                  "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code", code,
                                  "display", disp));
    if (presence(c, pv1, 2) != P_VALUED) /* a default: class is required */
        json_array_append_new(keep, json_string("?class"));
    if (visit[0]) {
        char sys[96];
        snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:visit", c->ods);
        json_object_set_new(enc, "identifier",
                            json_pack("[{s:s,s:s}]", "system", sys, "value", visit));
    }
    json_object_set_new(enc, "subject", patient_ref(c));
    /* period: PV1-44/45, else the event time for admit and discharge events */
    json_t *period = json_object();
    if (evtime) /* keyed by it: the stay starts then */
        admit = evtime;
    else if (!admit && admission && evn >= 0) {
        admit = jdate(c, evn, 6, 1, 1, 1);
        if (!admit)
            admit = jdate(c, evn, 2, 1, 1, 1);
    }
    if (!disch && !strcmp(trigger, "A03") && evn >= 0) {
        disch = jdate(c, evn, 6, 1, 1, 1);
        if (!disch)
            disch = jdate(c, evn, 2, 1, 1, 1);
    }
    if (!admit && presence(c, pv1, 44) != P_NULL)
        json_array_append_new(keep, json_string("period.start"));
    set_if(period, "start", admit);
    if (!strcmp(trigger, "A13")) { /* discharge cancelled: open again */
        json_decref(disch);
    } else {
        if (!disch && presence(c, pv1, 45) != P_NULL)
            json_array_append_new(keep, json_string("period.end"));
        set_if(period, "end", disch);
    }
    if (json_object_size(period))
        json_object_set_new(enc, "period", period);
    else
        json_decref(period);
    struct buf loc = BUF_INIT;
    location_display(c, pv1, 3, &loc);
    /* the location's status follows the stay's: when the stored status
     * wins ("?status", an A08 restating the ward) it is left out and the
     * loader sets it from the merged status */
    bool stay_known = !json_array_size(keep) ||
                      strcmp(json_string_value(json_array_get(keep, 0)), "?status") != 0;
    if (loc.len) {
        json_t *l = json_pack("{s:{s:s%}}", "location", "display", loc.data, loc.len);
        if (stay_known)
            json_object_set_new(l, "status", json_string(location_status(status)));
        /* else the loader sets it from the merged status (fhir/load.h) */
        json_object_set_new(enc, "location", json_pack("[o]", l));
    } else if (presence(c, pv1, 3) != P_NULL)
        json_array_append_new(keep, json_string("location"));
    buf_release(&loc);
    json_t *stype = concept(c, pv1, 10, 1, "http://terminology.hl7.org/CodeSystem/v2-0069");
    if (stype)
        json_object_set_new(enc, "serviceType", stype);
    else if (presence(c, pv1, 10) != P_NULL)
        json_array_append_new(keep, json_string("serviceType"));
    add_entry(c, "Encounter", id, enc, c->enc_id, c->enc_url);
    keep_attach(c, keep);
    c->have_enc = 1;
    return 0;
}

/* The encounter reference for res: the bundle's Encounter, or for results
 * and documents a logical reference by visit number (they do not restate
 * the visit: an ORU must not reopen an encounter an A03 finished). */
static json_t *encounter_ref(struct mctx *c)
{
    if (c->have_enc)
        return ref(c->enc_url);
    if (c->visit_ref)
        return json_deep_copy(c->visit_ref);
    return NULL;
}

static void add_encounter_ref(struct mctx *c, json_t *res, const char *key)
{
    set_if(res, key, encounter_ref(c));
}

static void link_visit(struct mctx *c)
{
    long pv1 = hl7_seg_find(c->m, "PV1", 1);
    if (pv1 < 0 || !get(c, pv1, 19, 1, 1, 0))
        return;
    char sys[96];
    snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:visit", c->ods);
    c->visit_ref =
        json_pack("{s:{s:s,s:s%}}", "identifier", "system", sys, "value", c->t.data, c->t.len);
}

/* ---- AL1, DG1, PR1, ZMH ---------------------------------------------- */

/* A short stable key from a coded field: the code, else the text. */
static void code_key(struct mctx *c, long seg, size_t f, char out[80])
{
    out[0] = 0;
    if (get(c, seg, f, 1, 1, 0) || get(c, seg, f, 1, 2, 0))
        snprintf(out, 80, "%.*s", (int)c->t.len, c->t.data);
}

static void map_allergies(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "AL1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AL1")) {
        json_t *code = concept(c, k, 3, 1, NULL);
        if (!code)
            continue;
        char key[80], id[65];
        code_key(c, k, 3, key);
        make_id(id, "alg", c->pat_id, key);
        json_t *a = json_object();
        json_object_set_new(
            a, "clinicalStatus",
            concept_code("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                         "active", "Active"));
        get(c, k, 2, 1, 1, 0);
        const char *cat = NULL;
        if (!strcmp(c->t.data, "DA") || !strcmp(c->t.data, "MA"))
            cat = "medication";
        else if (!strcmp(c->t.data, "FA"))
            cat = "food";
        else if (!strcmp(c->t.data, "EA") || !strcmp(c->t.data, "AA") || !strcmp(c->t.data, "PA"))
            cat = "environment";
        if (cat)
            json_object_set_new(a, "category", json_pack("[s]", cat));
        json_object_set_new(a, "code", code);
        json_object_set_new(a, "patient", patient_ref(c));
        set_if(a, "recordedDate", jdate(c, k, 6, 1, 1, 1));
        json_t *reaction = json_object();
        json_t *man = json_array();
        struct hl7_iter it;
        struct hl7_span rv;
        FOR_REPS(c, k, 5, it, rv)
        {
            json_t *t = jspan(c, rv);
            if (t)
                json_array_append_new(man, json_pack("{s:o}", "text", t));
        }
        set_array(reaction, "manifestation", man);
        get(c, k, 4, 1, 1, 0);
        const char *sev = !strcmp(c->t.data, "SV")   ? "severe"
                          : !strcmp(c->t.data, "MO") ? "moderate"
                          : !strcmp(c->t.data, "MI") ? "mild"
                                                     : NULL;
        if (json_object_get(reaction, "manifestation")) {
            if (sev)
                json_object_set_new(reaction, "severity", json_string(sev));
            json_object_set_new(a, "reaction", json_pack("[o]", reaction));
        } else {
            json_decref(reaction);
        }
        if (sev && !strcmp(sev, "severe"))
            json_object_set_new(a, "criticality", json_string("high"));
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence p2 = presence(c, k, 2), p4 = presence(c, k, 4), p5 = presence(c, k, 5);
        keep_or_clear(keep, "category", json_object_get(a, "category") != NULL, &p2, 1);
        keep_or_clear(keep, "reaction", json_object_get(a, "reaction") != NULL, &p5, 1);
        keep_or_clear(keep, "criticality", p4 == P_VALUED, &p4, 1);
        enum presence p6 = presence(c, k, 6);
        keep_or_clear(keep, "recordedDate", json_object_get(a, "recordedDate") != NULL, &p6, 1);
        add_entry(c, "AllergyIntolerance", id, a, NULL, NULL);
        keep_attach(c, keep);
    }
}

static void map_conditions(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "DG1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "DG1")) {
        json_t *code = concept(c, k, 3, 1, NULL);
        if (!code) { /* v2.2/2.3: DG1-4 description only, DG1-2 the coding method */
            json_t *txt = jget(c, k, 4, 1, 0, 0);
            if (!txt)
                continue;
            code = json_pack("{s:o}", "text", txt);
        }
        char key[80], id[65];
        code_key(c, k, 3, key);
        if (!key[0] && get(c, k, 4, 1, 0, 0))
            snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
        make_id(id, "dx", c->have_enc ? c->enc_id : c->pat_id, key);
        json_t *cond = json_object();
        json_object_set_new(cond, "clinicalStatus",
                            concept_code("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                         "active", "Active"));
        get(c, k, 6, 1, 1, 0);
        const char *ver = !strcmp(c->t.data, "F") ? "confirmed" : c->t.len ? "provisional" : NULL;
        if (ver)
            json_object_set_new(
                cond, "verificationStatus",
                concept_code("http://terminology.hl7.org/CodeSystem/condition-ver-status", ver,
                             NULL));
        json_object_set_new(
            cond, "category",
            json_pack("[o]",
                      concept_code("http://terminology.hl7.org/CodeSystem/condition-category",
                                   "encounter-diagnosis", "Encounter Diagnosis")));
        json_object_set_new(cond, "code", code);
        json_object_set_new(cond, "subject", patient_ref(c));
        add_encounter_ref(c, cond, "encounter");
        set_if(cond, "recordedDate", jdate(c, k, 5, 1, 1, 1));
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence p5 = presence(c, k, 5), p6 = presence(c, k, 6);
        keep_or_clear(keep, "verificationStatus", ver != NULL, &p6, 1);
        keep_or_clear(keep, "recordedDate", json_object_get(cond, "recordedDate") != NULL, &p5, 1);
        add_entry(c, "Condition", id, cond, NULL, NULL);
        keep_attach(c, keep);
    }
}

/* A Practitioner reference by identifier and display from an XCN
 * (id^family^given), or NULL when it holds neither. */
static json_t *practitioner_xcn(struct mctx *c, struct hl7_span v)
{
    json_t *r = json_object();
    json_t *code = jspan(c, hl7_span_part(v, c->d->comp, 1));
    if (code)
        json_object_set_new(r, "identifier", json_pack("{s:o}", "value", code));
    char disp[160] = "";
    size_t dl = 0;
    if (dec(c, hl7_span_part(v, c->d->comp, 3)))
        dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data), sizeof disp);
    if (dec(c, hl7_span_part(v, c->d->comp, 2)))
        snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
    else if (dl)
        disp[dl - 1] = 0;
    if (disp[0])
        json_object_set_new(r, "display", json_string(disp));
    if (!json_object_size(r)) {
        json_decref(r);
        return NULL;
    }
    json_object_set_new(r, "type", json_string("Practitioner"));
    return r;
}

static void map_procedures(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "PR1", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "PR1")) {
        json_t *code = concept(c, k, 3, 1, NULL);
        if (!code) {
            json_t *txt = jget(c, k, 4, 1, 0, 0);
            if (!txt)
                continue;
            code = json_pack("{s:o}", "text", txt);
        }
        char key[80], id[65], when[40] = "";
        code_key(c, k, 3, key);
        json_t *date = jdate(c, k, 5, 1, 1, 1);
        if (date)
            snprintf(when, sizeof when, "%s", json_string_value(date));
        char k2[128];
        snprintf(k2, sizeof k2, "%s-%s", key, when);
        make_id(id, "proc", c->have_enc ? c->enc_id : c->pat_id, k2);
        json_t *p = json_object();
        json_object_set_new(p, "status", json_string("completed"));
        json_object_set_new(p, "code", code);
        json_object_set_new(p, "subject", patient_ref(c));
        add_encounter_ref(c, p, "encounter");
        set_if(p, "performedDateTime", date);
        /* PR1-11 surgeon, PR1-12 procedure practitioner (XCN id^family^given) */
        json_t *perf = json_array();
        const size_t pf[2] = {11, 12};
        for (int i = 0; i < 2; i++) {
            struct hl7_iter it;
            struct hl7_span v;
            FOR_REPS(c, k, pf[i], it, v)
            {
                json_t *actor = practitioner_xcn(c, v);
                if (actor)
                    json_array_append_new(perf, json_pack("{s:o}", "actor", actor));
            }
        }
        set_array(p, "performer", perf);
        /* fields an update omits keep the stored values ("" clears) */
        json_t *keep = json_array();
        enum presence pp[2] = {presence(c, k, 11), presence(c, k, 12)};
        keep_or_clear(keep, "performer", json_object_get(p, "performer") != NULL, pp, 2);
        add_entry(c, "Procedure", id, p, NULL, NULL);
        keep_attach(c, keep);
    }
}

static void map_mha(struct mctx *c)
{
    for (long k = hl7_seg_find(c->m, "ZMH", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "ZMH")) {
        char section[32] = "", start[40] = "", id[65];
        if (!get(c, k, 2, 1, 1, 0))
            continue;
        snprintf(section, sizeof section, "%.*s", (int)c->t.len, c->t.data);
        json_t *st = jdate(c, k, 3, 1, 1, 1);
        if (st)
            snprintf(start, sizeof start, "%s", json_string_value(st));
        if (get(c, k, 7, 1, 0, 0)) {
            char tmp[80];
            snprintf(tmp, sizeof tmp, "%.*s", (int)c->t.len, c->t.data);
            make_id(id, "mha", tmp, NULL);
        } else {
            char tmp[160];
            snprintf(tmp, sizeof tmp, "%s-%s", c->pat_id, section);
            make_id(id, "mha", tmp, start);
        }
        json_t *f = json_object();
        get(c, k, 5, 1, 1, 0);
        const char *status = !strcmp(c->t.data, "E")   ? "inactive"
                             : !strcmp(c->t.data, "R") ? "entered-in-error"
                                                       : "active";
        json_object_set_new(f, "status", json_string(status));
        json_object_set_new(
            f, "category",
            json_pack("[o]", concept_code(RECORD_CATEGORY_SYSTEM, "mental-health-act",
                                          "Mental Health Act")));
        json_t *cd = json_pack("{s:s,s:s}", "system", MHA_SECTION_SYSTEM, "code", section);
        json_t *disp = jget(c, k, 2, 1, 2, 0);
        char text[96];
        if (disp) {
            snprintf(text, sizeof text, "%s", json_string_value(disp));
            json_object_set_new(cd, "display", disp);
        } else {
            snprintf(text, sizeof text, "Mental Health Act section %s", section);
        }
        json_object_set_new(f, "code", json_pack("{s:[o],s:s}", "coding", cd, "text", text));
        json_object_set_new(f, "subject", patient_ref(c));
        json_t *period = json_object();
        set_if(period, "start", st);
        set_if(period, "end", jdate(c, k, 4, 1, 1, 1));
        if (json_object_size(period))
            json_object_set_new(f, "period", period);
        else
            json_decref(period);
        add_encounter_ref(c, f, "encounter");
        add_entry(c, "Flag", id, f, NULL, NULL);
    }
}

/* ---- ORU: DiagnosticReport + Observation ------------------------------ */

static const char *const imaging_sections[] = {"RAD", "CT", "MR",  "MRI", "US",  "XR",  "NMR",
                                               "NMS", "RX", "VUS", "CUS", "OUS", "RUS", "XRC",
                                               "CTH", "NM", "MG",  "DX",  "PT",  "IMG", NULL};

static int is_imaging(struct hl7_span s)
{
    for (int i = 0; imaging_sections[i]; i++)
        if (span_eq_ci(s, imaging_sections[i]))
            return 1;
    return 0;
}

static const char *result_status(struct hl7_span s, int report)
{
    if (hl7_span_eq(s, "C"))
        return "corrected";
    if (hl7_span_eq(s, "P") || hl7_span_eq(s, "A") || (report && hl7_span_eq(s, "R")))
        return "preliminary";
    if (hl7_span_eq(s, "X") || hl7_span_eq(s, "D"))
        return "cancelled";
    if (hl7_span_eq(s, "W"))
        return "entered-in-error";
    if (hl7_span_eq(s, "I") || hl7_span_eq(s, "S") || hl7_span_eq(s, "O") || hl7_span_eq(s, "R"))
        return "registered";
    return "final";
}

/* Parse a decimal number (HL7 NM) into a JSON real/integer; NULL if not one. */
static json_t *number(const char *s, size_t n)
{
    while (n && *s == ' ')
        s++, n--;
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 0 || n > 40)
        return NULL;
    char tmp[48];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    size_t i = 0, dig = 0;
    if (tmp[i] == '+' || tmp[i] == '-')
        i++;
    for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
        dig++;
    int has_dot = 0;
    if (tmp[i] == '.') {
        has_dot = 1;
        i++;
        for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
            dig++;
    }
    if (i != n || dig == 0)
        return NULL;
    if (!has_dot && n < 18)
        return json_integer(strtoll(tmp, NULL, 10));
    return json_real(strtod(tmp, NULL));
}

static json_t *quantity(struct mctx *c, json_t *value, long obx)
{
    json_t *q = json_pack("{s:o}", "value", value);
    struct hl7_span u;
    if (!hl7_seg_get(c->m, (size_t)obx, 6, 1, 0, 0, &u) && u.len) {
        json_t *code = jspan(c, hl7_span_part(u, c->d->comp, 1));
        json_t *text = jspan(c, hl7_span_part(u, c->d->comp, 2));
        int ucum = dec(c, hl7_span_part(u, c->d->comp, 3)) &&
                   (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "UCUM") ||
                    span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "ISO+") ||
                    span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "ANS+"));
        json_t *unit = text ? text : (code ? json_incref(code) : NULL);
        set_if(q, "unit", unit);
        if (ucum && code) {
            json_object_set_new(q, "system", json_string(UCUM_SYSTEM));
            json_object_set_new(q, "code", code);
        } else {
            json_decref(code);
        }
    }
    return q;
}

static void reference_range(struct mctx *c, long obx, json_t *obs)
{
    if (!get(c, obx, 7, 1, 0, 0))
        return;
    char rr[128];
    snprintf(rr, sizeof rr, "%.*s", (int)c->t.len, c->t.data);
    json_t *range = json_object();
    const char *dash = strchr(rr + 1, '-'); /* skip a leading minus sign */
    json_t *lo = NULL, *hi = NULL;
    if (rr[0] == '<' || rr[0] == '>') {
        const char *p = rr + 1 + (rr[1] == '=');
        json_t *v = number(p, strlen(p));
        if (rr[0] == '<')
            hi = v;
        else
            lo = v;
    } else if (dash) {
        lo = number(rr, (size_t)(dash - rr));
        hi = number(dash + 1, strlen(dash + 1));
        if (!lo || !hi) {
            json_decref(lo);
            json_decref(hi);
            lo = hi = NULL;
        }
    }
    if (lo)
        json_object_set_new(range, "low", quantity(c, lo, obx));
    if (hi)
        json_object_set_new(range, "high", quantity(c, hi, obx));
    json_object_set_new(range, "text", json_string(rr));
    json_object_set_new(obs, "referenceRange", json_pack("[o]", range));
}

static void interpretation(struct mctx *c, long obx, json_t *obs)
{
    json_t *arr = json_array();
    struct hl7_iter it;
    struct hl7_span rv;
    FOR_REPS(c, obx, 8, it, rv)
    {
        if (!dec(c, hl7_span_part(rv, c->d->comp, 1)))
            continue;
        json_array_append_new(
            arr, json_pack("{s:[{s:s,s:s%}]}", "coding", "system",
                           "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                           "code", c->t.data, c->t.len));
    }
    set_array(obs, "interpretation", arr);
}

/* SN: comparator^num1^separator^num2 */
static int value_sn(struct mctx *c, long obx, struct hl7_span v, json_t *obs)
{
    char cmp[4] = "", sep[4] = "";
    if (dec(c, hl7_span_part(v, c->d->comp, 1)))
        snprintf(cmp, sizeof cmp, "%.*s", (int)c->t.len, c->t.data);
    json_t *n1 = dec(c, hl7_span_part(v, c->d->comp, 2)) ? number(c->t.data, c->t.len) : NULL;
    if (dec(c, hl7_span_part(v, c->d->comp, 3)))
        snprintf(sep, sizeof sep, "%.*s", (int)c->t.len, c->t.data);
    json_t *n2 = dec(c, hl7_span_part(v, c->d->comp, 4)) ? number(c->t.data, c->t.len) : NULL;
    if (n1 && n2 && (!strcmp(sep, ":") || !strcmp(sep, "/"))) {
        json_object_set_new(
            obs, "valueRatio",
            json_pack("{s:{s:o},s:{s:o}}", "numerator", "value", n1, "denominator", "value", n2));
        return 1;
    }
    if (n1 && n2 && (!strcmp(sep, "-") || !strcmp(sep, "+"))) {
        json_object_set_new(
            obs, "valueRange",
            json_pack("{s:o,s:o}", "low", quantity(c, n1, obx), "high", quantity(c, n2, obx)));
        return 1;
    }
    json_decref(n2);
    if (!n1)
        return 0;
    json_t *q = quantity(c, n1, obx);
    if (!strcmp(cmp, "<") || !strcmp(cmp, ">") || !strcmp(cmp, "<=") || !strcmp(cmp, ">="))
        json_object_set_new(q, "comparator", json_string(cmp));
    json_object_set_new(obs, "valueQuantity", q);
    return 1;
}

/* Join every repetition of OBX-5 into c->t with line feeds. */
static void obx_text(struct mctx *c, long obx, struct buf *out)
{
    buf_reset(out);
    struct hl7_iter it;
    struct hl7_span v;
    size_t r = 0;
    FOR_REPS(c, obx, 5, it, v)
    {
        if (++r > 1)
            buf_addc(out, '\n');
        if (!hl7_span_is_null(v))
            hl7_unescape_buf(c->d, v, out);
    }
    clean_text(out);
    trim(out);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        buf_addc(out, b64[(v >> 18) & 63]);
        buf_addc(out, b64[(v >> 12) & 63]);
        buf_addc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
        buf_addc(out, i + 2 < n ? b64[v & 63] : '=');
    }
}

/* ED value (source^type^subtype^encoding^data) → FHIR Attachment, or NULL. */
static json_t *ed_attachment(struct mctx *c, struct hl7_span v)
{
    char type[64] = "application", sub[64] = "octet-stream";
    if (dec(c, hl7_span_part(v, c->d->comp, 2))) {
        if (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "TEXT"))
            snprintf(type, sizeof type, "text");
        else if (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "IM") ||
                 span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "IMAGE"))
            snprintf(type, sizeof type, "image");
    }
    if (dec(c, hl7_span_part(v, c->d->comp, 3))) {
        snprintf(sub, sizeof sub, "%.*s", (int)c->t.len, c->t.data);
        for (char *p = sub; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        if (!strcmp(sub, "pdf") || !strcmp(sub, "rtf") || !strcmp(sub, "xml"))
            snprintf(type, sizeof type, "%s", !strcmp(sub, "xml") ? "text" : "application");
    }
    int is_b64 = dec(c, hl7_span_part(v, c->d->comp, 4)) &&
                 span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "BASE64");
    if (!dec(c, hl7_span_part(v, c->d->comp, 5)))
        return NULL;
    json_t *att = json_object();
    char ct[140];
    snprintf(ct, sizeof ct, "%s/%s", type, sub);
    json_object_set_new(att, "contentType", json_string(ct));
    if (is_b64) {
        /* keep only base64 characters (senders wrap lines) */
        size_t o = 0;
        for (size_t i = 0; i < c->t.len; i++) {
            char ch = c->t.data[i];
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                ch == '+' || ch == '/' || ch == '=')
                c->t.data[o++] = ch;
        }
        json_object_set_new(att, "data", json_stringn(c->t.data, o));
    } else {
        struct buf e = BUF_INIT;
        base64(c->t.data, c->t.len, &e);
        json_object_set_new(att, "data", json_stringn(e.data, e.len));
        buf_release(&e);
    }
    return att;
}

/* NTE segments following index k → Annotation array (or NULL). */
static json_t *notes_after(struct mctx *c, long k)
{
    json_t *notes = json_array();
    for (size_t s = (size_t)k + 1; s < hl7_seg_count(c->m); s++) {
        if (strcmp(hl7_seg_name(c->m, s), "NTE"))
            break;
        json_t *t = jget(c, (long)s, 3, 0, 0, 0);
        if (t)
            json_array_append_new(notes, json_pack("{s:o}", "text", t));
    }
    if (json_array_size(notes) == 0) {
        json_decref(notes);
        return NULL;
    }
    return notes;
}

static int map_observation(struct mctx *c, long obx, const char *report_key, size_t index,
                           int imaging, json_t *report_effective, json_t *report)
{
    char vt[8] = "";
    if (get(c, obx, 2, 1, 1, 0))
        snprintf(vt, sizeof vt, "%.*s", (int)c->t.len, c->t.data);
    struct hl7_span v;
    hl7_seg_get(c->m, (size_t)obx, 5, 1, 0, 0, &v);
    if (!strcmp(vt, "ED")) { /* an attachment: goes on the report */
        json_t *att = ed_attachment(c, v);
        if (att) {
            json_t *pf = json_object_get(report, "presentedForm");
            if (!pf) {
                pf = json_array();
                json_object_set_new(report, "presentedForm", pf);
            }
            json_array_append_new(pf, att);
        }
        return 0;
    }
    if (!strcmp(vt, "RP")) /* reference pointer: nothing we can fetch */
        return 0;
    json_t *code = concept(c, obx, 3, 1, NULL);
    if (!code)
        return 0;
    char setid[32], id[65];
    if (get(c, obx, 1, 1, 0, 0))
        snprintf(setid, sizeof setid, "%.*s", (int)c->t.len, c->t.data);
    else
        snprintf(setid, sizeof setid, "%zu", index);
    /* sub-id (OBX-4) tells apart observations sharing a set id */
    char sub[40] = "";
    if (get(c, obx, 4, 1, 0, 0))
        snprintf(sub, sizeof sub, "%.*s", (int)c->t.len, c->t.data);
    char k2[80];
    snprintf(k2, sizeof k2, "%s%s%s", setid, sub[0] ? "." : "", sub);
    make_id(id, "obs", report_key, k2);
    json_t *obs = json_object();
    struct hl7_span st;
    hl7_seg_get(c->m, (size_t)obx, 11, 1, 1, 0, &st);
    json_object_set_new(obs, "status", json_string(result_status(st, 0)));
    json_object_set_new(
        obs, "category",
        json_pack("[o]", concept_code("http://terminology.hl7.org/CodeSystem/observation-category",
                                      imaging ? "imaging" : "laboratory",
                                      imaging ? "Imaging" : "Laboratory")));
    json_object_set_new(obs, "code", code);
    json_object_set_new(obs, "subject", patient_ref(c));
    add_encounter_ref(c, obs, "encounter");
    json_t *eff = jdate(c, obx, 14, 1, 1, 1);
    if (!eff && report_effective)
        eff = json_incref(report_effective);
    set_if(obs, "effectiveDateTime", eff);
    int done = 0;
    if (!strcmp(vt, "NM")) {
        json_t *n = dec(c, v) ? number(c->t.data, c->t.len) : NULL;
        if (n) {
            json_object_set_new(obs, "valueQuantity", quantity(c, n, obx));
            done = 1;
        }
    } else if (!strcmp(vt, "SN")) {
        done = value_sn(c, obx, v, obs);
    } else if (!strcmp(vt, "CE") || !strcmp(vt, "CWE") || !strcmp(vt, "CNE") || !strcmp(vt, "CF")) {
        json_t *cc = concept_span(c, v, NULL);
        if (cc) {
            json_object_set_new(obs, "valueCodeableConcept", cc);
            done = 1;
        }
    } else if (!strcmp(vt, "DT") || !strcmp(vt, "TS") || !strcmp(vt, "DTM")) {
        char out[48];
        if (dec(c, hl7_span_part(v, c->d->comp, 1)) &&
            !hl7_map_datetime(c->t.data, c->t.len, 1, out, sizeof out, NULL)) {
            json_object_set_new(obs, "valueDateTime", json_string(out));
            done = 1;
        }
    }
    if (!done) { /* ST, TX, FT and anything else: text (FT \.br\ are line feeds) */
        struct buf t = BUF_INIT;
        obx_text(c, obx, &t);
        if (t.len)
            json_object_set_new(obs, "valueString", json_stringn(t.data, t.len));
        buf_release(&t);
    }
    if (json_object_get(obs, "valueQuantity") || json_object_get(obs, "valueRange"))
        reference_range(c, obx, obs);
    interpretation(c, obx, obs);
    set_if(obs, "note", notes_after(c, obx));
    char url[64];
    add_entry(c, "Observation", id, obs, NULL, url);
    json_t *res = json_object_get(report, "result");
    json_array_append_new(res, ref(url));
    return 0;
}

static int map_oru(struct mctx *c)
{
    long obr = hl7_seg_find(c->m, "OBR", 1);
    if (obr < 0)
        return fail(c, WEFT_EINVAL, "OBR", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "ORU message has no OBR segment: results cannot be grouped into a report");
    for (; obr >= 0; obr = hl7_seg_next(c->m, (size_t)obr, "OBR")) {
        char key[192] = "";
        if (get(c, obr, 3, 1, 1, 0) || get(c, obr, 2, 1, 1, 0))
            snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
        else {
            /* no order number: the patient, the test code and its time */
            char code[80] = "", when[40] = "";
            code_key(c, obr, 4, code);
            if (get(c, obr, 7, 1, 1, 0))
                snprintf(when, sizeof when, "%.*s", (int)c->t.len, c->t.data);
            snprintf(key, sizeof key, "%s-%s-%s", c->pat_id, code, when);
        }
        char rid[65];
        hl7_map_fhir_id(key, strlen(key), rid);
        char id[65];
        make_id(id, "dr", rid, NULL);
        json_t *dr = json_object();
        struct hl7_span st, section;
        hl7_seg_get(c->m, (size_t)obr, 25, 1, 1, 0, &st);
        json_object_set_new(dr, "status", json_string(result_status(st, 1)));
        hl7_seg_get(c->m, (size_t)obr, 24, 1, 1, 0, &section);
        int imaging = is_imaging(section);
        json_object_set_new(
            dr, "category",
            json_pack("[o]",
                      concept_code("http://terminology.hl7.org/CodeSystem/v2-0074",
                                   imaging ? "RAD" : "LAB", imaging ? "Radiology" : "Laboratory")));
        json_t *code = concept(c, obr, 4, 1, NULL);
        if (!code)
            code = json_pack("{s:s}", "text", imaging ? "Imaging report" : "Laboratory report");
        json_object_set_new(dr, "code", code);
        json_object_set_new(dr, "subject", patient_ref(c));
        add_encounter_ref(c, dr, "encounter");
        json_t *eff = jdate(c, obr, 7, 1, 1, 1);
        set_if(dr, "effectiveDateTime", eff);
        json_t *issued = jdate(c, obr, 22, 1, 1, 2);
        set_if(dr, "issued", issued);
        char sys[96];
        snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:filler-order", c->ods);
        json_object_set_new(dr, "identifier",
                            json_pack("[{s:s,s:s}]", "system", sys, "value", key));
        json_object_set_new(dr, "result", json_array());
        size_t index = 0;
        for (size_t s = (size_t)obr + 1; s < hl7_seg_count(c->m); s++) {
            const char *nm = hl7_seg_name(c->m, s);
            if (!strcmp(nm, "OBR"))
                break;
            if (strcmp(nm, "OBX"))
                continue;
            index++;
            map_observation(c, (long)s, rid, index, imaging, eff, dr);
        }
        if (json_array_size(json_object_get(dr, "result")) == 0)
            json_object_del(dr, "result");
        json_t *notes = notes_after(c, obr);
        if (notes) { /* report-level NTE: the conclusion text */
            struct buf t = BUF_INIT;
            for (size_t i = 0; i < json_array_size(notes); i++) {
                if (i)
                    buf_addc(&t, '\n');
                buf_adds(&t, json_string_value(json_object_get(json_array_get(notes, i), "text")));
            }
            json_object_set_new(dr, "conclusion", json_stringn(t.data, t.len));
            buf_release(&t);
            json_decref(notes);
        }
        add_entry(c, "DiagnosticReport", id, dr, NULL, NULL);
    }
    return 0;
}

/* ---- MDM: DocumentReference ------------------------------------------- */

static int map_mdm(struct mctx *c)
{
    long txa = hl7_seg_find(c->m, "TXA", 1);
    if (txa < 0)
        return fail(c, WEFT_EINVAL, "TXA", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "MDM message has no TXA segment (document header)");
    char num[96] = "";
    if (get(c, txa, 12, 1, 1, 0) || get(c, txa, 16, 1, 1, 0) || get(c, txa, 15, 1, 1, 0) ||
        get(c, txa, 14, 1, 1, 0))
        snprintf(num, sizeof num, "%.*s", (int)c->t.len, c->t.data);
    if (!num[0])
        return fail(c, WEFT_EINVAL, "TXA", 12, HL7_ERR_REQUIRED_FIELD,
                    "TXA-12 (unique document number) is empty: the document cannot be identified");
    char id[65];
    make_id(id, "doc", num, NULL);
    json_t *doc = json_object();
    char sys[96];
    snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:document", c->ods);
    json_object_set_new(doc, "masterIdentifier",
                        json_pack("{s:s,s:s}", "system", sys, "value", num));
    get(c, txa, 19, 1, 1, 0);
    const char *status = !strcmp(c->t.data, "CA")   ? "entered-in-error"
                         : !strcmp(c->t.data, "OB") ? "superseded"
                                                    : "current";
    json_object_set_new(doc, "status", json_string(status));
    get(c, txa, 17, 1, 1, 0);
    const char *ds = NULL;
    if (!strcmp(c->t.data, "AU") || !strcmp(c->t.data, "LA") || !strcmp(c->t.data, "DO"))
        ds = "final";
    else if (!strcmp(c->t.data, "IP") || !strcmp(c->t.data, "IN") || !strcmp(c->t.data, "DI") ||
             !strcmp(c->t.data, "PA"))
        ds = "preliminary";
    if (ds)
        json_object_set_new(doc, "docStatus", json_string(ds));
    json_t *type = concept(c, txa, 2, 1, "http://terminology.hl7.org/CodeSystem/v2-0270");
    if (type)
        json_object_set_new(doc, "type", type);
    json_object_set_new(doc, "subject", patient_ref(c));
    json_t *date = jdate(c, txa, 4, 1, 1, 2);
    if (!date)
        date = jdate(c, txa, 6, 1, 1, 2);
    set_if(doc, "date", date);
    /* the text: every OBX (TX/FT/ST) in order; an ED payload as it is */
    struct buf text = BUF_INIT, one = BUF_INIT;
    json_t *contents = json_array();
    for (long k = hl7_seg_find(c->m, "OBX", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "OBX")) {
        get(c, k, 2, 1, 1, 0);
        if (!strcmp(c->t.data, "ED")) {
            struct hl7_span v;
            hl7_seg_get(c->m, (size_t)k, 5, 1, 0, 0, &v);
            json_t *att = ed_attachment(c, v);
            if (att)
                json_array_append_new(contents, json_pack("{s:o}", "attachment", att));
            continue;
        }
        if (!strcmp(c->t.data, "RP"))
            continue;
        obx_text(c, k, &one);
        if (text.len)
            buf_addc(&text, '\n');
        buf_add(&text, one.data, one.len);
    }
    if (text.len) {
        struct buf e = BUF_INIT;
        base64(text.data, text.len, &e);
        json_t *att = json_pack("{s:s,s:s%}", "contentType", "text/plain", "data", e.data, e.len);
        json_t *title = jget(c, txa, 2, 1, 2, 0);
        set_if(att, "title", title);
        json_t *cdate = jdate(c, txa, 4, 1, 1, 1);
        set_if(att, "creation", cdate);
        json_array_insert_new(contents, 0, json_pack("{s:o}", "attachment", att));
        buf_release(&e);
    }
    buf_release(&text);
    buf_release(&one);
    if (json_array_size(contents) == 0) {
        json_decref(contents);
        json_decref(doc);
        return fail(c, WEFT_EINVAL, "OBX", 5, HL7_ERR_REQUIRED_FIELD,
                    "MDM message holds no document text (no OBX with a value)");
    }
    json_object_set_new(doc, "content", contents);
    json_t *er = encounter_ref(c);
    if (er)
        json_object_set_new(doc, "context", json_pack("{s:[o]}", "encounter", er));
    add_entry(c, "DocumentReference", id, doc, NULL, NULL);
    return 0;
}

/* ---- SIU: Appointment ------------------------------------------------- */

static int map_siu(struct mctx *c, const char *trigger)
{
    long sch = hl7_seg_find(c->m, "SCH", 1);
    if (sch < 0)
        return fail(c, WEFT_EINVAL, "SCH", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "SIU message has no SCH segment");
    char key[96] = "";
    if (get(c, sch, 2, 1, 1, 0) || get(c, sch, 1, 1, 1, 0))
        snprintf(key, sizeof key, "%.*s", (int)c->t.len, c->t.data);
    if (!key[0])
        return fail(c, WEFT_EINVAL, "SCH", 2, HL7_ERR_REQUIRED_FIELD,
                    "SCH-1 and SCH-2 (appointment ids) are both empty");
    char id[65];
    make_id(id, "appt", key, NULL);
    json_t *ap = json_object();
    /* fields a modification omits keep the stored values ("" clears);
     * "?status": a reschedule or modification without SCH-25 keeps the status */
    json_t *keep = json_array();
    const char *status = !strcmp(trigger, "S15") ? "cancelled" : "booked";
    if ((!strcmp(trigger, "S13") || !strcmp(trigger, "S14")) && presence(c, sch, 25) == P_OMITTED)
        json_array_append_new(keep, json_string("?status"));
    get(c, sch, 25, 1, 1, 0);
    if (!strcmp(c->t.data, "Cancelled") || !strcmp(c->t.data, "Deleted"))
        status = "cancelled";
    else if (!strcmp(c->t.data, "Noshow"))
        status = "noshow";
    else if (!strcmp(c->t.data, "Complete"))
        status = "fulfilled";
    json_object_set_new(ap, "status", json_string(status));
    char sys[96];
    snprintf(sys, sizeof sys, LOCAL_ID_SYSTEM_PREFIX "%s:appointment", c->ods);
    json_object_set_new(ap, "identifier", json_pack("[{s:s,s:s}]", "system", sys, "value", key));
    json_t *rc = concept(c, sch, 7, 1, NULL);
    if (rc)
        json_object_set_new(ap, "reasonCode", json_pack("[o]", rc));
    json_t *at = concept(c, sch, 8, 1, "http://terminology.hl7.org/CodeSystem/v2-0276");
    if (at)
        json_object_set_new(ap, "appointmentType", at);
    /* start/end: SCH-11 (TQ: 4 start, 5 end), else AIS-4 + AIS-7 duration */
    long long s_ep = 0;
    char start[48] = "", end[48] = "";
    if (get(c, sch, 11, 1, 4, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, start, sizeof start, &s_ep);
    if (get(c, sch, 11, 1, 5, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, end, sizeof end, NULL);
    long ais = hl7_seg_find(c->m, "AIS", 1);
    if (!start[0] && ais >= 0 && get(c, ais, 4, 1, 1, 0))
        hl7_map_datetime(c->t.data, c->t.len, 2, start, sizeof start, &s_ep);
    if (start[0])
        json_object_set_new(ap, "start", json_string(start));
    if (end[0])
        json_object_set_new(ap, "end", json_string(end));
    json_t *mins = NULL;
    if (get(c, sch, 9, 1, 0, 0))
        mins = number(c->t.data, c->t.len);
    if (!mins && ais >= 0 && get(c, ais, 7, 1, 0, 0))
        mins = number(c->t.data, c->t.len);
    if (mins && json_is_integer(mins) && json_integer_value(mins) > 0)
        json_object_set_new(ap, "minutesDuration", mins);
    else
        json_decref(mins);
    json_t *desc = jget(c, sch, 7, 1, 2, 0);
    set_if(ap, "description", desc);
    json_t *parts = json_array();
    json_array_append_new(parts, json_pack("{s:o,s:s}", "actor", patient_ref(c), "status",
                                           !strcmp(status, "cancelled") ? "declined" : "accepted"));
    for (long k = hl7_seg_find(c->m, "AIL", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AIL")) {
        struct buf loc = BUF_INIT;
        struct hl7_span v;
        if (!hl7_seg_get(c->m, (size_t)k, 3, 1, 0, 0, &v) && v.len) {
            for (size_t comp = 1; comp <= 4; comp++)
                if (dec(c, hl7_span_part(hl7_span_part(v, c->d->comp, comp), c->d->sub, 1))) {
                    if (loc.len)
                        buf_adds(&loc, ", ");
                    buf_add(&loc, c->t.data, c->t.len);
                }
        }
        if (loc.len)
            json_array_append_new(parts, json_pack("{s:{s:s%},s:s}", "actor", "display", loc.data,
                                                   loc.len, "status", "accepted"));
        buf_release(&loc);
    }
    for (long k = hl7_seg_find(c->m, "AIP", 1); k >= 0; k = hl7_seg_next(c->m, (size_t)k, "AIP")) {
        char disp[160] = "";
        size_t dl = 0;
        if (get(c, k, 3, 1, 3, 0))
            dl = clamp_len(snprintf(disp, sizeof disp, "%.*s ", (int)c->t.len, c->t.data),
                           sizeof disp);
        if (get(c, k, 3, 1, 2, 0))
            snprintf(disp + dl, sizeof disp - dl, "%.*s", (int)c->t.len, c->t.data);
        if (disp[0])
            json_array_append_new(
                parts, json_pack("{s:{s:s},s:s}", "actor", "display", disp, "status", "accepted"));
    }
    json_object_set_new(ap, "participant", parts);
    enum presence p7 = presence(c, sch, 7), p8 = presence(c, sch, 8), p11 = presence(c, sch, 11);
    enum presence pd[2] = {presence(c, sch, 9), ais >= 0 ? presence(c, ais, 7) : P_OMITTED};
    enum presence ps[2] = {p11, ais >= 0 ? presence(c, ais, 4) : P_OMITTED};
    keep_or_clear(keep, "reasonCode", json_object_get(ap, "reasonCode") != NULL, &p7, 1);
    keep_or_clear(keep, "description", json_object_get(ap, "description") != NULL, &p7, 1);
    keep_or_clear(keep, "appointmentType", json_object_get(ap, "appointmentType") != NULL, &p8, 1);
    keep_or_clear(keep, "start", start[0] != 0, ps, 2);
    keep_or_clear(keep, "end", end[0] != 0, &p11, 1);
    keep_or_clear(keep, "minutesDuration", json_object_get(ap, "minutesDuration") != NULL, pd, 2);
    /* no AIL/AIP: the patient is restated, the stored places and staff stay
     * (not on a cancellation, whose patient participant says declined) */
    if (strcmp(status, "cancelled") != 0 && json_array_size(parts) == 1 &&
        hl7_seg_find(c->m, "AIL", 1) < 0 && hl7_seg_find(c->m, "AIP", 1) < 0)
        json_array_append_new(keep, json_string("?participant"));
    add_entry(c, "Appointment", id, ap, NULL, NULL);
    keep_attach(c, keep);
    return 0;
}

/* ---- A40 merge -------------------------------------------------------- */

static int map_merge(struct mctx *c)
{
    long pid = hl7_seg_find(c->m, "PID", 1), mrg = hl7_seg_find(c->m, "MRG", 1);
    if (pid < 0)
        return fail(c, WEFT_EINVAL, "PID", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "merge message has no PID segment (the surviving patient)");
    if (mrg < 0)
        return fail(c, WEFT_EINVAL, "MRG", 0, HL7_ERR_SEGMENT_SEQUENCE,
                    "merge message has no MRG segment (the patient to retire)");
    json_t *surv = json_array(), *ret = json_array();
    char kind[16];
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, pid, 3, it, cx)
    {
        append_if(surv, identifier_cx(c, cx, kind));
    }
    FOR_REPS(c, mrg, 1, it, cx)
    {
        append_if(ret, identifier_cx(c, cx, kind));
    }
    if (json_array_size(surv) == 0 || json_array_size(ret) == 0) {
        json_decref(surv);
        json_decref(ret);
        return fail(c, WEFT_EINVAL, json_array_size(surv) ? "MRG" : "PID",
                    json_array_size(surv) ? 1 : 3, HL7_ERR_REQUIRED_FIELD,
                    "merge needs identifiers in both PID-3 (surviving) and MRG-1 (retired)");
    }
    c->r->merge_survivor = surv;
    c->r->merge_retired = ret;
    c->r->kind = HL7_MAP_MERGE;
    return 0;
}

/* ---- A24 link / A37 unlink ---------------------------------------------- */

/* Two PID segments: the first patient (kept) and the second (linked to it,
 * or unlinked from it).  Carried as a merge instruction; the trigger tells
 * ingest which (feeds/ingest.c). */
static int map_link(struct mctx *c)
{
    long p1 = hl7_seg_find(c->m, "PID", 1), p2 = hl7_seg_find(c->m, "PID", 2);
    if (p1 < 0 || p2 < 0)
        return fail(c, WEFT_EINVAL, "PID", p1 < 0 ? 1 : 2, HL7_ERR_SEGMENT_SEQUENCE,
                    "link/unlink message needs two PID segments (the two patients)");
    json_t *a = json_array(), *b = json_array();
    char kind[16];
    struct hl7_iter it;
    struct hl7_span cx;
    FOR_REPS(c, p1, 3, it, cx)
    {
        append_if(a, identifier_cx(c, cx, kind));
    }
    FOR_REPS(c, p2, 3, it, cx)
    {
        append_if(b, identifier_cx(c, cx, kind));
    }
    if (json_array_size(a) == 0 || json_array_size(b) == 0) {
        json_decref(a);
        json_decref(b);
        return fail(c, WEFT_EINVAL, "PID", json_array_size(a) ? 2 : 1, HL7_ERR_REQUIRED_FIELD,
                    "link/unlink needs identifiers in PID-3 of both patients");
    }
    c->r->merge_survivor = a;
    c->r->merge_retired = b;
    c->r->kind = HL7_MAP_MERGE;
    return 0;
}

/* ---- entry point ------------------------------------------------------ */

static void event_time(struct mctx *c)
{
    long evn = hl7_seg_find(c->m, "EVN", 1);
    const long segs[3] = {evn, evn, 0};
    const size_t fields[3] = {6, 2, 7};
    for (int i = 0; i < 3; i++) {
        if (segs[i] < 0 || !get(c, segs[i], fields[i], 1, 1, 0))
            continue;
        if (!hl7_map_datetime(c->t.data, c->t.len, 1, c->r->event_time, sizeof c->r->event_time,
                              &c->r->event_epoch))
            return;
    }
    c->r->event_time[0] = 0;
    c->r->event_epoch = 0;
}

/* A mapping context for msg filling r (r cleared); release c->t after. */
static void mctx_init(struct mctx *c, const struct hl7_msg *msg, struct hl7_map_result *r)
{
    memset(r, 0, sizeof *r);
    memset(c, 0, sizeof *c);
    c->m = msg;
    c->d = hl7_msg_delims(msg);
    c->r = r;
    buf_init(&c->t);
}

void hl7_map_event_only(const struct hl7_msg *msg, struct hl7_map_result *r)
{
    struct mctx c;
    mctx_init(&c, msg, r);
    event_time(&c);
    buf_release(&c.t);
}

void hl7_map_result_clear(struct hl7_map_result *r)
{
    json_decref(r->bundle);
    json_decref(r->merge_survivor);
    json_decref(r->merge_retired);
    memset(r, 0, sizeof *r);
}

static const char *const adt_events[] = {"A01", "A02", "A03", "A04", "A05", "A08",
                                         "A11", "A13", "A28", "A31", NULL};

int hl7_map_message(const struct hl7_msg *msg, const struct hl7_map_opts *opts,
                    struct hl7_map_result *r)
{
    struct mctx c;
    mctx_init(&c, msg, r);
    if (!opts || !opts->ods || !opts->ods[0]) {
        buf_release(&c.t);
        r->ack_code = "AR";
        snprintf(r->reason, sizeof r->reason, "no sending organisation (ODS code) for this feed");
        r->err.code = HL7_ERR_INTERNAL;
        return WEFT_EINVAL;
    }
    c.ods = opts->ods;
    char type[8] = "", trig[8] = "";
    if (get(&c, 0, 9, 1, 1, 0))
        snprintf(type, sizeof type, "%.*s", (int)c.t.len, c.t.data);
    if (get(&c, 0, 9, 1, 2, 0))
        snprintf(trig, sizeof trig, "%.*s", (int)c.t.len, c.t.data);
    if (!trig[0] && get(&c, hl7_seg_find(msg, "EVN", 1), 1, 1, 1, 0)) /* v2.2: EVN-1 */
        snprintf(trig, sizeof trig, "%.*s", (int)c.t.len, c.t.data);
    memcpy(r->msg_type, type, sizeof r->msg_type);
    memcpy(r->trigger, trig, sizeof r->trigger);
    event_time(&c);
    c.entries = json_array();
    c.seen = json_object();
    int rc = 0, handled = 1;
    if (!strcmp(type, "ADT") && (!strcmp(trig, "A40") || !strcmp(trig, "A34"))) {
        rc = map_merge(&c);
    } else if (!strcmp(type, "ADT") && (!strcmp(trig, "A24") || !strcmp(trig, "A37"))) {
        rc = map_link(&c);
    } else if (!strcmp(type, "ADT")) {
        int ok = 0;
        for (int i = 0; adt_events[i]; i++)
            ok |= !strcmp(trig, adt_events[i]);
        if (!ok) {
            handled = 0;
        } else if (!(rc = map_patient(&c))) {
            int visit = strcmp(trig, "A28") && strcmp(trig, "A31");
            if (visit)
                map_encounter(&c, trig);
            map_allergies(&c);
            map_conditions(&c);
            map_procedures(&c);
            map_mha(&c);
        }
    } else if (!strcmp(type, "ORU") && !strcmp(trig, "R01")) {
        if (!(rc = map_patient(&c))) {
            link_visit(&c);
            rc = map_oru(&c);
        }
    } else if (!strcmp(type, "MDM") && !strcmp(trig, "T02")) {
        if (!(rc = map_patient(&c))) {
            link_visit(&c);
            rc = map_mdm(&c);
        }
    } else if (!strcmp(type, "SIU") && (!strcmp(trig, "S12") || !strcmp(trig, "S13") ||
                                        !strcmp(trig, "S14") || !strcmp(trig, "S15"))) {
        if (!(rc = map_patient(&c)))
            rc = map_siu(&c, trig);
    } else {
        handled = 0;
    }
    if (!handled) {
        char why[120];
        snprintf(why, sizeof why, "message type %s^%s is not accepted by this feed", type, trig);
        rc =
            fail(&c, WEFT_EUNSUPPORTED, "MSH", 9,
                 strcmp(type, "ADT") ? HL7_ERR_UNSUPPORTED_MESSAGE_TYPE : HL7_ERR_UNSUPPORTED_EVENT,
                 why);
    }
    if (rc == 0 && r->kind != HL7_MAP_MERGE) {
        r->kind = HL7_MAP_BUNDLE;
        r->resources = json_array_size(c.entries);
        r->bundle = json_pack("{s:s,s:s,s:O}", "resourceType", "Bundle", "type", "transaction",
                              "entry", c.entries);
    }
    json_decref(c.entries);
    json_decref(c.seen);
    json_decref(c.visit_ref);
    buf_release(&c.t);
    return rc;
}
