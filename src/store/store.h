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
 * a file path or "sqlite:PATH" for SQLite.  "postgres://..." is refused with
 * WEFT_EUNSUPPORTED and a message saying so: that backend is not built yet.
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
/* How many of this build's migrations the database has not had yet (0: up
 * to date).  A database behind the binary must be upgraded (store_migrate,
 * `weft init`) before use: queries rely on the newest schema. */
int store_schema_pending(struct store *s, int *pending);

/* The last error message of this handle (static to the handle; valid until
 * the next call on it).  Never NULL. */
const char *store_errmsg(struct store *s);

/* Bulk loading.  store_bulk(s, true): commits stop waiting for the disk (a
 * crash may lose the last transactions, never corrupt the store); use it
 * only where losing them is harmless because the input is loaded again
 * (weft load).  store_bulk(s, false) makes everything committed durable
 * (waits for the disk) and restores per-commit durability; call it before
 * reporting success. */
int store_bulk(struct store *s, bool on);

/* Transactions.  Writes outside an explicit transaction run in their own. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* ---- backup and restore (src/store/store.c; sqlite/sqlite_backup.c) ------ */

/* What a backup or restore wrote. */
struct store_backup_info {
    int schema_version; /* migrations applied in the copy */
    int64_t pages;      /* database pages copied */
    int64_t bytes;      /* size of the copy */
};

/* Write a consistent copy of the whole store, as of one moment, to the new
 * file dest - online: other handles (a serving `weft serve`, its feed
 * writer) keep reading and committing while it runs, and the copy holds
 * exactly what was committed when it started.  dest must not exist (never
 * overwritten); the copy is written beside it, checked and renamed, so dest
 * exists only as a whole, checked backup.  Not inside a transaction of s.
 * info (may be NULL) says what was written.  PostgreSQL deployments use
 * pg_basebackup instead (docs/OPERATIONS.md). */
int store_backup(struct store *s, const char *dest, struct store_backup_info *info);

/* Make the store at url (which must not exist) from the backup file src
 * (made by store_backup), which is opened read-only and checked first: a
 * file that is not a whole Weft backup is refused and nothing is created.
 * On failure returns a negative code and, when errmsg is not NULL, a
 * malloc'd message the caller frees. */
int store_restore(const char *src, const char *url, struct store_backup_info *info, char **errmsg);

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

/* The content digest (store_content_hash) of the current version of type/id
 * into hash and its version into *version (may be NULL): 0, or
 * WEFT_ENOTFOUND when absent or deleted.  Cheap: no JSON. */
int store_resource_digest(struct store *s, const char *type, const char *id,
                          unsigned char hash[STORE_HASH_LEN], int *version);

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

struct store_query {
    const char *type;              /* resourceType, NULL for every type */
    const char *person_id;         /* NULL: any person */
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
/* A version of the person's record at snapshot (0 = now): the newest seq of
 * any version ever linked to the person, and the number of the person's items
 * current at the snapshot.  Any change to what the person's record holds
 * (new, updated, retracted, linked in or moved away) changes the pair, so it
 * can key caches of views of one person (the web pages).  snapshot_out (may
 * be NULL) gets the snapshot used. */
int store_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                         int64_t *count, int64_t *snapshot_out);

/* The person holding local identifier (org, system, value), without creating
 * one; WEFT_ENOTFOUND when none. */
int store_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                            char **person_id_out);

/* ---- API clients ------------------------------------------------------------- */

