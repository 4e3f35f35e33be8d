/*
 * cmd_client.c - `weft client add|list|revoke`: API clients and their bearer
 * tokens.  A token is 32 random bytes (libsodium), base64url without
 * padding, printed once on stdout; the store keeps only its SHA-256 (hex).
 *
 * A client added with --jwks FILE has no bearer token: it is a SMART Backend
 * Services client (access/backend.h) that signs its own assertions with the
 * keys of that public key set, registered for a purpose (direct care or
 * secondary uses); 'add' then prints its client id, the iss and sub of its
 * assertions.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "access/backend.h"
#include "access/org.h"
#include "cmd/cmd.h"
#include "core/err.h"
#include "core/opt.h"
#include "core/tls.h"
#include "store/access.h"
#include "store/store.h"
#include "store/txn.h"

#define DEFAULT_SCOPES "system/*.rs"
#define WRITE_SCOPES "system/*.cud"

const struct opt_spec cmd_client_specs[] = {
    CMD_OPT_DB,
    {"name", "NAME", "add: a name for the client (who uses it), required"},
    {"org", "ODS", "add: the ODS code of the client's organisation"},
    {"scope", "SCOPES", "add: space-separated scopes (default \"" DEFAULT_SCOPES "\": read)"},
    {"write", NULL, "add: also allow writing (adds \"" WRITE_SCOPES "\": POST bundles)"},
    {"client-cert-sha256", "HEX",
     "add: bind the token to this TLS client certificate (SHA-256 fingerprint): refused on any "
     "connection that does not present it (HTTPS with --http-request-client-cert)"},
    {"purpose", "direct|secondary",
     "add: what the client is for (required with --jwks; default direct): direct care (the "
     "records its organisation may see) or secondary uses (FHIR Bulk Data export only: "
     "people cleared by the national data opt-out, de-identified)"},
    {"jwks", "FILE",
     "add: a SMART Backend Services client: its public key set (JWKS JSON: RSA keys for RS384, "
     "EC P-384 keys for ES384, each with a kid); prints the client id instead of a token"},
    {"id", "N", "revoke: the client id (see weft client list)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft client add --db PATH --name NAME [--org ODS] [--scope SCOPES] [--write]\n"
    "                       [--client-cert-sha256 HEX] [--purpose direct|secondary]\n"
    "       weft client add --db PATH --name NAME --org ODS --purpose direct|secondary\n"
    "                       --jwks FILE [--scope SCOPES] [--write]\n"
    "       weft client list --db PATH\n"
    "       weft client revoke --db PATH --id N\n\n"
    "API clients of the FHIR API.  'add' prints the new bearer token, alone on\n"
    "standard output, once: only its SHA-256 is stored, so keep it safe.\n"
    "'list' shows every client (never tokens); 'revoke' disables one at once.\n"
    "A client added with --client-cert-sha256 is accepted only over HTTPS from a\n"
    "connection presenting that certificate (weft serve --http-request-client-cert).\n"
    "A client added with --jwks is a SMART Backend Services client: 'add' prints\n"
    "its client id alone on standard output; it gets short-lived tokens from\n"
    "POST /oauth/token with an assertion signed by one of its keys (docs/ACCESS.md).\n";

/* Hex SHA-256 of a token into out (65 bytes). */
static void token_hash(const char *token, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, d, sizeof d);
}

static bool valid_ods(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    return n >= 3 && n <= 16;
}

/* Read a key set file (at most BACKEND_MAX_JWKS bytes) into a malloc'd
 * string; NULL with a message on stderr. */
static char *read_jwks(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "weft client add: cannot read --jwks '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(BACKEND_MAX_JWKS + 2);
    size_t n = text ? fread(text, 1, BACKEND_MAX_JWKS + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!text || err || n > BACKEND_MAX_JWKS) {
        fprintf(stderr, "weft client add: --jwks '%s': %s\n", path,
                err ? "read error" : "larger than 64 KiB");
        free(text);
        return NULL;
    }
    text[n] = 0;
    return text;
}

