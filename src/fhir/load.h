/*
 * load.h - THE loading pipeline: every item reaches the record through here
 * (`weft load`, POST /fhir transaction/batch, the HL7 v2 and CSV feeds).
 *
 * Input: a FHIR R4 Bundle (transaction, batch or collection) as a jansson
 * tree, or a file / directory of them, or NDJSON (one resource per line).
 * For every entry the pipeline:
 *   1. validates it: resourceType present and a known shape ([A-Z][A-Za-z]*),
 *      id (when given) matching [A-Za-z0-9-.]{1,64}, the serialised resource
 *      at most LOAD_MAX_RESOURCE_BYTES; (text is valid UTF-8: jansson
 *      rejects anything else while parsing);
 *   2. decides its identity: (ctx->org, resourceType, source id) where the
 *      source id is the resource's id as sent, else the uuid of a urn:uuid
 *      fullUrl, else the id in a PUT request url, else "sha-" + a digest of
 *      the content (so a repeat is still a no-op); its Weft id is
 *      store_resource_id(org, type, source id);
 *   3. decides its record category (domain/category.h); a type outside the
 *      record is counted "not shareable" and not stored;
 *   4. links Patients to persons (identity/identity.h) and every other item to
 *      the person of the Patient it refers to (subject, patient, individual,
 *      beneficiary, or an Appointment participant), through a reference or a
 *      logical identifier (NHS number);
 *   5. resolves every reference: "urn:uuid:..." / "urn:oid:..." fullUrls in
 *      the bundle, "Type/id" of an entry in the bundle, "Type/id" sent earlier
 *      by the same organisation (the derived id makes that a computation;
 *      the target must exist), "Type/{weft id}" of a stored item, or a
 *      conditional "Type?identifier=[system|]value" naming exactly one
 *      resource of the bundle or the store (e.g. a Patient by NHS number); each is
 *      rewritten to "Type/{weft id}".  "#contained" and absolute http(s)
 *      references are left as they are; a reference with only a logical
 *      identifier is kept as sent.  A reference that resolves to nothing
 *      rejects that entry, naming the reference;
 *   6. stores it (store_resource_put) with id = the Weft id and meta:
 *        meta.source = "urn:weft:feed:{ODS}:{feed}" (feed "manual" when none)
 *        meta.tag += {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
 *                     "code": ODS}                  (the source organisation)
 *        meta.tag += {"system": "urn:weft:source-id", "code": the source id}
 *      (tags of these two systems sent in are replaced; versionId and
 *      lastUpdated are dropped: the store adds them on read), serialised once
 *      as compact JSON with sorted keys (the canonical form the store hashes
 *      for "unchanged").  Index columns: effective = the resource's clinically
 *      relevant date (effective[x], occurrence[x], performed[x], onset[x],
 *      period.start, authoredOn, date, issued, ...) truncated to seconds
 *      with the time zone dropped ("2020-01-31" or "2020-01-31T10:00:00");
 *      code = "system|code" of the first coding of code /
 *      medicationCodeableConcept / vaccineCode / type; status = status or
 *      clinicalStatus.  Search terms (Patient): identifier ("system|value" and
 *      "value"), family, given, name, birthdate, gender.
 *
 * Transactions: a "transaction" bundle is all-or-nothing in one store
 * transaction (any rejected entry -> nothing from it is stored and every
 * entry is reported rejected, the failing one with its reason).  "batch" and
 * "collection" bundles are applied entry by entry, still in one store
 * transaction per bundle (speed); a rejected entry does not stop the others.
 * DELETE entries (request.method DELETE, url "Type/id" of the sender's id)
 * retract the item (a new deleted version).  GET entries are rejected.
 *
 * Nothing in the operational log names a patient: only counts and ids.
 */
#ifndef WEFT_FHIR_LOAD_H
#define WEFT_FHIR_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct store;

