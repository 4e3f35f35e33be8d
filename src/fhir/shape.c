/*
 * shape.c - result shaping on one resource's JSON (see shape.h): parsing the
 * shaping parameters, cutting a resource to its summary or to elements, and
 * following the references an _include names.  Tables: fhir/shape_tables.h
 * (generated from the R4 definitions).  Resources are parsed with jansson
 * only when a reply is cut or an include followed: whole matches are still
 * sent as stored, unparsed.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "fhir/shape.h"
#include "fhir/shape_tables.h"

__attribute__((format(printf, 2, 3))) static int fail(struct fhir_shape *sh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->err, sizeof sh->err, fmt, ap);
    va_end(ap);
    return WEFT_EINVAL;
}

static bool is_name(const char *s, size_t n)
{
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static int type_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct fhir_shape_type *)elem)->type);
}

static const struct fhir_shape_type *type_of(const char *type)
{
    if (!type)
        return NULL;
    return bsearch(type, fhir_shape_types, (size_t)fhir_shape_ntypes, sizeof fhir_shape_types[0],
                   type_cmp);
}

bool fhir_shape_has_ref(const char *type, const char *code)
{
    for (int i = 0; i < fhir_shape_nreftab; i++)
        if (strcmp(fhir_shape_reftab[i].type, type) == 0 &&
            (strcmp(code, "*") == 0 || strcmp(fhir_shape_reftab[i].code, code) == 0))
            return true;
    return false;
}

/* "Source:param[:Target]" into inc. */
static int parse_include(struct fhir_shape *sh, struct fhir_include *inc, const char *name,
                         const char *v)
{
    const char *c1 = strchr(v, ':');
    if (!c1)
        return fail(sh, "parameter '%.60s': give SourceType:parameter[:TargetType]", name);
    const char *c2 = strchr(c1 + 1, ':');
    size_t n1 = (size_t)(c1 - v);
    size_t n2 = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    const char *t = c2 ? c2 + 1 : "";
    if (!is_name(v, n1) || !(is_name(c1 + 1, n2) || (n2 == 1 && c1[1] == '*')) ||
        (*t && !is_name(t, strlen(t))))
        return fail(sh, "parameter '%.60s': give SourceType:parameter[:TargetType]", name);
    memcpy(inc->source, v, n1);
    inc->source[n1] = 0;
    memcpy(inc->param, c1 + 1, n2);
    inc->param[n2] = 0;
    snprintf(inc->target, sizeof inc->target, "%s", t);
    if (!type_of(inc->source))
        return fail(sh, "parameter '%.60s': the source is not a FHIR R4 resource type", name);
    if (*t && !type_of(t))
        return fail(sh, "parameter '%.60s': the target is not a FHIR R4 resource type", name);
    if (!fhir_shape_has_ref(inc->source, inc->param)) {
        snprintf(sh->err, sizeof sh->err,
                 "parameter '%.40s': %.60s has no reference search parameter '%.60s'", name,
                 inc->source, inc->param);
        return WEFT_EINVAL;
    }
    return WEFT_OK;
}

static int split_into(struct fhir_shape *sh, const char *name, const char *v, char **out, int *n,
                      int max, bool types)
{
    const char *p = v;
    while (true) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!is_name(p, len))
            return fail(sh, "parameter '%.60s': a value is empty or not a name", name);
        if (*n >= max)
            return fail(sh, "parameter '%.60s': too many values", name);
        out[*n] = strndup(p, len);
        (*n)++;
        if (types && !type_of(out[*n - 1]))
            return fail(sh, "parameter '%.60s': a value is not a FHIR R4 resource type", name);
        if (!e)
            break;
        p = e + 1;
    }
    return WEFT_OK;
}

