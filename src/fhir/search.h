/*
 * search.h - FHIR R4 search parameters -> struct store_query.
 *
 * Parses the parameters of one search (GET query string or POST _search
 * form) for one resource type into a store query, and knows how to write the
 * paging links back.  Pure: no store, no HTTP; the API layer resolves the
 * patient reference to a person, applies the authorisation scope and runs the
 * query.
 *
 * Two kinds of parameter (the CapabilityStatement lists both):
 *   - the specification's, for every type, from the generated table
 *     (fhir/searchparam.h): parsed into fs->filters (with modifiers, chains
 *     REF[:Type].PARAM and _has:TYPE:REF:PARAM into fs->chains) and matched
 *     on each item by fhir_search_run; _sort on any of them (fs->sort_sp);
 *   - the store's, below (indexed, across patients too), used instead of the
 *     specification's parameter of the same name when given without a
 *     modifier (date only with eq/ge/gt/le/lt, birthdate only without a
 *     prefix).
 * The store's (fhir_search_params):
 *   every type    _id (one or more ids, comma = OR; not combinable with other
 *                 filters), _lastUpdated, _count, _sort, _cursor (paging),
 *                 _format (json only), _summary (count: the total only;
 *                 false), _total (none: no count and no
 *                 Bundle.total; estimate/accurate: the exact total, the default)
 *   clinical      patient, subject (a Patient reference: "Patient/ID" or "ID";
 *                 comma = OR, at most FHIR_SEARCH_MAX_PATIENTS: each patient's
 *                 record searched under that person's own scope),
 *   types         _record-category (Weft's record category, e.g. "results";
 *                 comma = OR; the standard category is the specification's),
 *                 code (token "system|code", "|code" or "code"; comma = OR),
 *                 date (effective date)
 *   Patient       identifier ("system|value" or "value"), family, given
 *                 (case-insensitive starts-with), birthdate (exact or partial
 *                 date)
 * Dates take the prefixes eq (default), ge, gt, le, lt and partial values
 * (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm]).  A value
 * is a range at its precision: date=2020 is [2020, 2021), le2020-03 is
 * < 2020-04, gt2020-03-04 is >= 2020-03-05.  Times are compared as written
 * (the time-zone suffix and fractions of a second are dropped), so matching
 * is exact for dates and to the second for date-times in one zone.  Repeated
 * date parameters intersect.
 * _count: default FHIR_COUNT_DEFAULT, at most FHIR_COUNT_MAX (larger values
 * are reduced to the maximum and reported as a warning); _count=0 returns
 * only the total.
 * _sort: date, -date, _lastUpdated, -_lastUpdated, _id.  Default: by id, except a search
 * of one type within one patient, which defaults to -date (newest first): that
 * order is the patient index's own, so a page costs a few index steps however
 * few or many items the patient has; and a search of one type across patients,
 * which defaults to store order (oldest first, the type index's own order)
 * (see sort_given).
 * Limits (400 with a message naming the limit): at most FHIR_SEARCH_MAX_PARAMS
 * parameters, FHIR_SEARCH_MAX_TERMS Patient string/token terms and
 * FHIR_SEARCH_MAX_VALUES comma-separated values of one parameter.
 * Unknown parameters, modifiers (name:modifier) and unsupported prefixes are
 * errors naming the parameter, unless lenient (Prefer: handling=lenient):
 * then they are ignored and listed in warnings.
 */
#ifndef WEFT_FHIR_SEARCH_H
#define WEFT_FHIR_SEARCH_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/url.h"
#include "fhir/searchparam.h"
#include "store/records.h"

