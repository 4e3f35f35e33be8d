/*
 * cmd_serve.c - `weft serve`: the long-running server.  HTTP (FHIR API,
 * health, and the parts below) on libmicrohttpd's thread pool; the main
 * thread only waits for SIGTERM/SIGINT and then shuts everything down in
 * order: stop accepting, finish requests in flight, stop the parts, close the
 * store handles, exit 0.
 *
 * ---- WHERE OTHER PARTS PLUG IN ---------------------------------------------------
 * Every part of `weft serve` is one row in `parts` below (see http/serve.h for
 * the contract), plus rows in `cmd_serve_specs` for its options:
 *   - web pages (/)                          {"web", web_serve_start, web_serve_stop}
 *   - launch (/launch, /.well-known/smart-configuration)
 *                                            {"launch", launch_serve_start, NULL}
 *   - admin (/admin/...)                     {"admin", admin_serve_start, NULL}
 *   - MLLP listener (--mllp HOST:PORT)       {"mllp", mllp_serve_start, mllp_serve_stop}
 *   - drop-folder watchers                   {"drop", drop_serve_start, drop_serve_stop}
 * A part registers its URLs with http_route_add(ctx->http, METHOD, PATTERN,
 * handler, handler_ctx, HTTP_ROUTE_AUTH or 0) in start(); see http/server.h
 * for patterns ({param}, trailing *), request accessors and replies.
 * ------------------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access/access_serve.h"
#include "analytics/bulk_serve.h"
#include "analytics/refresh_serve.h"
#include "audit/anchor.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "dq/dq_serve.h"
#include "feeds/dropfolder.h"
#include "feeds/feeds_http.h"
#include "feeds/mllp_server.h"
#include "fhir/api.h"
#include "http/client.h"
#include "http/metrics_http.h"
#include "http/serve.h"
#include "http/server.h"
#include "store/access.h"
#include "store/store.h"
#include "web/my.h"
#include "web/web_serve.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.1.0"
#endif

const struct opt_spec cmd_serve_specs[] = {
    {"db", "PATH",
     "the database (file path, sqlite:PATH or postgres://USER@HOST:PORT/DB); create it with weft "
     "init"},
    {"db-read", "URL",
     "a PostgreSQL hot standby of --db for reads that may lag: a person's record read by staff "
     "and by API clients that cannot write (everything else, and whenever it is down or behind, "
     "the primary; docs/OPERATIONS.md)"},
    {"http", "HOST:PORT", "address to serve HTTP on (default 127.0.0.1:8080; port 0 picks one)"},
    {"threads", "N", "HTTP worker threads (default: number of cores; 4 per core on PostgreSQL)"},
    {"port-file", "FILE", "write the bound HTTP port to FILE once listening"},
    {"shutdown-grace", "SECONDS",
     "on SIGTERM/SIGINT, how long requests in flight (and request bodies still arriving) may "
     "take to finish (default 10, 1-3600); "
     "a shutdown still hanging 50 s after that ends the process with status 1"},
    {"base-url", "URL",
     "public base URL of the FHIR API (default http://HOST/fhir from the "
     "request)"},
    {"max-body", "BYTES", "largest request body accepted (default 33554432 = 32 MiB)"},
    {"max-body-memory", "BYTES",
     "request bodies held in memory at once, all requests (default 268435456 = 256 MiB)"},
    {"max-connections-per-address", "N",
     "HTTP connections open at once from one client address (default 64)"},
    {"header-timeout", "SECONDS",
     "close an HTTP connection that has not sent a whole request by then (default 10)"},
    {"log-level", "LEVEL", "debug, info, warn, error or off (default info)"},
    {"tls-cert", "FILE",
     "TLS 1.2+ on HTTP (HTTPS) and MLLP: the certificate chain, PEM (with --tls-key)"},
    {"tls-key", "FILE", "the private key of --tls-cert, PEM"},
    {"http-tls-cert", "FILE", "HTTP only: this certificate chain instead of --tls-cert"},
    {"http-tls-key", "FILE", "HTTP only: the private key of --http-tls-cert"},
    {"http-request-client-cert", NULL,
     "HTTPS: ask clients for a TLS client certificate (optional for the handshake); API clients "
     "bound to one (weft client add --client-cert-sha256) are refused without it"},
    {"metrics", "HOST:PORT",
     "serve Prometheus metrics at /metrics on a separate listener (PORT alone: 127.0.0.1)"},
    {"metrics-port-file", "FILE", "write the bound metrics port to FILE once listening"},
    /* options of the parts below go here */
    {"mllp", "HOST:PORT", "feeds: listen for HL7 v2 over MLLP (port 0 picks one; off when unset)"},
    {"mllp-port-file", "FILE", "feeds: write the bound MLLP port to FILE once listening"},
    {"mllp-max-connections", "N", "feeds: concurrent MLLP connections (default 512)"},
    {"mllp-max-connections-per-address", "N",
     "feeds: MLLP connections open at once from one address (default 32)"},
    {"mllp-first-frame-timeout", "SECONDS",
     "feeds: close an MLLP connection that has sent no whole message by then (default 30)"},
    {"mllp-idle-timeout", "SECONDS",
     "feeds: close an MLLP connection that sends nothing for this long (default 300; 0 = never)"},
    {"mllp-ack-mode", "MODE",
     "feeds: original (one ACK per message once applied; default) or auto (HL7 enhanced "
     "acknowledgement when MSH-15/MSH-16 ask for it: CA once stored, applied behind)"},
    {"mllp-journal", "DIR",
     "feeds: HL7 enhanced mode: the node's accept journal (default: beside a SQLite database, "
     "DB.accepts; required with PostgreSQL)"},
    {"mllp-backlog-max", "N",
     "feeds: HL7 enhanced mode: messages accepted but not yet applied, at most (default "
     "1000000)"},
    {"mllp-writers", "N",
     "feeds: MLLP writer threads, each with its own store connection and group commit; a "
     "connection's messages all go to one (default 2 with PostgreSQL, 1 with SQLite)"},
    {"mllp-tls-cert", "FILE", "feeds: MLLP only: this certificate chain instead of --tls-cert"},
    {"mllp-tls-key", "FILE", "feeds: MLLP only: the private key of --mllp-tls-cert"},
    {"mllp-plain", NULL,
     "feeds: no TLS on MLLP even with --tls-cert (e.g. behind a TLS terminator on loopback)"},
    {"mllp-require-client-cert", NULL,
     "feeds: refuse MLLP/TLS connections without a client certificate that a feed pins "
     "(weft feed add --client-cert-sha256)"},
    {"drop-interval", "SECONDS", "feeds: poll CSV drop folders this often (default 2; 0 = off)"},
    {"audience", "AUD", "access: the aud launch tokens must carry (default weft)"},
    {"breakglass-hours", "N", "access: how long break-glass lasts (default 4)"},
    {"session-hours", "N", "access: how long a launched session lasts (default 8)"},
    {"cookie-secure", NULL, "access: mark the session cookie Secure (serving over TLS)"},
    {"oidc-ca-file", "PEM",
     "access: trust only these CA certificates for https citizen sign-in providers (default: "
     "the system CA store)"},
    {"assets", "DIR",
     "web: nhsuk-frontend's built files, served at /assets (default $WEFT_ASSETS, else "
     "./node_modules/nhsuk-frontend/dist/nhsuk)"},
    {"web-cache", "N", "web: rendered pages kept per store snapshot (default 1024; 0 = off)"},
    {"sar-dir", "DIR",
     "web: where the governance pages write subject access packages (a folder sar-ID per "
     "request; without it they offer only packages weft sar export wrote)"},
    {"export-dir", "DIR",
     "bulk export: where $export writes its NDJSON files (default: the folder exports beside a "
     "SQLite database; ./weft-exports for PostgreSQL)"},
    {"export-hours", "N",
     "bulk export: remove an export's files this many hours after it finished (default 24)"},
    {"dq-interval", "HOURS",
     "data quality: run every organisation's checks this often (default 24; 0 = off)"},
    {"dq-rules", "FILE", "data quality: the rules file (default policy/dq.rules)"},
    {"analytics-refresh", "SECONDS",
     "analytics: recompute and store every secondary output's figures (weft analytics refresh) "
     "this many seconds after the previous refresh (default 0 = off)"},
    {"audit-anchor", "FILE|syslog",
     "audit: append the audit chain's head to FILE (or syslog) at start, every interval, at stop"},
    {"audit-anchor-interval", "SECONDS", "audit: how often to anchor the head (default 300)"},
    {NULL, NULL, NULL},
};