int fhir_shape_take(struct fhir_shape *sh, bool everything, const struct url_kv *args, int nargs,
                    struct url_kv **rest, int *nrest)
{
    memset(sh, 0, sizeof *sh);
    *rest = calloc((size_t)nargs + 1, sizeof **rest);
    *nrest = 0;
    if (!*rest)
        return WEFT_ENOMEM;
    for (int i = 0; i < nargs; i++) {
        const char *n = args[i].name, *v = args[i].value;
        if (strcmp(n, "_summary") == 0) {
            if (strcmp(v, "true") == 0)
                sh->summary = FHIR_SUMMARY_TRUE;
            else if (strcmp(v, "text") == 0)
                sh->summary = FHIR_SUMMARY_TEXT;
            else if (strcmp(v, "data") == 0)
                sh->summary = FHIR_SUMMARY_DATA;
            else /* count, false and errors: fhir/search.c */
                (*rest)[(*nrest)++] = args[i];
        } else if (strcmp(n, "_elements") == 0) {
            int rc =
                split_into(sh, n, v, sh->elements, &sh->nelements, FHIR_SHAPE_MAX_ELEMENTS, false);
            if (rc)
                return rc;
        } else if (strncmp(n, "_include", 8) == 0 || strncmp(n, "_revinclude", 11) == 0) {
            bool rev = n[1] == 'r';
            const char *mod = n + (rev ? 11 : 8);
            bool iterate = strcmp(mod, ":iterate") == 0 || strcmp(mod, ":recurse") == 0;
            if (*mod && !iterate)
                return fail(sh, "parameter '%.60s': the only modifier is :iterate", n);
            if (sh->ninc >= FHIR_SHAPE_MAX_INCLUDES)
                return fail(sh, "parameter '%.60s': too many _include/_revinclude parameters", n);
            struct fhir_include *inc = &sh->inc[sh->ninc];
            inc->rev = rev;
            inc->iterate = iterate;
            int rc = parse_include(sh, inc, n, v);
            if (rc)
                return rc;
            sh->ninc++;
        } else if (everything && strcmp(n, "start") == 0) {
            free(sh->start);
            sh->start = strdup(v);
        } else if (everything && strcmp(n, "end") == 0) {
            free(sh->end);
            sh->end = strdup(v);
        } else if (everything && strcmp(n, "_type") == 0) {
            int rc = split_into(sh, n, v, sh->types, &sh->ntypes, FHIR_SHAPE_MAX_TYPES, true);
            if (rc)
                return rc;
        } else {
            (*rest)[(*nrest)++] = args[i];
        }
    }
    if (sh->nelements && sh->summary)
        return fail(sh, "%s", "_elements and _summary cannot be combined");
    return WEFT_OK;
}

void fhir_shape_free(struct fhir_shape *sh)
{
    for (int i = 0; i < sh->nelements; i++)
        free(sh->elements[i]);
    for (int i = 0; i < sh->ntypes; i++)
        free(sh->types[i]);
    free(sh->start);
    free(sh->end);
    memset(sh, 0, sizeof *sh);
}

bool fhir_shape_subsets(const struct fhir_shape *sh)
{
    return sh->summary != FHIR_SUMMARY_NONE || sh->nelements > 0;
}

/* The definition of JSON key k of a type: "valueQuantity" is "value[x]". */
static const struct fhir_shape_element *element_of(const struct fhir_shape_type *t, const char *k)
{
    if (!t)
        return NULL;
    if (k[0] == '_') /* a primitive's extension goes with the primitive */
        k++;
    for (int i = t->first; i < t->first + t->n; i++) {
        const struct fhir_shape_element *e = &fhir_shape_elements[i];
        size_t n = strlen(e->name);
        if (strncmp(k, e->name, n) != 0)
            continue;
        if (k[n] == 0 || (e->choice && isupper((unsigned char)k[n])))
            return e;
    }
    return NULL;
}

static bool named(const struct fhir_shape *sh, const char *k)
{
    if (k[0] == '_')
        k++;
    for (int i = 0; i < sh->nelements; i++) {
        size_t n = strlen(sh->elements[i]);
        if (strcmp(k, sh->elements[i]) == 0 ||
            (strncmp(k, sh->elements[i], n) == 0 && isupper((unsigned char)k[n])))
            return true; /* "value" asks for valueQuantity */
    }
    return false;
}

static bool keep(const struct fhir_shape *sh, const struct fhir_shape_type *t, const char *k)
{
    if (strcmp(k, "resourceType") == 0 || strcmp(k, "id") == 0 || strcmp(k, "meta") == 0)
        return true;
    const struct fhir_shape_element *e = element_of(t, k);
    switch (sh->summary) {
    case FHIR_SUMMARY_TRUE:
        return e && (e->summary || e->mandatory);
    case FHIR_SUMMARY_TEXT:
        return strcmp(k, "text") == 0 || (e && e->mandatory);
    case FHIR_SUMMARY_DATA:
        return strcmp(k, "text") != 0;
    case FHIR_SUMMARY_NONE:
        break;
    }
    return named(sh, k) || (e && e->mandatory);
}

