/*
 * store_feeds.c - dispatchers for the feeds subsystem's store operations
 * (store/feeds.h): the feed registry and its counters, the inbound message store
 * (inbox) and person merges, plus the release functions of their structs.
 * The SQLite implementations are in sqlite/sqlite_feeds.c and
 * sqlite/sqlite_merge.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_feed_clear(struct store_feed *f)
{
    free(f->name);
    free(f->org);
    free(f->kind);
    free(f->facility);
    free(f->from_address);
    free(f->folder);
    free(f->token_hash);
    free(f->created);
    free(f->disabled);
    free(f->last_received);
    free(f->last_error);
    free(f->last_error_at);
    free(f->client_cert_sha256);
    memset(f, 0, sizeof *f);
}

void store_inbox_msg_clear(struct store_inbox_msg *m)
{
    free(m->kind);
    free(m->arrived);
    free(m->sender);
    free(m->peer);
    free(m->control_id);
    free(m->msg_type);
    free(m->event_time);
    free(m->outcome);
    free(m->error);
    free(m->updated);
    free(m->body);
    free(m->corrected_by);
    memset(m, 0, sizeof *m);
}

void store_inbox_msgs_free(struct store_inbox_msg *m, int n)
{
    for (int i = 0; i < n; i++)
        store_inbox_msg_clear(&m[i]);
    free(m);
}

int store_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out)
{
    if (!in->name || !in->org || !in->kind)
        return store_fail(s, WEFT_EINVAL, "feed add: name, org and kind are required");
    return STORE_CALL(s, feeds, feed_add, in, id_out);
}

int store_feed_get(struct store *s, int64_t id, struct store_feed *out)
{
    return STORE_CALL(s, feeds, feed_get, id, out);
}

int store_feed_by_name(struct store *s, const char *name, struct store_feed *out)
{
    if (!name)
        return WEFT_ENOTFOUND;
    return STORE_CALL(s, feeds, feed_by_name, name, out);
}

int store_feed_by_facility(struct store *s, const char *facility, struct store_feed *out)
{
    if (!facility)
        return WEFT_ENOTFOUND;
    return STORE_CALL(s, feeds, feed_by_facility, facility, out);
}

int store_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out)
{
    if (client_id <= 0)
        return WEFT_ENOTFOUND;
    return STORE_CALL(s, feeds, feed_by_client, client_id, out);
}

int store_feed_set_disabled(struct store *s, int64_t id, bool disabled)
{
    return STORE_CALL(s, feeds, feed_set_disabled, id, disabled);
}

int store_feed_list(struct store *s, struct store_feed **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, feeds, feed_list, out, n);
}

int store_feed_count(struct store *s, int64_t feed_id, const char *day,
                     const struct store_feed_counts *add, const char *last_received,
                     const char *last_error)
{
    return STORE_CALL(s, feeds, feed_count, feed_id, day, add, last_received, last_error);
}

int store_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                          struct store_feed_counts *today, struct store_feed_counts *total)
{
    memset(today, 0, sizeof *today);
    memset(total, 0, sizeof *total);
    return STORE_CALL(s, feeds, feed_counts_get, feed_id, day, today, total);
}

int store_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out)
{
    if (!in->kind || (!in->body && in->body_len))
        return store_fail(s, WEFT_EINVAL, "inbox add: kind and body are required");
    return STORE_CALL(s, feeds, inbox_add, in, id_out);
}

int store_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                            int64_t resources, int64_t duplicate_of, bool bump)
{
    return STORE_CALL(s, feeds, inbox_set_outcome, id, outcome, error, resources, duplicate_of,
                      bump);
}

int store_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id)
{
    return STORE_CALL(s, feeds, inbox_set_feed, id, feed_id);
}

int store_inbox_get(struct store *s, int64_t id, bool with_body, struct store_inbox_msg *out)
{
    struct store_inbox_filter f = {.only_id = id, .limit = 1, .with_body = with_body};
    struct store_inbox_msg *list = NULL;
    int n = 0;
    memset(out, 0, sizeof *out);
    int rc = STORE_CALL(s, feeds, inbox_list, &f, &list, &n);
    if (rc == 0 && n == 0)
        rc = WEFT_ENOTFOUND;
    if (rc == 0) {
        *out = list[0];
        memset(&list[0], 0, sizeof list[0]);
    }
    store_inbox_msgs_free(list, n);
    return rc;
}

int store_inbox_list(struct store *s, const struct store_inbox_filter *f,
                     struct store_inbox_msg **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, feeds, inbox_list, f, out, n);
}

int store_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                      int64_t *first)
{
    return STORE_CALL(s, feeds, inbox_claim, feed_id, control_id, id, first);
}

int store_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n, int64_t *ids_out)
{
    for (int i = 0; i < n; i++)
        if (!in[i].kind || (!in[i].body && in[i].body_len))
            return store_fail(s, WEFT_EINVAL, "inbox add: kind and body are required");
    return n > 0 ? STORE_CALL(s, feeds, inbox_add_many, in, n, ids_out) : WEFT_OK;
}

int store_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                           const char *const *controls, const int64_t *ids, int64_t *firsts)
{
    for (int i = 0; i < n; i++) {
        if (!controls[i])
            return store_fail(s, WEFT_EINVAL, "inbox claim: control id required");
        for (int j = 0; j < i; j++)
            if (feed_ids[j] == feed_ids[i] && strcmp(controls[j], controls[i]) == 0)
                return store_fail(s, WEFT_EINVAL, "inbox claim: key repeated in one call");
    }
    return n > 0 ? STORE_CALL(s, feeds, inbox_claim_many, n, feed_ids, controls, ids, firsts)
                 : WEFT_OK;
}

int store_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id)
{
    return STORE_CALL(s, feeds, inbox_unclaim, feed_id, control_id, id);
}

int store_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by)
{
    return STORE_CALL(s, feeds, inbox_set_resubmit, id, resubmit_of, by);
}

int store_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                              const char *journal_id, int64_t seq, int64_t *id_out, bool *added)
{
    return STORE_CALL(s, feeds, inbox_add_journaled, in, journal_id, seq, id_out, added);
}

int store_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq)
{
    *seq = 0;
    return STORE_CALL(s, feeds, inbox_journal_moved, journal_id, seq);
}

int store_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n)
{
    *n = 0;
    return STORE_CALL(s, feeds, inbox_pending_count, feed_id, kind, n);
}

int store_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5])
{
    memset(out, 0, 5 * sizeof out[0]);
    return STORE_CALL(s, feeds, inbox_outcomes, feed_id, out);
}
