/*
 * socialcare_int.h - what the files of the social care CSV module share.
 * Internal: only src/feeds/socialcare*.c include it; everyone else uses
 * feeds/socialcare.h.
 *
 * The module is split by concern, one file each:
 *   socialcare.c            the file: header row, each row, the run, the
 *                           public entry points (socialcare_process_*)
 *   socialcare_schema.c     code lists, columns and kinds: the executable
 *                           form of docs/feeds/csv-social-care.md
 *   socialcare_validate.c   ids and value formats; one value against its column
 *   socialcare_json.c       the FHIR JSON the mappings are built from
 *   socialcare_map_*.c      the six mappings (docs §4), one file per kind
 *   socialcare_pipeline.c   chunks, batches and the queue between the two
 *                           threads (the reading side and the loading side)
 *   socialcare_report.c     the per-file report
 *   socialcare_sink.c       the store sink: loading into the record
 *
 * Names shared between these files carry the prefix sc_.
 */
#ifndef WEFT_FEEDS_SOCIALCARE_INT_H
#define WEFT_FEEDS_SOCIALCARE_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "feeds/csv.h"
#include "domain/systems.h"
#include "feeds/socialcare.h"

#define ROLE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
#define V2_0131_SYSTEM "http://terminology.hl7.org/CodeSystem/v2-0131"
#define MAX_COLS 32
#define MAX_LIST 16

/* One accepted value.  code is what Weft writes (in the column's code
 * system), fhir the FHIR element value where that differs, aliases more
 * accepted spellings, '|'-separated, already normalised (lower case, hyphens). */
struct code {
    const char *code;
    const char *display;
    const char *fhir;
    const char *aliases;
};

/* ---- columns ------------------------------------------------------------- */

enum fmt { F_TEXT, F_KEY, F_DATE, F_BOOL, F_CODE, F_LIST, F_DECIMAL, F_NHS, F_ODS };

#define NOT_FUTURE 1u  /* a date after the processing day is a row error */
#define WARN_FUTURE 2u /* ... is a warning: the row is kept (docs §2) */

struct coldef {
    const char *name;
    char req; /* 'R' required value, 'H' column required, 'O' optional */
    enum fmt fmt;
    const struct code *codes;
    unsigned flags;
};

/* The columns of each kind, in the order of its table (socialcare_schema.c). */
/* clang-format off */
enum {
    P_ID, P_NHS, P_NHS_VER, P_TITLE, P_FAMILY, P_GIVEN, P_DOB, P_SEX, P_ADDR1, P_ADDR2, P_ADDR3,
    P_TOWN, P_COUNTY, P_POSTCODE, P_PHONE, P_MOBILE, P_EMAIL, P_GP, P_DOD, P_RECORDED, P_N
};

enum {
    C_ID, C_PERSON, C_FAMILY, C_GIVEN, C_REL, C_CARER, C_SUPPORT, C_NOK, C_EMERG, C_PHONE,
    C_MOBILE, C_EMAIL, C_ADDR1, C_ADDR2, C_TOWN, C_POSTCODE, C_START, C_END, C_N
};

enum {
    A_ID, A_PERSON, A_TYPE, A_DATE, A_STATUS, A_OUTCOME, A_NEEDS, A_TEAM, A_SUMMARY, A_REVIEW,
    A_N
};
/* clang-format on */
enum { S_ID, S_PERSON, S_TYPE, S_PROVIDER, S_PROVIDER_ODS, S_START, S_END, S_HOURS, S_STATUS, S_N };
/* clang-format off */
enum {
    G_ID, G_PERSON, G_RAISED, G_CATEGORY, G_STATUS, G_CLOSED, G_OUTCOME, G_TEAM, G_SUMMARY, G_N
};

enum {
    E_ID, E_PERSON, E_RECORDED, E_PPD, E_DNACPR, E_DNACPR_DATE, E_RESPECT, E_RESPECT_DATE,
    E_LPA, E_LPA_NAME, E_PREFS, E_N
};
/* clang-format on */

/* ---- per-file state ------------------------------------------------------ */

struct val {
    const char *s; /* trimmed value, NULL when blank or the column is absent */
    size_t len;
    char date[11];                     /* F_DATE: normalised YYYY-MM-DD */
    int b;                             /* F_BOOL: 0/1 */
    double dec;                        /* F_DECIMAL */
    char nhs[11];                      /* F_NHS: the digits when valid */
    int nhs_ok;                        /* F_NHS: 1 valid */
    char id[65];                       /* F_KEY: sanitised FHIR id */
    const struct code *code;           /* F_CODE */
    const struct code *list[MAX_LIST]; /* F_LIST */
    size_t nlist;
};

