/*
 * records.h - the care record: resources (put, get, delete, digests),
 * search and history, persons (found or created by NHS number or local
 * identifier) and person merges (HL7 A40) with their undo.
 *
 * Data model (docs/ARCHITECTURE.md has the schema):
 *   - person: one row per real person the region knows; resources point at it.
 *   - resource: the stored unit, a FHIR R4 resource as JSON text plus index
 *     columns (type, person, record category, source organisation, source id,
 *     feed, effective date, code "system|code", status, last updated,
 *     version).  Identity of an item is (source org, type, source id); its
 *     Weft id is derived from that identity (see store_resource_id()), so the
 *     same item always gets the same id and references can be rewritten
 *     without a lookup.  Every version is kept in history.
 *   - resource_index: extra (param, value) search terms per resource
 *     (identifier, family, given, birthdate, name, ...), lower-cased.
 *
 * Strings in struct store_row are owned by the caller after the call and
 * released with store_row_clear().
 */
#ifndef WEFT_STORE_RECORDS_H
#define WEFT_STORE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- resources ---------------------------------------------------------- */

#define STORE_ID_LEN 32 /* hex characters in a derived resource id */

/* Derive the Weft id for (source org, type, source id) into out (at least
 * STORE_ID_LEN + 1 bytes): lowercase hex of the first 128 bits of
 * SHA-256("org\x1ftype\x1fsource_id"). */
void store_resource_id(const char *org, const char *type, const char *source_id, char *out);

#define STORE_HASH_LEN 16 /* bytes in a content digest */

/* The content digest the store compares versions by (BLAKE2b-128 of the
 * stored JSON text) into out.  Pure: the loader computes it off the writer. */
void store_content_hash(const char *json, size_t len, unsigned char out[STORE_HASH_LEN]);

/* What the loader hands the store for one resource. */
struct store_put {
    const char *type;       /* FHIR resourceType */
    const char *source_org; /* ODS code of the organisation that sent it */
    const char *source_id;  /* the sender's id for it */
    const char *feed;       /* feed name it came by (NULL: manual load) */
    const char *person_id;  /* linked person, NULL when not linked */
    const char *category;   /* record category (domain/category.h), never NULL */
    const char *effective;  /* ISO 8601 clinically relevant date, or NULL */
    const char *code;       /* "system|code" of the main code, or NULL */
    const char *status;     /* status element, or NULL */
    const char *json;       /* the resource as stored (id/meta set by caller) */
    size_t json_len;
    /* Extra search terms: pairs of (param, value), count in nterms. */
    const char *const *terms;
    int nterms;
    /* Search-index rows (table search_index: type, param, value, version):
     * pairs of (param, value) for this put's type, values normalised by the
     * caller (fhir/searchparam.h fhir_sp_index_rows); count in nindex. */
    const char *const *index;
    int nindex;
    /* Optional, computed by the caller off the writer's thread: the derived
     * id (store_resource_id of source_org, type, source_id) and the digest
     * (store_content_hash of json).  NULL: the store computes them. */
    const char *id;
    const unsigned char *hash;
};

enum store_put_outcome {
    STORE_PUT_CREATED = 1,   /* new item, version 1 */
    STORE_PUT_UPDATED = 2,   /* content changed: new version */
    STORE_PUT_UNCHANGED = 3, /* same content as the latest version: nothing written */
};

/* Insert or version one resource.  Content equality is decided on the JSON
 * text with meta.versionId/meta.lastUpdated excluded (the caller passes the
 * JSON without them; the store adds them on read).  id_out gets the Weft id,
 * version_out the version now current. */
int store_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                       char id_out[STORE_ID_LEN + 1], int *version_out);

/* One resource's outcome in a batch put (store_resource_put_batch). */
struct store_put_result {
    int rc; /* 0, or WEFT_ECONFLICT: the id holds a resource of another type
               (nothing of this item written; error says which) */
    enum store_put_outcome outcome;
    int version; /* the version now current */
    char id[STORE_ID_LEN + 1];
    char error[128]; /* when rc != 0 */
};

