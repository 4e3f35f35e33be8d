/*
 * ingest.c - apply one inbound item (ingest.h): HL7 v2 messages inside the
 * caller's transaction with a savepoint each, FHIR bundles around the API
 * handler's load, CSV files from drop folders, and replay of any of them.
 *
 * Workload: the MLLP writer calls ingest_hl7() tens of thousands of times a
 * second, so the HL7 path reuses one parsed-message handle, keeps counters in
 * memory until the batch is flushed, and does per message: one parse, one
 * feed lookup, one agreement lookup, the mapping, one inbox insert, one claim,
 * the load, one outcome update - the inserts and claims of a writer's batch
 * as one statement each (ingest_hl7_batch).  Everything that can be refused
 * is refused before the savepoint is opened.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/org.h"
#include "core/failpoint.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/powerloss.h"
#include "domain/systems.h"
#include "feeds/hl7.h"
#include "feeds/hl7_ack.h"
#include "feeds/hl7_map.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "identity/identity.h"
#include "feeds/lag.h"
#include "feeds/registry.h"
#include "feeds/socialcare.h"
#include "fhir/load.h"
#include "store/feeds.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#define MAX_COUNT_SLOTS 32
#define CSV_MAX_FILE_BYTES (1024u << 20)
/* Rows a CSV file is read on one thread before the second thread starts:
 * a file this small is done in tens of milliseconds (socialcare.h). */
#define CSV_PIPELINE_AFTER 500

/* Counters of one (feed, day) waiting for the next flush. */
struct count_slot {
    int64_t feed_id;
    char day[11];
    struct store_feed_counts c;
    char last_received[32];
    char last_error[256];
};

/* A sending facility's feed and agreement, looked up once per batch. */
struct feed_slot {
    char facility[181];
    bool found;
    bool in_force;
    struct store_feed feed;
};
#define MAX_FEED_SLOTS 16

struct ingest {
    struct store *s;
    struct hl7_msg *msg;
    struct count_slot slots[MAX_COUNT_SLOTS];
    int nslots;
    struct feed_slot feeds[MAX_FEED_SLOTS];
    int nfeeds;
    /* During ingest_replay: the message's feed and outcome before it, so the
     * counters move it rather than count it twice (prior_set until counted). */
    bool prior_set;
    int64_t prior_feed;
    char prior_outcome[16];
    /* ingest_hl7_batch: a parse handle per message of a batch */
    struct hl7_msg **bmsgs;
    size_t nbmsgs;
};

/* Forget cached feeds: at every batch boundary, so a feed added, disabled or
 * an agreement signed takes effect from the next batch. */
static void feeds_forget(struct ingest *ig)
{
    for (int i = 0; i < ig->nfeeds; i++)
        store_feed_clear(&ig->feeds[i].feed);
    ig->nfeeds = 0;
}

/* The feed of facility (a shallow copy owned by the cache, valid until the
 * next batch boundary) and whether its organisation may send today. */
static int feed_lookup(struct ingest *ig, const char *facility, struct store_feed *out,
                       bool *in_force)
{
    memset(out, 0, sizeof *out);
    *in_force = false;
    if (!facility[0])
        return WEFT_ENOTFOUND;
    for (int i = 0; i < ig->nfeeds; i++) {
        struct feed_slot *fs = &ig->feeds[i];
        if (strcmp(fs->facility, facility) == 0) {
            if (!fs->found)
                return WEFT_ENOTFOUND;
            *out = fs->feed;
            *in_force = fs->in_force;
            return 0;
        }
    }
    if (ig->nfeeds == MAX_FEED_SLOTS)
        feeds_forget(ig);
    struct feed_slot *fs = &ig->feeds[ig->nfeeds];
    memset(fs, 0, sizeof *fs);
    int rc = store_feed_by_facility(ig->s, facility, &fs->feed);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    fs->found = rc == 0;
    if (fs->found) {
        int aerr = 0;
        fs->in_force = org_agreement_in_force(ig->s, fs->feed.org, time(NULL), &aerr);
        if (aerr) {
            store_feed_clear(&fs->feed);
            return aerr;
        }
    }
    snprintf(fs->facility, sizeof fs->facility, "%s", facility);
    ig->nfeeds++;
    if (!fs->found)
        return WEFT_ENOTFOUND;
    *out = fs->feed;
    *in_force = fs->in_force;
    return 0;
}

struct ingest *ingest_new(struct store *s)
{
    struct ingest *ig = xcalloc(1, sizeof *ig);
    ig->s = s;
    ig->msg = hl7_msg_new();
    return ig;
}

void ingest_free(struct ingest *ig)
{
    if (!ig)
        return;
    feeds_forget(ig);
    hl7_msg_free(ig->msg);
    for (size_t i = 0; i < ig->nbmsgs; i++)
        hl7_msg_free(ig->bmsgs[i]);
    free(ig->bmsgs);
    free(ig);
}

void ingest_result_init(struct ingest_result *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->ack);
    r->outcome = INBOX_PENDING;
}

void ingest_result_release(struct ingest_result *r)
{
    buf_release(&r->ack);
    memset(r, 0, sizeof *r);
    buf_init(&r->ack);
}

/* ---- counters --------------------------------------------------------------------- */

/* Counter rows in one order, (feed, day), in every writer: two writers
 * flushing the same rows in different orders could each hold one the other
 * waits for (PostgreSQL's writers overlap: store/pg/pg_int.h). */
static int slot_cmp(const void *a, const void *b)
{
    const struct count_slot *x = a, *y = b;
    if (x->feed_id != y->feed_id)
        return x->feed_id < y->feed_id ? -1 : 1;
    return strcmp(x->day, y->day);
}

static int flush_slots(struct ingest *ig)
{
    int rc = 0;
    feeds_forget(ig);
    qsort(ig->slots, (size_t)ig->nslots, sizeof ig->slots[0], slot_cmp);
    for (int i = 0; i < ig->nslots && rc == 0; i++) {
        struct count_slot *sl = &ig->slots[i];
        rc = store_feed_count(ig->s, sl->feed_id, sl->day, &sl->c,
                              sl->last_received[0] ? sl->last_received : NULL,
                              sl->last_error[0] ? sl->last_error : NULL);
    }
    ig->nslots = 0;
    return rc;
}

int ingest_flush_counts(struct ingest *ig)
{
    return flush_slots(ig);
}

void ingest_discard_counts(struct ingest *ig)
{
    ig->nslots = 0;
    feeds_forget(ig);
}

/* Count one item of feed_id that arrived at arrived with this outcome; lag
 * (may be NULL) holds the lag samples of its events (counted only for a new
 * arrival: a replay is not an arrival). */
/* The counter slot of (feed_id, the day of arrived), made when new. */
static int slot_of(struct ingest *ig, int64_t feed_id, const char *arrived, struct count_slot **out)
{
    char day[11];
    snprintf(day, sizeof day, "%.10s", arrived);
    for (int i = 0; i < ig->nslots; i++)
        if (ig->slots[i].feed_id == feed_id && strcmp(ig->slots[i].day, day) == 0) {
            *out = &ig->slots[i];
            return 0;
        }
    if (ig->nslots == MAX_COUNT_SLOTS) {
        int rc = flush_slots(ig);
        if (rc != 0)
            return rc;
    }
    struct count_slot *sl = &ig->slots[ig->nslots++];
    memset(sl, 0, sizeof *sl);
    sl->feed_id = feed_id;
    memcpy(sl->day, day, sizeof day);
    *out = sl;
    return 0;
}

/* Add d to the counter of outcome in sl (pending is not counted). */
static void count_outcome(struct count_slot *sl, const char *outcome, int d)
{
    if (strcmp(outcome, INBOX_APPLIED) == 0 || strcmp(outcome, INBOX_PARTIAL) == 0)
        sl->c.applied += d;
    else if (strcmp(outcome, INBOX_DUPLICATE) == 0)
        sl->c.duplicate += d;
    else if (strcmp(outcome, INBOX_REJECTED) == 0)
        sl->c.rejected += d;
}

static int count(struct ingest *ig, int64_t feed_id, const char *arrived, const char *outcome,
                 const struct feed_lag *lag, const char *error, bool new_arrival)
{
    struct count_slot *sl = NULL;
    int rc;
    if (!new_arrival && ig->prior_set) {
        /* a replay: the message's outcome is replaced, not added to, and a
         * message filed under no feed (or another) moves with its arrival */
        ig->prior_set = false;
        struct count_slot *old = NULL;
        if ((rc = slot_of(ig, ig->prior_feed, arrived, &old)) != 0)
            return rc;
        count_outcome(old, ig->prior_outcome, -1);
        if (ig->prior_feed != feed_id) {
            old->c.received--;
            if ((rc = slot_of(ig, feed_id, arrived, &sl)) != 0)
                return rc;
            sl->c.received++;
            if (strcmp(arrived, sl->last_received) > 0)
                snprintf(sl->last_received, sizeof sl->last_received, "%s", arrived);
        }
    }
    if ((rc = slot_of(ig, feed_id, arrived, &sl)) != 0)
        return rc;
    if (new_arrival) {
        sl->c.received++;
        if (strcmp(arrived, sl->last_received) > 0)
            snprintf(sl->last_received, sizeof sl->last_received, "%s", arrived);
        if (lag)
            feed_lag_merge(&sl->c, lag);
    }
    count_outcome(sl, outcome, 1);
    if (error && *error)
        snprintf(sl->last_error, sizeof sl->last_error, "%s", error);
    return 0;
}

