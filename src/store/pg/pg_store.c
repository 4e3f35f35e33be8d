/*
 * pg_store.c - the PostgreSQL backend's handle: connecting (and saying
 * clearly why not), the prepared-statement cache, parameters, errors,
 * transactions, savepoints, bulk mode.
 *
 * Connection strings: everything libpq accepts - postgres://USER[:PW]@HOST:
 * PORT/DB, postgresql://..., and the keyword form "host=/socket/dir port=5432
 * dbname=weft user=weft" (store_open() decides which strings are ours).
 * Messages name the server as host:port/db and never repeat the string,
 * which may hold a password.
 *
 * Statements: every statement runs prepared (PQprepare once per connection,
 * then PQexecPrepared), so the steady state of a handle is one round trip
 * per statement without parsing or planning.  The cache is a small array
 * scanned linearly like the SQLite backend's: static SQL hits by pointer,
 * built SQL (search) by text; an evicted slot's statement is DEALLOCATEd.
 *
 * Durability: synchronous_commit stays on (a commit returns once its WAL is
 * flushed on the server), except in bulk mode (store_bulk), where commits
 * return at once and leaving bulk mode makes one synchronous commit, which
 * waits for all earlier WAL too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/pg/pg_int.h"

extern const struct store_ops pg_ops;

/* ---- parameters -------------------------------------------------------------------- */

static int p_slot(struct pg_params *p)
{
    /* more parameters than PG_MAXP is a programmer error in this backend */
    if (p->n >= PG_MAXP)
        abort();
    return p->n++;
}

void pg_array_add(struct buf *b, const char *s)
{
    if (b->len > 0 && b->data[b->len - 1] != '{')
        buf_addc(b, ',');
    if (!s) {
        buf_adds(b, "NULL");
        return;
    }
    buf_addc(b, '"');
    /* the runs between characters to escape copied whole (a call a
     * character was ~3.5% of the server's CPU a search: the audit writer's
     * arrays) */
    for (const char *c = s; *c;) {
        size_t n = strcspn(c, "\"\\");
        buf_add(b, c, n);
        c += n;
        if (*c) {
            buf_addc(b, '\\');
            buf_addc(b, *c++);
        }
    }
    buf_addc(b, '"');
}