/* Put n resources, in order, with the semantics of n store_resource_put
 * calls made one after the other in one transaction (version history,
 * content-hash no-ops, derived ids, search terms, a re-linked Patient's
 * items moved; the same id may appear twice and the second sees the
 * first).  An item refused alone (out[i].rc) writes nothing and the others
 * go on; any other error fails the call: in the caller's transaction that
 * transaction is then broken (store/txn.h), outside one nothing is written.
 * PostgreSQL sends a batch in one round trip (weft_resource_put_many); SQLite
 * puts one by one. */
int store_resource_put_batch(struct store *s, const struct store_put *in, int n,
                             struct store_put_result *out);

/* A resource as read back. */
struct store_row {
    char *id;
    char *type;
    char *person_id;
    char *category;
    char *source_org;
    char *source_id;
    char *feed;
    char *effective;
    char *code;
    char *status;
    char *last_updated; /* ISO 8601 UTC with milliseconds */
    int version;
    bool deleted;
    int64_t seq; /* store-wide sequence number of this version */
    char *json;  /* resource JSON including id and meta */
    size_t json_len;
    void *block; /* when set, the strings above live in this one allocation:
                    store_row_clear frees it; never free or replace them one by one */
};
void store_row_clear(struct store_row *r);

/* Read the current version (version 0) or a given version of type/id.
 * WEFT_ENOTFOUND when absent.  A deleted item's current version is returned
 * (0) with out->deleted = true: callers answer 410 Gone for it.  The JSON has
 * meta.versionId and meta.lastUpdated set (lastUpdated = the start of the
 * transaction that wrote the version). */
int store_resource_get(struct store *s, const char *type, const char *id, int version,
                       struct store_row *out);

/* Whether type/id exists (current version, not deleted): 0 when it does, with
 * its linked person in *person_id_out (malloc'd, NULL when not linked; pass
 * NULL to skip); WEFT_ENOTFOUND when absent or deleted.  Cheap: no JSON. */
int store_resource_person(struct store *s, const char *type, const char *id, char **person_id_out);

/* store_resource_person of a Patient, possibly answered from this handle's
 * memory of an earlier answer (*kept true): PostgreSQL keeps the persons of
 * the Patients it was last asked about on each connection, so a patient's
 * search needs no round trip of its own.  A kept person may be stale (the
 * Patient re-linked or deleted since), so it is only for a search that
 * checks it in its own snapshot (store_query.patient_check) and is asked
 * again with store_resource_person when the check fails.  A Patient not
 * linked to a person is never kept.  SQLite reads it each time (*kept
 * false). */
int store_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept);

/* The content digest (store_content_hash) of the current version of type/id
 * into hash and its version into *version (may be NULL): 0, or
 * WEFT_ENOTFOUND when absent or deleted.  Cheap: no JSON. */
int store_resource_digest(struct store *s, const char *type, const char *id,
                          unsigned char hash[STORE_HASH_LEN], int *version);

/* store_resource_digest for n items at once (the loader asks for a
 * bundle's keep-absent entries together: one round trip on a server
 * backend).  Fills each item's rc (0 or WEFT_ENOTFOUND), hash and version;
 * returns 0, or a store error (then no item's answer is meaningful). */
struct store_digest_item {
    const char *type, *id; /* in */
    int rc;                /* out: 0, or WEFT_ENOTFOUND (absent or deleted) */
    unsigned char hash[STORE_HASH_LEN];
    int version;
};
int store_resource_digest_many(struct store *s, struct store_digest_item *items, int n);

/* Mark type/id deleted (entered in error / retraction): a new version with
 * deleted=true.  History is kept. */
int store_resource_delete(struct store *s, const char *type, const char *id);

/* ---- search -------------------------------------------------------------- */

enum store_sort {
    STORE_SORT_ID = 0, /* default: stable by id */
    STORE_SORT_DATE,   /* effective date ascending, then id */
    STORE_SORT_DATE_DESC,
    STORE_SORT_LASTUPDATED,
    STORE_SORT_LASTUPDATED_DESC,
    STORE_SORT_SEQ, /* store order (seq: oldest version first); unscoped type searches */
};

struct store_term {    /* one extra search term: param = value (AND-ed) */
    const char *param; /* e.g. "identifier", "family", "given", "birthdate" */
    const char *value; /* matched as exact, or as prefix when prefix=true */
    bool prefix;
};

/* One condition on the search index: the item has a row of (q->type,
 * param) whose value is one of vals (OR-ed); conditions are AND-ed.
 * Values compare bytewise. */