/* ---- HL7 helpers ----------------------------------------------------------------------- */

/* MSH-n (n >= 2), its first comps components (0: whole), from raw text that
 * did not parse: used only to attribute, file and answer a broken message,
 * e.g. "MSH|^~&|..." (three encoding characters) still names its sender
 * (MSH-4), type (MSH-9, "ADT^A01") and control id (MSH-10). */
static void raw_msh_field(const char *data, size_t len, int n, int comps, char *out, size_t cap)
{
    out[0] = 0;
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF) {
        data += 3;
        len -= 3;
    }
    if (len < 8 || memcmp(data, "MSH", 3) != 0)
        return;
    char fs = data[3], cs = data[4];
    int field = 2; /* data[3] is MSH-1, data[4] starts MSH-2 */
    size_t i = 4, start = 4;
    for (; i <= len; i++) {
        bool end = i == len || data[i] == '\r' || data[i] == '\n';
        if (end || data[i] == fs) {
            if (field++ == n) {
                size_t e = i;
                int seen = 0;
                if (comps > 0)
                    for (size_t k = start; k < i; k++)
                        if (data[k] == cs && ++seen == comps) {
                            e = k;
                            break;
                        }
                size_t l = e - start < cap - 1 ? e - start : cap - 1;
                memcpy(out, data + start, l);
                out[l] = 0;
                for (size_t k = 0; k < l; k++)
                    if ((unsigned char)out[k] < 0x20)
                        out[k] = '?';
                return;
            }
            start = i + 1;
            if (end)
                return;
        }
    }
}

/* A value of the parsed message, unescaped, into out. */
static void msg_value(const struct hl7_msg *m, size_t field, size_t comp, char *out, size_t cap)
{
    struct hl7_span sp;
    out[0] = 0;
    if (hl7_get(m, "MSH", 1, field, 1, comp, 0, &sp) != 0)
        return;
    size_t n = hl7_unescape(hl7_msg_delims(m), sp, out, cap);
    if (n >= cap)
        out[cap - 1] = 0;
}

/* The IP part of "ip:port" or "[v6]:port". */
static void peer_ip(const char *peer, char *out, size_t cap)
{
    out[0] = 0;
    if (!peer)
        return;
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    snprintf(out, cap, "%.*s", (int)n, peer);
}

/* Apply an A40 merge or an A37 unlink: who the patients are and what moves
 * is identity's (identity.h).  0 applied (or nothing to do), 1 refused
 * (reason set), < 0 store error. */
static int apply_merge(struct ingest *ig, const struct store_feed *feed,
                       const struct hl7_map_result *mr, int64_t inbox_id, bool *merged,
                       char *reason, size_t cap)
{
    *merged = false;
    char by[160];
    snprintf(by, sizeof by, "hl7:%s %s", feed->name, mr->trigger);
    int64_t mid = 0;
    if (strcmp(mr->trigger, "A37") == 0) {
        int rc = identity_unmerge_source(ig->s, feed->org, mr->merge_retired, by, &mid);
        if (rc == 0 && mid)
            log_info("ingest", "unlink applied merge=%lld inbox=%lld feed=%s", (long long)mid,
                     (long long)inbox_id, feed->name);
        return rc;
    }
    int rc = identity_merge_source(ig->s, feed->org, mr->merge_survivor, mr->merge_retired,
                                   inbox_id, by, &mid);
    if (rc == WEFT_ENOTFOUND) {
        snprintf(reason, cap, "merge: PID-3 has no identifier usable for the surviving patient");
        rc = 1;
    } else if (rc == WEFT_ECONFLICT) {
        snprintf(reason, cap, "merge refused: %s", identity_errmsg(ig->s));
        rc = 1;
    } else if (rc == 0 && mid) {
        *merged = true;
        log_info("ingest", "merge applied merge=%lld inbox=%lld feed=%s", (long long)mid,
                 (long long)inbox_id, feed->name);
    }
    return rc;
}

/* The first real rejection reason in a load report. */
static void load_reason(const struct load_report *rep, struct store *s, int lrc, char *out,
                        size_t cap)
{
    for (int i = 0; i < rep->nrejections; i++) {
        const char *why = rep->rejections[i].reason;
        if (why && strncmp(why, "not stored:", 11) != 0) {
            if (rep->rejections[i].type)
                snprintf(out, cap, "%s (entry %ld): %s", rep->rejections[i].type,
                         rep->rejections[i].entry, why);
            else
                snprintf(out, cap, "%s", why);
            return;
        }
    }
    if (lrc != 0)
        snprintf(out, cap, "not stored: %s (%s)", weft_strerror(lrc), store_errmsg(s));
    else
        snprintf(out, cap, "not stored: entries were rejected");
}

static int hl7_apply(struct ingest *ig, const char *data, size_t len, const char *peer,
                     const char *arrived, int64_t replay_id, struct ingest_premap *pm,
                     struct ingest_result *r);

/*
 * One HL7 message's way through, in two halves so that a writer's batch can
 * keep all its messages and take all their claims in one statement each
 * (ingest_hl7_batch) between them:
 *   hl7_decide   parse, find the feed, map, and decide everything that needs
 *                no writes (refusals, the outcome predicted for the inbox row);
 *   hl7_finish   with the inbox row kept and the claim taken (or not yet):
 *                apply in a savepoint, record the outcome, count, ACK.
 */
enum hl7_claim {
    CLAIM_IN_ITEM, /* not taken yet: take it inside the message's savepoint */
    CLAIM_HELD,    /* taken for this message with its batch's, before its savepoint */
    CLAIM_DUP,     /* held by another message (st->first) */
};

struct hl7_st {
    /* the call's */
    const char *data;
    size_t len;
    const char *peer;
    const char *arrived;
    int64_t replay_id;
    struct ingest_premap *pm;
    struct ingest_result *r;
    struct hl7_msg *msg; /* parse handle (the context's) */
    /* hl7_decide's */
    char now[32];
    struct hl7_error perr;
    int prc;
    char facility[181], control[200], mtype[40];
    struct store_feed feed; /* borrowed from the batch's feed cache */
    bool in_force, have_feed;
    struct hl7_map_result own; /* mapped here; else pm->mr, which stays the caller's */
    struct hl7_map_result *mr;
    struct load_prep *prep; /* pm's, when prepared for this feed */
    int mrc;
    const char *event;
    const char *code;
    struct hl7_ack_detail det;
    char why[256];
    char ip[80];
    bool will_apply;
    long predicted_res;
    int64_t pending_id; /* an accepted message's first application: its row exists already */
    /* the inbox row and the claim */
    int64_t id;
    enum hl7_claim claim;
    int64_t first;   /* CLAIM_DUP: the message holding the claim */
    int dup_of_item; /* batch: the earlier message of the batch with the same key, or -1 */
    int64_t holder;  /* after hl7_finish: who holds the key now (0: nobody) */
};

static void hl7_st_init(struct hl7_st *st, struct hl7_msg *msg, const char *data, size_t len,
                        const char *peer, const char *arrived, int64_t replay_id,
                        struct ingest_premap *pm, struct ingest_result *r)
{
    memset(st, 0, sizeof *st);
    st->data = data;
    st->len = len;
    st->peer = peer;
    st->arrived = arrived;
    st->replay_id = replay_id;
    st->pm = pm;
    st->r = r;
    st->msg = msg;
    st->mr = &st->own;
    st->dup_of_item = -1;
}

static void hl7_st_clear(struct hl7_st *st)
{
    hl7_map_result_clear(&st->own);
}

/* Whether looking up facility's feed keeps the feed cache (a batch's
 * decided messages borrow its entries until they are finished). */
static bool feed_cached_or_room(const struct ingest *ig, const char *facility)
{
    if (ig->nfeeds < MAX_FEED_SLOTS || !facility[0])
        return true;
    for (int i = 0; i < ig->nfeeds; i++)
        if (strcmp(ig->feeds[i].facility, facility) == 0)
            return true;
    return false;
}

/* Decide st's message.  0, a store error, or 1 (nothing decided) when
 * keep_cache and its feed's lookup would empty the feed cache. */
