/*
 * pg_ops.h - the PostgreSQL backend's operations, as pg_ops.c puts them in
 * the operations table (contracts: store/store.h).  Only src/store/pg/
 * includes this.
 */
#ifndef WEFT_STORE_PG_PG_OPS_H
#define WEFT_STORE_PG_PG_OPS_H

#include "store/pg/pg_int.h"

/* pg_meta.c */
int pg_meta_get(struct store *s, const char *key, char **value_out);
int pg_meta_set(struct store *s, const char *key, const char *value);
int pg_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                  const char *token_hash, int64_t *id_out);
int pg_client_by_hash(struct store *s, const char *token_hash, struct store_client *out);
int pg_client_list(struct store *s, struct store_client **out, int *n);
int pg_client_revoke(struct store *s, int64_t id);

/* pg_person.c */
int pg_person_by_nhs(struct store *s, const char *nhs, char **person_id_out);
int pg_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                       const char *link_to_person, char **person_id_out);
int pg_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                         char **person_id_out);
int pg_person_find_nhs(struct store *s, const char *nhs, char **person_id_out);
int pg_person_get(struct store *s, const char *person_id, struct store_person *out);
int pg_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                      int64_t *count, int64_t *snapshot_out);
/* The newest committed seq: the snapshot a first page reads at. */
int pg_snapshot_now(struct pg_store *ps, int64_t *snap);

/* pg_resource.c */
/* Fill out from row i of r (columns seq, id, type, version, deleted,
 * person_id, category, source_org, source_id, feed, effective, code, status,
 * last_updated, json); the JSON gets its meta spliced in. */
void pg_row_fill(const PGresult *r, int i, struct store_row *out);
int pg_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                    char id_out[STORE_ID_LEN + 1], int *version_out);
int pg_resource_get(struct store *s, const char *type, const char *id, int version,
                    struct store_row *out);
int pg_resource_person(struct store *s, const char *type, const char *id, char **person_id_out);
int pg_resource_digest(struct store *s, const char *type, const char *id,
                       unsigned char hash[STORE_HASH_LEN], int *version);
int pg_resource_delete(struct store *s, const char *type, const char *id);
int pg_history(struct store *s, const char *type, const char *id, int limit,
               struct store_result *out);

/* pg_search.c */
int pg_search(struct store *s, const struct store_query *q, struct store_result *out);

#endif