enum store_ix_op {
    STORE_IX_EQ,     /* value = a */
    STORE_IX_PREFIX, /* value starts with a */
    STORE_IX_RANGE,  /* a <= value <= b (a or b NULL: open) */
};
struct store_ixval {
    enum store_ix_op op;
    const char *a, *b;
};
struct store_ixcond {
    const char *param;
    const struct store_ixval *vals;
    int nvals;
};

struct store_query {
    const char *type;         /* resourceType, NULL for every type */
    const char *const *types; /* when type is NULL: OR-ed types, NULL/0: any */
    int ntypes;
    const char *person_id;         /* NULL: any person */
    const char *const *person_ids; /* when person_id is NULL: OR-ed persons, NULL/0: any */
    int nperson_ids;
    const char *const *categories; /* OR-ed list, NULL/0: any */
    int ncategories;
    const char *const *codes; /* "system|code" or "|code" or "code": OR-ed */
    int ncodes;
    const char *date_ge, *date_lt;       /* effective range, NULL = open */
    const char *lastupd_ge, *lastupd_lt; /* last updated range */
    const char *const *source_orgs;      /* OR-ed, NULL/0: any */
    int nsource_orgs;
    const struct store_term *terms;
    int nterms;
    const struct store_ixcond *ix; /* search-index conditions (AND-ed); q->type required */
    int nix;
    enum store_sort sort;
    /* Paging: results visible at snapshot (seq <= snapshot; 0 = now, and the
     * store reports the snapshot it used in the result) after the keyset
     * cursor (NULL = first page).  Cursors are opaque strings produced by the
     * store. */
    int64_t snapshot;
    const char *after;
    int limit; /* max rows in this page */
    bool want_total;
    /* Upheld objections (access/authz.h objections_apply): items of a person
     * with an upheld objection only when their source_org is objection_org
     * (NULL: none of them). */
    bool objections;
    const char *objection_org;
    /* When set (with person_id): the current version of Patient
     * patient_check must be linked to person_id, read in the search's own
     * snapshot; when it is not (re-linked, deleted, gone), the search answers
     * WEFT_ECONFLICT and no rows - the caller's person came from
     * store_patient_person_kept and was stale, and the caller asks again
     * with store_resource_person. */
    const char *patient_check;
};

struct store_result {
    struct store_row *rows;
    int nrows;
    int64_t total;    /* when want_total, else -1 */
    int64_t snapshot; /* snapshot used: pass back for the next page */
    char *next;       /* cursor of the next page, NULL when this is the last */
};
void store_result_clear(struct store_result *r);

/* Run a query.  Results are filtered only by the query: authorisation is the
 * caller's job (access/), and callers that filter rows afterwards must page
 * accordingly. */
int store_search(struct store *s, const struct store_query *q, struct store_result *out);

/* The search-index rows of one version: its store-wide sequence number seq,
 * its type and pairs[0..2n) ((param, value) as store_put.index). */
struct store_ixitem {
    int64_t seq;
    const char *type;
    const char *const *pairs;
    int n;
};
/* `weft reindex` builds the index of a database loaded before it existed
 * (or with rows by an older rule): it empties it (store_search_index_clear)
 * and adds the rows of every current version, a page of versions at a time
 * (store_search_index_add: like a load batch, one posting list per (param,
 * value) of the page). */
int store_search_index_clear(struct store *s);
int store_search_index_add(struct store *s, const struct store_ixitem *items, int n);

/* The meta key (store/meta.h) saying the search index is not complete:
 * value "pending" while a database has items loaded before the index
 * existed (set by the migration that made it; `weft reindex` clears it to
 * "ready").  Absent: complete. */
#define STORE_SEARCH_INDEX_META "search-index"

/* Every version of type/id, newest first (id NULL: type-level history).  */
int store_history(struct store *s, const char *type, const char *id, int limit,
                  struct store_result *out);

/* ---- persons --------------------------------------------------------------- */

/* Find the person with this NHS number (already validated), creating one when
 * absent. */
int store_person_by_nhs(struct store *s, const char *nhs, char **person_id_out);
/* Find or create the person that (org, system, value) local identifier
 * belongs to; when a person is given and the identifier is new, attach it to
 * that person.  A local identifier belongs to at most one person. */