static int fhir_part_start(const struct serve_ctx *ctx, void **state)
{
    (void)state;
    /* the feeds keep every write in the inbox first (feeds/feeds_http.h) */
    struct fhir_api_config cfg = {.base_url = opts_get(ctx->opts, "base-url"),
                                  .write_hook = &feeds_fhir_write_hook,
                                  .bulk_export = true}; /* the bulk part below */
    int rc = fhir_api_register(ctx->http, &cfg);
    if (rc != 0)
        fprintf(stderr, "weft serve: cannot register the FHIR API: %s\n", weft_strerror(rc));
    return rc;
}

static const struct serve_part parts[] = {
    {"audit-anchor", audit_anchor_serve_start, audit_anchor_serve_stop}, /* stops last */
    {"audit", audit_serve_start, audit_serve_stop}, /* the one audit writer, for every part */
    {"access", access_serve_start, access_serve_stop},
    {"fhir", fhir_part_start, NULL},
    {"bulk", bulk_serve_start, bulk_serve_stop}, /* FHIR Bulk Data $export */
    {"feeds-admin", feeds_admin_serve_start, NULL},
    {"mllp", mllp_serve_start, mllp_serve_stop},
    {"drop", drop_serve_start, drop_serve_stop},
    {"web", web_serve_start, web_serve_stop},
    {"dq", dq_serve_start, dq_serve_stop},
    {"analytics-refresh", analytics_refresh_serve_start, analytics_refresh_serve_stop},
    {"my", my_serve_start, my_serve_stop},
    {"metrics", metrics_serve_start, metrics_serve_stop},
    /* one row per part of weft serve, see the comment at the top */
};
#define NPARTS (sizeof parts / sizeof parts[0])