#define LOAD_MAX_RESOURCE_BYTES (8u << 20) /* one resource, serialised */
#define LOAD_MAX_FILE_BYTES (1024u << 20)  /* one JSON file */
#define LOAD_MAX_LINE_BYTES (16u << 20)    /* one NDJSON line */
#define LOAD_NDJSON_BATCH 1000             /* NDJSON lines per savepoint */
#define LOAD_GROUP_ENTRIES 50000           /* entries per commit in fhir_load_paths */
/* ... or fewer: a group also commits once it has locked this many keys
 * (store_keys_locked: identity's blocking keys, about 4 a new Patient
 * matched on demographics), whose locks PostgreSQL holds to the commit in a
 * shared table of 6,400 by default, for every writer of the database */
#define LOAD_GROUP_KEYS 1000
#define LOAD_MAX_REJECTIONS 1000 /* rejections kept in detail per report */

/*
 * Omitted elements (HL7 v2 "no information" versus "delete"): a Bundle entry
 * may carry the private member LOAD_KEEP_ABSENT, an array of element names
 * of its resource, e.g. "_keepAbsent": ["address", "deceased[x]"] ("[x]": a
 * choice element, any deceasedXxx).  Each named element that the resource
 * lacks is copied (with its "_element" extension twin) from the current
 * version of the same item (same derived id) before the resource is
 * resolved, indexed and hashed; no current version (or a deleted one):
 * nothing is copied.  The member is then removed: it is never stored nor
 * answered.  Names must look like FHIR element names; id, meta and
 * resourceType cannot be named (the entry is rejected).  "name.part" names
 * one member of an object element (e.g. "period.end": the stored end is
 * kept when the incoming period has none).  A leading '?' means the stored
 * value wins when there is one, else the incoming value stands (e.g.
 * "?status": an update that does not say the status keeps it, while a new
 * item still gets one).  A leading '+' merges an array by "system" (e.g.
 * "+identifier"): the stored members of each system the incoming array
 * has are replaced by the incoming ones, the stored members of other
 * systems kept, in the stored order.  An Encounter whose list names
 * "?status" gets each location without a status set from the merged
 * status (active; completed when finished, cancelled, entered-in-error;
 * planned).  The HL7 v2 mapping sets it for the Patient, Encounter,
 * AllergyIntolerance, Appointment, Condition and Procedure
 * (feeds/hl7_map.c); any feed may.
 */
#define LOAD_KEEP_ABSENT "_keepAbsent"

struct load_ctx {
    const char *org;  /* ODS code of the sending organisation (required) */
    const char *feed; /* feed name; NULL: "manual" */
    const char *file; /* input name for messages (a file path); NULL when none */
    /* The caller holds an open store transaction (the MLLP writer's group
     * commit): the bundle runs in a savepoint of it instead of its own
     * transaction, and is committed when the caller commits. */
    bool nested;
    /* With nested: the caller also wraps this bundle in a savepoint of its
     * own and rolls it back whenever the load returns non-zero or reports a
     * rejection (the MLLP ingest does, per message), so the bundle takes no
     * savepoint of its own: two statements fewer per message. */
    bool caller_savepoint;
    /* Internal to fhir_load_paths (NULL elsewhere): its queue of bundles
     * whose puts wait to be sent together (load_int.h, struct load_defer). */
    struct load_defer *defer;
};

struct load_type_count {
    char type[64];
    long stored;    /* new items */
    long updated;   /* new versions of known items */
    long unchanged; /* repeats: nothing written */
    long deleted;   /* retractions */
    long rejected;
    long not_shareable; /* types outside the record: counted, not stored */
};

struct load_rejection {
    char *file; /* may be NULL */
    long entry; /* entry index in the bundle, or line number (1-based) in
                   NDJSON (then line is true), -1 for the whole file */
    bool line;
    char *type;   /* resourceType when known, else NULL */
    char *reason; /* plain words; never patient data beyond what was sent */
};

struct load_report {
    struct load_type_count *types; /* sorted by type name on load_report_finish */
    int ntypes;
    struct load_rejection *rejections; /* the first LOAD_MAX_REJECTIONS */
    int nrejections;
    long rejected; /* all rejections, including those not kept in detail */
    long files;    /* files read */
    long bundles;  /* bundles (or NDJSON batches) processed */
    long entries;  /* entries / lines seen */
    long persons_linked;
    long invalid_nhs; /* Patients carrying an NHS number that fails the check */
};

