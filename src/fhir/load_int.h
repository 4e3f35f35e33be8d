/*
 * load_int.h - what the files of the loading pipeline share; not an API
 * (callers use load.h).  The pipeline is one module in several files, one
 * per concern:
 *
 *   load.c         a bundle: the passes over its entries, its transaction,
 *                  the store writes (entry_store), the response bundle, and
 *                  load.h's bundle functions
 *   load_entry.c   one entry before the store: checks, derived ids
 *   load_file.c    files, NDJSON batches, directories, groups of files in
 *                  one transaction (fhir_load_file, fhir_load_paths)
 *   load_refs.c    references: resolved and rewritten to Weft ids; the
 *                  person of an entry
 *   load_index.c   per resource, without the store: meta, index columns,
 *                  search terms, the canonical text and its digest
 *   keep_absent.c  the keep-absent merge (its pure part: keep_absent.h)
 *   load_report.c  the report: counts per type, rejections
 *   load_arena.c   bulk mode's arena for jansson
 *
 * Functions here keep the names they had when the pipeline was one file
 * (load.c), so that the passes read as before.
 */
#ifndef WEFT_FHIR_LOAD_INT_H
#define WEFT_FHIR_LOAD_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "fhir/searchparam.h"

#include <jansson.h>

#include "core/buf.h"
#include "core/strmap.h"
#include "fhir/load.h"
#include "store/records.h"

/* ---- an entry and a bundle being loaded (load.c) ---- */

enum entry_state { E_PENDING = 0, E_REJECTED, E_DONE, E_NOT_SHAREABLE };

/* Search terms of one resource: (param, value) pairs, values borrowed from
 * the resource or owned here. */
struct terms {
    const char *v[128];
    int n; /* strings in v (pairs * 2) */
    struct buf owned[8];
    int nowned;
};

struct entry {
    json_t *ent;          /* the Bundle.entry object, borrowed */
    json_t *res;          /* borrowed from the bundle; NULL for DELETE */
    const char *type;     /* borrowed (resource or request url) */
    char type_buf[64];    /* for DELETE entries */
    char *source_id;      /* malloc'd */
    char *key;            /* "Type/sourceid", malloc'd (map key) */
    char *wkey;           /* "Type/weftid", malloc'd (map key) */
    char id[33];          /* Weft id */
    const char *category; /* NULL: not shareable */
    char *person_id;      /* malloc'd, NULL when not linked */
    enum entry_state state;
    bool is_delete;
    char *reason; /* when rejected */
    enum store_put_outcome outcome;
    int version;
    long label; /* entry index or NDJSON line for messages */
    /* Prepared without the store (entry_compute): the stored text, its
     * digest, index columns and terms.  refs_pending: a reference needs the
     * store to resolve, so pass 3 resolves it and computes these again. */
    bool prepped;
    bool refs_pending;
    struct buf text;
    unsigned char hash[STORE_HASH_LEN];
    bool has_eff;
    char eff[20];
    bool has_code;
    struct buf code;
    const char *status;
    struct terms terms;
    /* search-index rows (fhir/searchparam.h) and pairs pointing into them */
    struct fhir_sp_ixrows ix;
    const char **ixpairs;
    /* The stored version's digest, read for the bundle's keep-absent
     * entries together before pass 3 (keep_absent_prefetch): dg_rc 0 or
     * WEFT_ENOTFOUND when dg_have. */
    bool dg_have;
    int dg_rc;
    int dg_version;
    unsigned char dg_hash[STORE_HASH_LEN];
};

struct bundle_ctx {
    struct store *s;
    const struct load_ctx *ctx;
    struct entry *ents;
    int n;
    struct strmap map;
    /* pass 3's puts not sent yet (store_resource_put_batch): sent together
     * at the end of the bundle, or before anything else of pass 3 reads or
     * writes the store (load_store), so every read sees every earlier put */
    struct store_put *puts;
    struct entry **put_ents;
    struct store_put_result *put_out;
    int nputs;
    int flush_rc; /* a failed batch: the bundle fails with it */
    /* may_defer: the bundle's puts may wait in ctx->defer's queue (set by
     * load_bundle_deferred); held: they do, and its report waits too */
    bool may_defer;
    bool held;
};