void pg_p_text(struct pg_params *p, const char *s)
{
    int i = p_slot(p);
    p->v[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pg_p_int(struct pg_params *p, int64_t v)
{
    int i = p_slot(p);
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pg_p_bool(struct pg_params *p, bool v)
{
    pg_p_text(p, v ? "t" : "f");
}

void pg_p_bytes(struct pg_params *p, const void *data, int len)
{
    int i = p_slot(p);
    p->v[i] = data;
    p->len[i] = len;
    p->fmt[i] = 1;
}

/* ---- errors ------------------------------------------------------------------------ */

/* libpq messages end with a newline and may span lines: one line. */
static void one_line(char *m)
{
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = 0;
    for (char *c = m; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
}

int pg_fail(struct pg_store *ps, const char *what, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[400];
    if (state && strncmp(state, "23", 2) == 0 && primary)
        /* an integrity violation's detail names the key's value or the
         * failing row ("Key (nhs)=(...)"): a patient's data, which the
         * message must not carry into logs and answers */
        snprintf(msg, sizeof msg, "ERROR: %s (SQLSTATE %s)", primary, state);
    else
        snprintf(msg, sizeof msg, "%s",
                 r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                               : PQerrorMessage(ps->conn));
    one_line(msg);
    int code = WEFT_EDB;
    if (state && strcmp(state, "23505") == 0)
        code = WEFT_EEXIST;
    else if (state && (strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0 ||
                       strcmp(state, "40001") == 0))
        code = WEFT_EBUSY;
    if (code != WEFT_EDB)
        ps->base.raced = true; /* what two writers meeting can cause (store_raced) */
    if (PQstatus(ps->conn) == CONNECTION_BAD)
        return store_fail(&ps->base, WEFT_EDB, "%s: lost the connection to PostgreSQL at %s: %s",
                          what, ps->where, msg);
    return store_fail(&ps->base, code, "%s: %s", what, msg);
}

/* ---- statements -------------------------------------------------------------------- */

static struct pg_stmt_slot *cache_get(struct pg_store *ps, const char *sql, bool by_pointer,
                                      int nparams, int *rc_out)
{
    struct pg_stmt_slot *victim = &ps->cache[0];
    ps->clock++;
    for (int i = 0; by_pointer && i < PG_STMT_CACHE && ps->cache[i].sql; i++) {
        if (ps->cache[i].key == sql) {
            ps->cache[i].used = ps->clock;
            return &ps->cache[i];
        }
    }
    for (int i = 0; i < PG_STMT_CACHE; i++) {
        struct pg_stmt_slot *sl = &ps->cache[i];
        if (sl->sql && strcmp(sl->sql, sql) == 0) {
            sl->used = ps->clock;
            if (by_pointer)
                sl->key = sql;
            return sl;
        }
        if (!sl->sql || sl->used < victim->used)
            victim = sl;
        if (!sl->sql)
            break;
    }
    char name[24];
    int n = ++ps->next_name;
    snprintf(name, sizeof name, "w%d", n);
    PGresult *r = PQprepare(ps->conn, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int rc = pg_fail(ps, "preparing statement", r);
        PQclear(r);
        if (rc_out)
            *rc_out = rc;
        return NULL;
    }
    PQclear(r);
    if (victim->sql) {
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE w%d", victim->n);
        PQclear(PQexec(ps->conn, dealloc));
        free(victim->sql);
    }
    victim->sql = xstrdup(sql);
    victim->key = by_pointer ? sql : NULL;
    victim->n = n;
    victim->used = ps->clock;
    return victim;
}

static const char session_sql[] = "SET client_encoding = 'UTF8'; SET bytea_output = 'hex';"
                                  " SET client_min_messages = warning; SET lock_timeout = '30s';"
                                  " SET synchronous_commit = on";

/*
 * A lost connection (the server restarted or failed over, the network
 * broke) is made again before the handle's next statement outside a
 * transaction: what was lost with it - the prepared statements, the
 * single-runner jobs' locks (pg_job_lock asks the server) - is gone, and
 * the session is set up again.
 * Inside a transaction the transaction is lost with the connection: that
 * statement fails (the caller rolls back, a feed sender gets no positive
 * acknowledgement), and the next transaction reconnects.  While the server
 * is down every attempt fails at once with libpq's reason.
 */
static int pg_ready(struct pg_store *ps)
{
    if (PQstatus(ps->conn) == CONNECTION_OK)
        return WEFT_OK;
    if (ps->base.txn_depth > 0)
        return store_fail(&ps->base, WEFT_EDB,
                          "lost the connection to PostgreSQL at %s: the transaction is lost",
                          ps->where);
    PQreset(ps->conn);
    if (PQstatus(ps->conn) != CONNECTION_OK) {
        char m[400];
        snprintf(m, sizeof m, "%s", PQerrorMessage(ps->conn));
        one_line(m);
        return store_fail(&ps->base, WEFT_EDB,
                          "lost the connection to PostgreSQL at %s and cannot reconnect: %s",
                          ps->where, m);
    }
    for (int i = 0; i < PG_STMT_CACHE; i++) {
        free(ps->cache[i].sql);
        memset(&ps->cache[i], 0, sizeof ps->cache[i]);
    }
    ps->since[0] = 0; /* a new session (writer_begin) */
    /* the session's LISTEN went with the connection, and with it whatever
     * client changes were notified meanwhile */
    pg_client_cache_clear(ps);
    pg_patient_forget(ps, NULL);
    int rc = pg_exec(ps, session_sql);
    if (rc == 0 && ps->bulk)
        rc = pg_exec(ps, "SET synchronous_commit = off");
    if (rc == 0)
        log_info("store", "reconnected to PostgreSQL at %s", ps->where);
    return rc;
}

/*
 * Deferred statements.  A bundle of a load is a savepoint of the load's
 * transaction: SAVEPOINT before it, RELEASE after, two round trips that
 * return nothing the caller needs.  They wait in ps->deferred and go to the
 * server in one pipeline (libpq pipeline mode) with the next statement, so
 * each costs no round trip of its own.  The server runs them in order before
 * that statement; an error in one is reported by that statement (whose
 * transaction then only rolls back) - they can fail only when the
 * transaction has already failed, and pg_savepoint sends at once then.
 * Every path to the server sends them first: run() and pg_exec() here,
 * commit, and pg_flush() for code that calls libpq itself; a rollback drops
 * them (what they would mark is rolled back).
 */

/* The deferred statements, then the n prepared statements names[i] with
 * p[i], in one pipeline.  out[i] gets statement i's result; on an error
 * every out[i] is NULL and the error is returned. */
static int pipeline_many(struct pg_store *ps, int n, const char *const *names,
                         const struct pg_params *const *p, PGresult **out)
{
    int nq = ps->ndeferred, rc = WEFT_OK;
    ps->ndeferred = 0;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (!PQenterPipelineMode(ps->conn)) {
        rc = pg_fail(ps, "entering pipeline mode", NULL);
        goto out;
    }
    bool sent = true;
    for (int i = 0; i < nq && sent; i++) {
        const struct pg_deferred *d = &ps->deferred[i];
        sent = d->sql[0] ? PQsendQueryParams(ps->conn, d->sql, 0, NULL, NULL, NULL, NULL, 0)
                         : PQsendQueryPrepared(ps->conn, d->name, d->n, (const char *const *)d->v,
                                               d->len, d->fmt, 0);
    }
    for (int i = 0; i < n && sent; i++)
        sent = PQsendQueryPrepared(ps->conn, names[i], p[i]->n, p[i]->v, p[i]->len, p[i]->fmt, 0);
    if (!sent || !PQpipelineSync(ps->conn)) {
        rc = pg_fail(ps, "sending a pipeline", NULL);
        PQexitPipelineMode(ps->conn);
        goto out;
    }
    for (int q = 0; q < nq + n; q++) {
        PGresult *r;
        while ((r = PQgetResult(ps->conn))) {
            ExecStatusType st = PQresultStatus(r);
            bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            if (ok && q >= nq && rc == WEFT_OK && !out[q - nq]) {
                out[q - nq] = r;
                continue;
            }
            if (!ok && rc == WEFT_OK)
                rc = pg_fail(ps, q < nq ? "deferred statement" : "running statement", r);
            PQclear(r);
        }
    }
    PGresult *sync = PQgetResult(ps->conn); /* PGRES_PIPELINE_SYNC */
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == WEFT_OK)
        rc = pg_fail(ps, "ending a pipeline", sync);
    PQclear(sync);
    if (!PQexitPipelineMode(ps->conn) && rc == WEFT_OK)
        rc = pg_fail(ps, "leaving pipeline mode", NULL);
out:
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < ps->deferred[i].n; j++)
            free(ps->deferred[i].v[j]);
    for (int i = 0; rc != WEFT_OK && i < n; i++) {
        PQclear(out[i]);
        out[i] = NULL;
    }
    return rc;
}

/* The deferred statements, then the prepared statement name (when given)
 * with p, in one pipeline.  Returns the prepared statement's result (NULL
 * when none was given or on error, *rc_out set). */
static PGresult *pipeline(struct pg_store *ps, const char *name, const struct pg_params *p,
                          int *rc_out)
{
    PGresult *last = NULL;
    int rc = pipeline_many(ps, name ? 1 : 0, &name, &p, &last);
    if (rc_out)
        *rc_out = rc;
    return last;
}

int pg_flush(struct pg_store *ps)
{
    if (ps->ndeferred == 0)
        return WEFT_OK;
    int rc;
    pipeline(ps, NULL, NULL, &rc);
    return rc;
}

/* Whether a statement may wait: a transaction of the caller's is open and
 * healthy.  Makes room in the queue. */
static bool may_defer(struct pg_store *ps, int *rc)
{
    *rc = WEFT_OK;
    if (ps->base.txn_depth == 0 || PQtransactionStatus(ps->conn) != PQTRANS_INTRANS)
        return false;
    if (ps->ndeferred == PG_DEFER_MAX && (*rc = pg_flush(ps)) != 0)
        return false;
    return true;
}

/* Defer sql (a savepoint statement, no parameters); or run it now. */
static int defer(struct pg_store *ps, const char *sql)
{
    int rc;
    if (!may_defer(ps, &rc))
        return rc ? rc : pg_exec(ps, sql);
    struct pg_deferred *d = &ps->deferred[ps->ndeferred++];
    snprintf(d->sql, sizeof d->sql, "%s", sql);
    d->n = 0;
    return WEFT_OK;
}

static void drop_deferred(struct pg_store *ps)
{
    for (int i = 0; i < ps->ndeferred; i++)
        for (int j = 0; j < ps->deferred[i].n; j++)
            free(ps->deferred[i].v[j]);
    ps->ndeferred = 0;
}

static PGresult *run(struct pg_store *ps, const char *sql, const struct pg_params *p,
                     bool by_pointer, int *rc_out)
{
    static const struct pg_params none;
    if (!p)
        p = &none;
    if (rc_out)
        *rc_out = WEFT_OK;
    int rrc = pg_ready(ps);
    if (rrc != 0) {
        if (rc_out)
            *rc_out = rrc;
        return NULL;
    }
    struct pg_stmt_slot *sl = cache_get(ps, sql, by_pointer, p->n, rc_out);
    if (!sl) {
        if (rc_out && *rc_out == WEFT_OK)
            *rc_out = WEFT_EDB;
        return NULL;
    }
    char name[24];
    snprintf(name, sizeof name, "w%d", sl->n);
    if (ps->ndeferred > 0)
        return pipeline(ps, name, p, rc_out);
    PGresult *r = PQexecPrepared(ps->conn, name, p->n, p->v, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    int rc = pg_fail(ps, "running statement", r);
    PQclear(r);
    if (rc_out)
        *rc_out = rc;
    return NULL;
}

int pg_run_many(struct pg_store *ps, int n, const char *const *sql,
                const struct pg_params *const *p, PGresult **out)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    int rc = pg_ready(ps);
    if (rc != 0)
        return rc;
    char(*names)[24] = xcalloc((size_t)(n > 0 ? n : 1), sizeof *names);
    for (int i = 0; i < n; i++) {
        /* prepared on first use (its own round trip, once per connection);
         * the slots just used are the newest, so none is evicted here */
        struct pg_stmt_slot *sl = cache_get(ps, sql[i], true, p[i]->n, &rc);
        if (!sl) {
            free(names);
            return rc ? rc : WEFT_EDB;
        }
        snprintf(names[i], sizeof names[i], "w%d", sl->n);
    }
    const char **np = xcalloc((size_t)(n > 0 ? n : 1), sizeof *np);
    for (int i = 0; i < n; i++)
        np[i] = names[i];
    rc = pipeline_many(ps, n, np, p, out);
    free(np);
    free(names);
    return rc;
}

PGresult *pg_run(struct pg_store *ps, const char *sql, const struct pg_params *p, int *rc_out)
{
    return run(ps, sql, p, true, rc_out);
}

PGresult *pg_run_text(struct pg_store *ps, const char *sql, const struct pg_params *p, int *rc_out)
{
    return run(ps, sql, p, false, rc_out);
}

int pg_cmd(struct pg_store *ps, const char *sql, const struct pg_params *p, int64_t *affected)
{
    int rc;
    PGresult *r = run(ps, sql, p, true, &rc);
    if (!r)
        return rc;
    if (affected) {
        const char *t = PQcmdTuples(r);
        *affected = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_cmd_deferred(struct pg_store *ps, const char *sql, const struct pg_params *p)
{
    int rc;
    if (p->n > PG_MAXP_DEFER || pg_ready(ps) != 0 || !may_defer(ps, &rc))
        return pg_cmd(ps, sql, p, NULL);
    struct pg_stmt_slot *sl = cache_get(ps, sql, true, p->n, &rc);
    if (!sl)
        return rc ? rc : WEFT_EDB;
    struct pg_deferred *d = &ps->deferred[ps->ndeferred++];
    d->sql[0] = 0;
    snprintf(d->name, sizeof d->name, "w%d", sl->n);
    d->n = p->n;
    for (int i = 0; i < p->n; i++) {
        size_t len = p->fmt[i] ? (size_t)p->len[i] : p->v[i] ? strlen(p->v[i]) + 1 : 0;
        d->v[i] = NULL;
        if (p->v[i]) {
            d->v[i] = xmalloc(len ? len : 1);
            memcpy(d->v[i], p->v[i], len);
        }
        d->len[i] = p->len[i];
        d->fmt[i] = p->fmt[i];
    }
    return WEFT_OK;
}

int pg_exec(struct pg_store *ps, const char *sql)
{
    int rc = pg_ready(ps);
    if (rc == 0)
        rc = pg_flush(ps);
    if (rc != 0)
        return rc;
    PGresult *r = PQexec(ps->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? WEFT_OK : pg_fail(ps, "sql", r);
    PQclear(r);
    return rc;
}

/* ---- columns ----------------------------------------------------------------------- */

char *pg_strdup(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool pg_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t pg_bytes(const PGresult *r, int row, int col, unsigned char *out, size_t cap)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const char *v = PQgetvalue(r, row, col);
    if (v[0] != '\\' || v[1] != 'x') /* bytea_output = hex is set at connect */
        return 0;
    size_t n = 0;
    for (v += 2; v[0] && v[1] && n < cap; v += 2) {
        int hi = hexval(v[0]), lo = hexval(v[1]);
        if (hi < 0 || lo < 0)
            break;
        out[n++] = (unsigned char)(hi << 4 | lo);
    }
    return n;
}

void pg_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
}

void pg_write_time(struct pg_store *ps, char out[32])
{
    if (ps->base.txn_depth > 0 && ps->txn_now[0])
        memcpy(out, ps->txn_now, 32);
    else
        pg_now(out);
}

/* ---- open and close ---------------------------------------------------------------- */

/* "host:port/db" of a connection attempt for messages. */
static char *describe(PGconn *c)
{
    struct buf b = BUF_INIT;
    const char *h = c ? PQhost(c) : NULL;
    const char *p = c ? PQport(c) : NULL;
    const char *d = c ? PQdb(c) : NULL;
    buf_addf(&b, "%s%s%s/%s", h && *h ? h : "(default socket)", p && *p ? ":" : "",
             p && *p ? p : "", d && *d ? d : "");
    return buf_detach(&b, NULL);
}

int pg_store_open(struct store **out, const char *conninfo, bool create, char **errmsg)
{
    (void)create; /* the database itself is made by its administrator (createdb) */
    *out = NULL;
    /* Parse first: a malformed string gets libpq's reason, not a connect attempt. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        if (errmsg) {
            struct buf b = BUF_INIT;
            char m[300];
            snprintf(m, sizeof m, "%s", perr ? perr : "out of memory");
            one_line(m);
            buf_addf(&b, "bad PostgreSQL connection string: %s", m);
            *errmsg = buf_detach(&b, NULL);
        }
        PQfreemem(perr);
        return WEFT_EINVAL;
    }
    PQconninfoFree(opts);
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        if (errmsg) {
            char *where = describe(c);
            char m[400];
            snprintf(m, sizeof m, "%s", c ? PQerrorMessage(c) : "out of memory");
            one_line(m);
            struct buf b = BUF_INIT;
            buf_addf(&b, "cannot connect to PostgreSQL at %s: %s", where, m);
            *errmsg = buf_detach(&b, NULL);
            free(where);
        }
        PQfinish(c);
        return WEFT_EDB;
    }
    struct pg_store *ps = xcalloc(1, sizeof *ps);
    ps->base.ops = &pg_ops;
    ps->conn = c;
    ps->where = describe(c);
    /* Session settings: UTF-8 text, hex bytea, quiet notices (CREATE IF NOT
     * EXISTS), and a lock wait bounded like SQLite's busy timeout. */
    int rc = pg_exec(ps, session_sql);
    if (rc != 0) {
        if (errmsg) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "cannot set up the connection to %s: %s", ps->where, ps->base.errmsg);
            *errmsg = buf_detach(&b, NULL);
        }
        pg_close(&ps->base);
        return rc;
    }
    *out = &ps->base;
    return WEFT_OK;
}

void pg_close(struct store *s)
{
    struct pg_store *ps = pg_of(s);
    drop_deferred(ps);
    if (s->txn_depth > 0) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        pg_horizon_release(ps);
    }
    for (int i = 0; i < PG_STMT_CACHE; i++)
        free(ps->cache[i].sql);
    pg_client_cache_clear(ps);
    pg_patient_forget(ps, NULL);
    PQfinish(ps->conn); /* releases the jobs' session locks too */
    free(ps->where);
    free(ps);
}

/* Single-runner jobs (store_job_lock): the session-level advisory lock
 * (PG_JOB_LOCK, hashtext(job)) of this connection.  Asked again once held,
 * the server is asked whether this session still holds it (pg_locks) before
 * trying to take it, never the handle's memory: a connection lost and made
 * again (a restart, a failover to a promoted standby) has lost its locks,
 * and another node may hold the job by now.  One round trip either way; a
 * lock already held is not taken twice (advisory locks count). */
int pg_job_lock(struct store *s, const char *job, bool *mine)
{
    struct pg_store *ps = pg_of(s);
    *mine = false;
    struct pg_params p = {0};
    pg_p_text(&p, job);
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype ="
                         " 'advisory' AND pid = pg_backend_pid() AND classid = " PG_JOB_LOCK
                         "::oid AND objid = (hashtext($1)::bigint & 4294967295)::oid"
                         " AND objsubid = 2 AND granted) THEN true"
                         " ELSE pg_try_advisory_lock(" PG_JOB_LOCK ", hashtext($1)) END",
                         &p, &rc);
    if (!r)
        return rc;
    *mine = pg_bool(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

/* store_lock_keys: the keys as one int4 array, locked in the array's order
 * (a function scan of unnest keeps it; the caller sorted them), deferred to
 * the transaction's next statement. */
int pg_lock_keys(struct store *s, const uint32_t *keys, int n)
{
    struct pg_store *ps = pg_of(s);
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "store_lock_keys outside a transaction");
    struct buf b = BUF_INIT;
    buf_addc(&b, '{');
    for (int i = 0; i < n; i++)
        buf_addf(&b, "%s%d", i ? "," : "", (int)(int32_t)keys[i]);
    buf_addc(&b, '}');
    struct pg_params p = {0};
    pg_p_text(&p, b.data);
    int rc = pg_cmd_deferred(ps,
                             "SELECT count(pg_advisory_xact_lock(" PG_KEY_LOCK ", k))"
                             " FROM unnest($1::int4[]) AS k",
                             &p);
    buf_release(&b);
    return rc;
}

int pg_ping(struct store *s)
{
    return pg_exec(pg_of(s), "SELECT 1");
}

/* weft backup writes SQLite files: a PostgreSQL database is backed up with
 * PostgreSQL's tools, which the refusal names. */
int pg_backup(struct store *s, const char *dest, struct store_backup_info *info)
{
    (void)dest;
    (void)info;
    return store_fail(s, WEFT_EUNSUPPORTED,
                      "weft backup copies SQLite databases; back up PostgreSQL at %s with its own"
                      " tools: pg_basebackup (a base backup) and WAL archiving (archive_command)"
                      " for point-in-time recovery - docs/OPERATIONS.md, \"Backups of a PostgreSQL"
                      " deployment\"",
                      pg_of(s)->where);
}

int pg_size_bytes(struct store *s, int64_t *bytes)
{
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT pg_database_size(current_database())", NULL, &rc);
    if (!r)
        return rc;
    *bytes = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

/* ---- transactions ------------------------------------------------------------------ */

/*
 * The writers' horizon (pg_int.h, "Writers"): before its transaction a
 * writer commits its session's row in writer_horizon with first_seq (the
 * least seq it can be given) in a small transaction of its own, without
 * waiting for the flush of its WAL (only visibility matters: a crash ends
 * the writer too), and clears first_seq (NULL) as its transaction's first
 * statement, so the mark goes exactly when the writer's data becomes
 * visible.  All of it one round trip.  A session keeps its one row and
 * updates it (HOT updates of a row or two a session: the table stays a page
 * or two, where an insert and a delete a transaction would leave it full of
 * dead rows between vacuums for every reader to scan).  A transaction that
 * does not commit clears its mark afterwards (pg_horizon_release).  Rows of sessions that are gone
 * - a writer killed mid-transaction, a lost connection - are deleted by the next writer of any node
 * at most every PG_HORIZON_CLEAN_MS, and at a handle's first write: a row whose pid is not a
 * session any more, or is a later session with the same pid (backend_start differs).  The DELETE
 * names the stale rows by (pid, since) found first, so a row a new session with a reused pid wrote
 * meanwhile is never taken for the old one's.
 */
#define HORIZON_CLEAN_SQL                                                                          \
    " DELETE FROM writer_horizon w USING (SELECT h.pid, h.since FROM writer_horizon h"             \
    "  WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = h.pid"                     \
    "  AND (a.backend_start IS NULL OR a.backend_start = h.since))) d"                             \
    "  WHERE w.pid = d.pid AND w.since = d.since;"

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The old serialising writer lock (pg_int.h): off unless
 * WEFT_PG_WRITER_LOCK=1 (a way back, and for measuring). */
static bool writer_lock_on(void)
{
    const char *e = getenv("WEFT_PG_WRITER_LOCK");
    return e && strcmp(e, "1") == 0;
}

/* BEGIN of a write transaction: the horizon row, then BEGIN (and the writer
 * lock when it is on) and the clearing of the mark, one round trip. */
static int writer_begin(struct pg_store *ps)
{
    int rc;
    if (!ps->since[0]) {
        /* this session's start: with the pid, which session a row is of */
        PGresult *r = pg_run(ps,
                             "SELECT backend_start::text FROM pg_stat_activity"
                             " WHERE pid = pg_backend_pid()",
                             NULL, &rc);
        if (!r)
            return rc;
        if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
            PQclear(r);
            return store_fail(&ps->base, WEFT_EDB, "cannot read this session's start");
        }
        snprintf(ps->since, sizeof ps->since, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    int64_t now = mono_ms();
    bool clean = ps->horizon_clean_ms == 0 || now - ps->horizon_clean_ms >= PG_HORIZON_CLEAN_MS;
    /* began: read before the mark commits; the transaction's versions take
     * their lastUpdated after it (pg_begin, pg_write_time) */
    char began[32];
    pg_now(began);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN; SET LOCAL synchronous_commit = off;%s"
             " INSERT INTO writer_horizon (pid, since, first_seq, began) SELECT pg_backend_pid(),"
             " '%s', last_value + CASE WHEN is_called THEN 1 ELSE 0 END, '%s' FROM resource_seq"
             " ON CONFLICT (pid) DO UPDATE SET since = excluded.since,"
             " first_seq = excluded.first_seq, began = excluded.began; COMMIT;"
             " BEGIN;%s UPDATE writer_horizon SET first_seq = NULL WHERE pid = pg_backend_pid()",
             clean ? HORIZON_CLEAN_SQL : "", ps->since, began,
             writer_lock_on() ? " SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ");" : "");
    rc = pg_exec(ps, sql);
    if (rc != 0) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        pg_horizon_release(ps);
        return rc;
    }
    if (clean)
        ps->horizon_clean_ms = now;
    return WEFT_OK;
}

void pg_horizon_release(struct pg_store *ps)
{
    if (PQstatus(ps->conn) != CONNECTION_OK)
        return; /* the session is gone: its row goes with the next cleaning */
    PQclear(PQexec(ps->conn, "BEGIN; SET LOCAL synchronous_commit = off;"
                             " UPDATE writer_horizon SET first_seq = NULL"
                             " WHERE pid = pg_backend_pid(); COMMIT"));
}

int pg_begin(struct store *s)
{
    if (s->txn_depth > 0)
        return store_fail(s, WEFT_EINVAL, "a transaction is already open on this handle");
    struct pg_store *ps = pg_of(s);
    int rc = writer_begin(ps);
    if (rc != 0)
        return rc;
    s->txn_depth = 1;
    s->txn_serial = store_txn_serial_next();
    pg_now(ps->txn_now);
    return WEFT_OK;
}

int pg_commit(struct store *s)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "commit without a transaction");
    struct pg_store *ps = pg_of(s);
    pg_flush(ps); /* a failure leaves the transaction failed: rolled back below */
    /* COMMIT of a failed transaction answers ROLLBACK without an error:
     * check the state first so a failure is never reported as committed. */
    if (PQtransactionStatus(ps->conn) == PQTRANS_INERROR) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        pg_horizon_release(ps);
        s->txn_depth = 0;
        return store_fail(s, WEFT_EDB, "commit: the transaction had failed and was rolled back");
    }
    PGresult *r = PQexec(ps->conn, "COMMIT");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? WEFT_OK : pg_fail(ps, "commit", r);
    if (rc == 0 && strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        rc = store_fail(s, WEFT_EDB, "commit: the server rolled the transaction back");
    PQclear(r);
    if (rc != 0)
        pg_horizon_release(ps);
    s->txn_depth = 0;
    ps->txn_now[0] = 0;
    return rc;
}

