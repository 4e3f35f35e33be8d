/*
 * sqlite_identity.h - the master person index's tables for SQLite
 * (sqlite_identity.c): matching records, decisions, the review queue,
 * "not the same person" pairs, and splitting a record off a person.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_IDENTITY_H
#define WEFT_STORE_SQLITE_SQLITE_IDENTITY_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_identity_1;
extern const struct store_migration sqlite_migration_review_other_1;

int sqlite_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4]);
int sqlite_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                            int cap, bool without_nhs, struct store_idrec **out, int *n);
int sqlite_idrec_person(struct store *s, const char *link_system, struct store_idrec *r);
int sqlite_person_nhs_link(struct store *s, struct store_person_nhs_link *l);
int sqlite_idrec_get(struct store *s, const char *link_system, const char *org,
                     const char *source_id, struct store_idrec *out);
int sqlite_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                           struct store_idrec **out, int *n);
int sqlite_idrec_scan(struct store *s, const char *link_system,
                      int (*fn)(const struct store_idrec *, void *), void *ctx);
int sqlite_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out);
int sqlite_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n);
int sqlite_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                           struct store_iddecision **out, int *n);
int sqlite_idreview_add(struct store *s, const struct store_idreview *r, int64_t *id_out);
int sqlite_idreview_add_many(struct store *s, const struct store_idreview *r, size_t n,
                             long *added);
int sqlite_idreview_list(struct store *s, const char *status, int limit,
                         struct store_idreview **out, int *n);
int sqlite_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                    bool *out);
int sqlite_idreview_count(struct store *s, const char *status, int64_t *out);
int sqlite_idreview_get(struct store *s, int64_t id, struct store_idreview *out);
int sqlite_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                           int64_t decision_id);
int sqlite_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                          const char *other_org, const char *other_source_id, int64_t decision_id);
int sqlite_idnonmatch_persons(struct store *s, const char *link_system,
                              int (*fn)(const char *person_id, void *), void *ctx);
int sqlite_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                           struct store_idrec **out, int *n);
int sqlite_person_split(struct store *s, const char *person_id, const char *link_system,
                        const char *org, const char *source_id, char **new_person_out);
int sqlite_person_merge_of_local(struct store *s, const char *org, const char *system,
                                 const char *value, int64_t *merge_id_out);

#endif