struct proc;
struct kinddef {
    enum socialcare_kind kind;
    const char *name;
    const char *key;     /* the row's own id column (header detection) */
    const char *id_kind; /* kind in urn:weft:id:{ODS}:{kind} */
    const struct coldef *cols;
    size_t ncols;
    int (*map)(struct proc *p);
};

/*
 * Two halves, which may run on two threads (opts.pipeline):
 *
 *   reading side (struct proc): read a row, check it, map it, add its
 *       resources to the Bundle being built; every bundle_rows rows (or at the
 *       end of a batch) the Bundle is prepared (opts.prepare) and handed on
 *       as a struct chunk;
 *   loading side (struct socialcare_batch): for each chunk, in order: the
 *       issues found while reading its rows go into the report, the Bundle
 *       goes to the sink, and at the end of a batch the commit hook runs and
 *       the batch's rows are counted.
 *
 * On one thread a chunk is delivered as soon as it is made; with pipeline it
 * goes through a queue (struct pipe) of at most SOCIALCARE_PIPE_DEPTH chunks
 * to the calling thread.  Each chunk, its Bundle and its prepared form belong
 * to the reading side until queued, to the loading side until delivered, and
 * then (handed back through the queue) to the reading side again, which
 * frees them: only one thread at a time ever touches a Bundle's tree.  The
 * report belongs to the loading side alone while both run (the reading side
 * counts rows in struct proc and the caller adds them after the join).
 * Nothing stops the reading side early: every row must be read, checked and
 * counted for the report to be the same.  When the sink gives a batch up
 * (socialcare_batch_broken) the reading side stops preparing that batch's
 * Bundles, which the sink will refuse unread.  Carrying the reading side's
 * issues in the chunks keeps the report's issue order exactly what one
 * thread makes: rows' issues up to a Bundle, then that Bundle's load
 * failures.
 */

/* An issue found while reading, on its way to the report. */
struct pend_issue {
    size_t line;
    char *column; /* owned, may be NULL */
    char *reason; /* owned */
    bool error;
};

/* What the reading side hands to the loading side: a Bundle (or none) with
 * the file line of each entry's row, the issues of the rows read since the
 * previous chunk, and whether the batch ends with it. */
struct chunk {
    json_t *bundle; /* NULL: no entries (issues, rows without resources, batch end) */
    json_t *entries;
    size_t *lines; /* row line per entry */
    size_t nlines, linecap;
    size_t rows;    /* mapped rows */
    bool end_batch; /* commit and count the batch after this chunk */
    void *prep;     /* opts->prepare(bundle), or NULL */
    struct pend_issue *issues;
    size_t nissues, issuecap;
    size_t errors_dropped, warnings_dropped; /* beyond SOCIALCARE_MAX_ISSUES: counted only */
    struct chunk *next;
};
/* Issues a chunk without a Bundle holds before it is handed on by itself
 * (rows that map to nothing, e.g. a file of invalid rows, must not pile up). */
#define CHUNK_MAX_ISSUES 256

/* The loading side's batch: batch_rows rows reaching the sink as one or more
 * Bundles.  lines covers the whole batch; the current Bundle's entries are
 * lines[base .. nentries). */
struct socialcare_batch {
    size_t *lines; /* row line per entry */
    size_t nentries, cap;
    size_t base;          /* first entry of the current Bundle */
    size_t rows;          /* rows in this batch */
    size_t *failed_lines; /* rows already failed by the sink (to count once) */
    size_t nfailed, failcap;
    void *prep; /* the current Bundle's prepared form (socialcare_batch_prep) */
    size_t seq; /* batches ended so far */
    struct socialcare_report *rep;
    const struct socialcare_opts *o;
    socialcare_sink_fn sink;
    void *ctx;
    /* seq + 1 of a batch the sink gave up (socialcare_batch_broken), 0 none:
     * the only field the reading side reads while both sides run */
    atomic_size_t broken;
};

struct pipe;

struct proc {
    const struct socialcare_opts *o;
    const struct kinddef *k;
    char today[11];
    char id_system[96]; /* urn:weft:id:{ODS}:{kind of this file} */
    char person_system[96];
    int colmap[MAX_COLS]; /* column -> field index, -1 absent */
    size_t nheader;
    size_t line; /* current row */
    struct val v[MAX_COLS];
    int row_errors;
    struct chunk *cur;  /* being built (NULL: none yet) */
    size_t batch_rows;  /* mapped rows in the current batch */
    size_t bundle_rows; /* mapped rows in the current Bundle */
    size_t seq;         /* batches ended so far */
    size_t rows_read, rows_mapped, rows_rejected, blank_lines; /* for the report */
    size_t errors_made, warnings_made;                         /* issues made so far (the cap) */
    struct csv_reader *r;
    socialcare_sink_fn sink;
    void *ctx;
    struct socialcare_batch *out; /* the loading side: direct delivery, .broken */
    struct pipe *q;               /* NULL: one thread */
    int rrc;                      /* the reader's last result (thread) */
};

