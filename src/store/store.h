/*
 * store.h - the record store: the whole API every other module uses to keep
 * and find data.  One opaque handle, one table of operations per backend
 * (store_sqlite.c now, store_pg.c later); nothing outside src/store/ knows
 * which backend is in use or writes SQL against the record tables.
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
 *   - client: API clients, only a SHA-256 hash of the token is kept.
 *
 * Concurrency: a handle is used by one thread at a time.  Servers open one
 * handle per worker thread (SQLite WAL lets readers run beside one writer).
 *
 * Ownership: strings passed in are copied or used only during the call.
 * Strings in structs filled by the store (struct store_row) are owned by the
 * caller after the call and released with store_row_clear().
 */
#ifndef WEFT_STORE_STORE_H
#define WEFT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Open (creating the file when create is true) the store named by url:
 * a file path or "sqlite:PATH" for SQLite, "postgres://..." for PostgreSQL.
 * Does not create the schema: call store_migrate().  On failure returns a
 * negative code and, when errmsg is not NULL, a malloc'd message in *errmsg
 * that the caller frees. */
int store_open(struct store **out, const char *url, bool create, char **errmsg);
void store_close(struct store *s);

/* Bring the schema to the newest version (forward-only migrations).  Reports
 * the version before and after.  Safe to call on an up-to-date store. */
int store_migrate(struct store *s, int *from_version, int *to_version);
/* Current schema version, 0 for an empty database. */
int store_schema_version(struct store *s, int *version);

/* The last error message of this handle (static to the handle; valid until
 * the next call on it).  Never NULL. */
const char *store_errmsg(struct store *s);

/* Transactions.  Writes outside an explicit transaction run in their own. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* ---- resources ---------------------------------------------------------- */

#define STORE_ID_LEN 32 /* hex characters in a derived resource id */

/* Derive the Weft id for (source org, type, source id) into out (at least
 * STORE_ID_LEN + 1 bytes): lowercase hex of the first 128 bits of
 * SHA-256("org\x1ftype\x1fsource_id"). */
void store_resource_id(const char *org, const char *type, const char *source_id, char *out);

/* What the loader hands the store for one resource. */
struct store_put {
    const char *type;      /* FHIR resourceType */
    const char *source_org;/* ODS code of the organisation that sent it */
    const char *source_id; /* the sender's id for it */
    const char *feed;      /* feed name it came by (NULL: manual load) */
    const char *person_id; /* linked person, NULL when not linked */
    const char *category;  /* record category (fhir/category.h), never NULL */
    const char *effective; /* ISO 8601 clinically relevant date, or NULL */
    const char *code;      /* "system|code" of the main code, or NULL */
    const char *status;    /* status element, or NULL */
    const char *json;      /* the resource as stored (id/meta set by caller) */
    size_t json_len;
    /* Extra search terms: pairs of (param, value), count in nterms. */
    const char *const *terms;
    int nterms;
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
    int64_t seq;        /* store-wide sequence number of this version */
    char *json;         /* resource JSON including id and meta */
    size_t json_len;
};
void store_row_clear(struct store_row *r);

/* Read the current version (version 0) or a given version of type/id.
 * WEFT_ENOTFOUND when absent. */
int store_resource_get(struct store *s, const char *type, const char *id, int version,
                       struct store_row *out);

/* Mark type/id deleted (entered in error / retraction): a new version with
 * deleted=true.  History is kept. */
int store_resource_delete(struct store *s, const char *type, const char *id);

/* ---- search -------------------------------------------------------------- */

enum store_sort {
    STORE_SORT_ID = 0,       /* default: stable by id */
    STORE_SORT_DATE,         /* effective date ascending, then id */
    STORE_SORT_DATE_DESC,
    STORE_SORT_LASTUPDATED,
    STORE_SORT_LASTUPDATED_DESC,
};

struct store_term {       /* one extra search term: param = value (AND-ed) */
    const char *param;    /* e.g. "identifier", "family", "given", "birthdate" */
    const char *value;    /* matched as exact, or as prefix when prefix=true */
    bool prefix;
};

struct store_query {
    const char *type;          /* resourceType, NULL for every type */
    const char *person_id;     /* NULL: any person */
    const char *const *categories; /* OR-ed list, NULL/0: any */
    int ncategories;
    const char *const *codes;  /* "system|code" or "|code" or "code": OR-ed */
    int ncodes;
    const char *date_ge, *date_lt;      /* effective range, NULL = open */
    const char *lastupd_ge, *lastupd_lt;/* last updated range */
    const char *const *source_orgs;     /* OR-ed, NULL/0: any */
    int nsource_orgs;
    const struct store_term *terms;
    int nterms;
    enum store_sort sort;
    /* Paging: results visible at snapshot (seq <= snapshot; 0 = now, and the
     * store reports the snapshot it used in the result) after the keyset
     * cursor (NULL = first page).  Cursors are opaque strings produced by the
     * store. */
    int64_t snapshot;
    const char *after;
    int limit;                 /* max rows in this page */
    bool want_total;
};

struct store_result {
    struct store_row *rows;
    int nrows;
    int64_t total;      /* when want_total, else -1 */
    int64_t snapshot;   /* snapshot used: pass back for the next page */
    char *next;         /* cursor of the next page, NULL when this is the last */
};
void store_result_clear(struct store_result *r);

/* Run a query.  Results are filtered only by the query: authorisation is the
 * caller's job (access/), and callers that filter rows afterwards must page
 * accordingly. */
int store_search(struct store *s, const struct store_query *q, struct store_result *out);

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
int store_person_by_local(struct store *s, const char *org, const char *system,
                          const char *value, const char *link_to_person, char **person_id_out);

/* ---- API clients ------------------------------------------------------------- */

struct store_client {
    int64_t id;
    char *name;
    char *org;        /* may be NULL */
    char *created;
    char *revoked;    /* NULL while active */
    char *scopes;     /* space-separated, may be NULL */
};
void store_client_clear(struct store_client *c);

/* Store a client; token_hash is the hex SHA-256 of the token. */
int store_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                     const char *token_hash, int64_t *id_out);
/* Look up an active client by token hash; WEFT_ENOTFOUND when none. */
int store_client_by_hash(struct store *s, const char *token_hash, struct store_client *out);
int store_client_list(struct store *s, struct store_client **out, int *n);
int store_client_revoke(struct store *s, int64_t id);

/* ---- generic key/value settings (schema version, server secrets) ---------------- */
int store_meta_get(struct store *s, const char *key, char **value_out);
int store_meta_set(struct store *s, const char *key, const char *value);

/*
 * Other subsystems (organisations, feeds, inbound messages, audit, policy,
 * sessions) keep their own tables and add their operations here as
 * store_<noun>_<verb>, each implemented in every backend.
 */

#endif
