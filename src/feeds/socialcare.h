/*
 * socialcare.h - local authority social care CSV extracts: recognise the
 * extract kind, validate the header and every row, map rows to FHIR R4 and
 * hand them, in Bundles of type "batch", to a sink (normally the loading
 * pipeline, fhir_load_bundle()).  docs/feeds/csv-social-care.md is the schema
 * this module implements; keep the two in step.
 *
 * The file is read once, streaming (feeds/csv.h), so memory does not grow
 * with the file: at most one Bundle of opts.batch_rows rows is held at a time
 * (at most 2 * SOCIALCARE_PIPE_DEPTH + 4 with opts.pipeline: queued, being
 * built, being loaded, waiting to be freed), plus the report's issue
 * lists (capped at SOCIALCARE_MAX_ISSUES each).
 *
 * Outcome of one file:
 *   - a file error (unreadable, unknown kind, missing/duplicated required
 *     column, no header) rejects the whole file: nothing reaches the sink;
 *   - a row error rejects that row only (reported with line, column, reason);
 *   - a warning keeps the row (e.g. an invalid NHS number: kept, not used for
 *     linking);
 *   - the sink may refuse a whole Bundle or single entries of it.
 * All of it is counted in struct socialcare_report, which can be written as
 * JSON beside the processed file.  Report reasons never contain names, NHS
 * numbers, dates of birth, addresses or free text from the file (only values
 * of code columns), and nothing from the file goes to the operational log.
 *
 * Typical use (the drop-folder watcher):
 *     struct socialcare_opts o = {.ods = "KENTCC", .feed = "kent-sc"};
 *     struct socialcare_report *rep;
 *     int rc = socialcare_process_file(path, &o, my_sink, my_ctx, &rep);
 *     socialcare_report_write(rep, report_path);
 *     move the file to strcmp(socialcare_report_status(rep), "failed") ? done/ : failed/
 *     socialcare_report_free(rep);
 *
 * Two threads (opts.pipeline): reading, validating, mapping and the sink's
 * opts.prepare run on a second thread, while the calling thread runs the sink
 * and the commits; a queue of SOCIALCARE_PIPE_DEPTH Bundles lies between
 * them.  The sink, the commit hook and the report are only ever touched by
 * the calling thread (the one that owns the sink's store handle), in the same
 * order and with the same results as on one thread: issues found while
 * reading travel with the Bundles and reach the report in file order.
 */
#ifndef WEFT_FEEDS_SOCIALCARE_H
#define WEFT_FEEDS_SOCIALCARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "feeds/csv.h"
#include "store/txn.h"

enum socialcare_kind {
    SOCIALCARE_UNKNOWN = 0,
    SOCIALCARE_PEOPLE,
    SOCIALCARE_CONTACTS,
    SOCIALCARE_ASSESSMENTS,
    SOCIALCARE_SERVICES,
    SOCIALCARE_SAFEGUARDING,
    SOCIALCARE_END_OF_LIFE,
};

#define SOCIALCARE_DEFAULT_BATCH 500
#define SOCIALCARE_MAX_ISSUES 10000
/* Bundles waiting between the reading thread and the sink (opts.pipeline). */
#define SOCIALCARE_PIPE_DEPTH 4

/* "people", "contacts", "assessments", "services", "safeguarding",
 * "end_of_life"; "unknown" for SOCIALCARE_UNKNOWN.  Static strings. */
const char *socialcare_kind_name(enum socialcare_kind kind);
/* The kind named by a file name (its base name, case-insensitive: people*.csv
 * ...), or SOCIALCARE_UNKNOWN. */
enum socialcare_kind socialcare_kind_from_filename(const char *path);
/* The kind whose files a name like "people" or "end_of_life" names. */
enum socialcare_kind socialcare_kind_parse(const char *name);