int store_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                          const char *link_to_person, char **person_id_out);

/* A person as the store knows it. */
struct store_person {
    char *id;
    char *nhs;     /* validated NHS number (10 digits), NULL when linked only locally */
    char *created; /* ISO 8601 UTC */
};
void store_person_clear(struct store_person *p);
/* Read a person; WEFT_ENOTFOUND when absent. */
int store_person_get(struct store *s, const char *person_id, struct store_person *out);
/* Every person with an NHS number, to fn(person_id, nhs) (both borrowed for
 * the call), in one read: what store_person_get would say of each, for a
 * caller that needs them all (a secondary-use export's opt-out check).  fn
 * non-zero stops the scan and is returned. */
int store_person_nhs_scan(struct store *s,
                          int (*fn)(const char *person_id, const char *nhs, void *), void *ctx);
/* A version of the person's record at snapshot (0 = now): the newest seq of
 * any version ever linked to the person, and the number of the person's items
 * current at the snapshot.  Any change to what the person's record holds
 * (new, updated, retracted, linked in or moved away) changes the pair, so it
 * can key caches of views of one person (the web pages).  snapshot_out (may
 * be NULL) gets the snapshot used. */
int store_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                         int64_t *count, int64_t *snapshot_out);

/* A snapshot for an incremental export, and the time it stands for (a bulk
 * export's transactionTime): every version not visible at *snapshot has a
 * lastUpdated at or after time_out, so a later query of lastUpdated >=
 * time_out (the next export's _since) holds whatever a read at *snapshot
 * leaves out.  "Now" would not do: a writer's versions carry its
 * transaction's start time, and a writer that began before the call may
 * commit after the snapshot.  SQLite takes the snapshot between writers
 * (waiting for the one in flight, as a writer does); PostgreSQL takes the
 * earliest start of the writers still in flight (writer_horizon.began).
 * The nodes' clocks are the writers' clocks: they must agree (NTP). */
int store_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32]);

/* The person holding local identifier (org, system, value), without creating
 * one; WEFT_ENOTFOUND when none. */
int store_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                            char **person_id_out);

/* Person merge (HL7 A40): everything of retired (resources, local
 * identifiers, the NHS number when survivor has none) moves to survivor, and
 * each move is recorded so store_person_unmerge() can put it back.  The
 * retired person is kept.  WEFT_ECONFLICT when both have different NHS
 * numbers or survivor == retired; WEFT_ENOTFOUND when either is unknown. */
int store_person_merge(struct store *s, const char *survivor, const char *retired,
                       const char *source_org, int64_t inbox_id, int64_t *merge_id_out);
/* Many merges at once (relink): each v[i].retired into v[i].survivor, as
 * store_person_merge would do them one by one (one person_merge row each,
 * every move recorded for store_person_unmerge), in a few set-wise
 * statements.  No person may be retired twice or be both retired and a
 * survivor in one call (the caller flattens chains).  WEFT_ECONFLICT when a
 * pair has two different NHS numbers, two NHS numbers would move to one
 * survivor, a retired person is merged already or a rule above is broken;
 * WEFT_ENOTFOUND when a person is unknown; nothing is written then.
 * merge_ids_out (n entries, may be NULL) gets each merge's id. */
struct store_merge_pair {
    const char *survivor, *retired;
};
int store_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                            const char *source_org, int64_t *merge_ids_out);
/* Undo a merge: the items and identifiers it moved go back to the retired
 * person (items re-linked since then stay).  WEFT_ENOTFOUND, or
 * WEFT_ECONFLICT when already undone. */
int store_person_unmerge(struct store *s, int64_t merge_id);
/* A merge as recorded. */
struct store_merge {
    int64_t id, inbox_id;
    char *survivor, *retired, *source_org, *created, *undone; /* undone NULL: active */
};
void store_merges_free(struct store_merge *m, int n);
/* Merges newest first, at most limit (0: 100). */
int store_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n);
/* The person currently holding NHS number nhs, without creating one. */
int store_person_find_nhs(struct store *s, const char *nhs, char **person_id_out);
/* Survivor of retired's active merge, or WEFT_ENOTFOUND when not merged. */
int store_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                             int64_t *merge_id_out);

#endif
