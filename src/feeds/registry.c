/*
 * registry.c - the feed registry (registry.h): adding feeds with their
 * credentials, and assembling status from the per-day counters.
 *
 * Adding is rare and interactive, so it validates everything it can and says
 * exactly what is wrong.  Status is read by `weft feed status` and
 * GET /admin/feeds: a few indexed reads per feed, never an inbox scan.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "access/org.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/failpoint.h"
#include "core/tls.h"
#include "feeds/accept_journal.h"
#include "feeds/registry.h"
#include "store/access.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"

bool feed_cert_sha256_parse(const char *in, char out[65])
{
    return tls_sha256_parse(in, out);
}

bool feed_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                  (p != name && (*p == '.' || *p == '_' || *p == '-'));
        if (!ok)
            return false;
    }
    return true;
}

bool feed_kind_valid(const char *kind)
{
    return kind &&
           (strcmp(kind, "hl7v2") == 0 || strcmp(kind, "fhir") == 0 || strcmp(kind, "csv") == 0);
}

/* A facility as HL7 carries it in MSH-4.1: printable, no HL7 delimiters. */
static bool facility_valid(const char *f)
{
    size_t n = strlen(f);
    if (n == 0 || n > 180)
        return false;
    for (const char *p = f; *p; p++)
        if ((unsigned char)*p < 0x20 || strchr("|^~\\&", *p))
            return false;
    return true;
}

static int fail(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap)
        vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

/* mkdir that accepts an existing directory. */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0750) == 0)
        return 0;
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return -1;
}

/* Create folder (and its parents), done/ and failed/; *abs_out gets the
 * absolute path (malloc'd). */
static int make_drop_folder(const char *folder, char **abs_out, char *err, size_t cap)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, folder);
    for (size_t i = 1; i < b.len; i++) {
        if (b.data[i] != '/')
            continue;
        b.data[i] = 0;
        int r = ensure_dir(b.data);
        b.data[i] = '/';
        if (r != 0)
            break;
    }
    int rc = 0;
    if (ensure_dir(folder) != 0) {
        rc = fail(err, cap, WEFT_EIO, "cannot create folder '%s': %s", folder, strerror(errno));
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        buf_reset(&b);
        buf_addf(&b, "%s/%s", folder, i == 0 ? "done" : "failed");
        if (ensure_dir(b.data) != 0) {
            rc = fail(err, cap, WEFT_EIO, "cannot create folder '%s': %s", b.data, strerror(errno));
            goto out;
        }
    }
    char *abs = realpath(folder, NULL);
    if (!abs) {
        rc = fail(err, cap, WEFT_EIO, "cannot resolve folder '%s': %s", folder, strerror(errno));
        goto out;
    }
    *abs_out = xstrdup(abs);
    free(abs);
out:
    buf_release(&b);
    return rc;
}

/* A new bearer token (base64url of 32 random bytes) and its hex SHA-256. */
static char *new_token(char hash[65])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char tok[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(tok, sizeof tok, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)tok, strlen(tok));
    sodium_bin2hex(hash, 65, d, sizeof d);
    char *out = xstrdup(tok);
    sodium_memzero(tok, sizeof tok);
    return out;
}

