/*
 * store_txn.c - the transaction object (store/txn.h) over any backend's
 * begin/commit/rollback and savepoints, and the dispatchers of those.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/failpoint.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/store_int.h"

/* The transaction object of s no longer has a transaction under it. */
static void detach(struct store *s)
{
    s->keys_locked = 0;
    s->holds_shared = false;
    if (s->txn) {
        s->txn->open = false;
        s->txn->items = 0;
        s->txn = NULL;
    }
}

/* A transaction begun with store_begin() has the handle's own object, so
 * code running inside any transaction finds one (store_txn_current). */
int store_begin(struct store *s)
{
    int rc = STORE_CALL0(s, txn, begin);
    if (rc == 0)
        s->keys_locked = 0, s->holds_shared = false;
    if (rc == 0 && !s->txn) {
        s->own = (struct store_txn){.s = s, .open = true};
        s->txn = &s->own;
    }
    return rc;
}

int store_commit(struct store *s)
{
    int rc = STORE_CALL0(s, txn, commit);
    if (rc == 0)
        detach(s);
    return rc;
}

int store_rollback(struct store *s)
{
    detach(s);
    return STORE_CALL0(s, txn, rollback);
}

bool store_raced(const struct store *s)
{
    return s->raced;
}

void store_race_clear(struct store *s)
{
    s->raced = false;
}

