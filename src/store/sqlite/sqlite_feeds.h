/*
 * sqlite_feeds.h - SQLite implementations of the feeds subsystem's store
 * operations: savepoints, feed registry, counters, inbox (sqlite_feeds.c)
 * and person merges (sqlite_merge.c).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_FEEDS_H
#define WEFT_STORE_SQLITE_SQLITE_FEEDS_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_feeds_1;
extern const struct store_migration sqlite_migration_feeds_2;
extern const struct store_migration sqlite_migration_feeds_3;
extern const struct store_migration sqlite_migration_feeds_tls_1;
extern const struct store_migration sqlite_migration_feeds_resubmit_1;
extern const struct store_migration sqlite_migration_feeds_csvrows_1;
extern const struct store_migration sqlite_migration_feeds_journal_1;
int sqlite_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by);
extern const struct store_migration sqlite_migration_merge_1;

int sqlite_savepoint(struct store *s, const char *name);
int sqlite_release(struct store *s, const char *name);
int sqlite_rollback_to(struct store *s, const char *name);
int sqlite_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out);
int sqlite_feed_get(struct store *s, int64_t id, struct store_feed *out);
int sqlite_feed_by_name(struct store *s, const char *name, struct store_feed *out);
int sqlite_feed_by_facility(struct store *s, const char *facility, struct store_feed *out);
int sqlite_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out);
int sqlite_feed_list(struct store *s, struct store_feed **out, int *n);
int sqlite_feed_set_disabled(struct store *s, int64_t id, bool disabled);
int sqlite_feed_count(struct store *s, int64_t feed_id, const char *day,
                      const struct store_feed_counts *add, const char *last_received,
                      const char *last_error);
int sqlite_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                           struct store_feed_counts *today, struct store_feed_counts *total);
int sqlite_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out);
int sqlite_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                             int64_t resources, int64_t duplicate_of, bool bump);
int sqlite_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id);
int sqlite_inbox_list(struct store *s, const struct store_inbox_filter *f,
                      struct store_inbox_msg **out, int *n);
int sqlite_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n,
                          int64_t *ids_out);
int sqlite_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                            const char *const *controls, const int64_t *ids, int64_t *firsts);
int sqlite_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id);
int sqlite_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                       int64_t *first);
int sqlite_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5]);
int sqlite_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n);
int sqlite_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                               const char *journal_id, int64_t seq, int64_t *id_out, bool *added);
int sqlite_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq);

int sqlite_person_merge(struct store *s, const char *survivor, const char *retired,
                        const char *source_org, int64_t inbox_id, int64_t *merge_id_out);
int sqlite_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                             const char *source_org, int64_t *merge_ids_out);
int sqlite_person_unmerge(struct store *s, int64_t merge_id);
int sqlite_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n);
int sqlite_person_find_nhs(struct store *s, const char *nhs, char **person_id_out);
int sqlite_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                              int64_t *merge_id_out);

#endif