struct store_client {
    int64_t id;
    char *name;
    char *org; /* may be NULL */
    char *created;
    char *revoked; /* NULL while active */
    char *scopes;  /* space-separated, may be NULL */
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

/* ---- organisations and agreements (access; src/store/store_access.c) ------------ */
struct store_org {
    char *ods;
    char *name;
    char *type; /* gp, acute, community, mental-health, social-care, ambulance, hospice */
    char *created;
};
void store_org_clear(struct store_org *o);
/* Add an organisation, or update its name and type when the ODS code exists. */
int store_org_put(struct store *s, const char *ods, const char *name, const char *type);
int store_org_get(struct store *s, const char *ods, struct store_org *out);
int store_org_list(struct store *s, struct store_org **out, int *n);

struct store_agreement {
    int64_t id;
    char *ods;
    char *kind; /* jca | dpa */
    char *from; /* YYYY-MM-DD, first day in force */
    char *to;   /* YYYY-MM-DD, last day in force; NULL: open-ended */
    char *created;
};
void store_agreement_clear(struct store_agreement *a);
int store_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                        const char *to, int64_t *id_out);
/* Agreements of ods (NULL: all), by organisation then start date. */
int store_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n);
/* Whether some agreement of ods covers day (YYYY-MM-DD). One indexed lookup. */
int store_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force);

/* ---- SMART apps (`weft app add`): who may ask for a code, and where it goes ---- */
struct store_app {
    char *client_id;     /* unique */
    char *name;          /* shown to the user on the consent page */
    char *redirect_uris; /* registered redirect URIs, one per line, matched exactly */
    char *scopes;        /* the most it may be granted (space-separated); NULL: any read scope */
    char *created;
    char *revoked; /* NULL while active */
};
void store_app_clear(struct store_app *a);
/* WEFT_EEXIST when the client_id is taken. */
int store_app_add(struct store *s, const struct store_app *in);
/* The app with this client_id, active or revoked; WEFT_ENOTFOUND when none. */
int store_app_get(struct store *s, const char *client_id, struct store_app *out);
int store_app_list(struct store *s, struct store_app **out, int *n);
/* WEFT_ENOTFOUND when no active app has this client_id. */
int store_app_revoke(struct store *s, const char *client_id);

/* ---- launchers, one-time token ids, sessions, break-glass, objections, policy ---- */
struct store_launcher {
    int64_t id;
    char *name;
    char *org;
    char *issuer; /* the iss claim, unique */
    char *alg;    /* HS256 | RS256 | ES256: pinned */
    char *key;    /* HS256: the shared secret; RS256/ES256: public key PEM */
    char *created;
    char *revoked; /* NULL while active */
};
void store_launcher_clear(struct store_launcher *l);
int store_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out);
/* The active launcher with this issuer; WEFT_ENOTFOUND when none. */
int store_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out);
int store_launcher_list(struct store *s, struct store_launcher **out, int *n);
int store_launcher_revoke(struct store *s, const char *name);
/* Record that (issuer, jti) was used; WEFT_EEXIST when it was used before.
 * expires (ISO 8601) lets old ids be purged once no token could carry them. */
int store_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires);

/* A server-side session: a launched user's browser session ("session"), a
 * SMART app token ("token") or a one-time authorisation code ("code").  Only
 * the SHA-256 of the secret handed out (cookie, token, code) is stored. */
struct store_session {
    char *id_hash; /* hex SHA-256 of the secret */
    char *kind;    /* session | token | code */
    char *parent;  /* id_hash of the session a token/code came from, or NULL */
    char *user_id, *user_name, *role, *org, *launcher, *purpose, *person_id;
    char *scopes;            /* token/code: granted scopes */
    char *csrf;              /* session: the per-session CSRF token */
    char *created, *expires; /* ISO 8601 UTC */
    char *revoked;           /* NULL while valid */
    char *app;               /* token/code: the SMART app's client_id */
};
void store_session_clear(struct store_session *ss);
int store_session_put(struct store *s, const struct store_session *in);
/* An unrevoked, unexpired session by id hash at time now (ISO 8601). */
int store_session_get(struct store *s, const char *id_hash, const char *now,
                      struct store_session *out);
/* Revoke (e.g. a used authorisation code); WEFT_ENOTFOUND when not valid. */
int store_session_revoke(struct store *s, const char *id_hash);
/* How many sessions are open (unrevoked, unexpired) at time now (ISO 8601),
 * by kind ("user", "app", ...) into the caller's callback; for metrics. */
int store_session_count(struct store *s, const char *now,
                        void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx);

