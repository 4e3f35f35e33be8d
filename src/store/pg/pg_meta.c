/*
 * pg_meta.c - settings (meta) and API clients for PostgreSQL (only token
 * hashes are kept).  Each operation is one statement in its own implicit
 * transaction, or part of the caller's.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

int pg_meta_get(struct store *s, const char *key, char **value_out)
{
    struct pg_store *ps = pg_of(s);
    *value_out = NULL;
    struct pg_params p = {0};
    pg_p_text(&p, key);
    int rc;
    PGresult *r = pg_run(ps, "SELECT value FROM meta WHERE key = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        *value_out = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_meta_set(struct store *s, const char *key, const char *value)
{
    struct pg_params p = {0};
    pg_p_text(&p, key);
    pg_p_text(&p, value);
    return pg_cmd(pg_of(s),
                  "INSERT INTO meta (key, value) VALUES ($1, $2)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                  &p, NULL);
}

int pg_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                  const char *token_hash, const char *cert_sha256, int64_t *id_out)
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, name);
    pg_p_text(&p, org);
    pg_p_text(&p, scopes);
    pg_p_text(&p, token_hash);
    pg_p_text(&p, now);
    pg_p_text(&p, cert_sha256);
    int rc;
    PGresult *r = pg_run(ps,
                         "INSERT INTO client (name, org, scopes, token_hash, created,"
                         " client_cert_sha256)"
                         " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_hash) DO NOTHING"
                         " RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK
                      : store_fail(s, WEFT_EEXIST, "a client with this token already exists");
    if (rc == 0 && id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

static void client_fill(const PGresult *r, int i, struct store_client *c)
{
    memset(c, 0, sizeof *c);
    c->id = pg_int(r, i, 0);
    c->name = pg_strdup(r, i, 1);
    c->org = pg_strdup(r, i, 2);
    c->scopes = pg_strdup(r, i, 3);
    c->created = pg_strdup(r, i, 4);
    c->revoked = pg_strdup(r, i, 5);
    c->client_cert_sha256 = pg_strdup(r, i, 6);
    c->purpose = pg_strdup(r, i, 7);
    c->jwks = pg_strdup(r, i, 8);
}

int pg_client_add_keys(struct store *s, const char *name, const char *org, const char *scopes,
                       const char *purpose, const char *jwks, int64_t *id_out)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, name);
    pg_p_text(&p, org);
    pg_p_text(&p, scopes);
    pg_p_text(&p, now);
    pg_p_text(&p, purpose);
    pg_p_text(&p, jwks);
    int rc;
    PGresult *r =
        pg_run(pg_of(s),
               "INSERT INTO client (name, org, scopes, token_hash, created, purpose, jwks)"
               " VALUES ($1, $2, $3, 'keys:' || md5(random()::text ||"
               " clock_timestamp()::text), $4, $5, $6) RETURNING id",
               &p, &rc);
    if (!r)
        return rc;
    if (id_out && PQntuples(r))
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_client_get(struct store *s, int64_t id, struct store_client *out)
{
    memset(out, 0, sizeof *out);
    struct pg_params p = {0};
    pg_p_int(&p, id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, name, org, scopes, created, revoked, client_cert_sha256,"
                         " purpose, jwks FROM client WHERE id = $1",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        client_fill(r, 0, out);
    PQclear(r);
    return rc;
}

/*
 * Client cache.  Every API request starts with its client looked up by
 * token hash; on PostgreSQL that is a round trip, so a connection keeps the
 * clients it found (PG_CLIENT_CACHE, by token hash) and answers from them
 * while nothing about clients has changed.  A change is known by
 * notification: the trigger of migration client-notify-1 sends NOTIFY
 * PG_CLIENT_CHANNEL when a statement on client commits (add, revoke,
 * purpose, from any node or command), and this session LISTENs on it before
 * it keeps anything.  The server sends a notification to every listening
 * session at the commit; before answering from the cache the socket is read
 * without waiting (PQconsumeInput) and any notification forgets every kept
 * client.  A revocation is therefore honoured by every node's next request
 * once the notification has crossed the local socket, and in any case within
 * PG_CLIENT_TTL_MS, the most a kept client is trusted without asking (a
 * notification lost to a connection broken and made again is covered by
 * pg_ready forgetting everything too).  Inside a transaction the database is
 * always asked (LISTEN takes effect at commit).
 */
int64_t pg_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void client_copy(const struct store_client *from, struct store_client *to)
{
    memset(to, 0, sizeof *to);
    to->id = from->id;
    to->name = dup_or_null(from->name);
    to->org = dup_or_null(from->org);
    to->created = dup_or_null(from->created);
    to->revoked = dup_or_null(from->revoked);
    to->scopes = dup_or_null(from->scopes);
    to->client_cert_sha256 = dup_or_null(from->client_cert_sha256);
    to->purpose = dup_or_null(from->purpose);
    to->jwks = dup_or_null(from->jwks);
}

static void client_entries_clear(struct pg_store *ps)
{
    for (int i = 0; i < PG_CLIENT_CACHE; i++) {
        if (ps->clients[i].hash[0])
            store_client_clear(&ps->clients[i].c);
        memset(&ps->clients[i], 0, sizeof ps->clients[i]);
    }
}

/* Everything kept under a LISTEN goes, and the LISTENs are taken as gone:
 * a reconnect lost them (and the notifications meanwhile), and the next
 * lookup listens again before it keeps anything. */
