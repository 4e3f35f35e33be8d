/*
 * socialcare_json.c - the FHIR R4 JSON the social care mappings are
 * built from (codings, identifiers, references, names, addresses, periods),
 * with jansson.  Values were checked by the reader (UTF-8, no NUL), so
 * strings are added without jansson's checks.
 */
#include "feeds/socialcare_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "domain/category.h"

/* ---- JSON building ------------------------------------------------------- */

json_t *sc_coding(const char *system, const char *code, const char *display)
{
    json_t *c = json_object();
    json_object_set_new_nocheck(c, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(c, "code", json_string_nocheck(code));
    if (display)
        json_object_set_new_nocheck(c, "display", json_string_nocheck(display));
    return c;
}

/* CodeableConcept with one coding and an optional text. */
json_t *sc_cc(const char *system, const char *code, const char *display, json_t *text)
{
    json_t *c = json_object();
    json_t *a = json_array();
    json_array_append_new(a, sc_coding(system, code, display));
    json_object_set_new_nocheck(c, "coding", a);
    set_opt(c, "text", text);
    return c;
}

json_t *sc_category_cc(const char *category, const char *display)
{
    return sc_cc(RECORD_CATEGORY_SYSTEM, category, display, NULL);
}

json_t *sc_identifier(const char *system, const struct val *v)
{
    json_t *i = json_object();
    json_object_set_new_nocheck(i, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(i, "value", jval(v));
    return i;
}

json_t *sc_patient_ref(const struct val *person)
{
    char ref[80];
    size_t n = strlen(person->id); /* at most 64 */
    memcpy(ref, "Patient/", 8);
    memcpy(ref + 8, person->id, n + 1);
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "reference", json_string_nocheck(ref));
    return r;
}

json_t *sc_display_ref(const struct val *v)
{
    if (!v->s)
        return NULL;
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "display", jval(v));
    return r;
}

/* A new resource with its record category stated as a meta.tag (the
 * explicit form domain/category.h honours first). */
json_t *sc_resource(const char *type, const char *id, const char *category)
{
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "resourceType", json_string_nocheck(type));
    json_object_set_new_nocheck(r, "id", json_string_nocheck(id));
    json_t *meta = json_object();
    json_t *tags = json_array();
    json_t *tag = json_object();
    json_object_set_new_nocheck(tag, "system", json_string_nocheck(CATEGORY_TAG_SYSTEM));
    json_object_set_new_nocheck(tag, "code", json_string_nocheck(category));
    json_array_append_new(tags, tag);
    json_object_set_new_nocheck(meta, "tag", tags);
    json_object_set_new_nocheck(r, "meta", meta);
    return r;
}

void sc_ext_add(json_t **exts, const char *url, const char *value_key, json_t *value)
{
    if (!value)
        return;
    if (!*exts)
        *exts = json_array();
    json_t *e = json_object();
    json_object_set_new_nocheck(e, "url", json_string_nocheck(url));
    json_object_set_new_nocheck(e, value_key, value);
    json_array_append_new(*exts, e);
}

void sc_arr_add(json_t **arr, json_t *v)
{
    if (!v)
        return;
    if (!*arr)
        *arr = json_array();
    json_array_append_new(*arr, v);
}

/* HumanName from family / given (split on spaces) / prefix columns (-1: none). */
json_t *sc_human_name(struct proc *p, int title, int family, int given, const char *use)
{
    const struct val *v = p->v;
    if (!v[family].s && !v[given].s && (title < 0 || !v[title].s))
        return NULL;
    json_t *n = json_object();
    if (use)
        json_object_set_new_nocheck(n, "use", json_string_nocheck(use));
    set_opt(n, "family", jval(&v[family]));
    if (v[given].s) {
        json_t *g = json_array();
        const char *s = v[given].s, *end = s + v[given].len;
        while (s < end) {
            while (s < end && (is_space(*s) || *s == '\n' || *s == '\r'))
                s++;
            const char *e = s;
            while (e < end && !is_space(*e) && *e != '\n' && *e != '\r')
                e++;
            if (e > s)
                json_array_append_new(g, jsn(s, (size_t)(e - s)));
            s = e;
        }
        json_object_set_new_nocheck(n, "given", g);
    }
    if (title >= 0 && v[title].s) {
        json_t *pre = json_array();
        json_array_append_new(pre, jval(&v[title]));
        json_object_set_new_nocheck(n, "prefix", pre);
    }
    return n;
}

static json_t *telecom1(const char *system, const char *use, const struct val *v)
{
    if (!v->s)
        return NULL;
    json_t *t = json_object();
    json_object_set_new_nocheck(t, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(t, "value", jval(v));
    if (use)
        json_object_set_new_nocheck(t, "use", json_string_nocheck(use));
    return t;
}

json_t *sc_telecoms(struct proc *p, int phone, int mobile, int email)
{
    json_t *a = NULL;
    sc_arr_add(&a, telecom1("phone", "home", &p->v[phone]));
    sc_arr_add(&a, telecom1("phone", "mobile", &p->v[mobile]));
    sc_arr_add(&a, telecom1("email", NULL, &p->v[email]));
    return a;
}

/* Upper case; "ME141AA" -> "ME14 1AA" when it has no space (docs §4.1). */
static json_t *postcode(const struct val *v)
{
    if (!v->s)
        return NULL;
    char pc[16];
    size_t n = 0;
    int plain = 1;
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->s[i];
        if (c == ' ')
            continue;
        if (!isalnum(c) || c >= 0x80 || n >= 7) {
            plain = 0;
            break;
        }
        pc[n++] = (char)toupper(c);
    }
    if (!plain || n < 5) {
        /* not a UK-shaped postcode: keep it as sent, upper-cased */
        char *u = xstrndup(v->s, v->len);
        for (char *q = u; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        json_t *j = jsn(u, v->len);
        free(u);
        return j;
    }
    char out[16];
    memcpy(out, pc, n - 3);
    out[n - 3] = ' ';
    memcpy(out + n - 2, pc + n - 3, 3);
    return jsn(out, n + 1);
}

json_t *sc_address(struct proc *p, const int *lines, size_t nlines, int town, int county, int pc)
{
    const struct val *v = p->v;
    json_t *line = NULL;
    for (size_t i = 0; i < nlines; i++)
        sc_arr_add(&line, jval(&v[lines[i]]));
    json_t *city = jval(&v[town]);
    json_t *district = county >= 0 ? jval(&v[county]) : NULL;
    json_t *post = postcode(&v[pc]);
    if (!line && !city && !district && !post)
        return NULL;
    json_t *a = json_object();
    json_object_set_new_nocheck(a, "use", json_string_nocheck("home"));
    set_opt(a, "line", line);
    set_opt(a, "city", city);
    set_opt(a, "district", district);
    set_opt(a, "postalCode", post);
    json_t *arr = json_array();
    json_array_append_new(arr, a);
    return arr;
}

json_t *sc_jdate(const struct val *v)
{
    return v->s ? json_string_nocheck(v->date) : NULL;
}

json_t *sc_period(const struct val *start, const struct val *end)
{
    if (!start->s && !end->s)
        return NULL;
    json_t *o = json_object();
    set_opt(o, "start", sc_jdate(start));
    set_opt(o, "end", sc_jdate(end));
    return o;
}