struct store_breakglass {
    int64_t id;
    char *user_id, *user_name, *role, *org, *person_id, *session;
    char *reason_code, *reason_text;
    char *started, *expires;
};
void store_breakglass_clear(struct store_breakglass *b);
int store_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out);
/* Whether user_id of org has break-glass active for person_id at now. */
int store_breakglass_active(struct store *s, const char *user_id, const char *org,
                            const char *person_id, const char *now, char **expires_out);
/* Break-glass events started at or after since (NULL: all), newest first. */
int store_breakglass_list(struct store *s, const char *since, struct store_breakglass **out,
                          int *n);

/* Objection (GDPR art. 21) state of a person: lodged|upheld|rejected|withdrawn. */
int store_objection_set(struct store *s, const char *person_id, const char *status,
                        const char *date);
/* *status_out: malloc'd status, or NULL (and 0 returned) when none recorded. */
int store_objection_get(struct store *s, const char *person_id, char **status_out);

/* Everything the authorisation point needs to know about one decision, read
 * in ONE statement (one read transaction: separate lookups cost a WAL lock
 * round trip each, which was most of a decision's time). */
struct store_access_facts {
    int64_t policy_version;    /* current policy version, 0 when none */
    bool agreement_in_force;   /* org has an agreement covering day */
    char objection[16];        /* the person's objection status, "" when none */
    char breakglass_until[32]; /* user's active break-glass for the person, "" when none */
};
int store_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                       const char *user_id, const char *now, struct store_access_facts *out);

/* The access policy text, versioned.  put stores a new current version. */
int store_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                     int64_t *version_out);
/* Current version and text (text_out may be NULL); WEFT_ENOTFOUND when none. */
int store_policy_current(struct store *s, int64_t *version_out, char **text_out);

/* ---- audit log (src/store/store_audit.c; hashing in src/audit/audit.c) --------- */
struct store_audit_row {
    int64_t seq;
    const char *time, *action, *outcome, *user_id, *user_name, *role, *org, *launcher, *client,
        *purpose, *person_id, *session_id, *request_id, *what, *reason;
    int64_t count;
    unsigned char prev[32], hash[32];
};
/* Called inside the append transaction with the current head (seq 0 and zero
 * hash on an empty log): assigns seq, prev and hash of rows[0..n). */
typedef void (*store_audit_chain_fn)(struct store_audit_row *rows, int n, int64_t head_seq,
                                     const unsigned char head_hash[32], void *ctx);
/* Append rows in one transaction (its own, or the caller's when one is open). */
int store_audit_append(struct store *s, struct store_audit_row *rows, int n,
                       store_audit_chain_fn chain, void *ctx);
/* The head (newest seq and hash, as recorded at append) and number of rows. */
int store_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows);
/* Rows with from <= seq <= to in seq order, each passed to fn (borrowed, valid
 * during the call); fn returning non-zero stops the scan with that value. */
int store_audit_scan(struct store *s, int64_t from, int64_t to,
                     int (*fn)(const struct store_audit_row *, void *), void *ctx);
struct store_audit_filter {
    const char *person_id, *user_id, *action, *org;
    const char *time_ge, *time_lt; /* ISO 8601 prefixes compare as text */
    int64_t before_seq;            /* paging: only seq < this (0: none) */
    int limit;
};
/* Matching rows newest first, to fn as for scan. */
int store_audit_search(struct store *s, const struct store_audit_filter *f,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx);

/* ---- feeds, the inbound message store, person merges (src/store/store_feeds.c;
 * sqlite/sqlite_feeds.c, sqlite/sqlite_merge.c) -------------------------------- */

/* Savepoints inside an open transaction (the MLLP writer runs one transaction
 * per batch and one savepoint per message).  name: [a-z0-9_]+. */
int store_savepoint(struct store *s, const char *name);
int store_release(struct store *s, const char *name);
int store_rollback_to(struct store *s, const char *name);
/* Write-ahead log checkpoints.  STORE_CKPT_OFF: this handle never
 * checkpoints by itself at commit (a dedicated writer hands checkpoints to
 * another thread); STORE_CKPT_PASSIVE: copy what can be copied now without
 * waiting for anyone.  Backends without a log return 0. */
