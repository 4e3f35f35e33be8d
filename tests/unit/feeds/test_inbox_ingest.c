/* test_inbox_ingest.c - HL7 v2 messages through feeds/ingest.h into a real
 * store (the real mapper and loading pipeline): kept in the inbox before
 * the decision, AA only when applied, duplicates by control id, refusals
 * (unknown facility, no agreement, unparseable, unsupported type) with AR and
 * an ERR segment, several messages in one transaction where a failing one
 * rolls back to its savepoint without disturbing the others, A40 merge and
 * unmerge, replay after a fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/registry.h"
#include "store/access.h"
#include "store/feeds.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static char dbpath[256];

struct fx {
    struct store *s;
    struct ingest *ig;
};

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/ingest-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    struct fx *fx = calloc(1, sizeof *fx);
    char *err = NULL;
    if (store_open(&fx->s, testdb_pick(dbpath), true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return -1;
    }
    char e[256];
    struct feed_spec a = {.org = "RVV", .kind = "hl7v2", .facility = "RVV01"};
    struct feed_spec b = {.org = "RWF", .kind = "hl7v2", .facility = "RWF01"};
    if (store_migrate(fx->s, NULL, NULL) != 0 ||
        store_org_put(fx->s, "RVV", "East Kent", "acute") != 0 ||
        store_org_put(fx->s, "RWF", "Maidstone", "acute") != 0 ||
        store_agreement_add(fx->s, "RVV", "jca", "2020-01-01", NULL, NULL) != 0 ||
        feed_registry_add(fx->s, &a, NULL, NULL, e, sizeof e) != 0 ||
        feed_registry_add(fx->s, &b, NULL, NULL, e, sizeof e) != 0)
        return -1;
    fx->ig = ingest_new(fx->s);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    ingest_free(fx->ig);
    store_close(fx->s);
    free(fx);
    testdb_remove(dbpath);
    return 0;
}

/* An ADT^A01 from facility fac, control id ctrl, for hospital number mrn
 * (and NHS number nhs when not NULL). */
static char *adt(const char *fac, const char *ctrl, const char *mrn, const char *nhs,
                 const char *trig)
{
    struct buf b = BUF_INIT;
    buf_addf(&b,
             "MSH|^~\\&|PAS|%s|WEFT|WEFT|20261124101500||ADT^%s^ADT_A01|%s|P|2.5\r"
             "EVN|%s|20261124101500\r"
             "PID|1||%s^^^%s^MR%s%s%s||Testpatient^Alex||19700101|M\r"
             "PV1|1|I|WARD1^BED2||||||||||||||||V%s\r",
             fac, trig, ctrl, trig, mrn, fac, nhs ? "~" : "", nhs ? nhs : "",
             nhs ? "^^^NHS^NH" : "", ctrl);
    return buf_detach(&b, NULL);
}

static int one(struct fx *fx, const char *msg, struct ingest_result *r)
{
    ingest_result_init(r);
    return ingest_hl7_one(fx->ig, msg, strlen(msg), "127.0.0.1:4000", 0, r);
}

static const char *ack_code(const struct ingest_result *r)
{
    static char code[3];
    const char *msa = strstr(r->ack.data, "\rMSA|");
    if (!msa)
        return "";
    memcpy(code, msa + 5, 2);
    code[2] = 0;
    return code;
}

static int64_t count_type(struct store *s, const char *type, const char *person)
{
    struct store_query q = {.type = type, .person_id = person, .limit = 100, .want_total = true};
    struct store_result res;
    assert_int_equal(store_search(s, &q, &res), 0);
    int64_t n = res.total;
    store_result_clear(&res);
    return n;
}

static void test_applied_then_duplicate(void **state)
{
    struct fx *fx = *state;
    char *m = adt("RVV01", "C1", "111", "9990000018", "A01");
    struct ingest_result r;
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    assert_string_equal(ack_code(&r), "AA");
    assert_true(r.inbox_id > 0);
    assert_true(r.resources >= 2); /* Patient + Encounter */
    int64_t first = r.inbox_id;
    ingest_result_release(&r);
    assert_int_equal(count_type(fx->s, "Patient", NULL), 1);
    assert_int_equal(count_type(fx->s, "Encounter", NULL), 1);

    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(r.outcome, INBOX_DUPLICATE);
    assert_string_equal(ack_code(&r), "AA");
    struct store_inbox_msg im;
    assert_int_equal(store_inbox_get(fx->s, r.inbox_id, true, &im), 0);
    assert_int_equal(im.duplicate_of, first);
    assert_memory_equal(im.body, m, strlen(m)); /* kept verbatim too */
    assert_string_equal(im.control_id, "C1");
    assert_string_equal(im.msg_type, "ADT^A01");
    assert_non_null(im.event_time);
    store_inbox_msg_clear(&im);
    ingest_result_release(&r);
    free(m);

    struct store_feed f;
    assert_int_equal(store_feed_by_facility(fx->s, "RVV01", &f), 0);
    struct store_feed_counts today, total;
    assert_int_equal(store_feed_counts_get(fx->s, f.id, NULL, &today, &total), 0);
    assert_int_equal(total.received, 2);
    assert_int_equal(total.applied, 1);
    assert_int_equal(total.duplicate, 1);
    assert_int_equal(total.lag_n, 2);
    store_feed_clear(&f);
}