static int hl7_decide(struct ingest *ig, struct hl7_st *st, bool keep_cache)
{
    struct ingest_premap *pm = st->pm;
    st->pending_id = pm ? pm->pending_id : 0;
    if (!st->arrived) {
        inbox_now(st->now);
        st->arrived = st->now;
    }
    st->prc = hl7_msg_parse(st->msg, st->data, st->len, HL7_PARSE_STRICT, &st->perr);
    if (st->prc == 0) {
        msg_value(st->msg, 4, 1, st->facility, sizeof st->facility);
        msg_value(st->msg, 10, 0, st->control, sizeof st->control);
        char t1[16], t2[16];
        msg_value(st->msg, 9, 1, t1, sizeof t1);
        msg_value(st->msg, 9, 2, t2, sizeof t2);
        snprintf(st->mtype, sizeof st->mtype, "%s%s%s", t1, t2[0] ? "^" : "", t2);
    } else {
        raw_msh_field(st->data, st->len, 4, 1, st->facility, sizeof st->facility);
        raw_msh_field(st->data, st->len, 10, 0, st->control, sizeof st->control);
        raw_msh_field(st->data, st->len, 9, 2, st->mtype, sizeof st->mtype);
    }
    if (keep_cache && !feed_cached_or_room(ig, st->facility))
        return 1;
    int rc = feed_lookup(ig, st->facility, &st->feed, &st->in_force);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    st->have_feed = rc == 0;
    const struct store_feed *feed = &st->feed;
    struct hl7_map_result *mr = &st->own;
    st->mrc = WEFT_EINVAL;
    if (st->prc == 0 && st->have_feed && pm && pm->mr && pm->org &&
        strcmp(pm->org, feed->org) == 0) {
        /* mapped on the connection's thread for this organisation: use it in
         * place; the connection thread frees it after the ACK, which keeps
         * freeing the tree (5% of the writer's time) off the writer */
        mr = pm->mr;
        st->mrc = pm->rc;
        if (pm->prep && pm->feed && strcmp(pm->feed, feed->name) == 0)
            st->prep = pm->prep;
    } else if (st->prc == 0 && st->have_feed && st->in_force && !feed->disabled) {
        struct hl7_map_opts mo = {.ods = feed->org};
        st->mrc = hl7_map_message(st->msg, &mo, &st->own);
    } else if (st->prc == 0) { /* refused before mapping: its event time is kept */
        hl7_map_event_only(st->msg, &st->own);
    }
    st->mr = mr;
    st->event = mr->event_time[0] ? mr->event_time : NULL;

    /* decisions that need no writes */
    st->code = "AA";
    char *why = st->why;
    size_t cap = sizeof st->why;
    peer_ip(st->peer, st->ip, sizeof st->ip);
    if (st->prc != 0) {
        st->code = "AR";
        snprintf(why, cap, "message cannot be parsed: %s", st->perr.text);
    } else if (!st->have_feed) {
        st->code = "AR";
        snprintf(why, cap, "sending facility '%.100s' (MSH-4) is not registered", st->facility);
        st->det = (struct hl7_ack_detail){
            .segment = "MSH", .seg_seq = 1, .field = 4, .code = HL7_ERR_UNKNOWN_KEY};
    } else if (feed->disabled) {
        st->code = "AR";
        snprintf(why, cap, "feed '%s' is disabled", feed->name);
        st->det = (struct hl7_ack_detail){
            .segment = "MSH", .seg_seq = 1, .field = 4, .code = HL7_ERR_INTERNAL};
    } else if (feed->from_address && st->peer && strcmp(feed->from_address, st->ip) != 0) {
        st->code = "AR";
        snprintf(why, cap, "connection from an address not registered for feed '%s'", feed->name);
        st->det = (struct hl7_ack_detail){
            .segment = "MSH", .seg_seq = 1, .field = 4, .code = HL7_ERR_UNKNOWN_KEY};
    } else if (feed->client_cert_sha256 && pm && pm->cert_sha256 &&
               strcmp(feed->client_cert_sha256, pm->cert_sha256) != 0) {
        st->code = "AR";
        if (pm->cert_sha256[0])
            snprintf(why, cap,
                     "connection's client certificate (sha256:%.16s...) is not the one "
                     "registered for feed '%s'",
                     pm->cert_sha256, feed->name);
        else
            snprintf(why, cap,
                     "connection presented no client certificate: feed '%s' accepts only "
                     "TLS connections with its registered one",
                     feed->name);
        st->det = (struct hl7_ack_detail){
            .segment = "MSH", .seg_seq = 1, .field = 4, .code = HL7_ERR_UNKNOWN_KEY};
    } else if (!st->in_force) {
        st->code = "AR";
        snprintf(why, cap, "organisation %s has no data sharing agreement in force", feed->org);
        st->det = (struct hl7_ack_detail){
            .segment = "MSH", .seg_seq = 1, .field = 4, .code = HL7_ERR_INTERNAL};
    } else if (st->mrc != 0) {
        st->code = mr->ack_code ? mr->ack_code : "AR";
        snprintf(why, cap, "%s", mr->reason[0] ? mr->reason : "message cannot be mapped");
        st->det = mr->err;
    }
    /* The message is kept with the outcome it is expected to get (most are
     * applied): the row is written once, and updated only when the outcome
     * turns out otherwise.  It commits with the message's resources or not
     * at all, so "applied" is never seen without them. */
    st->will_apply = strcmp(st->code, "AA") == 0;
    st->predicted_res = st->will_apply && mr->kind == HL7_MAP_BUNDLE ? (long)mr->resources : 0;
    st->id = st->replay_id ? st->replay_id : st->pending_id;
    return 0;
}

/* The inbox row of a decided message (pointers into st). */
static void hl7_row(struct hl7_st *st, struct store_inbox_msg *in)
{
    *in = (struct store_inbox_msg){
        .feed_id = st->feed.id,
        .kind = "hl7v2",
        .arrived = (char *)st->arrived,
        .sender = st->facility[0] ? st->facility : NULL,
        .peer = (char *)st->peer,
        .control_id = st->control[0] ? st->control : NULL,
        .msg_type = st->mtype[0] ? st->mtype : NULL,
        .event_time = (char *)st->event,
        .outcome = st->will_apply ? INBOX_APPLIED : INBOX_REJECTED,
        .error = st->why[0] ? st->why : NULL,
        .attempts = 1,
        .resources = st->predicted_res,
        .body = (char *)st->data,
        .body_len = st->len,
    };
}

