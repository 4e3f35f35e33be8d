/*
 * store.c - the store handle (store.h): opens the backend named by the URL,
 * its schema, backup and restore (backup.h), settings (meta.h), and the
 * error message of a handle.  Each noun's dispatchers are in its own
 * src/store/store_NOUN.c.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/store_int.h"

unsigned long store_txn_serial_next(void)
{
    static atomic_ulong next;
    return atomic_fetch_add(&next, 1) + 1;
}

unsigned long store_txn_serial(const struct store *s)
{
    return s->txn_depth > 0 ? s->txn_serial : 0;
}

int store_fail(struct store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *store_errmsg(struct store *s)
{
    return s->errmsg;
}

/* libpq's keyword/value connection strings start with one of its keywords
 * and '=': "host=/run/pg port=5432 dbname=weft".  Only these keywords count,
 * so a SQLite file called "x=y.db" stays a file. */
bool store_url_is_postgres(const char *url)
{
    static const char *const kw[] = {"host=",
                                     "hostaddr=",
                                     "port=",
                                     "dbname=",
                                     "user=",
                                     "password=",
                                     "service=",
                                     "passfile=",
                                     "sslmode=",
                                     "connect_timeout=",
                                     "application_name=",
                                     "options="};
    if (!url)
        return false;
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return true;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strncmp(url, kw[i], strlen(kw[i])) == 0)
            return true;
    return false;
}

char *store_url_redacted(const char *url)
{
    struct buf b = BUF_INIT;
    if (!url)
        return xstrdup("");
    if (!store_url_is_postgres(url)) {
        buf_adds(&b, url);
        return buf_detach(&b, NULL);
    }
    const char *scheme = strstr(url, "://");
    if (scheme) { /* postgres://USER:PASSWORD@HOST...: the password is before the '@' */
        const char *auth = scheme + 3;
        const char *at = strchr(auth, '@');
        const char *slash = strchr(auth, '/');
        const char *colon = strchr(auth, ':');
        if (at && (!slash || at < slash) && colon && colon < at) {
            buf_add(&b, url, (size_t)(colon - url));
            buf_adds(&b, ":***");
            buf_adds(&b, at);
        } else {
            buf_adds(&b, url);
        }
        return buf_detach(&b, NULL);
    }
    /* keyword form: password=VALUE or password='VALUE with spaces' */
    const char *p = url;
    while (*p) {
        const char *k = strstr(p, "password");
        if (!k) {
            buf_adds(&b, p);
            break;
        }
        const char *e = k + 8;
        while (*e == ' ')
            e++;
        bool word_start = k == url || k[-1] == ' ';
        if (!word_start || *e != '=') {
            buf_add(&b, p, (size_t)(e - p));
            p = e;
            continue;
        }
        buf_add(&b, p, (size_t)(e + 1 - p));
        buf_adds(&b, "***");
        e++;
        while (*e == ' ')
            e++;
        if (*e == '\'') {
            for (e++; *e && *e != '\''; e++)
                if (*e == '\\' && e[1])
                    e++;
            if (*e)
                e++;
        } else {
            while (*e && *e != ' ')
                e++;
        }
        p = e;
    }
    return buf_detach(&b, NULL);
}

int store_url_parse(const char *url, struct store_url *out)
{
    *out = (struct store_url){0};
    if (!url || !*url)
        return WEFT_EINVAL;
    if (store_url_is_postgres(url)) {
        out->kind = STORE_KIND_POSTGRES;
        return WEFT_OK;
    }
    out->kind = STORE_KIND_SQLITE;
    out->path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    return *out->path ? WEFT_OK : WEFT_EINVAL;
}

int store_open(struct store **out, const char *url, bool create, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (sodium_init() < 0) {
        if (errmsg)
            *errmsg = xstrdup("cannot initialise libsodium");
        return WEFT_EINTERNAL;
    }
    struct store_url u;
    if (!url || !*url) {
        if (errmsg)
            *errmsg = xstrdup("no database given (use --db PATH)");
        return WEFT_EINVAL;
    }
    store_url_parse(url, &u);
    if (u.kind == STORE_KIND_POSTGRES)
        return pg_store_open(out, url, create, errmsg);
    return sqlite_store_open(out, u.path, create, errmsg);
}

int store_backup(struct store *s, const char *dest, struct store_backup_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    return STORE_CORE(s, backup, dest, info);
}

int store_restore(const char *src, const char *url, struct store_backup_info *info, char **errmsg)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (errmsg)
        *errmsg = NULL;
    if (!url || !*url || !src || !*src) {
        if (errmsg)
            *errmsg = xstrdup("restore needs a backup file and a database path");
        return WEFT_EINVAL;
    }
    struct store_url u;
    store_url_parse(url, &u);
    if (u.kind == STORE_KIND_POSTGRES) {
        if (errmsg)
            *errmsg = xstrdup("weft restore makes SQLite files only: a PostgreSQL database is"
                              " restored with PostgreSQL's tools (pg_basebackup, pg_restore)");
        return WEFT_EUNSUPPORTED;
    }
    return sqlite_store_restore(src, u.path, info, errmsg);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

int store_migrate(struct store *s, int *from_version, int *to_version)
{
    return STORE_CORE(s, migrate, from_version, to_version);
}

int store_schema_pending(struct store *s, int *pending)
{
    return STORE_CORE(s, schema_pending, pending);
}

int store_schema_version(struct store *s, int *version)
{
    return STORE_CORE(s, schema_version, version);
}

int store_bulk(struct store *s, bool on)
{
    return STORE_CORE(s, bulk, on);
}

int store_job_lock(struct store *s, const char *job, bool *mine)
{
    *mine = true;
    if (!s->ops->job_lock)
        return WEFT_OK; /* one node per store (SQLite) */
    return s->ops->job_lock(s, job, mine);
}

int store_lock_keys(struct store *s, const uint32_t *keys, int n)
{
    if (!s->ops->lock_keys || n <= 0)
        return WEFT_OK; /* one writer at a time (SQLite) */
    s->keys_locked += n;
    return s->ops->lock_keys(s, keys, n);
}

long store_keys_locked(const struct store *s)
{
    return s->keys_locked;
}

bool store_holds_shared(const struct store *s)
{
    return s->holds_shared;
}

uint32_t store_lock_key(const char *a, size_t an, const char *b, size_t bn)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < an; i++)
        h = (h ^ (unsigned char)a[i]) * 16777619u;
    h = (h ^ 0x1f) * 16777619u;
    for (size_t i = 0; i < bn; i++)
        h = (h ^ (unsigned char)b[i]) * 16777619u;
    return h;
}

int store_ping(struct store *s)
{
    if (!s->ops->ping)
        return WEFT_OK; /* a file: nothing to reach */
    return s->ops->ping(s);
}

int store_size_bytes(struct store *s, int64_t *bytes)
{
    *bytes = 0;
    return STORE_CORE(s, size_bytes, bytes);
}

int store_writer(struct store *s)
{
    if (!s->ops->writer)
        return WEFT_OK;
    return s->ops->writer(s);
}

int store_meta_get(struct store *s, const char *key, char **value_out)
{
    return STORE_CORE(s, meta_get, key, value_out);
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
    return STORE_CORE(s, meta_set, key, value);
}