void pg_client_cache_clear(struct pg_store *ps)
{
    client_entries_clear(ps);
    ps->client_listen = false;
    pg_access_cache_forget(ps);
    ps->access_listen = false;
}

bool pg_notes_poll(struct pg_store *ps)
{
    if (ps->base.txn_depth > 0 || PQstatus(ps->conn) != CONNECTION_OK)
        return false;
    /* nothing to read (no notification, no close, no error) is the common
     * case and one poll(2) says so: the socket is read only when it has
     * something (called before every answer from a cache, twice a request).
     * Then twice: a server that went away sent its last message and then
     * closed the socket, and the first read may stop before it sees the
     * close; a connection known to be lost answers nothing from a cache (the
     * query then reconnects, or fails as every other statement would) */
    struct pollfd pf = {.fd = PQsocket(ps->conn), .events = POLLIN};
    bool readable = pf.fd < 0 || poll(&pf, 1, 0) != 0;
    if (readable && (!PQconsumeInput(ps->conn) || !PQconsumeInput(ps->conn) ||
                     PQstatus(ps->conn) != CONNECTION_OK)) {
        pg_client_cache_clear(ps);
        return false;
    }
    PGnotify *n;
    while ((n = PQnotifies(ps->conn)) != NULL) {
        /* still listening: only the entries go */
        if (strcmp(n->relname, PG_ACCESS_CHANNEL) == 0)
            pg_access_cache_forget(ps);
        else
            client_entries_clear(ps);
        PQfreemem(n);
    }
    return true;
}

/* Whether the client cache may be used now: listening, and no change
 * notified. */
static bool client_cache_valid(struct pg_store *ps)
{
    return ps->client_listen && pg_notes_poll(ps);
}

static const struct pg_client_slot *client_cache_find(struct pg_store *ps, const char *hash)
{
    int64_t now = pg_mono_ms();
    for (int i = 0; i < PG_CLIENT_CACHE; i++) {
        struct pg_client_slot *e = &ps->clients[i];
        if (!e->hash[0] || strcmp(e->hash, hash) != 0)
            continue;
        if (now - e->at_ms <= PG_CLIENT_TTL_MS)
            return e;
        store_client_clear(&e->c);
        memset(e, 0, sizeof *e);
    }
    return NULL;
}

static void client_cache_put(struct pg_store *ps, const char *hash, const struct store_client *c,
                             int64_t at_ms)
{
    if (strlen(hash) >= sizeof ps->clients[0].hash)
        return;
    struct pg_client_slot *e = &ps->clients[ps->client_next];
    ps->client_next = (ps->client_next + 1) % PG_CLIENT_CACHE;
    if (e->hash[0])
        store_client_clear(&e->c);
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    e->at_ms = at_ms;
    client_copy(c, &e->c);
}

int pg_client_by_hash(struct store *s, const char *token_hash, struct store_client *out)
{
    struct pg_store *ps = pg_of(s);
    memset(out, 0, sizeof *out);
    bool cache = client_cache_valid(ps);
    if (cache) {
        const struct pg_client_slot *e = client_cache_find(ps, token_hash);
        if (e) {
            client_copy(&e->c, out);
            return WEFT_OK;
        }
    }
    int rc;
    if (!cache && !ps->client_listen && s->txn_depth == 0) {
        /* listen first: a change committed after this point is notified, so
         * what the query below reads may be kept */
        rc = pg_exec(ps, "LISTEN " PG_CLIENT_CHANNEL);
        if (rc != 0)
            return rc;
        ps->client_listen = true;
        cache = true;
    }
    int64_t at = pg_mono_ms();
    struct pg_params p = {0};
    pg_p_text(&p, token_hash);
    PGresult *r = pg_run(ps,
                         "SELECT id, name, org, scopes, created, revoked, client_cert_sha256,"
                         " purpose, jwks FROM client"
                         " WHERE token_hash = $1 AND revoked IS NULL",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        client_fill(r, 0, out);
    PQclear(r);
    if (rc == 0 && cache && ps->client_listen)
        client_cache_put(ps, token_hash, out, at);
    return rc;
}

int pg_client_list(struct store *s, struct store_client **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, name, org, scopes, created, revoked, client_cert_sha256,"
                         " purpose, jwks FROM client ORDER BY id",
                         NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows > 0) {
        *out = xcalloc((size_t)rows, sizeof **out);
        for (int i = 0; i < rows; i++)
            client_fill(r, i, &(*out)[i]);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_client_revoke(struct store *s, int64_t id)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_int(&p, id);
    int64_t n = 0;
    pg_client_cache_clear(pg_of(s));
    int rc = pg_cmd(pg_of(s), "UPDATE client SET revoked = $1 WHERE id = $2 AND revoked IS NULL",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no active client with id %lld", (long long)id);
    return rc;
}

int pg_client_set_purpose(struct store *s, int64_t id, const char *purpose)
{
    struct pg_params p = {0};
    pg_p_text(&p, purpose);
    pg_p_int(&p, id);
    int64_t n = 0;
    pg_client_cache_clear(pg_of(s));
    int rc = pg_cmd(pg_of(s), "UPDATE client SET purpose = $1 WHERE id = $2", &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no client with id %lld", (long long)id);
    return rc;
}