/* Apply a decided message whose inbox row (st->id) is kept. */
static int hl7_finish(struct ingest *ig, struct hl7_st *st)
{
    struct store *s = ig->s;
    struct ingest_result *r = st->r;
    const struct store_feed *feed = &st->feed;
    struct hl7_map_result *mr = st->mr;
    int64_t id = st->id, replay_id = st->replay_id;
    const char *control = st->control, *arrived = st->arrived;
    const char *code = st->code;
    struct hl7_ack_detail det = st->det;
    char why[256];
    snprintf(why, sizeof why, "%s", st->why);
    int64_t dup_of = 0;
    int rc = 0;
    if ((replay_id || st->pending_id) && st->have_feed &&
        (rc = store_inbox_set_feed(s, id, feed->id)) != 0)
        return rc;
    r->inbox_id = id;
    r->feed_id = feed->id;
    r->resources = 0;
    r->merged = false;
    r->reason[0] = 0;
    st->holder = 0;

    if (st->will_apply) {
        /* apply, in an item of the batch's transaction so that a failure
         * leaves the rest of the batch intact */
        struct store_txn *txn = store_txn_current(s);
        assert(txn); /* the caller (run_batch, ingest_hl7_one) began it */
        if ((rc = store_txn_item(txn)) != 0)
            return rc;
        int64_t first = 0;
        bool claimed_here = false;
        if (st->claim == CLAIM_IN_ITEM) {
            rc = store_inbox_claim(s, feed->id, control, id, &first);
            claimed_here = rc == 0;
        } else if (st->claim == CLAIM_DUP) {
            rc = WEFT_EEXIST;
            first = st->first;
        } /* CLAIM_HELD: rc 0, taken before the savepoint */
        bool ok = false;
        if (rc == WEFT_EEXIST && first == id) {
            ok = true; /* replay of the message that holds the claim: already applied */
            rc = 0;
        } else if (rc == WEFT_EEXIST) {
            dup_of = first;
            rc = 0;
        } else if (rc == 0 && mr->kind == HL7_MAP_BUNDLE) {
            struct load_report rep;
            load_report_init(&rep);
            /* ingest_msg is rolled back below unless the load returned 0
             * with nothing rejected: the bundle needs no savepoint of its own */
            struct load_ctx lc = {
                .org = feed->org, .feed = feed->name, .nested = true, .caller_savepoint = true};
            int lrc = st->prep ? fhir_load_prepared(s, st->prep, &lc, &rep, NULL)
                               : fhir_load_bundle(s, mr->bundle, &lc, &rep, NULL);
            if (lrc == 0 && rep.rejected == 0) {
                ok = true;
                r->resources = (long)mr->resources;
            } else if (store_broken(lrc)) {
                rc = store_txn_check(txn, lrc);
            } else {
                load_reason(&rep, s, lrc, why, sizeof why);
                code = "AE";
                det = (struct hl7_ack_detail){.code = HL7_ERR_INTERNAL};
            }
            load_report_free(&rep);
        } else if (rc == 0 && mr->kind == HL7_MAP_MERGE) {
            int m = apply_merge(ig, feed, mr, id, &r->merged, why, sizeof why);
            if (m < 0) {
                rc = m;
            } else if (m == 0) {
                ok = true;
            } else {
                code = "AE";
                det = (struct hl7_ack_detail){
                    .segment = "MRG", .seg_seq = 1, .field = 1, .code = HL7_ERR_UNKNOWN_KEY};
            }
        }
        if (rc != 0) {
            store_txn_item_end(txn, false);
            return rc;
        }
        if ((rc = store_txn_item_end(txn, ok || dup_of)) != 0)
            return rc;
        if (dup_of)
            st->holder = dup_of;
        else if (ok && (claimed_here || st->claim == CLAIM_HELD || first == id))
            st->holder = id;
        /* undone: a claim taken before the savepoint is given back, as the
         * rollback gives back one taken inside it (a resend is applied) */
        if (!ok && !dup_of && st->claim == CLAIM_HELD &&
            (rc = store_inbox_unclaim(s, feed->id, control, id)) != 0)
            return rc;
    }

    const char *outcome = dup_of                    ? INBOX_DUPLICATE
                          : strcmp(code, "AA") == 0 ? INBOX_APPLIED
                                                    : INBOX_REJECTED;
    r->outcome = outcome;
    snprintf(r->ack_code, sizeof r->ack_code, "%s", code);
    snprintf(r->reason, sizeof r->reason, "%s", why);
    bool as_predicted = !replay_id && !st->pending_id && !dup_of && strcmp(why, st->why) == 0 &&
                        (strcmp(outcome, INBOX_APPLIED) == 0) == st->will_apply &&
                        r->resources == st->predicted_res;
    if (!as_predicted && (rc = store_inbox_set_outcome(s, id, outcome, why[0] ? why : NULL,
                                                       r->resources, dup_of, replay_id != 0)) != 0)
        return rc;
    struct feed_lag lag = {0};
    if (st->event)
        feed_lag_add(&lag, st->event, arrived);
    if ((rc = count(ig, feed->id, arrived, outcome, &lag, why, replay_id == 0)) != 0)
        return rc;

    {
        char fv[160], labels[256];
        metrics_label_value(fv, sizeof fv, st->have_feed ? feed->name : "unregistered");
        snprintf(labels, sizeof labels, "feed=\"%s\",kind=\"hl7v2\",outcome=\"%s\"", fv, outcome);
        metrics_add("weft_feed_messages_total", labels, 1);
        long long ev_ms, arr_ms;
        if (!replay_id && strcmp(outcome, INBOX_APPLIED) == 0 && st->event &&
            feed_lag_epoch_ms(st->event, &ev_ms) && feed_lag_epoch_ms(arrived, &arr_ms)) {
            snprintf(labels, sizeof labels, "feed=\"%s\"", fv);
            metrics_observe("weft_feed_lag_seconds", labels, (double)(arr_ms - ev_ms) / 1000.0);
        }
    }
    if (strcmp(code, "AA") != 0) /* a refusal: the sender is told, so is the operator */
        log_warn("ingest", "hl7 message refused ack=%s control=%.40s facility=%.40s inbox=%lld: %s",
                 code, control[0] ? control : "-", st->facility[0] ? st->facility : "-",
                 (long long)id, why);
    buf_reset(&r->ack);
    if (st->prc != 0) {
        hl7_ack_build_nak(st->data, st->len, "AR", why, &st->perr, &r->ack);
    } else {
        char text[300];
        if (dup_of)
            snprintf(text, sizeof text, "duplicate of a message already applied (control id %s)",
                     control);
        hl7_ack_build_ex(st->msg, code, dup_of ? text : (why[0] ? why : NULL),
                         det.code || det.segment ? &det : NULL, &r->ack);
    }
    return 0;
}

int ingest_hl7(struct ingest *ig, const char *data, size_t len, const char *peer,
               const char *arrived, int64_t replay_id, struct ingest_result *r)
{
    return hl7_apply(ig, data, len, peer, arrived, replay_id, NULL, r);
}

int ingest_hl7_premapped(struct ingest *ig, const char *data, size_t len, const char *peer,
                         const char *arrived, struct ingest_premap *pm, struct ingest_result *r)
{
    return hl7_apply(ig, data, len, peer, arrived, 0, pm, r);
}

static int hl7_apply(struct ingest *ig, const char *data, size_t len, const char *peer,
                     const char *arrived, int64_t replay_id, struct ingest_premap *pm,
                     struct ingest_result *r)
{
    struct hl7_st *st = xmalloc(sizeof *st);
    hl7_st_init(st, ig->msg, data, len, peer, arrived, replay_id, pm, r);
    int rc = hl7_decide(ig, st, false);
    if (rc == 0 && !st->id) {
        struct store_inbox_msg in;
        hl7_row(st, &in);
        rc = store_inbox_add(ig->s, &in, &st->id);
    }
    if (rc == 0)
        rc = hl7_finish(ig, st);
    hl7_st_clear(st);
    free(st);
    return rc;
}

/* Parse handles for a batch's messages, kept for the next batch. */
static struct hl7_msg *batch_msg(struct ingest *ig, size_t i)
{
    if (i >= ig->nbmsgs) {
        size_t cap = ig->nbmsgs ? ig->nbmsgs * 2 : 64;
        while (cap <= i)
            cap *= 2;
        ig->bmsgs = xrealloc(ig->bmsgs, cap * sizeof *ig->bmsgs);
        for (size_t k = ig->nbmsgs; k < cap; k++)
            ig->bmsgs[k] = hl7_msg_new();
        ig->nbmsgs = cap;
    }
    return ig->bmsgs[i];
}

/* Keep the inbox rows of sts[0..n) and take their claims: one statement
 * each for the whole chunk. */
static int batch_keep_and_claim(struct ingest *ig, struct hl7_st *sts, int n)
{
    struct store_inbox_msg *rows = xmalloc(sizeof *rows * (size_t)n);
    int64_t *ids = xmalloc(sizeof *ids * (size_t)n);
    int64_t *cfeed = xmalloc(sizeof *cfeed * (size_t)n), *cid = xmalloc(sizeof *cid * (size_t)n);
    int64_t *cfirst = xmalloc(sizeof *cfirst * (size_t)n);
    const char **cctl = xmalloc(sizeof *cctl * (size_t)n);
    int *cst = xmalloc(sizeof *cst * (size_t)n);
    for (int i = 0; i < n; i++)
        hl7_row(&sts[i], &rows[i]);
    int rc = store_inbox_add_many(ig->s, rows, n, ids);
    int nc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        struct hl7_st *st = &sts[i];
        st->id = ids[i];
        if (!st->will_apply)
            continue;
        /* the same key earlier in the batch: decided when that one is done */
        for (int k = 0; k < nc && st->dup_of_item < 0; k++)
            if (cfeed[k] == st->feed.id && strcmp(cctl[k], st->control) == 0)
                st->dup_of_item = cst[k];
        if (st->dup_of_item >= 0)
            continue;
        cfeed[nc] = st->feed.id;
        cctl[nc] = st->control;
        cid[nc] = st->id;
        cst[nc] = i;
        nc++;
    }
    if (rc == 0)
        rc = store_inbox_claim_many(ig->s, nc, cfeed, cctl, cid, cfirst);
    for (int k = 0; rc == 0 && k < nc; k++) {
        struct hl7_st *st = &sts[cst[k]];
        st->claim = cfirst[k] == st->id ? CLAIM_HELD : CLAIM_DUP;
        st->first = cfirst[k];
    }
    free(rows);
    free(ids);
    free(cfeed);
    free(cid);
    free(cfirst);
    free(cctl);
    free(cst);
    return rc;
}

int ingest_hl7_batch(struct ingest *ig, struct ingest_hl7_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].pm.pending_id) {
            log_error("ingest", "hl7 batch: an accepted message in a batch (they go one by one)");
            return WEFT_EINVAL;
        }
    struct hl7_st *sts = xmalloc(sizeof *sts * (n ? n : 1));
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < n) {
        /* a chunk: as many messages as the feed cache holds the feeds of */
        size_t c = i;
        for (; i < n; i++) {
            struct ingest_hl7_item *it = &items[i];
            hl7_st_init(&sts[i], batch_msg(ig, i - c), it->data, it->len, it->peer, it->arrived, 0,
                        &it->pm, it->r);
            rc = hl7_decide(ig, &sts[i], i > c);
            if (rc != 0) { /* 1: the next chunk's first */
                hl7_st_clear(&sts[i]);
                rc = rc == 1 ? 0 : rc;
                break;
            }
        }
        size_t end = i; /* sts[c..end) decided */
        if (rc == 0)
            rc = batch_keep_and_claim(ig, &sts[c], (int)(end - c));
        for (size_t k = c; rc == 0 && k < end; k++) {
            struct hl7_st *st = &sts[k];
            if (st->dup_of_item >= 0) {
                /* its key's earlier message of the batch was applied (or was
                 * itself a duplicate): a duplicate of the holder; undone: the
                 * key is free again, claimed as a lone message claims it */
                int64_t h = sts[c + (size_t)st->dup_of_item].holder;
                st->claim = h ? CLAIM_DUP : CLAIM_IN_ITEM;
                st->first = h;
            }
            rc = hl7_finish(ig, st);
        }
        for (size_t k = c; k < end; k++)
            hl7_st_clear(&sts[k]);
    }
    free(sts);
    return rc;
}