/* Split "HOST:PORT" ("[::1]:8080", ":8080" = all interfaces is not allowed:
 * say the host).  Returns 0 or WEFT_EINVAL. */
static int parse_listen(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return WEFT_EINVAL;
    if (s[0] == '[' && colon[-1] != ']')
        return WEFT_EINVAL;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return WEFT_EINVAL;
    *host = xstrndup(s, (size_t)(colon - s));
    *port = (int)p;
    return WEFT_OK;
}

/* Is host (as given to --http) only reachable from this machine? */
static bool is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int write_port_file(const char *path, int port)
{
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.data, "w");
    int rc = WEFT_OK;
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp.data, path) != 0) {
        fprintf(stderr, "weft serve: cannot write port file '%s': %s\n", path, strerror(errno));
        rc = WEFT_EIO;
    }
    buf_release(&tmp);
    return rc;
}

/* Read a PEM file (certificate or key) into *out (malloc'd, caller frees);
 * prints what is wrong and returns an error when it cannot be read or holds
 * no PEM block. */
static int read_pem(const char *path, const char *what, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "weft serve: cannot read the TLS %s '%s': %s\n", what, path,
                strerror(errno));
        return WEFT_EIO;
    }
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        buf_add(&b, chunk, n);
    fclose(f);
    if (!strstr(b.data, "-----BEGIN ")) {
        fprintf(stderr, "weft serve: the TLS %s '%s' is not PEM\n", what, path);
        buf_release(&b);
        return WEFT_EINVAL;
    }
    *out = buf_detach(&b, NULL);
    return WEFT_OK;
}

