/*
 * datatype.c - FHIR R4 datatypes as jansson objects (see datatype.h).
 *
 * Called for every name, address, code and identifier of every mapped
 * message and row, so each builder makes its object once, in element order,
 * with keys added unchecked (they are literals here) and nothing copied
 * twice.
 */
#include "fhir/datatype.h"

#include <stdio.h>

#include "domain/systems.h"

/* o[key] = v when v is not NULL (v stolen). */
static void set(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new_nocheck(o, key, v);
}

/* o[key] = a when a is an array with items; otherwise a is freed. */
static void set_list(json_t *o, const char *key, json_t *a)
{
    if (json_array_size(a) > 0)
        json_object_set_new_nocheck(o, key, a);
    else
        json_decref(a);
}

static json_t *str(const char *s)
{
    return s ? json_string_nocheck(s) : NULL;
}

json_t *fhir_coding_j(json_t *system, json_t *code, json_t *display)
{
    if (!code) {
        json_decref(system);
        json_decref(display);
        return NULL;
    }
    json_t *c = json_object();
    set(c, "system", system);
    json_object_set_new_nocheck(c, "code", code);
    set(c, "display", display);
    return c;
}

json_t *fhir_coding(const char *system, const char *code, const char *display)
{
    if (!code)
        return NULL;
    return fhir_coding_j(str(system), json_string_nocheck(code), str(display));
}

json_t *fhir_concept(json_t *codings, json_t *text)
{
    if (json_array_size(codings) == 0) {
        json_decref(codings);
        codings = NULL;
    }
    if (!codings && !text)
        return NULL;
    json_t *c = json_object();
    set(c, "coding", codings);
    set(c, "text", text);
    return c;
}

json_t *fhir_concept1(const char *system, const char *code, const char *display, json_t *text)
{
    json_t *codings = json_array();
    json_t *coding = fhir_coding(system, code, display);
    if (coding)
        json_array_append_new(codings, coding);
    return fhir_concept(codings, text);
}

json_t *fhir_identifier(const struct fhir_identifier *id)
{
    if (!id->value) {
        json_decref(id->extension);
        json_decref(id->type);
        return NULL;
    }
    json_t *i = json_object();
    set(i, "extension", id->extension);
    set(i, "type", id->type);
    set(i, "system", str(id->system));
    json_object_set_new_nocheck(i, "value", id->value);
    return i;
}

json_t *fhir_reference(const struct fhir_reference *r)
{
    if (!r->reference && !r->identifier && !r->display)
        return NULL;
    json_t *o = json_object();
    set(o, "reference", str(r->reference));
    set(o, "type", str(r->type));
    set(o, "identifier", r->identifier);
    set(o, "display", r->display);
    return o;
}

json_t *fhir_human_name(const struct fhir_human_name *n)
{
    if (!n->family && json_array_size(n->given) == 0 && json_array_size(n->prefix) == 0 &&
        json_array_size(n->suffix) == 0) {
        json_decref(n->given);
        json_decref(n->prefix);
        json_decref(n->suffix);
        return NULL;
    }
    json_t *o = json_object();
    set(o, "use", str(n->use));
    set(o, "family", n->family);
    set_list(o, "given", n->given);
    set_list(o, "prefix", n->prefix);
    set_list(o, "suffix", n->suffix);
    return o;
}

json_t *fhir_address(const struct fhir_address *a)
{
    if (json_array_size(a->line) == 0 && !a->city && !a->district && !a->postal_code &&
        !a->country) {
        json_decref(a->line);
        return NULL;
    }
    json_t *o = json_object();
    set(o, "use", str(a->use));
    set_list(o, "line", a->line);
    set(o, "city", a->city);
    set(o, "district", a->district);
    set(o, "postalCode", a->postal_code);
    set(o, "country", a->country);
    return o;
}

json_t *fhir_contact_point(const char *system, json_t *value, const char *use)
{
    if (!value)
        return NULL;
    json_t *t = json_object();
    json_object_set_new_nocheck(t, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(t, "value", value);
    set(t, "use", str(use));
    return t;
}

json_t *fhir_period(json_t *start, json_t *end)
{
    if (!start && !end)
        return NULL;
    json_t *o = json_object();
    set(o, "start", start);
    set(o, "end", end);
    return o;
}

void fhir_extension_add(json_t **exts, const char *url, const char *value_key, json_t *value)
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

int fhir_local_id_system(char *out, size_t cap, const char *ods, const char *kind)
{
    return snprintf(out, cap, LOCAL_ID_SYSTEM_PREFIX "%s:%s", ods, kind);
}