void ingest_result_commit_failed(struct ingest_result *r, const char *data, size_t len,
                                 const char *why)
{
    char text[256];
    snprintf(text, sizeof text, "message not stored (%s): send it again", why ? why : "error");
    snprintf(r->ack_code, sizeof r->ack_code, "AE");
    snprintf(r->reason, sizeof r->reason, "%s", text);
    r->outcome = INBOX_REJECTED;
    buf_reset(&r->ack);
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_ack_detail det = {.code = HL7_ERR_INTERNAL};
    char control[64] = "";
    if (hl7_msg_parse(m, data, len, HL7_PARSE_STRICT, NULL) == 0) {
        msg_value(m, 10, 0, control, sizeof control);
        hl7_ack_build_ex(m, "AE", text, &det, &r->ack);
    } else {
        hl7_ack_build_nak(data, len, "AE", text, NULL, &r->ack);
    }
    log_warn("ingest", "hl7 message refused ack=AE control=%.40s: %s", control[0] ? control : "-",
             text);
    hl7_msg_free(m);
}

int ingest_hl7_one(struct ingest *ig, const char *data, size_t len, const char *peer,
                   int64_t replay_id, struct ingest_result *r)
{
    struct store_txn txn;
    int rc;
    /* a message that met another writer (store_raced: PostgreSQL) is
     * rolled back and done again once before it is answered */
    for (int attempt = 0;; attempt++) {
        store_race_clear(ig->s);
        rc = store_txn_begin(&txn, ig->s);
        if (rc != 0)
            return rc;
        rc = ingest_hl7(ig, data, len, peer, NULL, replay_id, r);
        if (rc == 0)
            rc = ingest_flush_counts(ig);
        if (rc == 0 && attempt == 0 && store_raced(ig->s))
            rc = WEFT_EBUSY; /* the race is the handle's last error */
        if (rc == 0)
            rc = store_txn_commit(&txn);
        if (rc == 0)
            break;
        store_txn_rollback(&txn);
        ingest_discard_counts(ig);
        if (attempt == 0 && store_raced(ig->s)) {
            ingest_result_release(r);
            ingest_result_init(r);
            continue;
        }
        ingest_result_commit_failed(r, data, len, weft_strerror(rc));
        break;
    }
    return rc;
}

int ingest_resubmit(struct ingest *ig, int64_t orig_id, const char *data, size_t len,
                    const char *by, struct ingest_result *r)
{
    struct store_inbox_msg orig;
    int rc = store_inbox_get(ig->s, orig_id, false, &orig);
    if (rc != 0)
        return rc;
    bool hl7 = strcmp(orig.kind, "hl7v2") == 0;
    store_inbox_msg_clear(&orig);
    if (!hl7)
        return WEFT_EUNSUPPORTED;
    struct store_txn txn;
    if ((rc = store_txn_begin(&txn, ig->s)) != 0)
        return rc;
    rc = ingest_hl7(ig, data, len, NULL, NULL, 0, r);
    if (rc == 0)
        rc = store_inbox_set_resubmit(ig->s, r->inbox_id, orig_id, by);
    if (rc == 0)
        rc = ingest_flush_counts(ig);
    if (rc == 0)
        rc = store_txn_commit(&txn);
    if (rc != 0) {
        store_txn_rollback(&txn);
        ingest_discard_counts(ig);
        ingest_result_commit_failed(r, data, len, weft_strerror(rc));
    }
    return rc;
}

/* ---- FHIR ---------------------------------------------------------------------------- */

int ingest_fhir_arrival(struct ingest *ig, const char *client_name, const char *body, size_t len,
                        const char *peer, struct ingest_result *r, char **feed_name_out)
{
    *feed_name_out = NULL;
    r->feed_id = 0;
    r->inbox_id = 0;
    static const char pfx[] = FEED_CLIENT_PREFIX;
    if (!client_name || strncmp(client_name, pfx, sizeof pfx - 1) != 0)
        return 0;
    struct store_feed feed;
    int rc = store_feed_by_name(ig->s, client_name + sizeof pfx - 1, &feed);
    if (rc == WEFT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (strcmp(feed.kind, "fhir") != 0) {
        store_feed_clear(&feed);
        return 0;
    }
    char arrived[32];
    inbox_now(arrived);
    struct store_inbox_msg in = {
        .feed_id = feed.id,
        .kind = "fhir",
        .arrived = arrived,
        .sender = (char *)client_name,
        .peer = (char *)peer,
        .msg_type = "Bundle",
        .body = (char *)body,
        .body_len = len,
    };
    rc = store_inbox_add(ig->s, &in, &r->inbox_id);
    if (rc != 0)
        goto out;
    r->feed_id = feed.id;
    r->http_status = 0;
    int aerr = 0;
    if (feed.disabled)
        snprintf(r->reason, sizeof r->reason, "feed '%s' is disabled", feed.name);
    else if (!org_agreement_in_force(ig->s, feed.org, time(NULL), &aerr))
        snprintf(r->reason, sizeof r->reason,
                 "organisation %s has no data sharing agreement in force", feed.org);
    if (aerr) {
        rc = aerr;
        goto out;
    }
    if (r->reason[0]) {
        rc = ingest_fhir_done(ig, r, 0, NULL, 403, r->reason);
        goto out;
    }
    *feed_name_out = xstrdup(feed.name);
out:
    store_feed_clear(&feed);
    return rc;
}

int ingest_fhir_client_arrival(struct ingest *ig, const char *client_name, const char *org,
                               const char *body, size_t len, const char *peer,
                               struct ingest_result *r)
{
    r->feed_id = 0;
    r->inbox_id = 0;
    char arrived[32];
    inbox_now(arrived);
    struct store_inbox_msg in = {
        .feed_id = 0,
        .kind = "fhir",
        .arrived = arrived,
        .sender = (char *)client_name,
        .peer = (char *)peer,
        .msg_type = "Bundle",
        .body = (char *)body,
        .body_len = len,
    };
    int rc = store_inbox_add(ig->s, &in, &r->inbox_id);
    if (rc != 0)
        return rc;
    r->http_status = 0;
    int aerr = 0;
    if (!org || !*org)
        snprintf(r->reason, sizeof r->reason, "the client has no organisation");
    else if (!org_agreement_in_force(ig->s, org, time(NULL), &aerr))
        snprintf(r->reason, sizeof r->reason,
                 "organisation %s has no data sharing agreement in force", org);
    if (aerr)
        return aerr;
    if (r->reason[0])
        return ingest_fhir_done(ig, r, 0, NULL, 403, r->reason);
    return 0;
}

/* ingest_fhir_done's writes as a unit of work (store_txn_run): an attempt
 * rolled back for a race forgets the counters it added. */
struct done_unit {
    struct ingest *ig;
    struct ingest_result *r;
    const char *outcome, *why, *arrived;
    long resources;
    bool first;
    bool prior_set; /* a replay's prior outcome, which count() takes once */
};

static int done_work(struct store *s, void *arg, int attempt)
{
    struct done_unit *u = arg;
    if (attempt > 0) {
        ingest_discard_counts(u->ig);
        u->ig->prior_set = u->prior_set;
    }
    int rc = store_inbox_set_outcome(s, u->r->inbox_id, u->outcome, u->why, u->resources, 0, true);
    if (rc == 0)
        rc = count(u->ig, u->r->feed_id, u->arrived, u->outcome, &u->r->lag, u->why ? u->why : "",
                   u->first);
    if (rc == 0)
        rc = ingest_flush_counts(u->ig);
    return rc;
}

int ingest_fhir_done(struct ingest *ig, struct ingest_result *r, int load_rc,
                     const struct load_report *rep, int http_status, const char *reason)
{
    if (r->inbox_id <= 0)
        return 0;
    char why[256] = "";
    const char *outcome;
    if (!rep) {
        outcome = INBOX_REJECTED;
        snprintf(why, sizeof why, "%s", reason ? reason : "refused");
    } else if (load_rc == 0 && rep->rejected == 0) {
        outcome = INBOX_APPLIED;
    } else if (load_rc == 0) {
        outcome = INBOX_PARTIAL;
        load_reason(rep, ig->s, load_rc, why, sizeof why);
    } else {
        outcome = INBOX_REJECTED;
        load_reason(rep, ig->s, load_rc, why, sizeof why);
    }
    r->outcome = outcome;
    r->http_status = http_status;
    if (why[0])
        snprintf(r->reason, sizeof r->reason, "%s", why);
    long resources = 0;
    if (rep) {
        struct load_type_count sum;
        load_report_total(rep, &sum);
        resources = sum.stored + sum.updated + sum.unchanged + sum.deleted;
    }
    r->resources = resources;
    struct store_inbox_msg m;
    int rc = store_inbox_get(ig->s, r->inbox_id, false, &m);
    if (rc != 0)
        return rc;
    struct done_unit u = {.ig = ig,
                          .r = r,
                          .outcome = outcome,
                          .why = why[0] ? why : NULL,
                          .resources = resources,
                          .arrived = m.arrived,
                          .first = m.attempts == 0,
                          .prior_set = ig->prior_set};
    /* the inbox row's outcome and the feed's counters: one unit (txn.h) */
    rc = store_txn_run(ig->s, "inbox", done_work, &u);
    if (rc != 0)
        ingest_discard_counts(ig);
    store_inbox_msg_clear(&m);
    return rc;
}

/* ---- CSV ----------------------------------------------------------------------------- */

/* The whole of the open file fd (from its start). */
static int read_fd(int fd, char **data, size_t *len)
{
    struct buf b = BUF_INIT;
    char tmp[1 << 16];
    ssize_t n;
    int rc = 0;
    off_t off = 0;
    while ((n = pread(fd, tmp, sizeof tmp, off)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = WEFT_EIO;
            break;
        }
        if (b.len + (size_t)n > CSV_MAX_FILE_BYTES) {
            rc = WEFT_ETOOBIG;
            break;
        }
        buf_add(&b, tmp, (size_t)n);
        off += n;
    }
    if (rc != 0) {
        buf_release(&b);
        return rc;
    }
    *data = buf_detach(&b, len);
    return 0;
}

/* Whether path still names the file open as fd. */
static bool same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int ingest_csv_claim(const char *path, int *fd_out)
{
    *fd_out = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? WEFT_ECONFLICT : WEFT_EIO;
    }
    /* The lock is on the file, not the name: between our open() and flock()
     * another processor may have finished it and moved it to done/ (then we
     * hold a lock on a done file), or the sender may have put a new file of
     * that name in place.  Only a lock on the file the name names now is a
     * claim. */
    if (!same_file(fd, path)) {
        close(fd);
        return WEFT_ENOTFOUND;
    }
    *fd_out = fd;
    return 0;
}