int fhir_shape_resource(const struct fhir_shape *sh, const char *json, size_t len, struct buf *out)
{
    if (!fhir_shape_subsets(sh)) {
        buf_add(out, json, len);
        return WEFT_OK;
    }
    json_t *r = json_loadb(json, len, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        buf_add(out, json, len);
        return WEFT_EINVAL;
    }
    const struct fhir_shape_type *t =
        type_of(json_string_value(json_object_get(r, "resourceType")));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(r, tmp, k, v)
    {
        if (!keep(sh, t, k))
            json_object_del(r, k);
    }
    json_t *meta = json_object_get(r, "meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(r, "meta", meta);
    }
    json_t *tags = json_object_get(meta, "tag");
    if (!json_is_array(tags)) {
        tags = json_array();
        json_object_set_new(meta, "tag", tags);
    }
    json_array_append_new(tags,
                          json_pack("{s:s,s:s,s:s}", "system",
                                    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                                    "code", "SUBSETTED", "display", "subsetted"));
    char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(r);
    if (!text)
        return WEFT_ENOMEM;
    buf_adds(out, text);
    free(text);
    return WEFT_OK;
}

/* ---- references --------------------------------------------------------------------------- */

struct refs_ctx {
    const char *target;
    void (*fn)(void *ctx, const char *rtype, const char *rid);
    void *ctx;
};

static void emit_ref(const struct refs_ctx *c, const json_t *ref)
{
    const char *s = json_string_value(json_object_get(ref, "reference"));
    if (!s)
        return;
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/') || s[0] == '#' || slash == s)
        return; /* absolute, contained, versioned or not a reference */
    char type[64], id[72];
    size_t tn = (size_t)(slash - s), in = strlen(slash + 1);
    if (tn >= sizeof type || in == 0 || in >= sizeof id)
        return;
    memcpy(type, s, tn);
    type[tn] = 0;
    memcpy(id, slash + 1, in + 1);
    if (!type_of(type) || (c->target && *c->target && strcmp(c->target, type) != 0))
        return;
    c->fn(c->ctx, type, id);
}

/* Walk path (dotted) from v; arrays are walked element by element. */
static void walk(const struct refs_ctx *c, const json_t *v, const char *path)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) walk(c, x, path);
        return;
    }
    if (!json_is_object(v))
        return;
    if (!*path) {
        emit_ref(c, v);
        return;
    }
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    char key[96];
    if (n + sizeof "Reference" >= sizeof key)
        return;
    memcpy(key, path, n);
    key[n] = 0;
    const json_t *next = json_object_get(v, key);
    if (!next) { /* a choice element: medication -> medicationReference */
        memcpy(key + n, "Reference", sizeof "Reference");
        next = json_object_get(v, key);
    }
    if (next)
        walk(c, next, dot ? dot + 1 : "");
}

void fhir_shape_refs(const char *type, const char *code, const char *target, const char *json,
                     size_t len, void (*fn)(void *ctx, const char *rtype, const char *rid),
                     void *ctx)
{
    json_t *r = json_loadb(json, len, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        return;
    }
    struct refs_ctx c = {target, fn, ctx};
    for (int i = 0; i < fhir_shape_nreftab; i++) {
        const struct fhir_shape_ref *sr = &fhir_shape_reftab[i];
        if (strcmp(sr->type, type) != 0 || (strcmp(code, "*") != 0 && strcmp(sr->code, code) != 0))
            continue;
        walk(&c, r, sr->path);
    }
    json_decref(r);
}

/* ---- CapabilityStatement ------------------------------------------------------------------ */

static bool targets_has(const char *targets, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = targets; (p = strstr(p, type)) != NULL; p += n)
        if ((p == targets || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return true;
    return false;
}

static void add_once(json_t *arr, const char *a, const char *b)
{
    char v[160];
    snprintf(v, sizeof v, "%s:%s", a, b);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (strcmp(json_string_value(x), v) == 0) return;
    json_array_append_new(arr, json_string(v));
}

void fhir_shape_capability(json_t *resource, const char *type, bool (*stored)(const char *type))
{
    json_t *inc = json_array(), *rev = json_array();
    for (int i = 0; i < fhir_shape_nreftab; i++) {
        const struct fhir_shape_ref *r = &fhir_shape_reftab[i];
        if (strcmp(r->type, type) == 0)
            add_once(inc, r->type, r->code);
        if (targets_has(r->targets, type) && (!stored || stored(r->type)))
            add_once(rev, r->type, r->code);
    }
    if (json_array_size(inc) > 0)
        add_once(inc, type, "*");
    json_object_set_new(resource, "searchInclude", inc);
    json_object_set_new(resource, "searchRevInclude", rev);
}