void load_report_init(struct load_report *r);
void load_report_free(struct load_report *r);
/* Sort the per-type rows by type name (for printing). */
void load_report_finish(struct load_report *r);
/* Totals over all types into *sum (type = "total"). */
void load_report_total(const struct load_report *r, struct load_type_count *sum);

/*
 * Load one Bundle (modified in place: references rewritten, ids and meta
 * set).  Adds to *rep.  When response is not NULL, *response receives a
 * transaction-response / batch-response Bundle (caller json_decref's it)
 * with one entry per input entry: status "201 Created" (new), "200 OK"
 * (updated or unchanged; location Type/id/_history/N and etag), "204 No
 * Content" (deleted), "400 Bad Request" + outcome (rejected), "200 OK" +
 * an informational outcome (not shareable: not stored).
 *
 * Returns 0 when the bundle was processed (entries may have been rejected:
 * see rep), WEFT_EINVAL when the bundle itself is unusable (not a Bundle,
 * unsupported type, entry not an array) or a transaction was rolled back
 * because an entry was rejected (the reason is in rep), or a store error
 * (WEFT_EDB, WEFT_EBUSY: nothing from this bundle is stored).
 * Must not be called inside an open store transaction unless ctx->nested.
 */
int fhir_load_bundle(struct store *s, json_t *bundle, const struct load_ctx *ctx,
                     struct load_report *rep, json_t **response);

/*
 * The same in two steps, so that the part that needs no store can run on
 * another thread (the MLLP listener prepares each message's bundle on its
 * connection's thread; the writer thread only stores it).
 * fhir_load_prepare: validation, derived ids, references to entries of the
 * bundle, meta, serialisation and digests.  No store; safe on any thread for
 * distinct bundles.  It changes the bundle in place, which must stay alive
 * and unchanged until fhir_load_prep_free.  Never NULL: a bundle-level error
 * is kept and reported by fhir_load_prepared.
 * fhir_load_prepared: the rest, exactly as fhir_load_bundle (same ctx->org
 * and ctx->feed as prepared with, else a rejection).  Call it once.
 */
struct load_prep;
struct load_prep *fhir_load_prepare(json_t *bundle, const struct load_ctx *ctx);
int fhir_load_prepared(struct store *s, struct load_prep *p, const struct load_ctx *ctx,
                       struct load_report *rep, json_t **response);
void fhir_load_prep_free(struct load_prep *p);

/*
 * Load a file: a JSON Bundle, a single JSON resource (loaded as a one-entry
 * batch), or NDJSON (name ending .ndjson / .jsonl, or content with one JSON
 * object per line).  Unparseable input is a rejection naming the file, line
 * and column (and returns 0: the report carries it); only I/O and store
 * failures return an error.
 */
int fhir_load_file(struct store *s, const char *path, const struct load_ctx *ctx,
                   struct load_report *rep);

/* Progress callback: bytes of input consumed so far of total. */
typedef void (*load_progress_fn)(void *arg, const struct load_report *rep, long long done,
                                 long long total);

/*
 * Load every path: files as fhir_load_file, directories recursively (files
 * ending .json, .ndjson or .jsonl, in name order).  progress (may be NULL) is
 * called after each bundle / batch.  ctx->file is set per file.  Stops at the
 * first store error; rejections do not stop it.  Files are committed in groups
 * of about LOAD_GROUP_ENTRIES entries (each bundle in a savepoint: a bundle
 * still stands or falls alone); when a group's commit fails its counts are
 * taken back out of rep and its files are reported as not stored.  Must not
 * be called inside an open store transaction (ctx->nested is ignored).
 */
int fhir_load_paths(struct store *s, const char *const *paths, int npaths,
                    const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                    void *progress_arg);

/*
 * The files fhir_load_paths would load for paths (directories walked
 * recursively, in name order), appended to *files (malloc'd strings in a
 * malloc'd array: the caller frees both) and their sizes added to *bytes;
 * a path that cannot be read or holds no loadable file is a rejection in
 * rep, as fhir_load_paths reports it.
 */
