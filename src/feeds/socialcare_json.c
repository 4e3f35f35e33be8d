/*
 * socialcare_json.c - the FHIR R4 JSON the social care mappings are
 * built from: a row's columns made into the datatypes of fhir/datatype.h
 * (identifiers, references, names, addresses, telecoms, periods), and the
 * resource skeleton with its record category.  Values were checked by the
 * reader (UTF-8, no NUL), so strings are added without jansson's checks.
 */
#include "feeds/socialcare_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "domain/category.h"
#include "fhir/datatype.h"
#include "domain/systems.h"

/* ---- JSON building ------------------------------------------------------- */

json_t *sc_category_cc(const char *category, const char *display)
{
    return fhir_concept1(RECORD_CATEGORY_SYSTEM, category, display, NULL);
}

json_t *sc_identifier(const char *system, const struct val *v)
{
    return fhir_identifier(&(struct fhir_identifier){.system = system, .value = jval(v)});
}

json_t *sc_patient_ref(const struct val *person)
{
    char ref[80];
    size_t n = strlen(person->id); /* at most 64 */
    memcpy(ref, "Patient/", 8);
    memcpy(ref + 8, person->id, n + 1);
    return fhir_reference(&(struct fhir_reference){.reference = ref});
}

json_t *sc_display_ref(const struct val *v)
{
    return fhir_reference(&(struct fhir_reference){.display = jval(v)});
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
    json_t *g = NULL, *pre = NULL;
    if (v[given].s) {
        g = json_array();
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
    }
    if (title >= 0 && v[title].s) {
        pre = json_array();
        json_array_append_new(pre, jval(&v[title]));
    }
    return fhir_human_name(&(struct fhir_human_name){
        .use = use, .family = jval(&v[family]), .given = g, .prefix = pre});
}

json_t *sc_telecoms(struct proc *p, int phone, int mobile, int email)
{
    json_t *a = NULL;
    sc_arr_add(&a, fhir_contact_point("phone", jval(&p->v[phone]), "home"));
    sc_arr_add(&a, fhir_contact_point("phone", jval(&p->v[mobile]), "mobile"));
    sc_arr_add(&a, fhir_contact_point("email", jval(&p->v[email]), NULL));
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
    json_t *line = json_array();
    for (size_t i = 0; i < nlines; i++)
        if (v[lines[i]].s)
            json_array_append_new(line, jval(&v[lines[i]]));
    json_t *a =
        fhir_address(&(struct fhir_address){.use = "home",
                                            .line = line,
                                            .city = jval(&v[town]),
                                            .district = county >= 0 ? jval(&v[county]) : NULL,
                                            .postal_code = postcode(&v[pc])});
    if (!a)
        return NULL;
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
    return fhir_period(sc_jdate(start), sc_jdate(end));
}