/*
 * The bundles of a run of files whose puts wait (fhir_load_paths): a
 * bundle of a group whose every entry passed the loader's own checks keeps
 * its puts (and its report) here instead of sending them at its end, and
 * the puts of the whole queue go to the store in one
 * store_resource_put_batch call (load_defer_flush): on PostgreSQL one
 * weft_resource_put_many call for a run of small bundles instead of one a
 * bundle, whose fixed cost (the function's start, its statements' executor
 * starts, the round trip) was most of a GP bundle's put.
 *
 * Why the results are those of sending each bundle's puts at its end:
 * - the puts keep their order (one batch, in bundle order: the same seqs);
 * - a bundle naming an id already held sends the queue first (between its
 *   end and its release: nothing can refuse it then), so the batch stays
 *   set-based and its put sees the earlier one;
 * - before its puts, a bundle calls the store for its identity (pass 2:
 *   persons and identity records, never resources) and, through
 *   load_store, for anything that reads or writes resources; the held
 *   puts cannot be sent from inside its savepoint (a refusal of the bundle
 *   would roll them back with it), so a bundle that needs load_store, or
 *   that merges persons (a merge moves resources), while bundles are held
 *   is rolled back to its savepoint and sets retry: the caller sends the
 *   queue, puts the report back as it was before the file, and loads the
 *   file again;
 * - when the batch refuses an item (out[i].rc: the rest of that bundle
 *   would be stored without it) or fails, redo is set: the caller rolls the run
 *   back to its savepoint, puts the report back as it was at the run's
 *   start, and loads the run's files again without the queue.
 */
struct load_defer {
    struct load_prep **preps; /* held bundles, in order, owned */
    json_t **docs;            /* their parsed files, owned */
    int nheld, cap;
    int nputs;         /* puts held, all bundles */
    struct strmap ids; /* ids of the held puts (keys borrowed from the bundles) */
    struct store *s;
    struct load_report *rep; /* where the held bundles' counts go */
    long flushes;            /* batches sent (for the debug log) */
    long redos;              /* runs loaded again (for the debug log) */
    long retries;            /* files loaded again after a merge (debug log) */
    bool redo;               /* the run must be loaded again without the queue */
    bool retry;              /* the file just loaded must be loaded again once the
                                queue is sent (its bundle merged persons) */
};

/* Puts per batch at most: the caller flushes between files when the queue
 * holds this many, or when the run has read LOAD_DEFER_BYTES of files (in
 * bulk mode every tree parsed since the run began stays in the arena until
 * the run ends: about ten times the file's size; a 10,000-person region's
 * GP folder is about 400 KB, a Synthea bundle 430 KB on average). */
#define LOAD_DEFER_PUTS 1000
#define LOAD_DEFER_BYTES (2ll << 20)

void load_defer_init(struct load_defer *d, struct store *s, struct load_report *rep);
/* Send every held put in one batch, then count the held bundles in the
 * report and free them.  Returns 0, or with d->redo set (nothing reported,
 * the bundles still held: the caller drops them and loads the run again)
 * WEFT_ECONFLICT when the store refused an item, or the store's error. */
int load_defer_flush(struct load_defer *d);
/* Free the held bundles without reporting them (a run rolled back). */
void load_defer_drop(struct load_defer *d);
void load_defer_free(struct load_defer *d);

/* Load one parsed Bundle file (doc) as fhir_load_bundle, ctx->defer set:
 * when its puts are held, *held is set and doc is the queue's (the caller
 * must not drop it).  Returns as fhir_load_bundle. */
int load_bundle_deferred(struct store *s, json_t *doc, const struct load_ctx *ctx,
                         struct load_report *rep, bool *held);

/* The report at a point (load_report_mark: a copy of its counts and type
 * rows into *mark) and back to it (load_report_rewind: counts and rows as
 * they were, rejections added since freed); load_report_mark_free releases
 * the mark. */
void load_report_mark(const struct load_report *r, struct load_report *mark);
void load_report_rewind(struct load_report *r, const struct load_report *mark);
void load_report_mark_free(struct load_report *mark);

/* The store, for pass 3's reads and writes other than the queued puts: the
 * pending puts are sent first (a failure shows in bc->flush_rc, which fails
 * the bundle).  NULL while preparing (bc->s NULL).  load.c. */
struct store *load_store(struct bundle_ctx *bc);

/* Process entries (a JSON array of Bundle.entry objects) as one unit:
 * atomic (a transaction bundle) or entry by entry; labels[i] (may be NULL:
 * use i) names entry i in messages (NDJSON: line numbers).  The report gets
 * the counts; *response (may be NULL) a resp_type bundle.  Returns 0,
 * WEFT_EINVAL (atomic, something rejected: nothing stored), or a store
 * error. */
int load_entries(struct store *s, json_t *entries, bool atomic, const struct load_ctx *ctx,
                 struct load_report *rep, json_t **response, const char *resp_type,
                 const long *labels);

/* ---- load_entry.c ---- */

/* Ready buffers of an entry (zeroed memory) for entry_compute. */
void entry_init(struct entry *e);

/* Release what entry_compute made for e (text, code, terms); e->prepped
 * becomes false. */
void entry_prep_release(struct entry *e);

/* Reject e (once: a later reason does not replace the first) with a reason
 * formatted as printf. */