/* Copy data to path (via path.tmp + rename). */
static int write_copy(const char *path, const char *data, size_t len)
{
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.data, "wb");
    if (f)
        powerloss_created(tmp.data);
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && (powerloss_sync_file(tmp.data) != 0 || powerloss_rename(tmp.data, path) != 0))
        ok = false;
    if (!ok)
        unlink(tmp.data);
    buf_release(&tmp);
    return ok ? 0 : WEFT_EIO;
}

/* Earlier inbox rows of this feed for a file of this name that are still
 * pending: their processor stopped (killed, crashed, power cut) before it
 * finished.  Called while holding the claim on the file, so no live
 * processor is working on it; marked rejected, pointing at the row that
 * processed the file again, and not counted (their arrival never was). */
static int close_interrupted(struct store *s, int64_t feed_id, const char *name, int64_t now_id)
{
    struct store_inbox_filter f = {.feed_id = feed_id, .outcome = INBOX_PENDING, .limit = 1000};
    struct store_inbox_msg *ms = NULL;
    int n = 0;
    int rc = store_inbox_list(s, &f, &ms, &n);
    char why[200];
    snprintf(why, sizeof why,
             "processing was interrupted (the process stopped); the file was processed again "
             "as inbox message %lld",
             (long long)now_id);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (ms[i].id == now_id || strcmp(ms[i].kind, "csv") != 0 || !ms[i].control_id ||
            strcmp(ms[i].control_id, name) != 0)
            continue;
        rc = store_inbox_set_outcome(s, ms[i].id, INBOX_REJECTED, why, 0, 0, false);
        if (rc == 0)
            log_warn("ingest", "drop file was interrupted before: inbox=%lld now inbox=%lld",
                     (long long)ms[i].id, (long long)now_id);
    }
    store_inbox_msgs_free(ms, n);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A free name for base in dir: dir/base, else dir/{id}-base. */
static void dest_path(const char *dir, const char *sub, const char *base, int64_t id,
                      struct buf *out)
{
    buf_reset(out);
    buf_addf(out, "%s/%s/%s", dir, sub, base);
    struct stat st;
    if (stat(out->data, &st) == 0) {
        buf_reset(out);
        buf_addf(out, "%s/%s/%lld-%s", dir, sub, (long long)id, base);
    }
}

/* A report for a file refused as a whole before processing. */
static int write_refusal(const char *path, const char *file, const struct store_feed *f,
                         const char *why)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "file", file, "org", f->org, "feed", f->name,
                          "status", "failed", "file_error", why, "rows_read", 0);
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    int rc = json_dump_file(o, tmp.data, JSON_INDENT(2)) == 0 ? 0 : WEFT_EIO;
    if (rc == 0) {
        powerloss_created(tmp.data);
        if (powerloss_sync_file(tmp.data) != 0 || powerloss_rename(tmp.data, path) != 0)
            rc = WEFT_EIO;
    }
    json_decref(o);
    buf_release(&tmp);
    return rc;
}

/* The store sink with lag sampling in front: one sample per mapped row, from
 * the first of its resources that has an event time (lag.h). */
struct lag_sink {
    struct socialcare_store_sink *inner;
    struct feed_lag *lag;
    const char *arrived;
    size_t line; /* the last row sampled (0: none) */
};

/* On the loading thread, after socialcare_store_prepare (lag_sink_prepare):
 * that only removes meta.lastUpdated among the times feed_lag_event_time()
 * reads, which no CSV mapping sets, so the samples are those of the Bundle
 * as mapped. */
static int lag_sink(void *ctx, json_t *bundle, struct socialcare_batch *b)
{
    struct lag_sink *ls = ctx;
    json_t *entries = json_object_get(bundle, "entry");
    size_t n = socialcare_batch_entries(b);
    char when[64];
    for (size_t i = 0; i < n; i++) {
        size_t line = socialcare_batch_line(b, i);
        if (line == ls->line)
            continue;
        if (feed_lag_event_time(json_object_get(json_array_get(entries, i), "resource"), when,
                                sizeof when)) {
            feed_lag_add(ls->lag, when, ls->arrived);
            ls->line = line;
        }
    }
    return socialcare_store_sink(ls->inner, bundle, b);
}

static int lag_sink_commit(void *ctx)
{
    return socialcare_store_commit(((struct lag_sink *)ctx)->inner);
}

/* On the reading thread: reads only the inner sink's org, feed and file. */
static void *lag_sink_prepare(void *ctx, json_t *bundle)
{
    return socialcare_store_prepare(((struct lag_sink *)ctx)->inner, bundle);
}

/* One pass of process_csv (below). */
static int process_csv_once(struct ingest *ig, const struct store_feed *f, const char *body,
                            size_t len, const char *name, struct feed_lag *lag, const char *arrived,
                            struct socialcare_report **rep)
{
    /* 20,000 rows per durable commit, in Bundles of 100 rows loaded nested
     * in it: one 2000-row Bundle cost 3-4x more CPU per row to build and free
     * (docs/BENCHMARKS.md "## CSV extracts") for the same number of fsyncs;
     * 20,000 rather than 2,000 rows a commit halves the system time (each
     * commit rewrites every index page its rows touched) and holds the write
     * lock about 2 s, inside the MLLP writer's busy wait.
     * Two threads past CSV_PIPELINE_AFTER rows: reading, mapping and
     * fhir_load_prepare() on a second thread, the store work on this one
     * (the store handle's) - they overlap on two cores. */
    struct socialcare_opts so = {.ods = f->org,
                                 .feed = f->name,
                                 .batch_rows = 20000,
                                 .bundle_rows = 100,
                                 .commit = socialcare_store_commit,
                                 .prepare = socialcare_store_prepare,
                                 .prep_free = socialcare_store_prep_free,
                                 .pipeline = true,
                                 .pipeline_after = CSV_PIPELINE_AFTER};
    struct socialcare_store_sink sink = {
        .store = ig->s, .org = f->org, .feed = f->name, .file = name, .grouped = true};
    int rc;
    if (lag) {
        struct lag_sink ls = {.inner = &sink, .lag = lag, .arrived = arrived};
        so.commit = lag_sink_commit;
        so.prepare = lag_sink_prepare;
        rc = socialcare_process_mem(body, len, name, &so, lag_sink, &ls, rep);
    } else {
        rc = socialcare_process_mem(body, len, name, &so, socialcare_store_sink, &sink, rep);
    }
    if (sink.open) { /* every batch ends with its commit: not reached */
        log_error("ingest", "csv batch left open: rolled back");
        store_txn_rollback(&sink.txn);
    }
    return rc;
}

/* Process CSV body of feed f into the record; fills *rep.  lag (may be NULL)
 * receives the lag samples of the rows against arrival time arrived.
 *
 * A file is committed in batches, so it is no one transaction: a file whose
 * load met another writer (store_raced: PostgreSQL - a Bundle undone, or a
 * batch rolled back, for a race, its rows failed) is processed again once,
 * whole, before its outcome is kept, as `weft feed replay` would: what the
 * first pass committed comes out unchanged (the store knows each item's
 * content), what the race failed is loaded now.  The report, lag samples
 * and outcome are the second pass's; the feed's counters count the file
 * once (its caller counts after).  The same rule as store_txn_run's (one
 * retry, counted in weft_store_retries_total{writer="csv"}); rows a second
 * race fails stay failed in the report, the file in failed/ or done/ as
 * its outcome says, replayable. */