int pg_rollback(struct store *s)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "rollback without a transaction");
    struct pg_store *ps = pg_of(s);
    s->txn_depth = 0;
    ps->txn_now[0] = 0;
    drop_deferred(ps);
    if (PQtransactionStatus(ps->conn) == PQTRANS_IDLE) {
        pg_horizon_release(ps);
        return WEFT_OK;
    }
    int rc = pg_exec(ps, "ROLLBACK");
    pg_horizon_release(ps);
    return rc;
}

int pg_auto_begin(struct pg_store *ps, bool *own)
{
    *own = ps->base.txn_depth == 0;
    if (!*own)
        return WEFT_OK;
    return writer_begin(ps);
}

int pg_auto_end(struct pg_store *ps, bool own, int rc)
{
    if (!own)
        return rc;
    if (rc != 0) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        pg_horizon_release(ps);
        return rc;
    }
    PGresult *r = PQexec(ps->conn, "COMMIT");
    rc = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0
             ? WEFT_OK
             : pg_fail(ps, "commit", r);
    PQclear(r);
    if (rc != 0)
        pg_horizon_release(ps);
    return rc;
}

/* Whether the open transaction is still usable: a failed statement puts a
 * PostgreSQL transaction in the aborted state, where it can only roll back. */
bool pg_alive(struct store *s)
{
    struct pg_store *ps = pg_of(s);
    PGTransactionStatusType t = PQtransactionStatus(ps->conn);
    return s->txn_depth > 0 && (t == PQTRANS_INTRANS || t == PQTRANS_ACTIVE);
}