void fhir_load_collect(const char *const *paths, int npaths, char ***files, int *nfiles,
                       long long *bytes, struct load_report *rep);

/* Add src's counts and rejections to dst as if dst's loader had gone on to
 * load src's work: counts summed (type rows by name), src's rejections
 * after dst's, LOAD_MAX_REJECTIONS kept in all.  src is unchanged. */
void load_report_merge(struct load_report *dst, const struct load_report *src);

/*
 * Loading in several threads at once (weft load --jobs N).  The work is a
 * list of units, each one fhir_load_paths call: its files, as organisation
 * org, into its own report.  fhir_load_jobs starts one thread per store
 * handle given (each handle is used by its thread alone: its own
 * connection); each thread, in bulk mode (fhir_load_bulk_begin), takes the
 * next unit not yet taken, in list order, until none is left, and starts
 * it once every earlier unit of the same org has finished (a file may
 * refer to what its sender sent before).  Units of different senders run
 * at once: a reference to another sender's resource (by Weft id, or a
 * conditional one matching only another sender's) finds it only if its
 * unit finished first.  A unit
 * whose load returns an error (a store failure) stops the others taking
 * more: units in flight finish (what they commit stays committed), the rest
 * stay LOAD_UNIT_NOT_LOADED.
 *
 * Results: the units' reports are added to rep in list order
 * (load_report_merge), loaded or failed, so counts and rejections read as
 * one loader's that loaded the units in turn (and stopped at the failure).
 * progress (may be NULL) is called, from any thread, one call at a time,
 * with the totals of every unit (a report holding only entries and
 * rejected, and bytes done of every unit's bytes).
 *
 * Returns 0, or the first failed unit's error (*failed its index, errmsg
 * its store's message).  Must not be called inside an open transaction.
 */
enum load_unit_state { LOAD_UNIT_NOT_LOADED = 0, LOAD_UNIT_LOADED, LOAD_UNIT_FAILED };

struct load_unit {
    const char *org;  /* the sender, borrowed */
    const char *name; /* for messages (the folder or first file), borrowed */
    char **files;     /* borrowed, as fhir_load_paths's paths */
    int nfiles;
    long long bytes;        /* the files' sizes (the progress's total) */
    struct load_report rep; /* initialised by the caller; may hold rejections already */
    enum load_unit_state state;
};

int fhir_load_jobs(struct store *const *stores, int njobs, struct load_unit *units, int nunits,
                   const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                   void *progress_arg, int *failed, char *errmsg, size_t errmsg_size);

/*
 * Bulk mode for bulk loaders (weft load): from fhir_load_bulk_begin() on,
 * jansson allocates on the calling thread from that thread's arena, which
 * the file and path loaders reset after each file / NDJSON batch (all of a
 * file's trees are gone by then).  Per thread (each loader thread calls
 * both); jansson's allocation functions are process-wide and are installed
 * while any thread is in bulk mode: a tree made on a bulk thread must not
 * be used or freed on another thread, no jansson value may outlive a file
 * load, and no other thread may be starting or ending bulk mode while a
 * thread outside it uses jansson (weft load's threads all load).
 * fhir_load_bulk_end() frees the thread's arena (and restores malloc/free
 * with the last thread); call it when no jansson value it made is alive.
 */
void fhir_load_bulk_begin(void);
void fhir_load_bulk_end(void);

/*
 * Build the search index (store/records.h search_index; the rows the
 * loader writes, fhir/load_index.c) for every item current in s, replacing
 * rows it may have, then mark the index complete (STORE_SEARCH_INDEX_META
 * "ready"): `weft reindex`, for a database loaded before the index existed.
 * One transaction per 500 items; items written meanwhile get their rows
 * from the loader.  *items_out, *rows_out (may be NULL): items indexed and
 * rows written.  Returns 0 or a store error.
 */
int fhir_load_reindex(struct store *s, int64_t *items_out, int64_t *rows_out);

#endif