void entry_reject(struct entry *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pass 1 for entry e, the Bundle.entry object ent sent by org: method,
 * type and id checked (else e is rejected), source id and Weft id derived. */
void entry_prepare(struct entry *e, json_t *ent, const char *org);

/* Pass P for entry e, without the store (any thread): references to
 * entries of the bundle rewritten, a Patient's invalid NHS numbers flagged,
 * then entry_compute; an entry with a reference that needs the store is
 * finished in pass 3. */
void entry_prepare_pure(struct bundle_ctx *bc, struct entry *e);

/* Whether s is a FHIR resource type name (A-Z then letters, < 64). */
bool load_valid_type(const char *s);

/* Split "Type/id[/_history/v]" (relative) into type and id (copied into
 * the buffers); false when it is not of that shape. */
bool load_split_relative(const char *ref, char type[64], char id[65]);

/* ---- load_refs.c ---- */

/* Walk v (the resource of e, depth 0) rewriting every "reference" string
 * to "Type/{weft id}"; a reference that needs the store while bc->s is NULL
 * is left as it is and sets e->refs_pending.  False once e is rejected (a
 * broken reference, nesting deeper than 64). */
bool rewrite_refs(struct bundle_ctx *bc, struct entry *e, json_t *v, int depth);

/* e->person_id from the first of e's subject, patient, individual,
 * beneficiary or participant actor references that names a linked
 * Patient (left NULL when none does).  Returns 0 or a store error. */
int entry_person(struct bundle_ctx *bc, struct entry *e);

/* Whether entry_person would read the store for e (a reference to a
 * Patient outside the bundle, or by identifier), judged before pass 2 (a
 * pending Patient of the bundle counts as linked).  No store. */
bool entry_person_needs_store(const struct bundle_ctx *bc, const struct entry *e);

/* ---- load_index.c ---- */

/* What the store is given for one entry, computed without the store: id and
 * meta set, index columns and terms taken, the text serialised once and its
 * digest (e->prepped).  Rejects the entry when it cannot be serialised or is
 * too large.  Any thread. */
void entry_compute(struct bundle_ctx *bc, struct entry *e);

/* Release the strings terms owns. */
void terms_release(struct terms *t);

/* ---- keep_absent.c ---- */

/* Before pass 3: the stored digests of every pending entry carrying
 * LOAD_KEEP_ABSENT whose id no other entry of the bundle has, read in one
 * store call (store_resource_digest_many) instead of one each in
 * keep_absent, which would also send the puts queued before it.  0 or a
 * store error. */
int keep_absent_prefetch(struct bundle_ctx *bc);

/* LOAD_KEEP_ABSENT (load.h) for entry e, after pass 2: copy the named
 * elements e->res lacks from the stored version (keep_absent.h), drop the
 * member, and prepare e again when it changed.  Returns 0 (a malformed list
 * rejects e) or a store error. */
int keep_absent(struct bundle_ctx *bc, struct entry *e);

/* ---- load_jobs.c ---- */

/* The units of fhir_load_jobs as a queue the loader threads share: each
 * take gets the next index in order, none after stop. */
struct load_queue {
    pthread_mutex_t mu;
    int next, n;
    bool stopped;
};

void load_queue_init(struct load_queue *q, int n);
/* The next unit into *i: false when every unit is taken or the queue was
 * stopped. */
bool load_queue_take(struct load_queue *q, int *i);
/* No unit is taken after this returns. */
void load_queue_stop(struct load_queue *q);
bool load_queue_stopped(struct load_queue *q);
void load_queue_free(struct load_queue *q);

/* How a thread of fhir_load_jobs loads unit u on its handle s (ctx->org is
 * u->org): into u->rep, progress(arg, ...) as it goes; 0 or a store error.
 * fhir_load_jobs's is one fhir_load_paths call; the unit tests give one
 * that finishes units in an order of their choosing. */
typedef int (*load_unit_fn)(struct store *s, struct load_unit *u, const struct load_ctx *ctx,
                            load_progress_fn progress, void *arg);
/* fhir_load_jobs with load_unit loading each unit. */
int load_jobs_run(struct store *const *stores, int njobs, struct load_unit *units, int nunits,
                  const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                  void *progress_arg, int *failed, char *errmsg, size_t errmsg_size,
                  load_unit_fn load_unit);

/* ---- load_arena.c ---- */

/* Drop everything allocated since the last reset (in bulk mode; otherwise
 * nothing): no tree of the arena may be alive. */
void load_arena_reset(void);

/* Release a tree: in bulk mode the arena reset that follows frees it all at
 * once, so walking it to free each node is skipped. */
void load_tree_drop(json_t *j);

/* ---- load_report.c ---- */

/* The row of type (NULL or "": "(unknown)"), added when new. */
struct load_type_count *type_row(struct load_report *r, const char *type);

/* Count a rejection of an entry of type (may be NULL) and keep its reason
 * (copied) while fewer than LOAD_MAX_REJECTIONS are kept; entry is an
 * entry index, or an NDJSON line when line is true, or -1 (the file). */
void add_rejection_at(struct load_report *r, const char *file, long entry, bool line,
                      const char *type, const char *reason);
void add_rejection(struct load_report *r, const char *file, long entry, const char *type,
                   const char *reason);

#endif
