/*
 * shape.h - the shape of a search result: _summary, _elements, _include and
 * _revinclude (and $everything's start, end and _type), taken out of a
 * search's parameters before fhir/search.c parses the filters, and the pure
 * work on one resource's JSON: cutting it to a summary or to elements (with
 * the SUBSETTED tag) and finding the references an _include follows.  Pure:
 * no store, no HTTP (fhir/api_include.c fetches what the includes name,
 * through the scoped-read path).
 *
 * The element and reference tables are generated from the FHIR R4
 * definitions (fhir/shape_tables.h).
 *
 *   _summary=true   the elements the definitions mark isSummary (plus id,
 *                   meta), tagged SUBSETTED
 *   _summary=text   text, id, meta and the mandatory elements, SUBSETTED
 *   _summary=data   everything but text, SUBSETTED
 *   _summary=count, false: left to fhir/search.c (the total only; whole)
 *   _elements=a,b   those top-level elements plus the mandatory ones (and
 *                   id, meta), SUBSETTED; applies to matches, not includes
 *   _include=T:p[:U], _include:iterate=..., _revinclude=T:p[:U] (and
 *                   :iterate); T:* follows every reference parameter of T
 *   $everything     start, end (the clinical date), _type (resource types,
 *                   comma-separated)
 */
#ifndef WEFT_FHIR_SHAPE_H
#define WEFT_FHIR_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/url.h"

#define FHIR_SHAPE_MAX_ELEMENTS 64
#define FHIR_SHAPE_MAX_INCLUDES 16
#define FHIR_SHAPE_MAX_TYPES 32
/* Limits of _include/_revinclude (documented in docs/FHIR_SEARCH.md): the
 * resources one page may include, the rounds of :iterate, and the
 * candidates a _revinclude reads per person. */
#define FHIR_INCLUDE_MAX 500
#define FHIR_INCLUDE_MAX_DEPTH 3
#define FHIR_REVINCLUDE_SCAN 2000

enum fhir_summary {
    FHIR_SUMMARY_NONE = 0, /* whole resources (also _summary=false) */
    FHIR_SUMMARY_TRUE,
    FHIR_SUMMARY_TEXT,
    FHIR_SUMMARY_DATA,
};

struct fhir_include {
    bool rev;                               /* _revinclude */
    bool iterate;                           /* :iterate (also :recurse, R3's name) */
    char source[64], param[64], target[64]; /* "MedicationRequest", "medication", "" */
};

struct fhir_shape {
    enum fhir_summary summary;
    char *elements[FHIR_SHAPE_MAX_ELEMENTS];
    int nelements;
    struct fhir_include inc[FHIR_SHAPE_MAX_INCLUDES];
    int ninc;
    /* $everything */
    char *start, *end;
    char *types[FHIR_SHAPE_MAX_TYPES];
    int ntypes;
    char err[256]; /* on error: the message (answer 400) */
};

/*
 * Take the shaping parameters out of args: *rest (malloc'd array borrowing
 * args' strings; free() it) gets the others for fhir_search_parse.
 * everything: $everything (start, end, _type taken too).  Returns 0, or
 * WEFT_EINVAL with sh->err set.  Release sh with fhir_shape_free.
 */
int fhir_shape_take(struct fhir_shape *sh, bool everything, const struct url_kv *args, int nargs,
                    struct url_kv **rest, int *nrest);
void fhir_shape_free(struct fhir_shape *sh);
/* True when matches are cut (summary true/text/data or _elements). */
bool fhir_shape_subsets(const struct fhir_shape *sh);

/*
 * Append to out the resource json[0..len) cut as sh says (unchanged when
 * !fhir_shape_subsets), with meta.tag SUBSETTED added when cut.  Returns 0,
 * or WEFT_EINVAL when json is not an object (out then gets it unchanged).
 */
int fhir_shape_resource(const struct fhir_shape *sh, const char *json, size_t len, struct buf *out);

/* True when type has the reference search parameter code ("*": any). */
bool fhir_shape_has_ref(const char *type, const char *code);

/*
 * The references of resource json (of type) that search parameter code
 * ("*": every reference parameter of type) names, as relative "Type/id",
 * keeping only those to target (NULL or "": any): fn is called for each
 * (possibly more than once for one).  Absolute, contained ("#x") and
 * logical references are not followed.
 */
void fhir_shape_refs(const char *type, const char *code, const char *target, const char *json,
                     size_t len, void (*fn)(void *ctx, const char *rtype, const char *rid),
                     void *ctx);

/*
 * The CapabilityStatement's searchInclude and searchRevInclude of type
 * (from the same reference table the includes run on) set on resource (a
 * CapabilityStatement.rest.resource object); revincludes are listed from
 * the source types stored() says the record keeps.  Called by
 * api_metadata.c.
 */
struct json_t;
void fhir_shape_capability(struct json_t *resource, const char *type,
                           bool (*stored)(const char *type));

#endif