static int process_csv(struct ingest *ig, const struct store_feed *f, const char *body, size_t len,
                       const char *name, struct feed_lag *lag, const char *arrived,
                       struct socialcare_report **rep)
{
    struct feed_lag lag0 = lag ? *lag : (struct feed_lag){0};
    store_race_clear(ig->s);
    int rc = process_csv_once(ig, f, body, len, name, lag, arrived, rep);
    if (*rep && (store_raced(ig->s) || FAILPOINT("store-unit-raced"))) {
        log_info("ingest", "csv file of feed %s met another writer; processing it again", f->name);
        metrics_add("weft_store_retries_total", "writer=\"csv\"", 1);
        socialcare_report_free(*rep);
        *rep = NULL;
        if (lag)
            *lag = lag0;
        store_race_clear(ig->s);
        rc = process_csv_once(ig, f, body, len, name, lag, arrived, rep);
    }
    return rc;
}

static const char *csv_outcome(const struct socialcare_report *rep)
{
    const char *st = socialcare_report_status(rep);
    return strcmp(st, "ok") == 0        ? INBOX_APPLIED
           : strcmp(st, "partial") == 0 ? INBOX_PARTIAL
                                        : INBOX_REJECTED;
}

static void csv_reason(const struct socialcare_report *rep, char *out, size_t cap)
{
    out[0] = 0;
    if (rep->file_error)
        snprintf(out, cap, "%s", rep->file_error);
    else if (rep->rows_rejected || rep->rows_load_failed)
        snprintf(out, cap, "%zu of %zu rows rejected, %zu failed to load (see the report)",
                 rep->rows_rejected, rep->rows_read, rep->rows_load_failed);
}

/* Whether path exists. */
static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Move the processed file at path to dest and make both directory entries
 * durable (a power cut after this cannot bring the file back). */
static int move_durably(const char *path, const char *dest)
{
    if (powerloss_rename(path, dest) != 0) {
        log_error("ingest", "cannot move drop file to %s: %s", dest, strerror(errno));
        return WEFT_EIO;
    }
    if (powerloss_sync_parent(dest) != 0 || powerloss_sync_parent(path) != 0) {
        log_error("ingest", "cannot sync the folder of %s: %s", dest, strerror(errno));
        return WEFT_EIO;
    }
    return 0;
}

/* A file whose processing finished (outcome committed, report durable in
 * done/ or failed/) but whose move there was lost - a power cut between the
 * outcome's commit and the folder's fsync brings the file back under its
 * old name.  Recognised by: the latest inbox row of this feed for the name
 * has a final outcome and the same bytes, and its report is there without
 * its file.  Such a file is moved now, not processed again (that would
 * record a second arrival).  WEFT_ENOTFOUND when the file is not one. */
static int recover_lost_move(struct ingest *ig, const struct store_feed *feed, const char *path,
                             const char *name, const char *body, size_t len,
                             struct ingest_result *r)
{
    struct store_inbox_filter f = {.feed_id = feed->id, .limit = 1000};
    int64_t last = 0;
    for (;;) { /* the latest csv row of this name */
        struct store_inbox_msg *ms = NULL;
        int n = 0;
        int rc = store_inbox_list(ig->s, &f, &ms, &n);
        if (rc != 0)
            return rc;
        for (int i = 0; i < n; i++)
            if (strcmp(ms[i].kind, "csv") == 0 && ms[i].control_id &&
                strcmp(ms[i].control_id, name) == 0)
                last = ms[i].id;
        if (n > 0)
            f.after_id = ms[n - 1].id;
        store_inbox_msgs_free(ms, n);
        if (n < f.limit)
            break;
    }
    if (last == 0)
        return WEFT_ENOTFOUND;
    struct store_inbox_msg m;
    int rc = store_inbox_get(ig->s, last, true, &m);
    if (rc != 0)
        return rc;
    rc = WEFT_ENOTFOUND;
    bool final = strcmp(m.outcome, INBOX_PENDING) != 0;
    if (final && m.body_len == len && memcmp(m.body, body, len) == 0) {
        const char *sub = strcmp(m.outcome, INBOX_REJECTED) == 0 ? "failed" : "done";
        struct buf dest = BUF_INIT, rep = BUF_INIT;
        for (int k = 0; k < 2 && rc == WEFT_ENOTFOUND; k++) {
            buf_reset(&dest);
            if (k == 0)
                buf_addf(&dest, "%s/%s/%s", feed->folder, sub, name);
            else
                buf_addf(&dest, "%s/%s/%lld-%s", feed->folder, sub, (long long)last, name);
            buf_reset(&rep);
            buf_addf(&rep, "%s.report.json", dest.data);
            if (exists(rep.data) && !exists(dest.data)) {
                log_warn("ingest",
                         "drop file was processed as inbox=%lld but its move was lost (the "
                         "process or the machine stopped): moved now feed=%s",
                         (long long)last, feed->name);
                rc = move_durably(path, dest.data);
                r->inbox_id = last;
                r->feed_id = feed->id;
                r->outcome = strcmp(sub, "failed") == 0              ? INBOX_REJECTED
                             : strcmp(m.outcome, INBOX_PARTIAL) == 0 ? INBOX_PARTIAL
                                                                     : INBOX_APPLIED;
                r->resources = (long)m.resources;
            }
        }
        buf_release(&dest);
        buf_release(&rep);
    }
    store_inbox_msg_clear(&m);
    return rc;
}

int ingest_csv_file(struct ingest *ig, int64_t feed_id, const char *path, struct ingest_result *r)
{
    int fd;
    int rc = ingest_csv_claim(path, &fd);
    if (rc != 0)
        return rc;
    rc = ingest_csv_claimed(ig, feed_id, fd, path, r);
    close(fd);
    return rc;
}

int ingest_csv_claimed(struct ingest *ig, int64_t feed_id, int fd, const char *path,
                       struct ingest_result *r)
{
    struct store_feed feed;
    int rc = store_feed_get(ig->s, feed_id, &feed);
    if (rc != 0)
        return rc;
    char *body = NULL;
    size_t len = 0;
    struct buf dest = BUF_INIT, report = BUF_INIT;
    struct socialcare_report *rep = NULL;
    const char *name = base_name(path);
    if ((rc = read_fd(fd, &body, &len)) != 0) {
        log_warn("ingest", "cannot read drop file feed=%s: %s", feed.name, weft_strerror(rc));
        goto out;
    }
    if ((rc = recover_lost_move(ig, &feed, path, name, body, len, r)) != WEFT_ENOTFOUND)
        goto out;
    char arrived[32];
    inbox_now(arrived);
    struct store_inbox_msg in = {
        .feed_id = feed.id,
        .kind = "csv",
        .arrived = arrived,
        .sender = (char *)name,
        .control_id = (char *)name,
        .msg_type = (char *)socialcare_kind_name(socialcare_kind_from_filename(name)),
        .body = body,
        .body_len = len,
    };
    if ((rc = store_inbox_add(ig->s, &in, &r->inbox_id)) != 0)
        goto out;
    r->feed_id = feed.id;
    if ((rc = close_interrupted(ig->s, feed.id, name, r->inbox_id)) != 0)
        goto out;
    int aerr = 0;
    char why[256] = "";
    const char *outcome;
    struct feed_lag lag = {0};
    uint64_t t0 = (uint64_t)time(NULL);
    if (feed.disabled) {
        snprintf(why, sizeof why, "feed '%s' is disabled", feed.name);
    } else if (!org_agreement_in_force(ig->s, feed.org, time(NULL), &aerr)) {
        if (aerr) {
            rc = aerr;
            goto out;
        }
        snprintf(why, sizeof why, "organisation %s has no data sharing agreement in force",
                 feed.org);
    }
    if (why[0]) {
        outcome = INBOX_REJECTED;
        dest_path(feed.folder, "failed", name, r->inbox_id, &dest);
        buf_addf(&report, "%s.report.json", dest.data);
        if ((rc = write_refusal(report.data, name, &feed, why)) != 0)
            goto out;
    } else {
        rc = process_csv(ig, &feed, body, len, name, &lag, arrived, &rep);
        if (!rep) {
            rc = rc ? rc : WEFT_EINTERNAL;
            goto out;
        }
        outcome = csv_outcome(rep);
        csv_reason(rep, why, sizeof why);
        r->resources = (long)rep->resources;
        dest_path(feed.folder, strcmp(outcome, INBOX_REJECTED) == 0 ? "failed" : "done", name,
                  r->inbox_id, &dest);
        buf_addf(&report, "%s.report.json", dest.data);
        if ((rc = socialcare_report_write(rep, report.data)) != 0)
            goto out;
        char fv[160], labels[256];
        metrics_label_value(fv, sizeof fv, feed.name);
        snprintf(labels, sizeof labels, "feed=\"%s\",kind=\"csv\",outcome=\"%s\"", fv, outcome);
        metrics_add("weft_feed_messages_total", labels, 1);
        /* rows or a whole file refused: WARN, with the reason (counts or
         * the file's error; row details with values are in the report) */
        log_msg(why[0] || strcmp(outcome, INBOX_APPLIED) != 0 ? LOG_WARN : LOG_INFO, "ingest",
                "csv file inbox=%lld feed=%s rows=%zu loaded=%zu rejected=%zu failed=%zu "
                "outcome=%s secs=%llu%s%s%s",
                (long long)r->inbox_id, feed.name, rep->rows_read, rep->rows_loaded,
                rep->rows_rejected, rep->rows_load_failed, outcome,
                (unsigned long long)((uint64_t)time(NULL) - t0), why[0] ? " reason=\"" : "", why,
                why[0] ? "\"" : "");
    }
    /* The report's entry durable before the outcome is committed, the
     * outcome committed before the file is moved: a power cut at any point
     * leaves either a pending row and the file in the folder (processed
     * again; the row closed as interrupted) or a final row, its report, and
     * the file moved or recognised as a lost move (recover_lost_move). */
    if (powerloss_sync_parent(report.data) != 0) {
        log_error("ingest", "cannot sync the folder of %s: %s", report.data, strerror(errno));
        rc = WEFT_EIO;
        goto out;
    }
    r->outcome = outcome;
    snprintf(r->reason, sizeof r->reason, "%s", why);
    struct store_txn txn;
    int rc2 = store_txn_begin(&txn, ig->s);
    if (rc2 == 0) {
        rc2 = store_inbox_set_outcome(ig->s, r->inbox_id, outcome, why[0] ? why : NULL,
                                      r->resources, 0, true);
        if (rc2 == 0)
            rc2 = count(ig, feed.id, arrived, outcome, &lag, why, true);
        struct count_slot *sl = NULL; /* and its rows, across files */
        if (rc2 == 0 && rep && (rc2 = slot_of(ig, feed.id, arrived, &sl)) == 0) {
            sl->c.rows_loaded += (int64_t)rep->rows_loaded;
            sl->c.rows_rejected += (int64_t)(rep->rows_rejected + rep->rows_load_failed);
        }
        if (rc2 == 0)
            rc2 = ingest_flush_counts(ig);
        if (rc2 == 0)
            rc2 = store_txn_commit(&txn);
        if (rc2 != 0) {
            store_txn_rollback(&txn);
            ingest_discard_counts(ig);
        }
    }
    if (!same_file(fd, path)) {
        /* the sender put a new file of this name in place while we worked:
         * leave it for the next pass, and keep what we processed (read into
         * memory from our claimed file) in done/ or failed/ */
        log_warn("ingest", "drop file replaced while processed inbox=%lld feed=%s: kept the copy",
                 (long long)r->inbox_id, feed.name);
        if (write_copy(dest.data, body, len) != 0 || powerloss_sync_parent(dest.data) != 0) {
            log_error("ingest", "cannot write drop file copy to %s: %s", dest.data,
                      strerror(errno));
            rc = WEFT_EIO;
        }
    } else if (rc2 == 0 && move_durably(path, dest.data) != 0) {
        rc = WEFT_EIO;
    }
    if (rc == 0)
        rc = rc2;
out:
    socialcare_report_free(rep);
    buf_release(&dest);
    buf_release(&report);
    free(body);
    store_feed_clear(&feed);
    return rc;
}