static void test_refusals(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    char *m = adt("NOPE", "C2", "111", NULL, "A01");
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_string_equal(r.outcome, INBOX_REJECTED);
    assert_int_equal(r.feed_id, 0);
    assert_non_null(strstr(r.ack.data, "\rERR|"));
    assert_non_null(strstr(r.reason, "not registered"));
    int64_t nope_id = r.inbox_id;
    ingest_result_release(&r);
    free(m);

    m = adt("RWF01", "C3", "111", NULL, "A01"); /* RWF has no agreement */
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_non_null(strstr(r.reason, "agreement"));
    assert_true(r.feed_id > 0);
    ingest_result_release(&r);
    free(m);

    const char *junk = "this is not HL7\r";
    assert_int_equal(one(fx, junk, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_string_equal(r.outcome, INBOX_REJECTED);
    int64_t junk_id = r.inbox_id;
    ingest_result_release(&r);

    /* a disabled feed is refused (and kept); enabled again it is accepted */
    struct store_feed f;
    assert_int_equal(store_feed_by_facility(fx->s, "RVV01", &f), 0);
    assert_int_equal(store_feed_set_disabled(fx->s, f.id, true), 0);
    m = adt("RVV01", "C5", "112", NULL, "A01");
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_non_null(strstr(r.reason, "disabled"));
    ingest_result_release(&r);
    free(m);
    assert_int_equal(store_feed_set_disabled(fx->s, f.id, false), 0);
    assert_int_equal(store_feed_set_disabled(fx->s, 9999, false), WEFT_ENOTFOUND);
    store_feed_clear(&f);

    /* a feed bound to an address refuses other peers */
    char e[256];
    struct feed_spec ip = {.org = "RVV",
                           .kind = "hl7v2",
                           .name = "rvv-ip",
                           .facility = "RVV09",
                           .from_address = "10.1.2.3"};
    assert_int_equal(feed_registry_add(fx->s, &ip, NULL, NULL, e, sizeof e), 0);
    m = adt("RVV09", "C6", "113", NULL, "A01");
    assert_int_equal(one(fx, m, &r), 0); /* one() sends from 127.0.0.1 */
    assert_string_equal(ack_code(&r), "AR");
    assert_non_null(strstr(r.reason, "address"));
    ingest_result_release(&r);
    ingest_result_init(&r);
    assert_int_equal(ingest_hl7_one(fx->ig, m, strlen(m), "10.1.2.3:5000", 0, &r), 0);
    assert_string_equal(ack_code(&r), "AA");
    ingest_result_release(&r);
    free(m);

    m = adt("RVV01", "C4", "111", NULL, "A99"); /* not a mapped event */
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_non_null(strstr(r.ack.data, "\rERR|"));
    ingest_result_release(&r);
    free(m);

    /* every refusal is kept, with its reason */
    struct store_inbox_msg im;
    assert_int_equal(store_inbox_get(fx->s, junk_id, true, &im), 0);
    assert_string_equal(im.body, junk);
    assert_string_equal(im.outcome, INBOX_REJECTED);
    assert_non_null(im.error);
    store_inbox_msg_clear(&im);
    int64_t c[5];
    assert_int_equal(store_inbox_outcomes(fx->s, 0, c), 0);
    assert_int_equal(c[2], 6);
    assert_int_equal(count_type(fx->s, "Patient", NULL), 1); /* only the one from 10.1.2.3 */

    /* after the agreement is signed, replay applies the refused RWF message */
    struct store_inbox_filter flt = {.outcome = INBOX_REJECTED};
    struct store_inbox_msg *ms;
    int n;
    assert_int_equal(store_agreement_add(fx->s, "RWF", "dpa", "2020-01-01", NULL, NULL), 0);
    assert_int_equal(store_inbox_list(fx->s, &flt, &ms, &n), 0);
    int64_t rwf = 0;
    for (int i = 0; i < n; i++)
        if (ms[i].sender && strcmp(ms[i].sender, "RWF01") == 0)
            rwf = ms[i].id;
    store_inbox_msgs_free(ms, n);
    assert_true(rwf > 0);
    ingest_result_init(&r);
    assert_int_equal(ingest_replay(fx->ig, rwf, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    ingest_result_release(&r);
    assert_int_equal(store_inbox_get(fx->s, rwf, false, &im), 0);
    assert_string_equal(im.outcome, INBOX_APPLIED);
    assert_int_equal(im.attempts, 2);
    assert_null(im.error);
    store_inbox_msg_clear(&im);
    assert_int_equal(count_type(fx->s, "Patient", NULL), 2);

    /* the unregistered facility's message, replayed once its feed exists,
     * is applied and attributed to that feed */
    char e2[256];
    int64_t nope_feed = 0;
    struct feed_spec nope = {.org = "RVV", .kind = "hl7v2", .name = "nope", .facility = "NOPE"};
    assert_int_equal(feed_registry_add(fx->s, &nope, &nope_feed, NULL, e2, sizeof e2), 0);
    ingest_result_init(&r);
    assert_int_equal(ingest_replay(fx->ig, nope_id, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    ingest_result_release(&r);
    assert_int_equal(store_inbox_get(fx->s, nope_id, false, &im), 0);
    assert_int_equal(im.feed_id, nope_feed);
    assert_string_equal(im.outcome, INBOX_APPLIED);
    store_inbox_msg_clear(&im);
}

static void test_batch_savepoints(void **state)
{
    struct fx *fx = *state;
    /* two persons with different NHS numbers: merging them must fail */
    char *a = adt("RVV01", "B1", "201", "9990000018", "A01");
    char *b = adt("RVV01", "B2", "202", "9990000026", "A01");
    char *c = adt("RVV01", "B4", "203", NULL, "A01");
    const char *merge = "MSH|^~\\&|PAS|RVV01|WEFT|WEFT|20261124101500||ADT^A40^ADT_A39|B3|P|2.5\r"
                        "EVN|A40|20261124101500\r"
                        "PID|1||202^^^RVV01^MR||Testpatient^Alex||19700101|M\r"
                        "MRG|201^^^RVV01^MR\r";
    const char *msgs[] = {a, b, merge, c};
    struct ingest_result r[4];
    assert_int_equal(store_begin(fx->s), 0);
    for (int i = 0; i < 4; i++) {
        ingest_result_init(&r[i]);
        assert_int_equal(ingest_hl7(fx->ig, msgs[i], strlen(msgs[i]), NULL, NULL, 0, &r[i]), 0);
    }
    assert_int_equal(ingest_flush_counts(fx->ig), 0);
    assert_int_equal(store_commit(fx->s), 0);
    assert_string_equal(r[0].outcome, INBOX_APPLIED);
    assert_string_equal(r[1].outcome, INBOX_APPLIED);
    assert_string_equal(r[2].outcome, INBOX_REJECTED);
    assert_string_equal(ack_code(&r[2]), "AE");
    assert_non_null(strstr(r[2].reason, "different NHS numbers"));
    assert_string_equal(r[3].outcome, INBOX_APPLIED);
    assert_int_equal(count_type(fx->s, "Patient", NULL), 3);
    /* the failed merge's control id was not claimed: a corrected resend is new */
    int64_t first;
    assert_int_equal(store_inbox_claim(fx->s, r[2].feed_id, "B3", r[2].inbox_id, &first), 0);
    for (int i = 0; i < 4; i++)
        ingest_result_release(&r[i]);
    free(a);
    free(b);
    free(c);
}

/* items[0..n) of msgs as one writer batch (ingest_hl7_batch, the MLLP
 * writer's call) in one transaction. */
static void run_batch(struct fx *fx, const char *const *msgs, struct ingest_result *r, int n)
{
    struct ingest_hl7_item items[32];
    assert_true(n <= 32);
    for (int i = 0; i < n; i++) {
        ingest_result_init(&r[i]);
        items[i] = (struct ingest_hl7_item){
            .data = msgs[i], .len = strlen(msgs[i]), .peer = "127.0.0.1:4000", .r = &r[i]};
    }
    assert_int_equal(store_begin(fx->s), 0);
    int rc = ingest_hl7_batch(fx->ig, items, (size_t)n);
    if (rc != 0)
        fprintf(stderr, "batch: %s (%s)\n", weft_strerror(rc), store_errmsg(fx->s));
    assert_int_equal(rc, 0);
    assert_int_equal(ingest_flush_counts(fx->ig), 0);
    assert_int_equal(store_commit(fx->s), 0);
}

static void assert_inbox(struct fx *fx, int64_t id, const char *outcome, const char *reason_part,
                         int64_t duplicate_of)
{
    struct store_inbox_msg im;
    assert_int_equal(store_inbox_get(fx->s, id, true, &im), 0);
    assert_string_equal(im.outcome, outcome);
    if (reason_part) {
        assert_non_null(im.error);
        assert_non_null(strstr(im.error, reason_part));
    }
    assert_int_equal(im.duplicate_of, duplicate_of);
    assert_true(im.body_len > 0);
    store_inbox_msg_clear(&im);
}

/* One writer batch: the inbox rows and claims are taken for the whole batch
 * before any message is applied.  A control id repeated in the batch is
 * applied once and both are acknowledged AA; a message that fails in the
 * middle keeps its inbox row with its reason and gives its claim back (a
 * corrected resend later in the same batch is applied), while its
 * neighbours are applied; a control id applied by an earlier batch is a
 * duplicate. */
static void test_writer_batch_claims(void **state)
{
    struct fx *fx = *state;
    char *old = adt("RVV01", "W0", "600", NULL, "A01");
    struct ingest_result r0;
    assert_int_equal(one(fx, old, &r0), 0);
    assert_string_equal(r0.outcome, INBOX_APPLIED);

    char *a = adt("RVV01", "W1", "601", "9990000018", "A01");
    char *a2 = adt("RVV01", "W1", "601", "9990000018", "A01"); /* resent within the batch */
    char *b = adt("RVV01", "W2", "602", "9990000026", "A01");
    /* two persons with different NHS numbers: merging them fails */
    const char *bad = "MSH|^~\\&|PAS|RVV01|WEFT|WEFT|20261124101500||ADT^A40^ADT_A39|W3|P|2.5\r"
                      "EVN|A40|20261124101500\r"
                      "PID|1||602^^^RVV01^MR||Testpatient^Alex||19700101|M\r"
                      "MRG|601^^^RVV01^MR\r";
    char *c = adt("RVV01", "W4", "604", NULL, "A01");
    char *fixed = adt("RVV01", "W3", "603", NULL, "A01");      /* W3 again, now applicable */
    char *again = adt("RVV01", "W0", "600", NULL, "A01");      /* applied by an earlier batch */
    char *b2 = adt("RVV01", "W2", "602", "9990000026", "A08"); /* W2 a second time */
    const char *msgs[] = {a, a2, b, bad, c, fixed, again, b2};
    enum { N = 8 };
    struct ingest_result r[N];
    run_batch(fx, msgs, r, N);
    const char *want_ack[N] = {"AA", "AA", "AA", "AE", "AA", "AA", "AA", "AA"};
    const char *want_out[N] = {INBOX_APPLIED, INBOX_DUPLICATE, INBOX_APPLIED,   INBOX_REJECTED,
                               INBOX_APPLIED, INBOX_APPLIED,   INBOX_DUPLICATE, INBOX_DUPLICATE};
    for (int i = 0; i < N; i++) {
        assert_string_equal(ack_code(&r[i]), want_ack[i]);
        assert_string_equal(r[i].outcome, want_out[i]);
        assert_true(r[i].inbox_id > 0);
        for (int j = 0; j < i; j++)
            assert_true(r[i].inbox_id != r[j].inbox_id);
    }
    assert_non_null(strstr(r[1].ack.data, "duplicate"));
    assert_inbox(fx, r[0].inbox_id, INBOX_APPLIED, NULL, 0);
    assert_inbox(fx, r[1].inbox_id, INBOX_DUPLICATE, NULL, r[0].inbox_id);
    assert_inbox(fx, r[3].inbox_id, INBOX_REJECTED, "different NHS numbers", 0);
    assert_inbox(fx, r[4].inbox_id, INBOX_APPLIED, NULL, 0);
    assert_inbox(fx, r[5].inbox_id, INBOX_APPLIED, NULL, 0);
    assert_inbox(fx, r[6].inbox_id, INBOX_DUPLICATE, NULL, r0.inbox_id);
    assert_inbox(fx, r[7].inbox_id, INBOX_DUPLICATE, NULL, r[2].inbox_id);
    /* applied once each: 600, 601, 602, 603, 604, one encounter each */
    assert_int_equal(count_type(fx->s, "Patient", NULL), 5);
    assert_int_equal(count_type(fx->s, "Encounter", NULL), 5);
    /* the claims held now: W3 by the corrected message, the rest by the first */
    int64_t first = 0;
    assert_int_equal(store_inbox_claim(fx->s, r[5].feed_id, "W3", 999999, &first), WEFT_EEXIST);
    assert_int_equal(first, r[5].inbox_id);
    assert_int_equal(store_inbox_claim(fx->s, r[0].feed_id, "W1", 999999, &first), WEFT_EEXIST);
    assert_int_equal(first, r[0].inbox_id);
    /* the day's counters count every message once */
    struct store_feed_counts today, total;
    assert_int_equal(store_feed_counts_get(fx->s, r[0].feed_id, NULL, &today, &total), 0);
    assert_int_equal(total.received, N + 1);
    assert_int_equal(total.applied, 5);
    assert_int_equal(total.rejected, 1);
    assert_int_equal(total.duplicate, 3);
    for (int i = 0; i < N; i++)
        ingest_result_release(&r[i]);
    ingest_result_release(&r0);
    free(old);
    free(a);
    free(a2);
    free(b);
    free(c);
    free(fixed);
    free(again);
    free(b2);
}

/* A batch whose messages come from more sending facilities than the feed
 * cache holds goes in chunks: every message decided, kept and answered. */
static void test_writer_batch_many_facilities(void **state)
{
    struct fx *fx = *state;
    enum { N = 20 };
    char *m[N];
    for (int i = 0; i < N - 2; i++) {
        char fac[16], ctl[16], mrn[16];
        snprintf(fac, sizeof fac, "UNK%02d", i);
        snprintf(ctl, sizeof ctl, "M%d", i);
        snprintf(mrn, sizeof mrn, "7%02d", i);
        m[i] = adt(fac, ctl, mrn, NULL, "A01");
    }
    m[N - 2] = adt("RVV01", "M1", "701", NULL, "A01");
    m[N - 1] = adt("RVV01", "M1", "701", NULL, "A01");
    struct ingest_result r[N];
    run_batch(fx, (const char *const *)m, r, N);
    for (int i = 0; i < N - 2; i++) {
        assert_string_equal(ack_code(&r[i]), "AR");
        assert_inbox(fx, r[i].inbox_id, INBOX_REJECTED, "is not registered", 0);
    }
    assert_string_equal(r[N - 2].outcome, INBOX_APPLIED);
    assert_string_equal(r[N - 1].outcome, INBOX_DUPLICATE);
    assert_string_equal(ack_code(&r[N - 1]), "AA");
    assert_inbox(fx, r[N - 1].inbox_id, INBOX_DUPLICATE, NULL, r[N - 2].inbox_id);
    assert_int_equal(count_type(fx->s, "Patient", NULL), 1);
    for (int i = 0; i < N; i++) {
        ingest_result_release(&r[i]);
        free(m[i]);
    }
}

/* A message whose mapped Bundle the loader rejects part of (a document over
 * the 8 MB resource limit) is answered AE and leaves nothing of itself in
 * the record - not even its Patient, stored before the rejected entry - while
 * the messages around it in the same transaction are applied. */
static void test_load_rejection_rolls_back_message(void **state)
{
    struct fx *fx = *state;
    char *a = adt("RVV01", "R1", "401", NULL, "A01");
    char *c = adt("RVV01", "R3", "403", NULL, "A01");
    struct buf big = BUF_INIT;
    buf_adds(&big, "MSH|^~\\&|EPR|RVV01|WEFT|WEFT|20261124101500||MDM^T02|R2|P|2.5\r"
                   "EVN|T02|20261124101500\r"
                   "PID|1||402^^^RVV01^MR||Big^Document||19700101|F\r"
                   "PV1|1|O\r"
                   "TXA|1|DS^Discharge summary|TX|20261124100000||||||||DOC-BIG|||||AU||AV\r"
                   "OBX|1|TX|DS^Discharge summary||");
    for (int i = 0; i < 7 * 1024 * 1024 / 64; i++)
        buf_adds(&big, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    buf_adds(&big, "||||||F\r");
    const char *msgs[] = {a, big.data, c};
    size_t lens[] = {strlen(a), big.len, strlen(c)};
    struct ingest_result r[3];
    assert_int_equal(store_begin(fx->s), 0);
    for (int i = 0; i < 3; i++) {
        ingest_result_init(&r[i]);
        assert_int_equal(ingest_hl7(fx->ig, msgs[i], lens[i], NULL, NULL, 0, &r[i]), 0);
    }
    assert_int_equal(ingest_flush_counts(fx->ig), 0);
    assert_int_equal(store_commit(fx->s), 0);
    assert_string_equal(ack_code(&r[0]), "AA");
    assert_string_equal(ack_code(&r[1]), "AE");
    assert_string_equal(r[1].outcome, INBOX_REJECTED);
    assert_non_null(strstr(r[1].reason, "limit"));
    assert_string_equal(ack_code(&r[2]), "AA");
    assert_int_equal(count_type(fx->s, "Patient", NULL), 2);
    assert_int_equal(count_type(fx->s, "DocumentReference", NULL), 0);
    /* kept verbatim in the inbox, with its reason, for a replay */
    struct store_inbox_msg im;
    assert_int_equal(store_inbox_get(fx->s, r[1].inbox_id, true, &im), 0);
    assert_string_equal(im.outcome, INBOX_REJECTED);
    store_inbox_msg_clear(&im);
    for (int i = 0; i < 3; i++)
        ingest_result_release(&r[i]);
    buf_release(&big);
    free(a);
    free(c);
}

static void test_merge_unmerge(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    char *a = adt("RVV01", "M1", "301", NULL, "A01");
    char *b = adt("RVV01", "M2", "302", "9990000018", "A01");
    /* A is someone else on demographics too: with the same name and date of
     * birth the master person index would (rightly) join A and B on arrival,
     * and this test is about the A40 doing it. */
    char *pid = strstr(a, "Testpatient^Alex||19700101");
    assert_non_null(pid);
    memcpy(pid, "Walkinperson^Sam||19810203", 26);
    assert_int_equal(one(fx, a, &r), 0);
    ingest_result_release(&r);
    assert_int_equal(one(fx, b, &r), 0);
    ingest_result_release(&r);
    char *pa = NULL, *pb = NULL;
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "301", &pa), 0);
    assert_int_equal(store_person_find_nhs(fx->s, "9990000018", &pb), 0);
    assert_string_not_equal(pa, pb);
    assert_int_equal(count_type(fx->s, "Encounter", pa), 1);
    assert_int_equal(count_type(fx->s, "Encounter", pb), 1);

    const char *merge = "MSH|^~\\&|PAS|RVV01|WEFT|WEFT|20261124101500||ADT^A40^ADT_A39|M3|P|2.5\r"
                        "EVN|A40|20261124101500\r"
                        "PID|1||302^^^RVV01^MR||Testpatient^Alex||19700101|M\r"
                        "MRG|301^^^RVV01^MR\r";
    assert_int_equal(one(fx, merge, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    assert_true(r.merged);
    ingest_result_release(&r);
    assert_int_equal(count_type(fx->s, "Encounter", pa), 0);
    assert_int_equal(count_type(fx->s, "Encounter", pb), 2);
    assert_int_equal(count_type(fx->s, "Patient", pb), 2);
    char *sv = NULL;
    int64_t mid = 0;
    assert_int_equal(store_person_merged_into(fx->s, pa, &sv, &mid), 0);
    assert_string_equal(sv, pb);
    free(sv);
    /* the A40 went through the identity module: a decision naming the feed */
    struct store_iddecision *dl = NULL;
    int nd = 0;
    assert_int_equal(store_iddecision_list(fx->s, NULL, NULL, 10, &dl, &nd), 0);
    assert_int_equal(nd, 1);
    assert_string_equal(dl[0].action, "merge");
    assert_true(strncmp(dl[0].decided_by, "hl7:", 4) == 0);
    assert_int_equal(dl[0].merge_id, mid);
    store_iddecisions_free(dl, nd);
    /* the retired hospital number now leads to the survivor */
    char *p = NULL;
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "301", &p), 0);
    assert_string_equal(p, pb);
    free(p);
    /* the same A40 again is a duplicate, not a second merge */
    assert_int_equal(one(fx, merge, &r), 0);
    assert_string_equal(r.outcome, INBOX_DUPLICATE);
    ingest_result_release(&r);

    /* unmerge puts everything back */
    assert_int_equal(store_begin(fx->s), 0);
    assert_int_equal(store_person_unmerge(fx->s, mid), 0);
    assert_int_equal(store_commit(fx->s), 0);
    assert_int_equal(count_type(fx->s, "Encounter", pa), 1);
    assert_int_equal(count_type(fx->s, "Encounter", pb), 1);
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "301", &p), 0);
    assert_string_equal(p, pa);
    free(p);
    assert_int_equal(store_person_merged_into(fx->s, pa, &sv, &mid), WEFT_ENOTFOUND);
    struct store_merge *ml;
    int nm;
    assert_int_equal(store_person_merge_list(fx->s, 0, &ml, &nm), 0);
    assert_int_equal(nm, 1);
    assert_int_equal(ml[0].id, mid);
    assert_string_equal(ml[0].survivor, pb);
    assert_string_equal(ml[0].retired, pa);
    assert_string_equal(ml[0].source_org, "RVV");
    assert_non_null(ml[0].undone);
    store_merges_free(ml, nm);
    assert_int_equal(store_begin(fx->s), 0);
    assert_int_equal(store_person_unmerge(fx->s, mid), WEFT_ECONFLICT); /* already undone */
    store_rollback(fx->s);
    free(pa);
    free(pb);
    free(a);
    free(b);
}

/* HL7 A24 links two patients (the second's person into the first's) and
 * A37 unlinks them, both through the identity module with a decision each. */
static void test_link_unlink(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    char *a = adt("RVV01", "L1", "401", NULL, "A01");
    char *b = adt("RVV01", "L2", "402", NULL, "A01");
    /* different people on demographics: nothing links them but the A24 */
    char *pid = strstr(b, "Testpatient^Alex||19700101");
    assert_non_null(pid);
    memcpy(pid, "Walkinperson^Sam||19810203", 26);
    assert_int_equal(one(fx, a, &r), 0);
    ingest_result_release(&r);
    assert_int_equal(one(fx, b, &r), 0);
    ingest_result_release(&r);
    char *pa = NULL, *pb = NULL, *p = NULL;
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "401", &pa), 0);
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "402", &pb), 0);
    assert_string_not_equal(pa, pb);
    const char *link = "MSH|^~\\&|PAS|RVV01|WEFT|WEFT|20261124101500||ADT^A24^ADT_A24|L3|P|2.5\r"
                       "EVN|A24|20261124101500\r"
                       "PID|1||401^^^RVV01^MR||Testpatient^Alex||19700101|M\r"
                       "PID|2||402^^^RVV01^MR||Walkinperson^Sam||19810203|M\r";
    assert_int_equal(one(fx, link, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    ingest_result_release(&r);
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "402", &p), 0);
    assert_string_equal(p, pa);
    free(p);
    assert_int_equal(count_type(fx->s, "Encounter", pa), 2);
    const char *unlink = "MSH|^~\\&|PAS|RVV01|WEFT|WEFT|20261124101600||ADT^A37^ADT_A37|L4|P|2.5\r"
                         "EVN|A37|20261124101600\r"
                         "PID|1||401^^^RVV01^MR||Testpatient^Alex||19700101|M\r"
                         "PID|2||402^^^RVV01^MR||Walkinperson^Sam||19810203|M\r";
    assert_int_equal(one(fx, unlink, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    ingest_result_release(&r);
    assert_int_equal(store_person_find_local(fx->s, "RVV", "urn:weft:id:RVV:mr", "402", &p), 0);
    assert_string_equal(p, pb);
    free(p);
    assert_int_equal(count_type(fx->s, "Encounter", pa), 1);
    assert_int_equal(count_type(fx->s, "Encounter", pb), 1);
    struct store_iddecision *dl = NULL;
    int nd = 0;
    assert_int_equal(store_iddecision_list(fx->s, NULL, NULL, 10, &dl, &nd), 0);
    assert_int_equal(nd, 2);
    assert_string_equal(dl[0].action, "unmerge");
    assert_string_equal(dl[0].decided_by, "hl7:rvv-hl7v2 A37");
    assert_string_equal(dl[1].action, "merge");
    assert_string_equal(dl[1].decided_by, "hl7:rvv-hl7v2 A24");
    store_iddecisions_free(dl, nd);
    free(pa);
    free(pb);
    free(a);
    free(b);
}

static void test_commit_failed_ack(void **state)
{
    (void)state;
    struct ingest_result r;
    ingest_result_init(&r);
    char *m = adt("RVV01", "F1", "1", NULL, "A01");
    ingest_result_commit_failed(&r, m, strlen(m), "disk full");
    assert_string_equal(ack_code(&r), "AE");
    assert_non_null(strstr(r.ack.data, "MSA|AE|F1|"));
    assert_non_null(strstr(r.ack.data, "send it again"));
    ingest_result_release(&r);
    free(m);
}

/* A message whose MSH does not parse (three encoding characters) is filed
 * under the feed its readable MSH-4 names, with its MSH-9 and MSH-10. */
static void test_broken_msh_filed(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    const char *m = "MSH|^~&|PAS|RVV01|WEFT|WEFT|20261124101500||ADT^A01^ADT_A01|RTE0003|P|2.5\r"
                    "EVN|A01|20261124101500\r"
                    "PID|1||777^^^RVV01^MR||Testpatient^Alex||19700101|M\r";
    assert_int_equal(one(fx, m, &r), 0);
    assert_string_equal(ack_code(&r), "AR");
    assert_string_equal(r.outcome, INBOX_REJECTED);
    struct store_feed f;
    assert_int_equal(store_feed_by_facility(fx->s, "RVV01", &f), 0);
    assert_int_equal(r.feed_id, f.id);
    int64_t id = r.inbox_id;
    ingest_result_release(&r);
    struct store_inbox_msg row;
    assert_int_equal(store_inbox_get(fx->s, id, false, &row), 0);
    assert_int_equal(row.feed_id, f.id);
    assert_string_equal(row.control_id, "RTE0003");
    assert_string_equal(row.msg_type, "ADT^A01");
    assert_string_equal(row.sender, "RVV01");
    store_inbox_msg_clear(&row);
    store_feed_clear(&f);
}

/* Message lists: newest first by default (the limit keeps the newest),
 * oldest first on request, paged by id either way. */
static void test_list_order_paging(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char ctl[16];
        snprintf(ctl, sizeof ctl, "P%d", i);
        char *m = adt("RVV01", ctl, "301", NULL, "A01");
        assert_int_equal(one(fx, m, &r), 0);
        ids[i] = r.inbox_id;
        ingest_result_release(&r);
        free(m);
    }
    struct store_inbox_msg *ms;
    int n;
    struct store_inbox_filter f = {.limit = 2, .newest_first = true};
    assert_int_equal(store_inbox_list(fx->s, &f, &ms, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms[0].id, ids[4]);
    assert_int_equal(ms[1].id, ids[3]);
    f.before_id = ms[1].id; /* the next page */
    store_inbox_msgs_free(ms, n);
    assert_int_equal(store_inbox_list(fx->s, &f, &ms, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms[0].id, ids[2]);
    assert_int_equal(ms[1].id, ids[1]);
    store_inbox_msgs_free(ms, n);
    struct store_inbox_filter g = {.limit = 2, .after_id = ids[1]}; /* oldest first */
    assert_int_equal(store_inbox_list(fx->s, &g, &ms, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms[0].id, ids[2]);
    assert_int_equal(ms[1].id, ids[3]);
    store_inbox_msgs_free(ms, n);
}

/* Replays move a message's count: a message from a facility registered
 * afterwards counts as received and applied by its new feed (and no longer
 * as an unregistered refusal); a replayed rejection is not counted twice. */
static void test_replay_counts(void **state)
{
    struct fx *fx = *state;
    struct ingest_result r;
    char *m = adt("LATE01", "Q1", "401", NULL, "A01");
    assert_int_equal(one(fx, m, &r), 0);
    assert_int_equal(r.feed_id, 0);
    int64_t id = r.inbox_id;
    ingest_result_release(&r);
    free(m);
    struct store_feed_counts today, total, utoday, utotal;
    assert_int_equal(store_feed_counts_get(fx->s, 0, NULL, &utoday, &utotal), 0);
    assert_int_equal(utotal.received, 1);
    assert_int_equal(utotal.rejected, 1);
    char e[256];
    struct feed_spec late = {
        .org = "RVV", .kind = "hl7v2", .name = "rvv-late", .facility = "LATE01"};
    assert_int_equal(feed_registry_add(fx->s, &late, NULL, NULL, e, sizeof e), 0);
    struct store_feed f;
    assert_int_equal(store_feed_by_facility(fx->s, "LATE01", &f), 0);
    ingest_result_init(&r);
    assert_int_equal(ingest_replay(fx->ig, id, &r), 0);
    assert_string_equal(r.outcome, INBOX_APPLIED);
    ingest_result_release(&r);
    assert_int_equal(store_feed_counts_get(fx->s, f.id, NULL, &today, &total), 0);
    assert_int_equal(total.received, 1);
    assert_int_equal(total.applied, 1);
    assert_int_equal(total.rejected, 0);
    assert_int_equal(store_feed_counts_get(fx->s, 0, NULL, &utoday, &utotal), 0);
    assert_int_equal(utotal.received, 0);
    assert_int_equal(utotal.rejected, 0);
    store_feed_clear(&f);
    /* the feed has a last arrival now */
    assert_int_equal(store_feed_by_facility(fx->s, "LATE01", &f), 0);
    assert_non_null(f.last_received);
    store_feed_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_applied_then_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_msh_filed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_order_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_rejection_rolls_back_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_batch_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_batch_many_facilities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_unmerge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_unlink, setup, teardown),
        cmocka_unit_test(test_commit_failed_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