int feed_registry_add(struct store *s, const struct feed_spec *spec, int64_t *id_out,
                      char **token_out, char *err, size_t errcap)
{
    if (token_out)
        *token_out = NULL;
    if (!spec->org || !org_ods_valid(spec->org))
        return fail(err, errcap, WEFT_EINVAL,
                    "--org must be an ODS code (upper-case letters and "
                    "digits, 3 to 12)");
    if (!feed_kind_valid(spec->kind))
        return fail(err, errcap, WEFT_EINVAL, "--kind must be hl7v2, fhir or csv");
    char defname[80];
    const char *name = spec->name;
    if (!name) {
        snprintf(defname, sizeof defname, "%s-%s", spec->org, spec->kind);
        for (char *p = defname; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        name = defname;
    }
    if (!feed_name_valid(name))
        return fail(err, errcap, WEFT_EINVAL,
                    "feed name '%.80s' is not valid: lower-case letters, digits, '.', '_', '-'"
                    " (at most 64, starting with a letter or digit)",
                    name);
    bool hl7 = strcmp(spec->kind, "hl7v2") == 0, csv = strcmp(spec->kind, "csv") == 0,
         fhir = strcmp(spec->kind, "fhir") == 0;
    if (hl7 && (!spec->facility || !facility_valid(spec->facility)))
        return fail(err, errcap, WEFT_EINVAL,
                    "an hl7v2 feed needs --facility NAME (MSH-4 first component, no HL7 "
                    "delimiters)");
    if (!hl7 && (spec->facility || spec->from_address || spec->client_cert_sha256))
        return fail(err, errcap, WEFT_EINVAL,
                    "--facility, --from-address and --client-cert-sha256 are for hl7v2 feeds");
    char pin[65] = "";
    if (spec->client_cert_sha256 && !feed_cert_sha256_parse(spec->client_cert_sha256, pin))
        return fail(err, errcap, WEFT_EINVAL,
                    "--client-cert-sha256 must be a SHA-256 fingerprint: 64 hex digits (colons "
                    "allowed), as 'openssl x509 -noout -fingerprint -sha256 -in CERT' prints");
    if (csv && (!spec->folder || !*spec->folder))
        return fail(err, errcap, WEFT_EINVAL, "a csv feed needs --folder DIR");
    if (!csv && spec->folder)
        return fail(err, errcap, WEFT_EINVAL, "--folder is for csv feeds");
    if (spec->from_address &&
        (!*spec->from_address || strlen(spec->from_address) > 64 ||
         strspn(spec->from_address, "0123456789abcdefABCDEF.:") != strlen(spec->from_address)))
        return fail(err, errcap, WEFT_EINVAL, "--from-address must be an IP address");

    struct store_org org = {0};
    int rc = store_org_get(s, spec->org, &org);
    store_org_clear(&org);
    if (rc == WEFT_ENOTFOUND)
        return fail(err, errcap, rc, "organisation %s is not known: add it with 'weft org add'",
                    spec->org);
    if (rc != 0)
        return fail(err, errcap, rc, "reading organisation: %s", store_errmsg(s));
    struct store_feed existing = {0};
    rc = store_feed_by_name(s, name, &existing);
    store_feed_clear(&existing);
    if (rc == 0)
        return fail(err, errcap, WEFT_EEXIST, "a feed called '%s' exists already", name);
    if (hl7 && store_feed_by_facility(s, spec->facility, &existing) == 0) {
        rc = fail(err, errcap, WEFT_EEXIST, "facility '%s' is already the feed '%s'",
                  spec->facility, existing.name);
        store_feed_clear(&existing);
        return rc;
    }

    struct store_feed f = {
        .name = (char *)name,
        .org = (char *)spec->org,
        .kind = (char *)spec->kind,
        .facility = (char *)spec->facility,
        .from_address = (char *)spec->from_address,
        .client_cert_sha256 = pin[0] ? pin : NULL,
    };
    char *folder = NULL, *token = NULL;
    char hash[65] = "";
    if (csv && (rc = make_drop_folder(spec->folder, &folder, err, errcap)) != 0)
        return rc;
    f.folder = folder;
    struct store_txn t;
    if ((rc = store_txn_begin(&t, s)) != 0) {
        free(folder);
        return fail(err, errcap, rc, "%s", store_errmsg(s));
    }
    if (fhir) {
        token = new_token(hash);
        char cname[96];
        snprintf(cname, sizeof cname, FEED_CLIENT_PREFIX "%s", name);
        rc = store_client_add(s, cname, spec->org, FEED_CLIENT_SCOPES, hash, NULL, &f.client_id);
        f.token_hash = hash;
    }
    if (rc == 0)
        rc = store_feed_add(s, &f, id_out);
    if (rc == 0)
        rc = store_txn_commit(&t);
    if (rc != 0) {
        fail(err, errcap, rc, "registering feed: %s", store_errmsg(s));
        store_txn_rollback(&t);
        free(token);
        token = NULL;
    }
    free(folder);
    if (token_out)
        *token_out = token;
    else
        free(token);
    return rc;
}

static json_t *counts_json(const struct store_feed_counts *c, const char *day)
{
    json_t *o = json_object();
    if (day)
        json_object_set_new(o, "day", json_string(day));
    json_object_set_new(o, "received", json_integer(c->received));
    json_object_set_new(o, "applied", json_integer(c->applied));
    json_object_set_new(o, "rejected", json_integer(c->rejected));
    json_object_set_new(o, "duplicate", json_integer(c->duplicate));
    json_object_set_new(o, "rows_loaded", json_integer(c->rows_loaded));
    json_object_set_new(o, "rows_rejected", json_integer(c->rows_rejected));
    json_object_set_new(o, "lag_mean_ms",
                        c->lag_n ? json_integer(c->lag_sum_ms / c->lag_n) : json_null());
    json_object_set_new(o, "lag_max_ms", c->lag_n ? json_integer(c->lag_max_ms) : json_null());
    json_object_set_new(o, "lag_events", json_integer(c->lag_n));
    json_object_set_new(o, "lag_recent_events", json_integer(c->lag_recent_n));
    json_object_set_new(o, "lag_recent_mean_ms",
                        c->lag_recent_n ? json_integer(c->lag_recent_sum_ms / c->lag_recent_n)
                                        : json_null());
    json_object_set_new(o, "lag_recent_max_ms",
                        c->lag_recent_n ? json_integer(c->lag_recent_max_ms) : json_null());
    return o;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *journal_dir;

void feed_registry_set_journal_dir(const char *dir)
{
    free(journal_dir);
    journal_dir = dir ? xstrdup(dir) : NULL;
}

/* This node's accept journal: records not yet in the inbox, per feed. */
static int journal_counts(struct store *s, struct accept_backlog **jb, int *nj)
{
    *jb = NULL;
    *nj = 0;
    return journal_dir ? accept_journal_backlog(s, journal_dir, jb, nj) : 0;
}

static int status_one(struct store *s, const struct store_feed *f, time_t now,
                      const struct accept_backlog *jb, int nj, json_t **out)
{
    char day[11];
    org_day(now, day);
    /* The journal's part was read before this (journal_counts): a record
     * the mover moves meanwhile is counted twice rather than not at all. */
    int64_t in_journal = 0;
    for (int i = 0; i < nj; i++)
        if (jb[i].feed_id == f->id)
            in_journal = jb[i].n;
    /* The backlog is read before the counters, each in its own statement
     * (not one snapshot): a message applied meanwhile (its outcome and its
     * count commit together) is then in the counters whenever it is no
     * longer in the backlog, so "backlog 0" means the counters hold every
     * message applied so far.  Read the other way round, an apply that
     * commits between the two reads showed a drained backlog beside
     * counters without its messages (feeds_enhanced_ack.py). */
    int64_t backlog = 0;
    int rc;
    if (strcmp(f->kind, "hl7v2") == 0 &&
        (rc = store_inbox_pending_count(s, f->id, "hl7v2", &backlog)) != 0)
        return rc;
    if (FAILPOINT("feed-status-pause")) /* test build: widen the window between the reads */
        sleep(1);
    struct store_feed_counts today, total;
    if ((rc = store_feed_counts_get(s, f->id, day, &today, &total)) != 0)
        return rc;
    int aerr = 0;
    bool in_force = org_agreement_in_force(s, f->org, now, &aerr);
    if (aerr)
        return aerr;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "org", json_string(f->org));
    json_object_set_new(o, "kind", json_string(f->kind));
    if (f->facility)
        json_object_set_new(o, "facility", json_string(f->facility));
    if (f->from_address)
        json_object_set_new(o, "from_address", json_string(f->from_address));
    if (f->client_cert_sha256)
        json_object_set_new(o, "client_cert_sha256", json_string(f->client_cert_sha256));
    if (f->folder)
        json_object_set_new(o, "folder", json_string(f->folder));
    json_object_set_new(o, "enabled", json_boolean(f->disabled == NULL));
    json_object_set_new(o, "backlog", json_integer(backlog + in_journal));
    if (strcmp(f->kind, "hl7v2") == 0)
        json_object_set_new(o, "backlog_journal", json_integer(in_journal));
    json_object_set_new(o, "agreement_in_force", json_boolean(in_force));
    json_object_set_new(o, "last_received", str_or_null(f->last_received));
    json_object_set_new(o, "last_error", str_or_null(f->last_error));
    json_object_set_new(o, "last_error_at", str_or_null(f->last_error_at));
    json_object_set_new(o, "today", counts_json(&today, day));
    json_object_set_new(o, "total", counts_json(&total, NULL));
    *out = o;
    return 0;
}

int feed_registry_status(struct store *s, const struct store_feed *f, time_t now, json_t **out)
{
    struct accept_backlog *jb = NULL;
    int nj = 0;
    int rc = journal_counts(s, &jb, &nj);
    if (rc == 0)
        rc = status_one(s, f, now, jb, nj, out);
    free(jb);
    return rc;
}

int feed_registry_status_all(struct store *s, time_t now, json_t **out)
{
    struct store_feed *fs = NULL;
    int n = 0;
    struct accept_backlog *jb = NULL;
    int nj = 0;
    int rc = journal_counts(s, &jb, &nj); /* first: see status_one */
    if (rc == 0)
        rc = store_feed_list(s, &fs, &n);
    json_t *arr = json_array();
    for (int i = 0; rc == 0 && i < n; i++) {
        json_t *one = NULL;
        rc = status_one(s, &fs[i], now, jb, nj, &one);
        if (rc == 0)
            json_array_append_new(arr, one);
    }
    for (int i = 0; i < n; i++)
        store_feed_clear(&fs[i]);
    free(fs);
    free(jb);
    struct store_feed_counts today, total;
    char day[11];
    org_day(now, day);
    if (rc == 0)
        rc = store_feed_counts_get(s, 0, day, &today, &total);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "feeds", arr);
    json_t *un = json_object();
    json_object_set_new(un, "today", counts_json(&today, day));
    json_object_set_new(un, "total", counts_json(&total, NULL));
    json_object_set_new(*out, "unregistered", un);
    return 0;
}