/* ---- socialcare_schema.c: code lists, columns, kinds ---------------------- */

extern const struct code sc_nhs_ver_codes[];
extern const struct code sc_relationships[];
const struct kinddef *sc_kind_def(enum socialcare_kind k);
/* The kind whose key column the (normalised) header names hold, or NULL. */
const struct kinddef *sc_kind_from_header(char names[][128], size_t n);

/* ---- socialcare_report.c ------------------------------------------------- */

/* Count one issue; whether the report has room to keep it. */
bool sc_issue_count(struct socialcare_report *rep, int is_error);
/* Keep a counted issue; column and reason are taken (heap or NULL). */
void sc_issue_keep(struct socialcare_report *rep, int is_error, size_t line, char *column,
                   char *reason);
void sc_issue_add(struct socialcare_report *rep, int is_error, size_t line, const char *column,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- socialcare_validate.c: ids and value formats ------------------------ */

/* Parse YYYY-MM-DD or D/M/YYYY (docs §2) into out "YYYY-MM-DD"; 0 or -1. */
int sc_parse_date(const char *s, size_t len, char out[11]);
/* An ODS code: 3 to 10 ASCII letters or digits. */
int sc_valid_ods(const char *s, size_t len);
/* The entry of codes that s names (code, alias or display), or NULL. */
const struct code *sc_code_find(const struct code *codes, const char *s, size_t len);
/* Check one value against its column; fill v.  Errors go to the report. */
void sc_check_value(struct proc *p, const struct coldef *cd, struct val *v);
/* Row error when column later holds a date before column earlier's. */
int sc_date_before(struct proc *p, int later, int earlier);

/* ---- socialcare_json.c: building the resources --------------------------- */

static inline json_t *jsn(const char *s, size_t len)
{
    /* values were checked to be UTF-8 without NUL by the reader */
    return json_stringn_nocheck(s, len);
}

static inline json_t *jval(const struct val *v)
{
    return v->s ? jsn(v->s, v->len) : NULL;
}

static inline void set_opt(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new_nocheck(o, key, v);
}

json_t *sc_coding(const char *system, const char *code, const char *display);
/* CodeableConcept with one coding and an optional text. */
json_t *sc_cc(const char *system, const char *code, const char *display, json_t *text);
json_t *sc_category_cc(const char *category, const char *display);
json_t *sc_identifier(const char *system, const struct val *v);
json_t *sc_patient_ref(const struct val *person);
json_t *sc_display_ref(const struct val *v);
/* A new resource with its record category stated as a meta.tag. */
json_t *sc_resource(const char *type, const char *id, const char *category);
void sc_ext_add(json_t **exts, const char *url, const char *value_key, json_t *value);
void sc_arr_add(json_t **arr, json_t *v);
/* HumanName from family / given (split on spaces) / prefix columns (-1: none). */
json_t *sc_human_name(struct proc *p, int title, int family, int given, const char *use);
json_t *sc_telecoms(struct proc *p, int phone, int mobile, int email);
json_t *sc_address(struct proc *p, const int *lines, size_t nlines, int town, int county, int pc);
json_t *sc_jdate(const struct val *v);
json_t *sc_period(const struct val *start, const struct val *end);

/* ---- socialcare_map_*.c: the six mappings (docs §4) ---------------------- */

int sc_map_people(struct proc *p);
int sc_map_contacts(struct proc *p);
int sc_map_assessments(struct proc *p);
int sc_map_services(struct proc *p);
int sc_map_safeguarding(struct proc *p);
int sc_map_end_of_life(struct proc *p);

/* ---- socialcare_pipeline.c: the reading side's chunks, the loading side -- */

struct chunk *sc_chunk_cur(struct proc *p);
/* An issue of the current row, from the reading side (see the file). */
void sc_row_issue(struct proc *p, bool error, const char *column, const char *reason);
void sc_row_error(struct proc *p, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sc_row_warning(struct proc *p, const char *column, const char *msg);
/* Add a resource of the current row to the Bundle being built. */
void sc_emit(struct proc *p, const char *type, const char *id, json_t *res);
/* Hand the current chunk on: prepared, then delivered or queued. */
void sc_hand(struct proc *p, bool end_batch);
/* The current Bundle (if any) is complete. */
void sc_flush_bundle(struct proc *p);
/* End the batch: its last Bundle, the commit, then count its rows. */
void sc_flush(struct proc *p);
/* The rest of the file on a second thread while this one delivers; returns
 * the reader's last result, or 1 when the thread could not be started. */
int sc_read_pipelined(struct proc *p);

/* ---- socialcare.c: the file ---------------------------------------------- */

/* The rest of the file, on whichever thread reads it; returns the reader's
 * last result (0 at the end, or its error). */
int sc_read_rest(struct proc *p);

static inline int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

#endif
