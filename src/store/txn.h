/*
 * txn.h - transactions: the transaction object every batching writer uses
 * (begin with a bounded retry while busy, a savepoint per item, broken-
 * transaction detection, commit, rollback), the handle's own begin/commit/
 * rollback and savepoints beneath it.
 */
#ifndef WEFT_STORE_TXN_H
#define WEFT_STORE_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- the transaction object ----------------------------------------------
 *
 * Every writer that groups work (the MLLP writer's batches, the CSV sink's
 * batches of rows, the loader's bundles and groups of files, ingest's
 * messages) uses one struct store_txn:
 *
 *     struct store_txn t;
 *     int rc = store_txn_begin(&t, s);          // retries while busy
 *     for each item:
 *         rc = store_txn_item(&t);              // a savepoint
 *         ... writes ...
 *         rc = store_txn_check(&t, rc);         // a broken store ends it all
 *         rc = store_txn_item_end(&t, rc == 0); // keep or undo the item
 *     rc = rc ? (store_txn_rollback(&t), rc) : store_txn_commit(&t);
 *
 * A transaction is broken when an operation in it failed with an error that
 * means the store itself failed (store_broken(): database, busy, I/O,
 * memory, internal) or when the backend no longer has it open: it is then
 * rolled back at once, whole, and every later call on it returns that
 * error, so nothing of a broken batch is ever half committed.  Other errors
 * (a rejected item) leave it usable: undo that item with
 * store_txn_item_end(t, false).
 *
 * Caller-owned (usually on the stack); one open per handle; the fields are
 * store_txn.c's.  Code running inside a transaction it did not begin (the
 * loader, nested; ingest's messages) finds it with store_txn_current(); a
 * transaction begun with store_begin() has an object too (the handle's). */
struct store_txn {
    struct store *s;
    int items;  /* item savepoints open */
    int broken; /* the error that broke it; 0 while usable */
    bool open;  /* begun, not yet committed or rolled back */
};

/* Whether error rc means the store failed (the transaction it happened in
 * is lost or unusable): WEFT_EDB, WEFT_EBUSY, WEFT_EIO, WEFT_ENOMEM,
 * WEFT_EINTERNAL. */
bool store_broken(int rc);

/* The number of the transaction open on s (store_begin or store_txn_begin),
 * unique in the process; 0 when none is open. */
unsigned long store_txn_serial(const struct store *s);

/* How often and how long store_txn_begin waits for a busy store: up to
 * STORE_TXN_BUSY_TRIES more tries, the waits doubling from 1 ms to at most
 * STORE_TXN_BUSY_MAX_MS (about 0.7 s in all, beside the backend's own busy
 * wait). */
#define STORE_TXN_BUSY_TRIES 20
#define STORE_TXN_BUSY_MAX_MS 64

/* Begin a transaction on s into t, retrying while the store is busy
 * (WEFT_EBUSY).  On failure t is not open (store_txn_rollback is harmless). */
int store_txn_begin(struct store_txn *t, struct store *s);
/* The transaction open on s, or NULL. */
struct store_txn *store_txn_current(struct store *s);
/* Open a savepoint for one item (items nest). */
int store_txn_item(struct store_txn *t);
/* End the innermost item: keep its writes, or undo them (roll back to its
 * savepoint).  On a broken transaction: its error. */
int store_txn_item_end(struct store_txn *t, bool keep);
/* Pass rc of an operation inside t through: when store_broken(rc), or the
 * backend lost the transaction, t is rolled back and broken.  Returns rc. */
int store_txn_check(struct store_txn *t, int rc);
/* 0 while t is usable, else the error that broke it. */
int store_txn_broken(const struct store_txn *t);
/* Commit (every item must be ended).  When the commit fails t is rolled
 * back; a broken t returns its error.  Either way t is closed. */
int store_txn_commit(struct store_txn *t);
/* Roll back whatever of t is open (nothing when closed or broken). */
void store_txn_rollback(struct store_txn *t);

/* Whether an operation on s failed, since the last store_race_clear(s), in
 * a way two writers in flight at once can cause - on PostgreSQL, whose
 * writers overlap (store/pg/pg_int.h): a deadlock, a serialisation
 * failure, a lock wait given up, a unique violation (two writers made the
 * same row), a version replaced meanwhile.  Such a failure may have been
 * taken for the item's own (an item undone, a message answered AE): a
 * writer that groups work rolls the whole transaction back and does it
 * again once when this is true, before committing or answering (the MLLP
 * writer, the loader).  Never set on SQLite, whose writers take turns. */
bool store_raced(const struct store *s);
void store_race_clear(struct store *s);

/* ---- a unit of work done again once when it met another writer ----------
 *
 * The one retry rule of every writer whose unit of work is one transaction
 * (a FHIR API Bundle, a citizen's contribution or objection, a policy
 * version, a person command): begun, done, and - when it met another
 * writer (store_raced, or the test build's failpoint store-unit-raced)
 * - rolled back, whole, and done again once from the start, before
 * anything is answered.  A second race rolls it back too and ends it with
 * WEFT_EBUSY ("met another writer twice: try again"), so its caller answers
 * "try again" (HTTP 503 with Retry-After) and nothing of it is stored.
 * Each retry adds 1 to weft_store_retries_total{writer=...}.
 *
 *     static int work(struct store *s, void *arg, int attempt)
 *     {
 *         ... attempt > 0: start again from the input (reset the outputs) ...
 *         return rc; // 0: commit; else roll back and return rc
 *     }
 *     rc = store_txn_run(s, "api", work, &state);
 *
 * work must write only through s, in the transaction it is given (it must
 * not commit it), and leave anything it keeps outside the store (counters,
 * answers, audit entries written on another handle) to its caller, after
 * store_txn_run returns: what an attempt did is undone whole.  The race
 * flag is cleared before each attempt.  A failure of work that is not a
 * race (rc != 0, !store_raced) is returned as it is, the transaction rolled
 * back.  Code that cannot be a function (mpi.c's expression bodies) uses
 * the two halves: store_txn_unit_begin / store_txn_unit_end. */
typedef int (*store_txn_work)(struct store *s, void *arg, int attempt);
int store_txn_run(struct store *s, const char *writer, store_txn_work work, void *arg);

/* Returned by store_txn_unit_end when the attempt is to be done again (a
 * positive number: never an error code). */
#define STORE_TXN_AGAIN 1
/* Attempt number attempt (0, then 1) of a unit: clears the race flag and
 * begins t (store_txn_begin). */
int store_txn_unit_begin(struct store_txn *t, struct store *s, int attempt);
/* End attempt number attempt whose work returned rc: commit when rc is 0
 * and it met no other writer; roll back otherwise.  Returns
 * STORE_TXN_AGAIN (first attempt raced: rolled back, counted for writer -
 * begin it again), WEFT_EBUSY (the second raced too), the commit's result,
 * or rc. */
int store_txn_unit_end(struct store_txn *t, int rc, int attempt, const char *writer);

/* ---- the handle's own transaction (the calls store_txn_* make) -----------
 * Writes outside an explicit transaction run in their own.  Prefer the
 * transaction object above wherever work is grouped. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* Savepoints inside an open transaction.  name: [a-z0-9_]+. */
int store_savepoint(struct store *s, const char *name);
int store_release(struct store *s, const char *name);
int store_rollback_to(struct store *s, const char *name);

#endif
