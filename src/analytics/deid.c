/*
 * deid.c - de-identification and per-export pseudonyms (deid.h).
 *
 * One recursive walk over the parsed resource: keys to drop are dropped
 * wherever they appear (an identifier inside a contained resource or a
 * logical reference is as identifying as one at the top), and the person
 * rules apply to any object whose resourceType is a person's.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "analytics/deid.h"
#include "core/err.h"

void deid_key_init(struct deid_key *key)
{
    randombytes_buf(key->k, sizeof key->k);
}

void deid_key_clear(struct deid_key *key)
{
    sodium_memzero(key->k, sizeof key->k);
}

void deid_pseudonym(const struct deid_key *key, const char *id, char out[DEID_PSEUDONYM_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key->k, sizeof key->k);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, DEID_PSEUDONYM_LEN + 1, mac, DEID_PSEUDONYM_LEN / 2);
}

/* Keys removed wherever they appear. */
static const char *const drop_everywhere[] = {"identifier", "telecom", "address", "photo", "note"};
/* Keys removed from a person's resource. */
static const char *const drop_person[] = {"name", "contact", "link", "communication"};

static bool is_person_type(const char *t)
{
    return t && (strcmp(t, "Patient") == 0 || strcmp(t, "RelatedPerson") == 0 ||
                 strcmp(t, "Person") == 0);
}

/* Cut a date or dateTime value to its year. */
static void to_year(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (!s)
        return;
    if (strlen(s) >= 4) {
        char y[5];
        memcpy(y, s, 4);
        y[4] = 0;
        json_object_set_new(obj, key, json_string(y));
    } else {
        json_object_del(obj, key);
    }
}

/* "Patient/ID", "Patient/ID/_history/N" or "http://host/fhir/Patient/ID":
 * the ID (into id, NUL-terminated), or false. */
static bool patient_ref_id(const char *ref, char *id, size_t cap)
{
    const char *p = NULL;
    if (strncmp(ref, "Patient/", 8) == 0)
        p = ref + 8;
    else if (strstr(ref, "://") && (p = strstr(ref, "/Patient/")) != NULL)
        p += 9;
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= cap)
        return false;
    memcpy(id, p, n);
    id[n] = 0;
    return true;
}

static void walk(const struct deid_key *key, json_t *v);

static void walk_object(const struct deid_key *key, json_t *o)
{
    for (size_t i = 0; i < sizeof drop_everywhere / sizeof drop_everywhere[0]; i++)
        json_object_del(o, drop_everywhere[i]);
    json_t *text = json_object_get(o, "text");
    if (json_is_object(text) && json_object_get(text, "div"))
        json_object_del(o, "text"); /* a Narrative: free text about the person */
    const char *rt = json_string_value(json_object_get(o, "resourceType"));
    if (is_person_type(rt)) {
        for (size_t i = 0; i < sizeof drop_person / sizeof drop_person[0]; i++)
            json_object_del(o, drop_person[i]);
        to_year(o, "birthDate");
        to_year(o, "deceasedDateTime");
        if (strcmp(rt, "Patient") == 0) {
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id) {
                char ps[DEID_PSEUDONYM_LEN + 1];
                deid_pseudonym(key, id, ps);
                json_object_set_new(o, "id", json_string(ps));
            }
        }
    }
    json_t *ref = json_object_get(o, "reference");
    if (json_is_string(ref)) {
        json_object_del(o, "display"); /* a Reference's display may name the person */
        char id[256];
        if (patient_ref_id(json_string_value(ref), id, sizeof id)) {
            char ps[DEID_PSEUDONYM_LEN + 1], out[8 + DEID_PSEUDONYM_LEN + 1];
            deid_pseudonym(key, id, ps);
            memcpy(out, "Patient/", 8);
            memcpy(out + 8, ps, DEID_PSEUDONYM_LEN + 1);
            json_object_set_new(o, "reference", json_string(out));
        }
    }
    const char *k;
    json_t *child;
    json_object_foreach(o, k, child) walk(key, child);
}

static void walk(const struct deid_key *key, json_t *v)
{
    if (json_is_object(v)) {
        walk_object(key, v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) walk(key, e);
    }
}

int deid_resource(const struct deid_key *key, json_t *resource)
{
    if (!json_is_object(resource))
        return WEFT_EINVAL;
    walk(key, resource);
    return WEFT_OK;
}

static int dump_cb(const char *data, size_t size, void *ctx)
{
    buf_add(ctx, data, size);
    return 0;
}