enum store_ckpt { STORE_CKPT_OFF = 0, STORE_CKPT_PASSIVE = 1 };
int store_checkpoint(struct store *s, enum store_ckpt mode);

/* A registered feed (src/feeds/registry.h explains the fields). */
struct store_feed {
    int64_t id;
    char *name;
    char *org;          /* ODS code of the sending organisation */
    char *kind;         /* hl7v2 | fhir | csv */
    char *facility;     /* hl7v2: MSH-4.1 it must present */
    char *from_address; /* hl7v2: optional peer address it must connect from */
    char *folder;       /* csv: drop folder */
    int64_t client_id;  /* fhir: the API client whose token it uses (0: none) */
    char *token_hash;   /* fhir: hex SHA-256 of that token */
    char *created;
    char *disabled;      /* NULL while enabled */
    char *last_received; /* ISO 8601 arrival time of the newest message, NULL if none */
    char *last_error;    /* the newest rejection reason, NULL if none */
    char *last_error_at;
};
void store_feed_clear(struct store_feed *f);
/* Register a feed: WEFT_EEXIST when the name (or, for hl7v2, the facility) is
 * taken. */
int store_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out);
/* By id (name NULL) or by name (id 0).  WEFT_ENOTFOUND when absent. */
int store_feed_get(struct store *s, int64_t id, const char *name, struct store_feed *out);
/* The hl7v2 feed presenting facility (case-sensitive), or WEFT_ENOTFOUND. */
int store_feed_by_facility(struct store *s, const char *facility, struct store_feed *out);
/* The fhir feed using API client client_id, or WEFT_ENOTFOUND. */
int store_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out);
/* Disable (refuse everything it sends, kept and counted) or enable a feed.
 * WEFT_ENOTFOUND when there is no such feed. */
int store_feed_set_disabled(struct store *s, int64_t id, bool disabled);
/* All feeds by name; *out is an array of *n (caller clears each, frees it). */
int store_feed_list(struct store *s, struct store_feed **out, int *n);

/* Counters of one feed for one UTC day (or summed over all days). */
struct store_feed_counts {
    int64_t received, applied, rejected, duplicate;
    int64_t lag_n;      /* events with an event time (src/feeds/lag.h) */
    int64_t lag_sum_ms; /* sum of (arrival - event time) */
    int64_t lag_max_ms;
    int64_t lag_recent_n; /* of those, events at most 7 days old on arrival */
    int64_t lag_recent_sum_ms;
    int64_t lag_recent_max_ms;
};
/* Add add's numbers to feed_id's counters for day (YYYY-MM-DD); also set the
 * feed's last_received (when not NULL and newer) and last_error (when not
 * NULL).  Meant to be called once per batch, inside its transaction. */
int store_feed_count(struct store *s, int64_t feed_id, const char *day,
                     const struct store_feed_counts *add, const char *last_received,
                     const char *last_error);
/* Counters for day (NULL: zeros) and summed over every day. */
int store_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                          struct store_feed_counts *today, struct store_feed_counts *total);

/* One inbound message or file, kept verbatim (src/feeds/inbox.h). */
struct store_inbox_msg {
    int64_t id;
    int64_t feed_id;      /* 0: the sender matched no feed */
    char *kind;           /* hl7v2 | fhir | csv */
    char *arrived;        /* ISO 8601 UTC with milliseconds */
    char *sender;         /* hl7v2: MSH-4.1; csv: file name; fhir: client name */
    char *peer;           /* remote address, NULL when not a network arrival */
    char *control_id;     /* hl7v2: MSH-10; fhir: Bundle.id; csv: file name + size */
    char *msg_type;       /* e.g. "ADT^A01", "Bundle/transaction", "people" */
    char *event_time;     /* FHIR dateTime of the event, NULL when unknown */
    char *outcome;        /* pending | applied | rejected | duplicate | partial */
    char *error;          /* why rejected (never patient data), NULL when none */
    char *updated;        /* when the outcome was last set */
    int attempts;         /* times applied (1 + replays) */
    int64_t resources;    /* resources written by the last attempt */
    int64_t duplicate_of; /* duplicate: the inbox id that was applied */
    char *body;           /* verbatim content (NULL when not asked for) */
    size_t body_len;
};
void store_inbox_msg_clear(struct store_inbox_msg *m);
void store_inbox_msgs_free(struct store_inbox_msg *m, int n);
/* Keep a message: in->body[0..body_len) verbatim; outcome defaults to
 * "pending".  id_out gets its inbox id. */
