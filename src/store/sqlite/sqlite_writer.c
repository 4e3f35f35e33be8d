/*
 * sqlite_writer.c - a dedicated writer's upkeep (store_writer): the
 * write-ahead log is copied into the database off the writer's path.
 *
 * A checkpoint copies and fsyncs database pages; done at commit (SQLite's
 * auto-checkpoint) it would hold up every acknowledgement of a feed batch.
 * So the writer's connection never checkpoints, and a thread of this
 * backend, on a connection of its own, runs a passive checkpoint every
 * 200 ms - passive checkpoints never block the writer - and a last one
 * when the writer's handle is closed.
 *
 * Passive checkpoints alone let the log grow without end under a steady
 * feed: the log starts again from its beginning only when a writer finds
 * every frame of it copied, and with a commit every few milliseconds a
 * checkpoint never catches the last one.  On a full disk that is fatal: the
 * log takes the space that was freed, the checkpoint can no longer grow the
 * database file to copy it, and nothing is stored again until someone frees
 * more (ops_disk_full.py saw the log go from 6 to 21 MB in 1.4 s after space
 * returned, and stay there).  So once the log holds CKPT_RESTART_FRAMES
 * frames, the checkpointer runs a RESTART checkpoint: it holds writers back
 * while it copies the rest and waits for readers to leave the log, so that
 * the next commit writes from the log's start.  It waits at most
 * CKPT_RESTART_WAIT_MS (a long read - a bulk export, an analytics refresh -
 * makes it give up and try again next time) and writers wait that long at
 * most.
 */
#include <assert.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "store/sqlite/sqlite_core.h"

#define CKPT_EVERY_MS 200
/* SQLite's own auto-checkpoint default (pages: 4 MB of 4 KiB pages). */
#define CKPT_RESTART_FRAMES 1000
#define CKPT_RESTART_WAIT_MS 250

struct sqlite_ckpt {
    struct store *s; /* the checkpointer's own handle */
    struct ticker *ticker;
    int restarted_at; /* the log's frame count when a RESTART last succeeded */
};

/* A passive checkpoint: copy what can be copied now without waiting for
 * anyone (busy: another checkpoint runs; the next one catches up).  The
 * log's frame count in *frames (-1 when unknown). */
static int checkpoint_passive(struct sqlite_store *ss, int *frames)
{
    int log = -1, done = -1;
    int rc = sqlite3_wal_checkpoint_v2(ss->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (frames)
        *frames = log;
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return WEFT_OK;
    return sqlite_fail(ss, "checkpoint");
}

/* The log is long: copy the rest and have the next commit start it again
 * (see the top of the file).  Busy (a reader stayed past the wait) is not
 * an error: the next round tries again. */
static int checkpoint_restart(struct sqlite_ckpt *k, int frames)
{
    struct sqlite_store *ss = sqlite_of(k->s);
    sqlite3_busy_timeout(ss->db, CKPT_RESTART_WAIT_MS);
    int rc = sqlite3_wal_checkpoint_v2(ss->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    sqlite3_busy_timeout(ss->db, 5000);
    if (rc == SQLITE_OK) {
        k->restarted_at = frames;
        metrics_add("weft_job_runs_total", "job=\"wal-restart\",result=\"ok\"", 1);
        log_debug("store", "checkpoint: the log (%d frames) starts again", frames);
        return WEFT_OK;
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        metrics_add("weft_job_runs_total", "job=\"wal-restart\",result=\"busy\"", 1);
        return WEFT_OK;
    }
    metrics_add("weft_job_runs_total", "job=\"wal-restart\",result=\"failed\"", 1);
    return sqlite_fail(ss, "checkpoint (restart)");
}

/* One round: passive, then a RESTART if the log has grown long since the
 * last one (a log left long with no commit since needs none). */
static int checkpoint_round(struct sqlite_ckpt *k)
{
    int frames = -1;
    int rc = checkpoint_passive(sqlite_of(k->s), &frames);
    metrics_add("weft_job_runs_total",
                rc == 0 ? "job=\"wal-checkpoint\",result=\"ok\""
                        : "job=\"wal-checkpoint\",result=\"failed\"",
                1);
    if (rc == 0 && frames >= CKPT_RESTART_FRAMES && frames != k->restarted_at)
        rc = checkpoint_restart(k, frames);
    return rc;
}

static long ckpt_tick(void *arg)
{
    struct sqlite_ckpt *k = arg;
    if (checkpoint_round(k) != 0)
        log_warn("store", "checkpoint failed: %s", store_errmsg(k->s));
    return CKPT_EVERY_MS;
}

int sqlite_writer(struct store *s)
{
    struct sqlite_store *ss = sqlite_of(s);
    assert(s->txn_depth == 0); /* not inside a transaction: the checkpointer opens its own handle */
    if (ss->ckpt)
        return WEFT_OK;
    struct sqlite_ckpt *k = xcalloc(1, sizeof *k);
    char *err = NULL;
    int rc = sqlite_store_open(&k->s, ss->path, false, &err);
    if (rc != 0) {
        rc = store_fail(s, rc, "checkpointer: %s", err ? err : "cannot open the database");
        free(err);
        free(k);
        return rc;
    }
    if (sqlite3_wal_autocheckpoint(ss->db, 0) != SQLITE_OK) {
        store_close(k->s);
        free(k);
        return sqlite_fail(ss, "checkpoint");
    }
    struct ticker_job job = {"weft-checkpoint", NULL, ckpt_tick, NULL, k, CKPT_EVERY_MS};
    if (ticker_start(&k->ticker, &job) != 0) {
        sqlite3_wal_autocheckpoint(ss->db, 1000);
        store_close(k->s);
        free(k);
        return store_fail(s, WEFT_EINTERNAL, "cannot start the checkpointer thread");
    }
    ss->ckpt = k;
    return WEFT_OK;
}

void sqlite_writer_stop(struct sqlite_store *ss)
{
    struct sqlite_ckpt *k = ss->ckpt;
    if (!k)
        return;
    ticker_stop(k->ticker);
    checkpoint_passive(sqlite_of(k->s), NULL); /* the last batches' frames */
    store_close(k->s);
    free(k);
    ss->ckpt = NULL;
}