struct socialcare_opts {
    const char *ods;           /* ODS code of the sending organisation (required) */
    const char *feed;          /* feed name (may be NULL) */
    enum socialcare_kind kind; /* SOCIALCARE_UNKNOWN: from file name, then header */
    size_t batch_rows;         /* rows per batch (0: SOCIALCARE_DEFAULT_BATCH) */
    /* Rows per Bundle handed to the sink (0: batch_rows).  A batch of
     * batch_rows rows then goes to the sink as several small Bundles and ends
     * with commit (below): small Bundles are much cheaper to build and free
     * (see docs/BENCHMARKS.md "## CSV extracts") while the batch still shares
     * one durable commit. */
    size_t bundle_rows;
    /* Called after the last Bundle of every batch (may be NULL).  A negative
     * weft_err makes every row of the batch a load failure with
     * weft_strerror(code) as the reason, even rows whose Bundle the sink had
     * taken (nothing of the batch is stored: see socialcare_store_commit). */
    int (*commit)(void *ctx);
    /* Called with each Bundle before the sink (may be NULL; needs prep_free):
     * the part of the sink's work that needs no store.  Its result is the
     * sink's socialcare_batch_prep(), and is freed with prep_free after the
     * sink returned.  With pipeline it runs on the reading thread while the
     * sink runs on the calling thread: it may only read what the sink does
     * not change.  Not called for the Bundles of a batch the sink gave up
     * (socialcare_batch_broken). */
    void *(*prepare)(void *ctx, json_t *bundle);
    void (*prep_free)(void *prep);
    /* Read and map (and prepare) on a second thread once pipeline_after
     * lines after the header were processed on the calling thread (0: from
     * the first line); a shorter file stays on one thread.  Only with a
     * sink.  If the thread cannot be started the file goes on on one thread. */
    bool pipeline;
    size_t pipeline_after;
    const char *today;   /* "YYYY-MM-DD" for not-in-future checks (NULL: UTC today) */
    struct csv_opts csv; /* reader limits (zeros: defaults) */
};

/* One Bundle handed to the sink: which row each entry came from. */
struct socialcare_batch;

/* Entries in the batch's Bundle, and the file line of entry i's row. */
size_t socialcare_batch_entries(const struct socialcare_batch *b);
size_t socialcare_batch_line(const struct socialcare_batch *b, size_t entry);
/* The sink refuses entry i (the pipeline rejected it): its row counts as a
 * load failure with reason (copied; must not hold patient data).  Several
 * entries of one row count once. */
void socialcare_batch_fail(struct socialcare_batch *b, size_t entry, const char *reason);
/* What opts.prepare returned for the current Bundle, or NULL (no prepare, or
 * the batch was given up before the Bundle was prepared). */
void *socialcare_batch_prep(const struct socialcare_batch *b);
/* The sink refuses every further Bundle of this batch without looking at
 * them (e.g. its store transaction is gone): they are not prepared any more
 * (with pipeline, the reading thread stops preparing them as soon as it sees
 * this; those already prepared are freed unused).  Rows are still read,
 * checked and counted, and the next batch starts afresh. */
void socialcare_batch_broken(struct socialcare_batch *b);

/* Called with each Bundle (type "batch"; borrowed: incref to keep it).  Return
 * 0 when the Bundle was taken (entries refused one by one via
 * socialcare_batch_fail()), or a negative weft_err when the whole Bundle was
 * refused: then every row in it counts as a load failure with
 * weft_strerror(code) as the reason. */
typedef int (*socialcare_sink_fn)(void *ctx, json_t *bundle, struct socialcare_batch *batch);

struct socialcare_issue {
    size_t line;  /* file line where the row starts; 1 for header issues, 0 for the file */
    char *column; /* column name, or NULL when the issue is not about one column */
    char *reason; /* lower-case reason, never patient data */
};

/* The per-file report.  All strings are owned by the report. */
struct socialcare_report {
    char *file; /* base name of the processed file */
    enum socialcare_kind kind;
    char *org;
    char *feed;       /* NULL when none */
    char *file_error; /* NULL, or why the whole file was rejected */
    size_t rows_read, rows_mapped, rows_rejected, rows_loaded, rows_load_failed;
    size_t errors_count, warnings_count; /* issues, exact even when truncated */
    size_t blank_lines, resources, bundles;
    struct socialcare_issue *errors, *warnings; /* the first SOCIALCARE_MAX_ISSUES */
    size_t nerrors, nwarnings;
    bool truncated;
};