int store_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out);
/* Set the outcome of inbox message id (attempts incremented when bump). */
int store_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                            int64_t resources, int64_t duplicate_of, bool bump);
/* Attribute inbox message id to feed_id (a replay found the feed its sender
 * was not registered under when it arrived). */
int store_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id);
/* Read one message (with its body when with_body).  WEFT_ENOTFOUND. */
int store_inbox_get(struct store *s, int64_t id, bool with_body, struct store_inbox_msg *out);

struct store_inbox_filter {
    int64_t feed_id;     /* 0: every feed (and unmatched senders) */
    const char *outcome; /* NULL: any */
    const char *since;   /* arrived >= since (ISO 8601 prefix), NULL: any */
    int64_t after_id;    /* paging: id > after_id */
    int64_t before_id;   /* paging: 0, or id < before_id */
    int64_t only_id;     /* 0, or exactly this message */
    int limit;           /* 0: 100 */
    bool with_body;
    bool newest_first; /* descending id order (the limit keeps the newest) */
};
/* Messages matching f in arrival (id) order, or newest first. */
int store_inbox_list(struct store *s, const struct store_inbox_filter *f,
                     struct store_inbox_msg **out, int *n);
/* Claim (feed_id, control_id) for inbox message id: 0 when it was new,
 * WEFT_EEXIST with *first the inbox id that claimed it before. */
int store_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                      int64_t *first);
/* Count of messages of feed_id (0: all) per outcome; out[0..4] = pending,
 * applied, rejected, duplicate, partial. */
int store_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5]);

/* Person merge (HL7 A40): everything of retired (resources, local
 * identifiers, the NHS number when survivor has none) moves to survivor, and
 * each move is recorded so store_person_unmerge() can put it back.  The
 * retired person is kept.  WEFT_ECONFLICT when both have different NHS
 * numbers or survivor == retired; WEFT_ENOTFOUND when either is unknown. */
int store_person_merge(struct store *s, const char *survivor, const char *retired,
                       const char *source_org, int64_t inbox_id, int64_t *merge_id_out);
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

/* ---- data quality (src/dq/; store_dq.c, sqlite/sqlite_dq.c) ------------------------ */
/* One current item as the data-quality scan sees it; every pointer borrowed
 * for the callback only.  json is the stored text (without meta.versionId). */
struct store_dq_item {
    int64_t seq;
    const char *type, *id, *person_id, *source_org, *source_id, *feed;
    const char *effective, *code, *last_updated;
    const char *json;
    size_t json_len;
};
/* Every current, undeleted item in person order (person_id, type, effective;
 * items without a person first), streamed: one row in memory at a time.  fn
 * returning non-zero stops the scan and is returned.  Runs inside one read
 * transaction, so it sees one snapshot. */
int store_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx);

/* One inbox message as the data-quality scan sees it (borrowed). */
struct store_dq_inbox {
    int64_t id;
    const char *org;  /* the feed's organisation; for a message that matched no feed,
                         that of another message on the same connection; NULL if none */
    const char *feed; /* feed name, NULL when unmatched */
    const char *kind, *arrived, *control_id, *msg_type, *event_time, *outcome, *error;
    const char *body; /* only for messages not applied (rejected, partial), else NULL */
    size_t body_len;
};
/* Every inbox message in arrival order (streamed); see store_dq_scan. */
int store_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                        void *ctx);