int deid_json_tree(const struct deid_key *key, const char *json, size_t len, struct buf *out)
{
    json_t *r = json_loadb(json, len, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        return WEFT_EPARSE;
    }
    deid_resource(key, r);
    json_dump_callback(r, dump_cb, out, JSON_COMPACT);
    json_decref(r);
    return WEFT_OK;
}

/* ---- the single-pass rewriter ---------------------------------------------------------
 *
 * The stored JSON is copied token by token into out as it is read (white
 * space dropped, as a compact dump drops it).  Each object's members are
 * noted as they are copied (the key's place in the input, the value's span
 * in out, what kind of value it was); when the object closes, the rules of
 * walk_object are applied to that list, and only an object the rules touch
 * is rebuilt (in tmp, then put back over its first copy).  The children were
 * rewritten before their parent closes, as walk() does them after it.
 *
 * It vouches for text jansson would write back unchanged: strings whose
 * escapes are the short ones jansson writes (\" \\ \b \f \n \r \t) and
 * whose UTF-8 jansson accepts, integers in plain form, no duplicate keys.
 * Reals go through jansson's own parse and format (json_loadb/json_dumpb of
 * the one number), so they come out as the tree would write them.  Anything
 * else is DT_SLOW: the caller hands the resource to deid_json_tree. */

#define DT_SLOW 1
#define DT_MAX_DEPTH 512

enum dt_kind { DT_OTHER, DT_STRING, DT_OBJECT };

struct deid_member {
    const char *key; /* in the input, between the quotes */
    size_t klen;
    size_t v0, v1; /* the value's span in out */
    const char *s; /* a string value: its text in the input, between the quotes */
    size_t slen;
    unsigned char kind;
    bool escaped;      /* the string value holds a backslash */
    bool has_div;      /* an object value with a "div" member */
    unsigned char op;  /* what the rules do to it */
    unsigned char cls; /* which key of the rules it is (enum dt_key) */
};

enum dt_op { OP_KEEP, OP_DROP, OP_YEAR, OP_PSEUDONYM, OP_REFERENCE };

/* The keys the rules name (drop_everywhere, drop_person and the rest). */
enum dt_key {
    K_OTHER,
    K_DROP,        /* drop_everywhere */
    K_PERSON_DROP, /* drop_person */
    K_TEXT,
    K_DIV,
    K_RESOURCE_TYPE,
    K_REFERENCE,
    K_DISPLAY,
    K_DATE, /* birthDate, deceasedDateTime */
    K_ID,
};

static bool in_list(const char *k, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], k, n) == 0)
            return true;
    return false;
}

#define LIST(l) l, sizeof l / sizeof l[0]
#define IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, n) == 0)

/* Which key k (n bytes, as in the input) is; most keys are none of them,
 * told by length and first letter before any comparison. */
static unsigned char key_class(const char *k, size_t n)
{
    if (n < 2 || n > 16)
        return K_OTHER;
    switch (k[0]) {
    case 'i':
    case 't':
    case 'a':
    case 'p':
    case 'n':
    case 'c':
    case 'l':
        if (in_list(k, n, LIST(drop_everywhere)))
            return K_DROP;
        if (in_list(k, n, LIST(drop_person)))
            return K_PERSON_DROP;
        if (IS("text"))
            return K_TEXT;
        if (IS("id"))
            return K_ID;
        return K_OTHER;
    case 'd':
        if (IS("div"))
            return K_DIV;
        if (IS("display"))
            return K_DISPLAY;
        if (IS("deceasedDateTime"))
            return K_DATE;
        return K_OTHER;
    case 'r':
        if (IS("resourceType"))
            return K_RESOURCE_TYPE;
        if (IS("reference"))
            return K_REFERENCE;
        return K_OTHER;
    case 'b':
        return IS("birthDate") ? K_DATE : K_OTHER;
    default:
        return K_OTHER;
    }
}
#undef IS
#undef LIST

struct dt_value {
    unsigned char kind;
    bool escaped, has_div;
    const char *s;
    size_t slen;
};

void deid_text_init(struct deid_text *t, const struct deid_key *key)
{
    memset(t, 0, sizeof *t);
    t->key = key;
    buf_init(&t->tmp);
    buf_init(&t->str);
}

