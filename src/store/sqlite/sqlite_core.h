/*
 * sqlite_core.h - the SQLite implementations of the core store operations
 * (resources, search, persons, clients, meta, transactions, migrations),
 * one group per file.  Referenced by the ops table in sqlite_ops.c.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_CORE_H
#define WEFT_STORE_SQLITE_SQLITE_CORE_H

#include "store/sqlite/sqlite_int.h"

/* sqlite_store.c */
void sqlite_close(struct store *s);
/* A dedicated writer: checkpoints on a thread of its own (sqlite_writer.c). */
int sqlite_writer(struct store *s);
/* Stop that thread (after a last passive checkpoint); at close. */
void sqlite_writer_stop(struct sqlite_store *ss);
int sqlite_begin(struct store *s);
int sqlite_commit(struct store *s);
int sqlite_rollback(struct store *s);
bool sqlite_alive(struct store *s);
int sqlite_bulk(struct store *s, bool on);

/* sqlite_migrate.c */
int sqlite_migrate(struct store *s, int *from_version, int *to_version);
int sqlite_schema_version(struct store *s, int *version);
int sqlite_schema_pending(struct store *s, int *pending);
extern const struct store_migration sqlite_migration_core_1;
extern const struct store_migration sqlite_migration_core_2;
extern const struct store_migration sqlite_migration_core_4;

/* sqlite_resource.c */
/* The compact lookup key of a resource id (resource.idk, indexed with the
 * version): 64 bits of FNV-1a over the id text.  Lookups compare the id too,
 * so a collision costs a row visit, never a wrong answer. */
int64_t sqlite_idkey(const char *id);
/* Register weft_idkey(text) (the same function in SQL, for migrations) and
 * the search index's functions (sqlite_search_functions) on db. */
int sqlite_register_functions(sqlite3 *db);
#define SQLITE_ROW_COLS                                                                            \
    "seq,id,type,version,deleted,person_id,category,source_org,source_id,feed,effective,code,"     \
    "status,last_updated,json"
/* Fill out from the current row of st, whose first columns are SQLITE_ROW_COLS
 * (optionally prefixed by table alias in the query; the order is what counts). */
void sqlite_row_fill(sqlite3_stmt *st, struct store_row *out);
int sqlite_resource_put(struct store *s, const struct store_put *in,
                        enum store_put_outcome *outcome, char id_out[STORE_ID_LEN + 1],
                        int *version_out);
int sqlite_resource_put_batch(struct store *s, const struct store_put *in, int n,
                              struct store_put_result *out);
int sqlite_resource_get(struct store *s, const char *type, const char *id, int version,
                        struct store_row *out);
int sqlite_resource_person(struct store *s, const char *type, const char *id, char **person_id_out);
int sqlite_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept);
int sqlite_resource_digest(struct store *s, const char *type, const char *id,
                           unsigned char hash[STORE_HASH_LEN], int *version);
int sqlite_resource_delete(struct store *s, const char *type, const char *id);
int sqlite_history(struct store *s, const char *type, const char *id, int limit,
                   struct store_result *out);

/* sqlite_search.c */
int sqlite_search(struct store *s, const struct store_query *q, struct store_result *out);
int sqlite_search_index_clear(struct store *s);
int sqlite_search_index_add(struct store *s, const struct store_ixitem *items, int n);
/* The search-index rows pairs[0..2n) of version seq of type (the put path;
 * the caller's transaction): written at once as lists of one seq, or, inside
 * sqlite_index_batch_begin .. sqlite_index_batch_end, gathered and written at
 * the end as one posting list per (param, value) of the batch (pairs must
 * stay valid until then). */
int sqlite_index_add(struct sqlite_store *ss, int64_t seq, const char *type,
                     const char *const *pairs, int n);
void sqlite_index_batch_begin(struct sqlite_store *ss);
/* Write the gathered rows when ok (returns 0 or the error), drop them
 * otherwise (returns 0). */
int sqlite_index_batch_end(struct sqlite_store *ss, bool ok);
void sqlite_index_free(struct sqlite_store *ss);
/* Register weft_ixseqs(first_seq, seqs) (a posting list as a JSON array of
 * seqs, for json_each) and the aggregate weft_ixpost(seq) (the seqs of a
 * group as a list's bytes after the smallest) on db. */
int sqlite_search_functions(sqlite3 *db);
extern const struct store_migration sqlite_migration_search_1;
extern const struct store_migration sqlite_migration_search_index_1;
extern const struct store_migration sqlite_migration_search_index_2;
extern const struct store_migration sqlite_migration_search_index_3;

/* sqlite_person.c */
int sqlite_person_by_nhs(struct store *s, const char *nhs, char **person_id_out);
int sqlite_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                           const char *link_to_person, char **person_id_out);
int sqlite_person_find_local(struct store *s, const char *org, const char *system,
                             const char *value, char **person_id_out);
int sqlite_person_get(struct store *s, const char *person_id, struct store_person *out);
int sqlite_person_nhs_scan(struct store *s, int (*fn)(const char *, const char *, void *),
                           void *ctx);
int sqlite_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32]);
int sqlite_person_version(struct store *s, const char *person_id, int64_t snapshot,
                          int64_t *max_seq, int64_t *count, int64_t *snapshot_out);

/* sqlite_client.c */
extern const struct store_migration sqlite_migration_client_cert_1;
int sqlite_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                      const char *token_hash, const char *cert_sha256, int64_t *id_out);
int sqlite_client_by_hash(struct store *s, const char *token_hash, struct store_client *out);
extern const struct store_migration sqlite_migration_client_keys_1;
int sqlite_client_add_keys(struct store *s, const char *name, const char *org, const char *scopes,
                           const char *purpose, const char *jwks, int64_t *id_out);
int sqlite_client_get(struct store *s, int64_t id, struct store_client *out);
int sqlite_client_list(struct store *s, struct store_client **out, int *n);
int sqlite_client_revoke(struct store *s, int64_t id);
extern const struct store_migration sqlite_migration_client_purpose_1;
int sqlite_client_set_purpose(struct store *s, int64_t id, const char *purpose);

/* sqlite_meta.c */
int sqlite_meta_get(struct store *s, const char *key, char **value_out);
int sqlite_meta_set(struct store *s, const char *key, const char *value);

#endif