/* A run of the data-quality checks. */
struct store_dq_run {
    int64_t id;
    char *started, *finished; /* finished NULL while running or when it failed */
    char *org;                /* NULL: every organisation */
    char *as_of;              /* the day "future" is measured from (YYYY-MM-DD) */
    char *rules_sha256, *status;
};
void store_dq_run_clear(struct store_dq_run *r);
void store_dq_runs_free(struct store_dq_run *r, int n);
int store_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out);
int store_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status);
/* Finished runs that covered org (runs of every organisation and runs of
 * org alone; org NULL: all runs), newest first, at most limit (0: 100). */
int store_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out,
                      int *n);

/* One check's figures for one organisation in one run (borrowed on write;
 * on read valid for the callback). */
struct store_dq_result {
    int64_t run_id;
    const char *org, *check, *dimension;
    int64_t tested, failed;
    double threshold;  /* pass rate the check must reach (0..1) */
    const char *extra; /* JSON object text with check-specific figures, or NULL */
};
int store_dq_result_add(struct store *s, const struct store_dq_result *r);
/* Results of run_id for org (NULL: every organisation), by org and check. */
int store_dq_result_list(struct store *s, int64_t run_id, const char *org,
                         int (*fn)(const struct store_dq_result *, void *), void *ctx);

/* One failing record (borrowed; empty strings where not applicable). */
struct store_dq_failure {
    int64_t run_id;
    const char *org, *check, *dimension, *resource_type, *source_id, *patient_local_id,
        *message_control_id, *detail;
};
int store_dq_failure_add(struct store *s, const struct store_dq_failure *f);
/* Failures of run_id for org (NULL: all), in the order they were found. */
int store_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_failure *, void *), void *ctx);

/* ---- governance console (store_gov.c, sqlite/sqlite_gov.c) --------------------------- */
/* The outcome of a governance review of one break-glass event. */
struct store_bg_review {
    int64_t breakglass_id;
    char *outcome; /* appropriate | inappropriate | follow-up */
    char *note, *reviewer, *reviewer_role, *reviewed;
};
void store_bg_reviews_free(struct store_bg_review *r, int n);
/* Record a review (a later review of the same event supersedes, both kept). */
int store_bg_review_add(struct store *s, const struct store_bg_review *in);
/* The newest review of every reviewed event, by breakglass_id. */
int store_bg_review_list(struct store *s, struct store_bg_review **out, int *n);
/* Loaded versions of the access policy, newest first (text not included). */
struct store_policy_version {
    int64_t version;
    char *loaded, *loaded_by, *sha256;
};
void store_policy_versions_free(struct store_policy_version *v, int n);
int store_policy_version_list(struct store *s, struct store_policy_version **out, int *n);
/* ---- citizens: objection cases and subject access requests
 * (src/store/store_citizen.c; sqlite/sqlite_citizen.c) --------------------------- */

/* One objection to sharing (GDPR art. 21) as a case: lodged with an
 * organisation, decided by a named clinician or withdrawn.  status: lodged |
 * upheld | not-upheld | withdrawn.  Times are ISO 8601 UTC; due is a day.
 * The person's objection state that the authorisation point reads
 * (store_objection_set/get) is kept equal to their newest case's status by
 * the access module (src/access/objection.c), in the same transaction. */
struct store_objection {
    int64_t id;
    char *person_id, *org, *reason, *lodged, *lodged_by, *due, *status;
    char *decided, *decided_by, *decided_role, *rationale; /* NULL until decided */
    char *withdrawn, *withdrawn_by, *withdrawn_reason;     /* NULL unless withdrawn */
};
void store_objection_clear(struct store_objection *o);
void store_objections_free(struct store_objection *o, int n);
/* in->id == 0: add a new case (*id_out gets its id); else overwrite status
 * and the decision and withdrawal fields of case in->id (WEFT_ENOTFOUND when
 * there is none). */