/* ---- replay -------------------------------------------------------------------------- */

/* A replayed FHIR message's load as a unit of work (store_txn_run): each
 * attempt loads the body afresh (the loader rewrites the Bundle), the
 * first attempt's report dropped. */
struct replay_unit {
    const struct store_inbox_msg *m;
    struct load_ctx lc;
    struct load_report rep;
};

static int replay_work(struct store *s, void *arg, int attempt)
{
    struct replay_unit *u = arg;
    if (attempt > 0) {
        load_report_free(&u->rep);
        load_report_init(&u->rep);
    }
    json_t *bundle = json_loadb(u->m->body, u->m->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!bundle) /* it parsed before */
        return WEFT_ENOMEM;
    int rc = fhir_load_bundle(s, bundle, &u->lc, &u->rep, NULL);
    json_decref(bundle);
    return rc;
}

static int replay_fhir(struct ingest *ig, const struct store_inbox_msg *m,
                       const struct store_feed *f, struct ingest_result *r)
{
    r->inbox_id = m->id;
    r->feed_id = m->feed_id;
    int aerr = 0;
    if (!org_agreement_in_force(ig->s, f->org, time(NULL), &aerr)) {
        if (aerr)
            return aerr;
        snprintf(r->reason, sizeof r->reason,
                 "organisation %s has no data sharing agreement in force", f->org);
        return ingest_fhir_done(ig, r, 0, NULL, 403, r->reason);
    }
    json_error_t jerr;
    json_t *bundle = json_loadb(m->body, m->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!bundle) {
        char why[200];
        snprintf(why, sizeof why, "the body is not valid JSON: %.120s at line %d, column %d",
                 jerr.text, jerr.line, jerr.column);
        return ingest_fhir_done(ig, r, 0, NULL, 400, why);
    }
    json_decref(bundle);
    /* the load one unit of work, as POST /fhir's (store/txn.h) */
    struct replay_unit u = {.m = m, .lc = {.org = f->org, .feed = f->name, .nested = true}};
    load_report_init(&u.rep);
    int lrc = store_txn_run(ig->s, "replay", replay_work, &u);
    int rc = ingest_fhir_done(ig, r, lrc, &u.rep,
                              lrc == 0            ? 200
                              : lrc == WEFT_EBUSY ? 503
                                                  : 400,
                              NULL);
    load_report_free(&u.rep);
    return rc;
}

static int replay_csv(struct ingest *ig, const struct store_inbox_msg *m,
                      const struct store_feed *f, struct ingest_result *r)
{
    r->inbox_id = m->id;
    r->feed_id = m->feed_id;
    struct socialcare_report *rep = NULL;
    const char *name = m->sender ? m->sender : "replay.csv";
    int aerr = 0;
    char why[256] = "";
    const char *outcome = INBOX_REJECTED;
    int rc = 0;
    if (!org_agreement_in_force(ig->s, f->org, time(NULL), &aerr)) {
        if (aerr)
            return aerr;
        snprintf(why, sizeof why, "organisation %s has no data sharing agreement in force", f->org);
    } else {
        rc = process_csv(ig, f, m->body, m->body_len, name, NULL, NULL, &rep);
        if (!rep)
            return rc ? rc : WEFT_EINTERNAL;
        rc = 0;
        outcome = csv_outcome(rep);
        csv_reason(rep, why, sizeof why);
        r->resources = (long)rep->resources;
        if (f->folder) {
            struct buf path = BUF_INIT;
            buf_addf(&path, "%s/%s/%s.replay-%d.report.json", f->folder,
                     strcmp(outcome, INBOX_REJECTED) == 0 ? "failed" : "done", name,
                     m->attempts + 1);
            rc = socialcare_report_write(rep, path.data);
            buf_release(&path);
        }
        socialcare_report_free(rep);
    }
    r->outcome = outcome;
    snprintf(r->reason, sizeof r->reason, "%s", why);
    struct store_txn txn;
    int rc2 = store_txn_begin(&txn, ig->s);
    if (rc2 == 0) {
        rc2 = store_inbox_set_outcome(ig->s, m->id, outcome, why[0] ? why : NULL, r->resources, 0,
                                      true);
        if (rc2 == 0)
            rc2 = count(ig, f->id, m->arrived, outcome, NULL, why, false);
        if (rc2 == 0)
            rc2 = ingest_flush_counts(ig);
        if (rc2 == 0)
            rc2 = store_txn_commit(&txn);
        if (rc2 != 0) {
            store_txn_rollback(&txn);
            ingest_discard_counts(ig);
        }
    }
    return rc ? rc : rc2;
}

int ingest_replay(struct ingest *ig, int64_t id, struct ingest_result *r)
{
    struct store_inbox_msg m;
    int rc = store_inbox_get(ig->s, id, true, &m);
    if (rc != 0)
        return rc;
    struct store_feed f;
    memset(&f, 0, sizeof f);
    ig->prior_set = true; /* the counters move the message (see count()) */
    ig->prior_feed = m.feed_id;
    snprintf(ig->prior_outcome, sizeof ig->prior_outcome, "%s", m.outcome);
    if (strcmp(m.kind, "hl7v2") == 0) {
        rc = ingest_hl7_one(ig, m.body, m.body_len, m.peer, id, r);
    } else if (m.feed_id <= 0 || (rc = store_feed_get(ig->s, m.feed_id, &f)) != 0) {
        rc = rc ? rc : WEFT_ENOTFOUND;
    } else if (strcmp(m.kind, "fhir") == 0) {
        rc = replay_fhir(ig, &m, &f, r);
    } else if (strcmp(m.kind, "csv") == 0) {
        rc = replay_csv(ig, &m, &f, r);
    } else {
        rc = WEFT_EUNSUPPORTED;
    }
    ig->prior_set = false;
    if (rc == 0)
        log_info("ingest", "replayed inbox=%lld kind=%s outcome=%s", (long long)id, m.kind,
                 r->outcome);
    store_feed_clear(&f);
    store_inbox_msg_clear(&m);
    return rc;
}