bool store_broken(int rc)
{
    return rc == WEFT_EDB || rc == WEFT_EBUSY || rc == WEFT_EIO || rc == WEFT_ENOMEM ||
           rc == WEFT_EINTERNAL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int store_txn_begin(struct store_txn *t, struct store *s)
{
    assert(t && s);
    *t = (struct store_txn){.s = s};
    if (s->txn)
        return store_fail(s, WEFT_EINVAL, "a transaction is already open on this handle");
    int rc = STORE_CALL0(s, txn, begin);
    for (int tries = 0, wait = 1; rc == WEFT_EBUSY && tries < STORE_TXN_BUSY_TRIES; tries++) {
        sleep_ms(wait);
        wait = wait * 2 > STORE_TXN_BUSY_MAX_MS ? STORE_TXN_BUSY_MAX_MS : wait * 2;
        rc = STORE_CALL0(s, txn, begin);
    }
    if (rc != 0)
        return rc;
    t->open = true;
    s->txn = t;
    s->keys_locked = 0;
    s->holds_shared = false;
    return WEFT_OK;
}

struct store_txn *store_txn_current(struct store *s)
{
    return s->txn;
}

/* Item savepoints are named by depth: one name per nesting level. */
static void item_name(char *out, size_t cap, int depth)
{
    snprintf(out, cap, "txn_item_%d", depth);
}

/* Break t with rc: roll back all of it now. */
static int break_txn(struct store_txn *t, int rc)
{
    assert(rc != 0);
    if (t->open) {
        assert(t->s->txn == t);
        store_rollback(t->s);
    }
    t->open = false;
    t->items = 0;
    t->broken = rc;
    return rc;
}

int store_txn_check(struct store_txn *t, int rc)
{
    if (t->broken)
        return rc ? rc : t->broken;
    if (!t->open)
        return rc;
    if (rc != 0 && store_broken(rc))
        return break_txn(t, rc);
    const struct store_txn_ops *ops = t->s->ops->txn;
    if (ops && ops->alive && !ops->alive(t->s))
        return break_txn(t, rc ? rc : store_fail(t->s, WEFT_EDB, "the transaction was lost"));
    return rc;
}

int store_txn_broken(const struct store_txn *t)
{
    return t->broken;
}

int store_txn_item(struct store_txn *t)
{
    if (t->broken)
        return t->broken;
    if (!t->open)
        return store_fail(t->s, WEFT_EINVAL, "savepoint outside a transaction");
    char name[24];
    item_name(name, sizeof name, t->items + 1);
    int rc = store_txn_check(t, store_savepoint(t->s, name));
    if (rc == 0)
        t->items++;
    return rc;
}

int store_txn_item_end(struct store_txn *t, bool keep)
{
    if (t->broken)
        return t->broken;
    assert(t->open && t->items > 0);
    char name[24];
    item_name(name, sizeof name, t->items);
    t->items--;
    int rc = 0;
    if (!keep)
        rc = store_rollback_to(t->s, name);
    int rc2 = store_release(t->s, name);
    return store_txn_check(t, rc ? rc : rc2);
}

int store_txn_commit(struct store_txn *t)
{
    if (t->broken)
        return t->broken;
    if (!t->open)
        return store_fail(t->s, WEFT_EINVAL, "commit without a transaction");
    assert(t->items == 0 && t->s->txn == t);
    int rc = store_commit(t->s);
    if (rc != 0)
        store_rollback(t->s); /* also closes t */
    assert(!t->open && t->s->txn != t);
    return rc;
}

void store_txn_rollback(struct store_txn *t)
{
    if (t->open) {
        assert(t->s->txn == t);
        store_rollback(t->s);
    }
    t->open = false;
    t->items = 0;
}

/* ---- a unit of work done again once when it met another writer ---------- */

int store_txn_unit_begin(struct store_txn *t, struct store *s, int attempt)
{
    (void)attempt;
    store_race_clear(s);
    return store_txn_begin(t, s);
}

/* Whether attempt met another writer: store_raced, or (test build) the
 * failpoints that take every unit's first attempt - or both attempts of
 * the FHIR API's Bundles (writer "api": its 503) - as raced. */
static bool unit_raced(const struct store *s, int attempt, const char *writer)
{
    if (store_raced(s))
        return true;
    if (FAILPOINT("store-unit-raced-twice") && writer && strcmp(writer, "api") == 0)
        return true;
    return attempt == 0 && FAILPOINT("store-unit-raced");
}

int store_txn_unit_end(struct store_txn *t, int rc, int attempt, const char *writer)
{
    struct store *s = t->s;
    bool raced = unit_raced(s, attempt, writer);
    if (rc == 0 && !raced) {
        rc = store_txn_commit(t); /* rolled back when it fails */
        if (rc == 0 || !store_raced(s))
            return rc;
        raced = true; /* the commit met another writer (a serialisation failure) */
    }
    store_txn_rollback(t);
    if (!raced)
        return rc;
    /* the error's kind, not the database's message: a unique violation's
     * detail names the key's value, which may be a patient's identifier */
    const char *why = rc ? weft_strerror(rc) : "a failure taken for its own";
    if (attempt == 0) {
        char labels[80];
        char wv[48];
        metrics_label_value(wv, sizeof wv, writer ? writer : "-");
        snprintf(labels, sizeof labels, "writer=\"%s\"", wv);
        metrics_add("weft_store_retries_total", labels, 1);
        log_info("store", "%s unit met another writer (%s); doing it again", writer, why);
        return STORE_TXN_AGAIN;
    }
    log_warn("store", "%s unit met another writer twice (%s); nothing of it was stored", writer,
             why);
    return store_fail(s, WEFT_EBUSY,
                      "the write met another writer twice: nothing of it was "
                      "stored; try again");
}

int store_txn_run(struct store *s, const char *writer, store_txn_work work, void *arg)
{
    assert(s && work);
    for (int attempt = 0;; attempt++) {
        struct store_txn t;
        int rc = store_txn_unit_begin(&t, s, attempt);
        if (rc != 0)
            return rc;
        rc = work(s, arg, attempt);
        rc = store_txn_unit_end(&t, rc, attempt, writer);
        if (rc != STORE_TXN_AGAIN)
            return rc;
    }
}

/* Savepoint names go into SQL text: keep them to a safe alphabet. */
static bool savepoint_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 40)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

int store_savepoint(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, savepoint, name);
}

int store_release(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, release, name);
}

int store_rollback_to(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, rollback_to, name);
}