#define FHIR_COUNT_DEFAULT 50
#define FHIR_COUNT_MAX 1000
#define FHIR_SEARCH_MAX_VALUES 64 /* codes, categories, ids per search */
#define FHIR_SEARCH_MAX_TERMS 32  /* identifier, family, given, birthdate values */
#define FHIR_SEARCH_MAX_PARAMS 64 /* parameters (name=value pairs) in one search */
#define FHIR_SEARCH_MAX_WARNINGS 16
#define FHIR_SEARCH_MAX_FILTERS 16  /* specification parameters matched per resource */
#define FHIR_SEARCH_MAX_CHAINS 4    /* chained and _has parameters in one search */
#define FHIR_SEARCH_MAX_PATIENTS 16 /* patient=a,b,...: patients in one search */
/* Items one search may read to match specification parameters (after the
 * store's narrowing, the search index's across patients included; more:
 * 400 too-costly, narrow it, e.g. by patient or an indexed parameter). */
#define FHIR_SEARCH_SCAN_MAX 20000

/* A chained parameter (subject:Patient.identifier=V) or a reverse chain
 * (_has:Observation:patient:code=V): resolved by an inner search of type for
 * name=value before the search runs (fhir_search_resolve), whose results
 * become the values of filters[filter]. */
struct fhir_search_chain {
    bool has;   /* _has: the ids of what the inner results point at via ref */
    int filter; /* index into filters */
    char *type; /* inner search type */
    char *ref;  /* _has: the inner type's reference parameter */
    char *name; /* inner parameter (with modifier) */
    char *value;
};

enum fhir_search_mode {
    FHIR_SEARCH_TYPE,       /* GET /fhir/{type}?... */
    FHIR_SEARCH_EVERYTHING, /* GET /fhir/Patient/{id}/$everything?... */
};

struct fhir_search {
    struct store_query q; /* filters, sort, limit (q.person_id set by the caller) */
    char *patient_id;     /* patient/subject reference: the Patient's id, or NULL */
    /* patient=a,b (comma = OR): every Patient id given, when more than one
     * (patient_id is then NULL; each patient's scope is applied on its own) */
    char *patient_ids[FHIR_SEARCH_MAX_PATIENTS];
    int npatient_ids;
    char *ids[FHIR_SEARCH_MAX_VALUES]; /* _id values */
    int nids;
    int count;          /* page size asked (after clamping) */
    bool sort_given;    /* _sort was given (else the caller may pick the order) */
    bool no_total;      /* _total=none: no count, no Bundle.total */
    bool summary_count; /* _count=0: total only */
    char *cursor;       /* _cursor as given, or NULL */
    int64_t snapshot;   /* decoded from the cursor (0 = none) */
    int64_t total;      /* decoded from the cursor (-1 = unknown: count) */
    char *after;        /* decoded store cursor, or NULL */
    char *warnings[FHIR_SEARCH_MAX_WARNINGS];
    int nwarnings;
    /* on error: the parameter at fault and a message (both static storage) */
    char err_param[64];
    char err_msg[256];
    /* storage the query points into */
    char *codes[FHIR_SEARCH_MAX_VALUES];
    char *categories[FHIR_SEARCH_MAX_VALUES];
    struct store_term terms[FHIR_SEARCH_MAX_VALUES];
    char *term_values[FHIR_SEARCH_MAX_VALUES];
    char *dates[4];
    /* specification parameters the store does not index: every item the
     * store query returns is matched against each (fhir_search_run) */
    struct fhir_sp_filter filters[FHIR_SEARCH_MAX_FILTERS];
    int nfilters;
    struct fhir_search_chain chains[FHIR_SEARCH_MAX_CHAINS];
    int nchains;
    const struct fhir_sp *sort_sp; /* _sort on a specification parameter, or NULL */
    bool sort_desc;
    /* the search index (fhir/searchparam.h): set index_ready when the
     * store's index is complete (store/records.h STORE_SEARCH_INDEX_META);
     * fhir_search_run then narrows a search across patients by it
     * (ix[0..nix), built once) */
    bool index_ready;
    bool ix_built;
    struct store_ixcond ix[FHIR_SEARCH_MAX_FILTERS + 2];
    int nix;
    int nunindexed; /* filters the index cannot narrow */
};