int store_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out);
/* Case id; WEFT_ENOTFOUND when absent. */
int store_objection_case(struct store *s, int64_t id, struct store_objection *out);
/* Cases of person_id (NULL: everyone's), oldest first; open_only: only those
 * still lodged (the review queue). */
int store_objection_list(struct store *s, const char *person_id, bool open_only,
                         struct store_objection **out, int *n);
/* One step of a case's history (lodged, decided, withdrawn, set ...). */
struct store_objection_step {
    int64_t objection_id;
    char *time, *step, *by, *detail;
};
void store_objection_steps_free(struct store_objection_step *st, int n);
int store_objection_step_add(struct store *s, int64_t objection_id, const char *time,
                             const char *step, const char *by, const char *detail);
/* Steps of case objection_id in order. */
int store_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                          int *n);

/* A subject access request.  status: open | extended | completed.  received
 * and due are days; due is one calendar month after received, or up to two
 * further months when extended (extension_reason then set). */
struct store_sar {
    int64_t id;
    char *person_id, *received, *due, *status, *extension_reason, *created, *created_by;
    char *completed; /* when the last package was produced, NULL before */
    char *package;   /* the directory it was written to, NULL before */
};
void store_sar_clear(struct store_sar *r);
void store_sars_free(struct store_sar *r, int n);
/* in->id == 0: add (*id_out gets the id); else overwrite due, status,
 * extension_reason and completed of request in->id. */
int store_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out);
int store_sar_get(struct store *s, int64_t id, struct store_sar *out);
/* Requests of person_id (NULL: all), newest first. */
int store_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n);

/* The job role and organisation user_id last signed in with (newest launched
 * session); WEFT_ENOTFOUND when they never did. */
int store_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out);

/* Every audit entry about person_id in seq order, to fn as for scan. */
int store_audit_person(struct store *s, const char *person_id,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx);

/* ---- citizen sign-in: OpenID providers and citizens' sessions (store_citizen.c) ---- */

/* An OpenID Connect provider citizens sign in with (NHS login or one in its
 * shape), registered by `weft citizen-idp add`. */
struct store_citizen_idp {
    char *name;         /* short name used in URLs */
    char *issuer;       /* the provider's issuer URL, exactly as in its tokens */
    char *client_id;    /* Weft's client id at the provider */
    char *key_pem;      /* Weft's private key for private_key_jwt (PEM) */
    char *key_id;       /* its kid at the provider, or NULL */
    char *redirect_uri; /* the callback registered with the provider */
    char *created;
};
void store_citizen_idp_clear(struct store_citizen_idp *p);
/* WEFT_EEXIST when the name is taken. */
int store_citizen_idp_add(struct store *s, const struct store_citizen_idp *in);
int store_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out);
int store_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n);
/* WEFT_ENOTFOUND when there is none of that name. */
int store_citizen_idp_remove(struct store *s, const char *name);

/* A signed-in citizen's session; only the SHA-256 of the cookie is kept. */
struct store_citizen_session {
    char *id_hash, *idp, *sub, *person_id, *nhs, *ial, *csrf;
    char *created, *last_seen, *expires, *revoked;
};
void store_citizen_session_clear(struct store_citizen_session *ss);
int store_citizen_session_put(struct store *s, const struct store_citizen_session *in);
/* An unrevoked session by hash (expiry is the caller's to check: it knows
 * the idle and absolute limits); WEFT_ENOTFOUND when none. */
int store_citizen_session_get(struct store *s, const char *id_hash,
                              struct store_citizen_session *out);
int store_citizen_session_touch(struct store *s, const char *id_hash, const char *now);
int store_citizen_session_revoke(struct store *s, const char *id_hash);
/* ---- the master person index (src/store/store_identity.c;
 * sqlite/sqlite_identity.c; src/identity/ decides, the store keeps) ------------ */

/* One source Patient as matching sees it: (org, source_id) is the record;
 * demog its normalised demographics (identity/demog.h, packed), nhs its valid
 * NHS number or NULL, locals its organisation-local identifiers
 * ("org\tsystem\tvalue" lines).  Reads also fill person_id/person_nhs: the
 * person holding the record now, through person_local (org, link_system,
 * source_id).  Strings are malloc'd by reads (store_idrecs_free). */