/* Shutdown always completes: requests in flight get --shutdown-grace
 * seconds (default 10), the parts stop after; if something still hangs (a
 * library thread that will not stop) SHUTDOWN_SLACK_S after the grace, the
 * process ends anyway rather than needing SIGKILL.  Every write Weft
 * acknowledged is already durable, so nothing acknowledged is lost. */
#define SHUTDOWN_GRACE_DEFAULT_S 10
#define SHUTDOWN_SLACK_S 50

static void *shutdown_watchdog(void *arg)
{
    long limit = (long)(intptr_t)arg;
    struct timespec ts = {limit, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
    log_error("serve", "shutdown did not complete within %ld s: exiting now", limit);
    _exit(1);
}

/* Check that the database exists and has a schema before taking traffic. */
static int check_store(const char *db)
{
    struct store *s = NULL;
    char *msg = NULL;
    struct store_url u;
    store_url_parse(db, &u);
    if (u.kind == STORE_KIND_SQLITE && access(u.path, F_OK) != 0) {
        fprintf(stderr, "weft serve: database '%s' does not exist: run 'weft init --db %s' first\n",
                u.path, u.path);
        return WEFT_ENOTFOUND;
    }
    int rc = store_open(&s, db, false, &msg);
    if (rc != 0) {
        /* The store's message already names the database. */
        if (msg)
            fprintf(stderr, "weft serve: %s\n", msg);
        else
            fprintf(stderr, "weft serve: cannot open database '%s': %s\n", db, weft_strerror(rc));
        free(msg);
        return rc;
    }
    int version = 0;
    rc = store_schema_version(s, &version);
    if (rc == 0 && version == 0) {
        fprintf(stderr, "weft serve: database '%s' has no schema: run 'weft init --db %s' first\n",
                db, db);
        rc = WEFT_EINVAL;
    } else if (rc != 0) {
        fprintf(stderr, "weft serve: cannot read the schema version of '%s': %s\n", db,
                store_errmsg(s));
    } else {
        rc = cmd_store_require_current("serve", db, s);
    }
    store_close(s);
    return rc;
}

/* API clients bound to a TLS client certificate can only be served when the
 * HTTPS listener asks for certificates: say so at start rather than leave
 * the operator to find out from their 401s. */
static void warn_bound_clients(const char *db, bool ask_cert)
{
    if (ask_cert)
        return;
    struct store *s = NULL;
    char *msg = NULL;
    if (store_open(&s, db, false, &msg) != 0) {
        free(msg);
        return;
    }
    free(msg);
    struct store_client *cs = NULL;
    int n = 0, bound = 0;
    if (store_client_list(s, &cs, &n) == 0) {
        for (int i = 0; i < n; i++) {
            if (cs[i].client_cert_sha256 && !cs[i].revoked)
                bound++;
            store_client_clear(&cs[i]);
        }
        free(cs);
    }
    store_close(s);
    if (bound)
        log_warn("serve",
                 "%d API client%s bound to a TLS client certificate: without HTTPS and "
                 "--http-request-client-cert %s refused",
                 bound, bound == 1 ? " is" : "s are", bound == 1 ? "it is" : "they are");
}

int cmd_serve(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_serve_specs, argc, argv);
    if (rc != 0 || o.help) {
        bool help = o.help;
        opts_free(&o);
        if (help) {
            opts_print_help("usage: weft serve --db PATH [--http HOST:PORT] [options]\n\n"
                            "Serves the FHIR R4 API under /fhir, GET /health, and the other "
                            "parts of Weft.\nStops cleanly on SIGTERM or SIGINT.",
                            cmd_serve_specs);
            return 0;
        }
        return EXIT_USAGE;
    }
    int status = 1;
    char *host = NULL;
    char *tls_cert = NULL, *tls_key = NULL;
    struct http_server *srv = NULL;
    void *states[NPARTS + 1];
    size_t started = 0;
    const char *db = opts_get(&o, "db");
    const char *listen = opts_get_or(&o, "http", "127.0.0.1:8080");
    long threads = 0, max_body = 0, body_memory = 0, per_address = 0, header_timeout = 0;
    long grace = SHUTDOWN_GRACE_DEFAULT_S;
    int port = 0;
    const char *lvl = opts_get(&o, "log-level");
    if (lvl) {
        enum log_level level;
        if (log_level_parse(lvl, &level) != 0) {
            fprintf(stderr, "weft serve: --log-level '%s' is not debug, info, warn, error or off\n",
                    lvl);
            status = EXIT_USAGE;
            goto out;
        }
        log_set_level(level);
    }
    if (!db) {
        fprintf(stderr, "weft serve: --db PATH is required (or 'db = PATH' in weft.conf)\n");
        status = EXIT_USAGE;
        goto out;
    }
    const char *db_read = opts_get(&o, "db-read");
    if (db_read && (!store_url_is_postgres(db_read) || !store_url_is_postgres(db))) {
        fprintf(stderr, "weft serve: --db-read takes a PostgreSQL hot standby of a PostgreSQL --db"
                        " (postgres://USER@HOST:PORT/DB)\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (parse_listen(listen, &host, &port) != 0) {
        fprintf(stderr, "weft serve: --http '%s' is not HOST:PORT (e.g. 127.0.0.1:8080)\n", listen);
        status = EXIT_USAGE;
        goto out;
    }
    if (opts_get_long(&o, "threads", 0, &threads) != 0 || threads < 0 || threads > 256 ||
        opts_get_long(&o, "max-body", 0, &max_body) != 0 || max_body < 0 ||
        opts_get_long(&o, "max-body-memory", 0, &body_memory) != 0 || body_memory < 0) {
        fprintf(stderr, "weft serve: --threads must be 0-256 and --max-body and --max-body-memory "
                        "byte counts\n");
        status = EXIT_USAGE;
        goto out;
    }
    /* On PostgreSQL a worker spends most of a request waiting for the
     * server (another process, on these cores or another machine), not
     * computing: four workers a core keep the cores busy meanwhile. */
    if (threads == 0 && store_url_is_postgres(db)) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (cores * 4 > 64 ? 64 : cores * 4) : 8;
    }
    if (opts_get_long(&o, "max-connections-per-address", HTTP_PER_ADDRESS_DEFAULT, &per_address) !=
            0 ||
        per_address < 1 || per_address > 100000 ||
        opts_get_long(&o, "header-timeout", HTTP_HEADER_TIMEOUT_DEFAULT, &header_timeout) != 0 ||
        header_timeout < 1 || header_timeout > 3600) {
        fprintf(stderr, "weft serve: --max-connections-per-address must be 1-100000 and "
                        "--header-timeout 1-3600 seconds\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (opts_get_long(&o, "shutdown-grace", SHUTDOWN_GRACE_DEFAULT_S, &grace) != 0 || grace < 1 ||
        grace > 3600) {
        fprintf(stderr, "weft serve: --shutdown-grace must be 1-3600 seconds\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (!is_loopback(host) && !opts_get(&o, "base-url")) {
        /* Without it the FHIR API builds fullUrl and paging links from the
         * client's Host header, which anyone reaching a public address can
         * set. */
        fprintf(stderr,
                "weft serve: --http %s is not a loopback address: say the public address with "
                "--base-url URL (e.g. https://weft.example.nhs.uk/fhir)\n",
                listen);
        status = EXIT_USAGE;
        goto out;
    }
    if (check_store(db) != 0)
        goto out;
    if (db_read) {
        /* not fatal: a standby that is down is the case --db-read must survive */
        struct store *rs = NULL;
        char *msg = NULL;
        if (store_open(&rs, db_read, false, &msg) != 0)
            log_warn("serve",
                     "the read standby cannot be reached now, reads go to the primary "
                     "until it answers: %s",
                     msg ? msg : "");
        else
            log_info("serve", "reads that may lag go to the read standby (--db-read)");
        free(msg);
        store_close(rs);
    }
    /* HTTP's own pair, else the pair both listeners share */
    const char *cert_file = opts_get(&o, "http-tls-cert"), *key_file = opts_get(&o, "http-tls-key");
    bool http_pair = cert_file || key_file;
    if (!http_pair) {
        cert_file = opts_get(&o, "tls-cert");
        key_file = opts_get(&o, "tls-key");
    }
    if (!cert_file != !key_file) {
        fprintf(stderr, "weft serve: %s\n",
                http_pair ? "--http-tls-cert and --http-tls-key go together"
                          : "--tls-cert and --tls-key go together");
        status = EXIT_USAGE;
        goto out;
    }
    if (cert_file && (read_pem(cert_file, "certificate", &tls_cert) != 0 ||
                      read_pem(key_file, "private key", &tls_key) != 0))
        goto out;
    bool ask_cert = opts_flag(&o, "http-request-client-cert");
    if (ask_cert && !cert_file) {
        fprintf(stderr, "weft serve: --http-request-client-cert needs HTTPS (--tls-cert and "
                        "--tls-key, or --http-tls-cert and --http-tls-key)\n");
        status = EXIT_USAGE;
        goto out;
    }
    warn_bound_clients(db, ask_cert);
    const char *oidc_ca = opts_get(&o, "oidc-ca-file");
    char *ca_err = NULL;
    if (oidc_ca && http_client_set_ca_file(oidc_ca, &ca_err) != 0) {
        fprintf(stderr, "weft serve: --oidc-ca-file: %s\n", ca_err ? ca_err : "unusable");
        free(ca_err);
        status = EXIT_USAGE;
        goto out;
    }

    /* Only this thread takes SIGTERM/SIGINT; every thread started from here
     * on (HTTP pool, parts) inherits the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct http_server_config cfg = {
        .host = host,
        .port = port,
        .threads = (int)threads,
        .max_body = (size_t)max_body,
        .body_memory = (size_t)body_memory,
        .max_per_address = (int)per_address,
        .header_timeout_s = (int)header_timeout,
        .store_url = db,
        .read_url = db_read,
        .version = WEFT_VERSION,
        .tls_cert_pem = tls_cert,
        .tls_key_pem = tls_key,
        .request_client_cert = ask_cert,
    };
    if (http_server_init(&srv, &cfg) != 0) {
        fprintf(stderr, "weft serve: cannot set up the HTTP server\n");
        goto out;
    }
    struct serve_ctx ctx = {.http = srv, .opts = &o, .db = db, .version = WEFT_VERSION};
    for (; started < NPARTS; started++) {
        states[started] = NULL;
        if (parts[started].start(&ctx, &states[started]) != 0) {
            fprintf(stderr, "weft serve: part '%s' failed to start\n", parts[started].name);
            goto stop_parts;
        }
    }
    char *err = NULL;
    if (http_server_start(srv, &err) != 0) {
        fprintf(stderr, "weft serve: %s\n", err ? err : "cannot start the HTTP server");
        free(err);
        goto stop_parts;
    }
    port = http_server_port(srv);
    bool v6 = strchr(host, ':') && host[0] != '[';
    log_info("serve", "listening http=%s%s%s:%d threads=%d", v6 ? "[" : "", host, v6 ? "]" : "",
             port, http_server_threads(srv));
    const char *port_file = opts_get(&o, "port-file");
    if (port_file && write_port_file(port_file, port) != 0) {
        http_server_stop(srv, 0);
        goto stop_parts;
    }

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    log_info("serve", "signal %d: stopping (finishing requests in flight)", sig);
    pthread_t dog;
    if (pthread_create(&dog, NULL, shutdown_watchdog,
                       (void *)(intptr_t)(grace + SHUTDOWN_SLACK_S)) == 0)
        pthread_detach(dog);
    http_server_stop(srv, (int)(grace * 1000));
    status = 0;
stop_parts:
    while (started > 0) {
        started--;
        if (parts[started].stop)
            parts[started].stop(&ctx, states[started]);
    }
    http_server_free(srv);
    if (status == 0)
        log_info("serve", "stopped");
out:
    free(host);
    free(tls_cert);
    if (tls_key)
        explicit_bzero(tls_key, strlen(tls_key));
    free(tls_key);
    opts_free(&o);
    return status;
}