void deid_text_free(struct deid_text *t)
{
    buf_release(&t->tmp);
    buf_release(&t->str);
    free(t->m);
    sodium_memzero(t->last_ps, sizeof t->last_ps);
    sodium_memzero(t->last_id, sizeof t->last_id);
    t->m = NULL;
    t->nm = t->mcap = 0;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The length of the UTF-8 sequence at p that jansson accepts (utf8.c: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_ok(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A string at *pp (its opening quote): copied, quotes included, into out;
 * *pp moved past it.  0 or DT_SLOW. */
static int dt_string(struct deid_text *t, const char **pp, struct dt_value *v)
{
    const unsigned char *p = (const unsigned char *)*pp + 1, *end = (const unsigned char *)t->end;
    const unsigned char *s = p;
    bool esc = false;
    for (;;) {
        if (p >= end)
            return DT_SLOW;
        unsigned c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            if (p + 1 >= end)
                return DT_SLOW;
            switch (p[1]) {
            case '"':
            case '\\':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            default:
                return DT_SLOW; /* \u and \/: jansson writes them otherwise */
            }
            esc = true;
            p += 2;
        } else if (c < 0x20) {
            return DT_SLOW; /* invalid JSON: the tree says so */
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_ok(p, end);
            if (!n)
                return DT_SLOW;
            p += n;
        }
    }
    v->kind = DT_STRING;
    v->s = (const char *)s;
    v->slen = (size_t)(p - s);
    v->escaped = esc;
    buf_add(t->out, s - 1, v->slen + 2);
    *pp = (const char *)p + 1;
    return 0;
}

/* A number at *pp.  Integers in plain form are copied; anything else is
 * parsed and written by jansson itself. */
static int dt_number(struct deid_text *t, const char **pp)
{
    const char *p = *pp, *s = p;
    while (p < t->end && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' ||
                          *p == 'e' || *p == 'E'))
        p++;
    size_t n = (size_t)(p - s);
    size_t d = s[0] == '-' ? 1 : 0;
    bool plain = n > d && n - d <= 18 && (s[d] != '0' || n - d == 1) && !(d && s[d] == '0');
    for (size_t i = d; plain && i < n; i++)
        plain = s[i] >= '0' && s[i] <= '9';
    if (plain) {
        buf_add(t->out, s, n);
    } else {
        json_t *j = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        char tmp[64];
        size_t m =
            json_is_number(j) ? json_dumpb(j, tmp, sizeof tmp, JSON_ENCODE_ANY | JSON_COMPACT) : 0;
        json_decref(j);
        if (m == 0 || m >= sizeof tmp)
            return DT_SLOW;
        buf_add(t->out, tmp, m);
    }
    *pp = p;
    return 0;
}

static int dt_value(struct deid_text *t, const char **pp, int depth, struct dt_value *v);

/* buf_addc without the call: most of what the rewriter writes is one byte. */
static inline void put1(struct buf *b, char c)
{
    if (b->len + 2 > b->cap)
        buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

static bool str_is(const struct deid_member *m, const char *name, size_t n)
{
    return m->kind == DT_STRING && m->slen == n && memcmp(m->s, name, n) == 0;
}
#define STR_IS(m, lit) str_is((m), lit, sizeof lit - 1)

/* t->str = the string value of m, NUL-terminated. */
static const char *str_copy(struct deid_text *t, const struct deid_member *m)
{
    buf_reset(&t->str);
    buf_add(&t->str, m->s, m->slen);
    return t->str.data;
}

static void pseudonym_cached(struct deid_text *t, const char *id, char out[DEID_PSEUDONYM_LEN + 1])
{
    size_t n = strlen(id);
    if (t->last_ps[0] && n < sizeof t->last_id && strcmp(t->last_id, id) == 0) {
        memcpy(out, t->last_ps, DEID_PSEUDONYM_LEN + 1);
        return;
    }
    deid_pseudonym(t->key, id, out);
    if (n < sizeof t->last_id) {
        memcpy(t->last_id, id, n + 1);
        memcpy(t->last_ps, out, DEID_PSEUDONYM_LEN + 1);
    }
}

/* The rules of walk_object over the members m[0..n) of an object that
 * starts at out offset start.  *touched: whether it must be rebuilt. */
static int dt_rules(struct deid_text *t, struct deid_member *m, size_t n, bool *touched,
                    bool *has_div)
{
    struct deid_member *rt = NULL, *ref = NULL;
    *touched = false;
    *has_div = false;
    for (size_t i = 0; i < n; i++) {
        struct deid_member *a = &m[i];
        for (size_t j = 0; j < i; j++)
            if (m[j].klen == a->klen && memcmp(m[j].key, a->key, a->klen) == 0)
                return DT_SLOW; /* jansson keeps the last value at the first place */
        a->op = OP_KEEP;
        switch (a->cls) {
        case K_DROP:
            a->op = OP_DROP;
            break;
        case K_TEXT:
            if (a->kind == DT_OBJECT && a->has_div)
                a->op = OP_DROP; /* a Narrative */
            break;
        case K_DIV:
            *has_div = true;
            break;
        case K_RESOURCE_TYPE:
            if (a->kind == DT_STRING)
                rt = a;
            break;
        case K_REFERENCE:
            if (a->kind == DT_STRING)
                ref = a;
            break;
        default:
            break;
        }
    }
    bool person =
        rt && (STR_IS(rt, "Patient") || STR_IS(rt, "RelatedPerson") || STR_IS(rt, "Person"));
    for (size_t i = 0; person && i < n; i++) {
        struct deid_member *a = &m[i];
        if (a->cls == K_PERSON_DROP)
            a->op = OP_DROP;
        if (a->cls == K_DATE && a->kind == DT_STRING) {
            if (a->escaped)
                return DT_SLOW;
            for (size_t k = 0; k < 4 && k < a->slen; k++)
                if ((unsigned char)a->s[k] >= 0x80)
                    return DT_SLOW; /* jansson may refuse a cut UTF-8 sequence */
            a->op = a->slen >= 4 ? OP_YEAR : OP_DROP;
        }
        if (a->cls == K_ID && a->kind == DT_STRING && STR_IS(rt, "Patient")) {
            if (a->escaped)
                return DT_SLOW;
            a->op = OP_PSEUDONYM;
        }
    }
    if (ref) {
        for (size_t i = 0; i < n; i++)
            if (m[i].cls == K_DISPLAY)
                m[i].op = OP_DROP; /* a Reference's display may name the person */
        if (ref->escaped)
            return DT_SLOW;
        char id[256];
        if (patient_ref_id(str_copy(t, ref), id, sizeof id))
            ref->op = OP_REFERENCE;
    }
    for (size_t i = 0; i < n; i++)
        *touched |= m[i].op != OP_KEEP;
    return 0;
}

/* Rebuild the object at out offset start from its members, as the rules say. */
static void dt_rebuild(struct deid_text *t, size_t start, struct deid_member *m, size_t n)
{
    struct buf *b = &t->tmp;
    buf_reset(b);
    buf_addc(b, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct deid_member *a = &m[i];
        if (a->op == OP_DROP)
            continue;
        if (!first)
            buf_addc(b, ',');
        first = false;
        buf_addc(b, '"');
        buf_add(b, a->key, a->klen);
        buf_add(b, "\":", 2);
        char ps[DEID_PSEUDONYM_LEN + 1];
        switch (a->op) {
        case OP_YEAR:
            buf_addc(b, '"');
            buf_add(b, a->s, 4);
            buf_addc(b, '"');
            break;
        case OP_PSEUDONYM:
            pseudonym_cached(t, str_copy(t, a), ps);
            buf_addc(b, '"');
            buf_add(b, ps, DEID_PSEUDONYM_LEN);
            buf_addc(b, '"');
            break;
        case OP_REFERENCE: {
            char id[256];
            patient_ref_id(str_copy(t, a), id, sizeof id);
            pseudonym_cached(t, id, ps);
            buf_add(b, "\"Patient/", 9);
            buf_add(b, ps, DEID_PSEUDONYM_LEN);
            buf_addc(b, '"');
            break;
        }
        default:
            buf_add(b, t->out->data + a->v0, a->v1 - a->v0);
        }
    }
    buf_addc(b, '}');
    buf_truncate(t->out, start);
    buf_add(t->out, b->data, b->len);
}

static int dt_object(struct deid_text *t, const char **pp, int depth, struct dt_value *v)
{
    const char *p = *pp + 1;
    size_t start = t->out->len;
    size_t base = t->nm;
    put1(t->out, '{');
    p = skip_ws(p, t->end);
    int rc = 0;
    if (p < t->end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= t->end || *p != '"')
                return DT_SLOW;
            struct dt_value k;
            if ((rc = dt_string(t, &p, &k)) != 0)
                return rc;
            p = skip_ws(p, t->end);
            if (p >= t->end || *p != ':')
                return DT_SLOW;
            put1(t->out, ':');
            p = skip_ws(p + 1, t->end);
            size_t v0 = t->out->len;
            struct dt_value val;
            memset(&val, 0, sizeof val);
            if ((rc = dt_value(t, &p, depth + 1, &val)) != 0)
                return rc;
            if (t->nm == t->mcap) {
                t->mcap = t->mcap ? t->mcap * 2 : 64;
                t->m = xrealloc(t->m, t->mcap * sizeof *t->m);
            }
            struct deid_member *a = &t->m[t->nm++];
            a->key = k.s;
            a->klen = k.slen;
            a->v0 = v0;
            a->v1 = t->out->len;
            a->kind = val.kind;
            a->s = val.s;
            a->slen = val.slen;
            a->escaped = val.escaped;
            a->has_div = val.has_div;
            a->cls = key_class(k.s, k.slen);
            p = skip_ws(p, t->end);
            if (p < t->end && *p == ',') {
                put1(t->out, ',');
                p = skip_ws(p + 1, t->end);
                continue;
            }
            if (p < t->end && *p == '}') {
                p++;
                break;
            }
            return DT_SLOW;
        }
    }
    put1(t->out, '}');
    bool touched = false;
    rc = dt_rules(t, t->m + base, t->nm - base, &touched, &v->has_div);
    if (rc == 0 && touched)
        dt_rebuild(t, start, t->m + base, t->nm - base);
    t->nm = base;
    v->kind = DT_OBJECT;
    *pp = p;
    return rc;
}