/*
 * Parse args (name/value pairs, already decoded) for a search of type (NULL
 * for $everything across types) into fs.  Returns 0, or WEFT_EINVAL with
 * fs->err_param and fs->err_msg set (answer 400).  In every case release fs
 * with fhir_search_free().
 */
int fhir_search_parse(struct fhir_search *fs, enum fhir_search_mode mode, const char *type,
                      const struct url_kv *args, int nargs, bool lenient);
void fhir_search_free(struct fhir_search *fs);

/* How fhir_search_resolve and fhir_search_run reach the store: run answers
 * the search's own query (already scoped by the caller); run_inner answers
 * the inner queries of chains and _has, and must apply the caller's scope
 * to them (a chain or _has never reveals what the caller may not see). */
struct fhir_search_exec {
    int (*run)(void *ctx, const struct store_query *q, struct store_result *out);
    int (*run_inner)(void *ctx, const struct store_query *q, struct store_result *out);
    void *ctx;
};

/*
 * Resolve fs's chains (chains[] with has == has_pass): run each inner search
 * through x->run_inner and give its results to the chain's filter.  A chain
 * on the patient or subject parameter that finds exactly one Patient
 * becomes fs->patient_id when none was given (the search then runs over
 * that person's record, as patient=ID).  person_id: the person the search
 * is within (NULL: across people), for _has.  0, WEFT_EINVAL (fs->err_*
 * set: 400), WEFT_ETOOBIG (an inner search matched more than a chain
 * takes), or a store error.
 */
int fhir_search_resolve(struct fhir_search *fs, const struct fhir_search_exec *x, bool has_pass,
                        const char *person_id);

/*
 * Run fs->q: through x->run alone when the search has no filters and no
 * specification sort; else by reading every item the store query returns
 * (in pages, at one snapshot, at most FHIR_SEARCH_SCAN_MAX: WEFT_ETOOBIG
 * beyond), keeping those every filter matches, sorting them by fs->sort_sp
 * when given, and answering the page at fs->after ("+OFFSET", the cursor
 * this function issues in out->next).  out as from store_search.
 */
int fhir_search_run(struct fhir_search *fs, const struct fhir_search_exec *x,
                    struct store_result *out);

/* Whether the search has filters or a sort that fhir_search_run evaluates
 * itself. */
bool fhir_search_filtered(const struct fhir_search *fs);

/* The search parameters supported for type (NULL-terminated list of names,
 * static), for the CapabilityStatement. */
const char *const *fhir_search_params(const char *type);
/* Type of a supported parameter for the CapabilityStatement ("token",
 * "reference", "date", "string", "number", "special"). */
const char *fhir_search_param_type(const char *name);

/*
 * Parse one date search value ("ge2020-03") into the half-open text range
 * it denotes: *ge (inclusive lower bound or "" for none) and *lt (exclusive
 * upper bound or "" for none), each at least 32 bytes.  WEFT_EINVAL for a
 * malformed date, WEFT_EUNSUPPORTED for the prefixes ne, sa, eb, ap.
 */
int fhir_search_date_range(const char *value, char ge[32], char lt[32]);

/* Paging cursor as sent in links: "SNAPSHOT.TOTAL.STORECURSOR" with the
 * store cursor base64url-encoded.  The total at a snapshot never changes, so
 * later pages reuse it instead of counting again.  encode appends to b;
 * decode fills *snapshot, *total and *after (malloc'd, caller frees) and
 * returns WEFT_EINVAL when malformed. */
void fhir_search_cursor_encode(struct buf *b, int64_t snapshot, int64_t total, const char *after);
int fhir_search_cursor_decode(const char *cursor, int64_t *snapshot, int64_t *total, char **after);

/*
 * Append to b the URL of a page of this search: base (e.g.
 * "http://host:port/fhir/Observation") then the given args in order except
 * _cursor, then "_cursor=..." when cursor is not NULL.  Every value is
 * percent-encoded again.
 */
void fhir_search_page_url(struct buf *b, const char *base, const struct url_kv *args, int nargs,
                          const char *cursor);

#endif