static int savepoint_sql(struct store *s, const char *verb, const char *name)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "savepoint outside a transaction");
    char sql[96];
    snprintf(sql, sizeof sql, "%s %s", verb, name); /* name checked by store_savepoint */
    return pg_exec(pg_of(s), sql);
}

/* SAVEPOINT and RELEASE are deferred (above): sent with the next statement. */
static int savepoint_defer(struct store *s, const char *verb, const char *name)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "savepoint outside a transaction");
    char sql[96];
    snprintf(sql, sizeof sql, "%s %s", verb, name); /* name checked by store_savepoint */
    return defer(pg_of(s), sql);
}

int pg_savepoint(struct store *s, const char *name)
{
    return savepoint_defer(s, "SAVEPOINT", name);
}

int pg_release(struct store *s, const char *name)
{
    return savepoint_defer(s, "RELEASE SAVEPOINT", name);
}

int pg_rollback_to(struct store *s, const char *name)
{
    return savepoint_sql(s, "ROLLBACK TO SAVEPOINT", name);
}

int pg_bulk(struct store *s, bool on)
{
    struct pg_store *ps = pg_of(s);
    if (on) {
        ps->bulk = true;
        return pg_exec(ps, "SET synchronous_commit = off");
    }
    ps->bulk = false;
    int rc = pg_exec(ps, "SET synchronous_commit = on");
    /* One synchronous commit: it returns once the WAL up to it - every
     * asynchronous commit before it included - is flushed. */
    if (rc == 0)
        rc = pg_exec(ps, "INSERT INTO meta (key, value) VALUES ('last_bulk_load',"
                         " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    return rc;
}