static int dt_array(struct deid_text *t, const char **pp, int depth)
{
    const char *p = skip_ws(*pp + 1, t->end);
    put1(t->out, '[');
    if (p < t->end && *p == ']') {
        p++;
    } else {
        for (;;) {
            struct dt_value v;
            memset(&v, 0, sizeof v);
            int rc = dt_value(t, &p, depth + 1, &v);
            if (rc != 0)
                return rc;
            p = skip_ws(p, t->end);
            if (p < t->end && *p == ',') {
                put1(t->out, ',');
                p = skip_ws(p + 1, t->end);
                continue;
            }
            if (p < t->end && *p == ']') {
                p++;
                break;
            }
            return DT_SLOW;
        }
    }
    put1(t->out, ']');
    *pp = p;
    return 0;
}

static int dt_literal(struct deid_text *t, const char **pp, const char *lit, size_t n)
{
    if ((size_t)(t->end - *pp) < n || memcmp(*pp, lit, n) != 0)
        return DT_SLOW;
    buf_add(t->out, lit, n);
    *pp += n;
    return 0;
}

static int dt_value(struct deid_text *t, const char **pp, int depth, struct dt_value *v)
{
    if (depth > DT_MAX_DEPTH || *pp >= t->end)
        return DT_SLOW;
    switch (**pp) {
    case '{':
        return dt_object(t, pp, depth, v);
    case '[':
        return dt_array(t, pp, depth);
    case '"':
        return dt_string(t, pp, v);
    case 't':
        return dt_literal(t, pp, "true", 4);
    case 'f':
        return dt_literal(t, pp, "false", 5);
    case 'n':
        return dt_literal(t, pp, "null", 4);
    default:
        if (**pp == '-' || (**pp >= '0' && **pp <= '9'))
            return dt_number(t, pp);
        return DT_SLOW;
    }
}

int deid_text_fast(struct deid_text *t, const char *json, size_t len, struct buf *out)
{
    size_t mark = out->len;
    t->out = out;
    t->end = json + len;
    t->nm = 0;
    const char *p = skip_ws(json, t->end);
    struct dt_value v;
    memset(&v, 0, sizeof v);
    int rc = p < t->end && *p == '{' ? dt_object(t, &p, 1, &v) : DT_SLOW;
    if (rc == 0 && skip_ws(p, t->end) != t->end)
        rc = DT_SLOW;
    t->out = NULL;
    if (rc != 0) {
        buf_truncate(out, mark);
        return WEFT_EUNSUPPORTED;
    }
    return WEFT_OK;
}

int deid_text(struct deid_text *t, const char *json, size_t len, struct buf *out)
{
    if (deid_text_fast(t, json, len, out) == 0) {
        t->fast++;
        return WEFT_OK;
    }
    t->slow++;
    return deid_json_tree(t->key, json, len, out);
}

int deid_json(const struct deid_key *key, const char *json, size_t len, struct buf *out)
{
    struct deid_text t;
    deid_text_init(&t, key);
    int rc = deid_text(&t, json, len, out);
    deid_text_free(&t);
    return rc;
}