/* weft client add --jwks: a SMART Backend Services client. */
static int client_add_keys(struct store *s, const struct opts *o, const char *name, const char *org)
{
    const char *purpose = opts_get(o, "purpose");
    if (!org) {
        fprintf(stderr, "weft client add: --jwks needs --org ODS (the client's organisation)\n");
        return EXIT_USAGE;
    }
    if (!purpose || (strcmp(purpose, BACKEND_PURPOSE_DIRECT) != 0 &&
                     strcmp(purpose, BACKEND_PURPOSE_SECONDARY) != 0)) {
        fprintf(stderr, "weft client add: --jwks needs --purpose direct or --purpose secondary\n");
        return EXIT_USAGE;
    }
    if (opts_get(o, "client-cert-sha256")) {
        fprintf(stderr, "weft client add: --client-cert-sha256 binds a bearer token; a --jwks "
                        "client has none\n");
        return EXIT_USAGE;
    }
    char *jwks = read_jwks(opts_get(o, "jwks"));
    if (!jwks)
        return EXIT_USAGE;
    const char *why = NULL;
    int nkeys = backend_jwks_check(jwks, &why);
    if (nkeys < 0) {
        fprintf(stderr, "weft client add: --jwks '%s': %s\n", opts_get(o, "jwks"), why);
        free(jwks);
        return EXIT_USAGE;
    }
    char scopes[1024];
    snprintf(scopes, sizeof scopes, "%s%s%s", opts_get_or(o, "scope", DEFAULT_SCOPES),
             opts_flag(o, "write") ? " " : "", opts_flag(o, "write") ? WRITE_SCOPES : "");
    int64_t id;
    int rc = store_client_add_keys(s, name, org, scopes, purpose, jwks, &id);
    free(jwks);
    if (rc != 0) {
        fprintf(stderr, "weft client add: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%lld\n", (long long)id);
    fflush(stdout);
    fprintf(stderr,
            "client %lld '%s' added for %s use with %d key%s and scopes \"%s\"; it signs its "
            "assertions with iss = sub = %lld\n",
            (long long)id, name, purpose, nkeys, nkeys == 1 ? "" : "s", scopes, (long long)id);
    int aerr = 0;
    if (!org_agreement_in_force(s, org, time(NULL), &aerr) && !aerr)
        fprintf(stderr,
                "warning: organisation %s has no data sharing agreement in force: this client "
                "is refused until one is recorded (weft org agreement)\n",
                org);
    return 0;
}

static int client_add(struct store *s, const struct opts *o)
{
    const char *name = opts_get(o, "name");
    const char *org = opts_get(o, "org");
    if (!name || !*name) {
        fprintf(stderr, "weft client add: --name NAME is required\n");
        return EXIT_USAGE;
    }
    if (org && !valid_ods(org)) {
        fprintf(stderr,
                "weft client add: --org '%s' is not an ODS code (upper-case letters and "
                "digits)\n",
                org);
        return EXIT_USAGE;
    }
    if (opts_get(o, "jwks"))
        return client_add_keys(s, o, name, org);
    const char *cert_in = opts_get(o, "client-cert-sha256");
    char cert[65] = "";
    if (cert_in && !tls_sha256_parse(cert_in, cert)) {
        fprintf(stderr,
                "weft client add: --client-cert-sha256 must be a SHA-256 fingerprint: 64 hex "
                "digits (colons allowed), e.g. from 'openssl x509 -noout -fingerprint -sha256 "
                "-in CERT'\n");
        return EXIT_USAGE;
    }
    const char *purpose = opts_get_or(o, "purpose", "direct");
    if (strcmp(purpose, "direct") != 0 && strcmp(purpose, "secondary") != 0) {
        fprintf(stderr, "weft client add: --purpose must be direct or secondary, not '%s'\n",
                purpose);
        return EXIT_USAGE;
    }
    char scopes[1024];
    snprintf(scopes, sizeof scopes, "%s%s%s", opts_get_or(o, "scope", DEFAULT_SCOPES),
             opts_flag(o, "write") ? " " : "", opts_flag(o, "write") ? WRITE_SCOPES : "");
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char token[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    char hash[65];
    token_hash(token, hash);
    int64_t id;
    /* one transaction: a client is never left with the wrong purpose */
    struct store_txn t;
    int rc = store_txn_begin(&t, s);
    if (rc == 0)
        rc = store_txn_check(
            &t, store_client_add(s, name, org, scopes, hash, cert[0] ? cert : NULL, &id));
    if (rc == 0 && strcmp(purpose, "direct") != 0)
        rc = store_txn_check(&t, store_client_set_purpose(s, id, purpose));
    if (rc == 0)
        rc = store_txn_commit(&t);
    else
        store_txn_rollback(&t);
    if (rc != 0) {
        fprintf(stderr, "weft client add: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr,
            "client %lld '%s' added with scopes \"%s\" for %s use%s%s; the token above is shown "
            "once\n",
            (long long)id, name, scopes, purpose,
            cert[0] ? ", bound to the TLS client certificate sha256:" : "", cert);
    /* the client will be refused (reads and writes) until its organisation
     * has an agreement in force: say so now rather than at the first 403 */
    int aerr = 0;
    if (org && !org_agreement_in_force(s, org, time(NULL), &aerr) && !aerr)
        fprintf(stderr,
                "warning: organisation %s has no data sharing agreement in force: this client "
                "is refused until one is recorded (weft org agreement)\n",
                org);
    sodium_memzero(token, sizeof token);
    return 0;
}

static int client_list(struct store *s)
{
    struct store_client *cs;
    int n;
    if (store_client_list(s, &cs, &n) != 0) {
        fprintf(stderr, "weft client list: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%-5s %-24s %-10s %-10s %-8s %-26s %-26s %-26s %s\n", "id", "name", "org", "purpose",
           "keys", "created", "revoked", "client_cert", "scopes");
    for (int i = 0; i < n; i++) {
        /* the fingerprint's first 16 digits: enough to tell certificates
         * apart at a glance (the whole one is in the database) */
        char cert[32] = "-";
        if (cs[i].client_cert_sha256)
            snprintf(cert, sizeof cert, "sha256:%.16s...", cs[i].client_cert_sha256);
        /* keys: how many a Backend Services client registered ("-": a
         * bearer-token client) */
        char keys[16] = "-";
        if (cs[i].jwks) {
            json_t *set = json_loads(cs[i].jwks, 0, NULL);
            snprintf(keys, sizeof keys, "jwks:%zu", json_array_size(json_object_get(set, "keys")));
            json_decref(set);
        }
        printf("%-5lld %-24s %-10s %-10s %-8s %-26s %-26s %-26s %s\n", (long long)cs[i].id,
               cs[i].name, cs[i].org ? cs[i].org : "-",
               cs[i].purpose ? cs[i].purpose : BACKEND_PURPOSE_DIRECT, keys, cs[i].created,
               cs[i].revoked ? cs[i].revoked : "-", cert, cs[i].scopes ? cs[i].scopes : "");
        store_client_clear(&cs[i]);
    }
    free(cs);
    return 0;
}

static int client_revoke(struct store *s, const struct opts *o)
{
    long id;
    if (opts_get_long(o, "id", -1, &id) != 0)
        return EXIT_USAGE;
    if (id < 0) {
        fprintf(stderr, "weft client revoke: --id N is required (see weft client list)\n");
        return EXIT_USAGE;
    }
    int rc = store_client_revoke(s, id);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft client revoke: no active client with id %ld\n", id);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "weft client revoke: %s\n", store_errmsg(s));
        return 1;
    }
    fprintf(stderr, "client %ld revoked\n", id);
    return 0;
}

int cmd_client(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_client_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_client_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    if (!sub ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) ||
        o.npos > 1) {
        fprintf(stderr, "weft client: %s%s%s (add, list or revoke; see weft client --help)\n",
                sub ? "unknown action '" : "an action is needed", sub ? sub : "", sub ? "'" : "");
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *db = opts_get(&o, "db");
    if (!db) {
        fprintf(stderr, "weft client %s: --db PATH is required\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    char what[64];
    snprintf(what, sizeof what, "client %s", sub);
    if (cmd_store_open_current(what, db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    if (strcmp(sub, "add") == 0)
        rc = client_add(s, &o);
    else if (strcmp(sub, "list") == 0)
        rc = client_list(s);
    else
        rc = client_revoke(s, &o);
    store_close(s);
    opts_free(&o);
    return rc;
}