/* Process one extract.  path/fp/data is the input; name is the file name used
 * for the kind and the report (socialcare_process_file uses path).  sink may be
 * NULL (validate and map only: rows_loaded = rows_mapped).  *out always
 * receives a report (free with socialcare_report_free) unless the arguments are
 * invalid.  Returns 0, or the code of the file error that rejected the whole
 * file (WEFT_EIO unreadable, WEFT_EPARSE bad header/kind; the reason is in
 * report->file_error), or WEFT_EINVAL for bad arguments (no report). */
int socialcare_process_file(const char *path, const struct socialcare_opts *opts,
                            socialcare_sink_fn sink, void *ctx, struct socialcare_report **out);
int socialcare_process_stream(FILE *fp, const char *name, const struct socialcare_opts *opts,
                              socialcare_sink_fn sink, void *ctx, struct socialcare_report **out);
int socialcare_process_mem(const void *data, size_t len, const char *name,
                           const struct socialcare_opts *opts, socialcare_sink_fn sink, void *ctx,
                           struct socialcare_report **out);

/* The sink that loads into the record: each Bundle goes through the loading
 * pipeline, fhir_load_bundle() (fhir/load.h), as sent by org over feed; the
 * entries it rejects (e.g. a reference to a person the organisation never
 * sent) become load failures of their rows, with the pipeline's reason.  Pass
 * a struct socialcare_store_sink as ctx.  load may be NULL; when set, the
 * pipeline's per-type counts accumulate in it (caller load_report_init()s and
 * load_report_free()s it). */
struct store;
struct load_report;
struct socialcare_store_sink {
    struct store *store;
    const char *org;  /* ODS code: the same as socialcare_opts.ods */
    const char *feed; /* may be NULL */
    const char *file; /* for the pipeline's messages, may be NULL */
    struct load_report *load;
    /* Group commit: each Bundle is loaded nested (load_ctx.nested) in a store
     * transaction the sink opens at the first Bundle of a batch, and
     * socialcare_store_commit (as socialcare_opts.commit) commits it at the
     * end of the batch.  A store failure while loading rolls the whole batch
     * back and fails its every row.  Off: one transaction per Bundle. */
    bool grouped;
    bool open;            /* private: a transaction is open */
    int broken;           /* private: the open batch failed with this store error */
    struct store_txn txn; /* private: the batch's transaction (store/txn.h) */
};
int socialcare_store_sink(void *ctx, json_t *bundle, struct socialcare_batch *batch);
/* opts.prepare / opts.prep_free for socialcare_store_sink (ctx: the struct
 * socialcare_store_sink): fhir_load_prepare() with its org, feed and file,
 * which it only reads.  The sink then runs fhir_load_prepared() on the
 * result; without them it runs fhir_load_bundle().  socialcare_store_sink
 * takes socialcare_batch_prep() to be a struct load_prep: set no other
 * prepare with it (wrappers that call these are fine). */
void *socialcare_store_prepare(void *ctx, json_t *bundle);
void socialcare_store_prep_free(void *prep);
/* The commit hook for a grouped socialcare_store_sink: commits the batch's
 * transaction (durable), or reports the store error that rolled it back.
 * Harmless when no transaction is open. */
int socialcare_store_commit(void *ctx);

/* "ok", "partial" or "failed" (docs §6). */
const char *socialcare_report_status(const struct socialcare_report *rep);
/* The report as a new JSON object (caller json_decref()s). */
json_t *socialcare_report_json(const struct socialcare_report *rep);
/* Write the JSON report to path (via path.tmp + rename).  0 or WEFT_EIO. */
int socialcare_report_write(const struct socialcare_report *rep, const char *path);
void socialcare_report_free(struct socialcare_report *rep);

/* Make a FHIR id from a sender's key (docs §3): the key itself when it matches
 * [A-Za-z0-9.-]{1,64}, else a sanitised prefix plus 16 hex digits of its
 * SHA-256.  out must hold 65 bytes.  Exposed for other CSV-like feeds. */
void socialcare_fhir_id(const char *key, size_t len, char out[65]);

#endif