struct store_idrec {
    char *org, *source_id, *demog, *nhs, *locals;
    char *person_id, *person_nhs;
};
void store_idrec_clear(struct store_idrec *r);
void store_idrecs_free(struct store_idrec *r, int n);
/* Insert or replace the record, with its BLOCK_NKEYS (4) blocking keys ("" or
 * NULL: none). */
int store_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4]);
/* Records sharing a blocking key with keys (at most cap per key), with their
 * persons; only records without an NHS number when without_nhs; *out is an
 * array of *n. */
int store_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                           int cap, bool without_nhs, struct store_idrec **out, int *n);
/* One record; WEFT_ENOTFOUND when absent. */
int store_idrec_get(struct store *s, const char *link_system, const char *org,
                    const char *source_id, struct store_idrec *out);
/* Every record the person holds now. */
int store_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                          struct store_idrec **out, int *n);
/* Every record, by (org, source_id), to fn (borrowed strings; fn must not use
 * the store; nonzero from fn stops and is returned). */
int store_idrec_scan(struct store *s, const char *link_system,
                     int (*fn)(const struct store_idrec *, void *), void *ctx);

/* One identity decision, as recorded (never changed afterwards):
 * action link | review | merge | unmerge | unlink | not-same; by whom
 * ("auto" or the operator), score and model version when a model decided. */
struct store_iddecision {
    int64_t id;
    char *created, *action, *org, *source_id, *person_id, *other_person, *other_org,
        *other_source_id, *decided_by, *note;
    double score;
    int model_version;
    int64_t merge_id; /* merge/unmerge: the person_merge id */
};
void store_iddecisions_free(struct store_iddecision *d, int n);
int store_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out);
/* Decisions about record (org, source_id), or all (org NULL), newest first. */
int store_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                          struct store_iddecision **out, int *n);

/* A pair in the review queue: status open | same | not-same. */
struct store_idreview {
    int64_t id, decision_id;
    char *created, *org, *source_id, *other_org, *other_source_id, *status, *decided_by, *decided;
    double score;
    int model_version;
};
void store_idreviews_free(struct store_idreview *r, int n);
/* Queue a pair (a pair already queued, in either order, is left as it is:
 * *id_out 0). */
int store_idreview_add(struct store *s, const struct store_idreview *r, int64_t *id_out);
/* Pairs with status (NULL: any), oldest first. */
int store_idreview_list(struct store *s, const char *status, int limit, struct store_idreview **out,
                        int *n);
int store_idreview_get(struct store *s, int64_t id, struct store_idreview *out);
/* Close an open pair: WEFT_ECONFLICT when already decided. */
int store_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                          int64_t decision_id);
/* Record that two records are not the same person (both directions). */
int store_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                         const char *other_org, const char *other_source_id, int64_t decision_id);
/* The records said not to be the same person as (org, source_id) (only org
 * and source_id filled). */
int store_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                          struct store_idrec **out, int *n);
/* Split record (org, source_id) off person_id into a new person: its local
 * identifiers (the record's locals and its source id) and the resources of
 * person_id sent by org move.  WEFT_ECONFLICT when person_id holds another
 * record from org (the resources could not be told apart) or holds only this
 * record; WEFT_ENOTFOUND when the record is not the person's. */
int store_person_split(struct store *s, const char *person_id, const char *link_system,
                       const char *org, const char *source_id, char **new_person_out);
/* The newest active merge that moved local identifier (org, system, value),
 * or WEFT_ENOTFOUND. */
int store_person_merge_of_local(struct store *s, const char *org, const char *system,
                                const char *value, int64_t *merge_id_out);

/*
 * Other subsystems (organisations, feeds, inbound messages, audit, policy,
 * sessions) keep their own tables and add their operations here as
 * store_<noun>_<verb>, each implemented in every backend.
 */

#endif
