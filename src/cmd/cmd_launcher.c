/*
 * cmd_launcher.c - `weft launcher add|list|revoke`: host systems (GP system,
 * hospital EPR, social care system) allowed to launch staff into the record
 * with a signed JWT.  Each is registered with its organisation, its issuer
 * name and its key, and the algorithm is pinned: a token signed any other
 * way is refused (docs/ACCESS.md).  Keys are checked here so a bad key is
 * found at registration, not at 3 a.m. in A&E.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/access.h"
#include "store/store.h"
#include "store/txn.h"

const struct opt_spec cmd_launcher_specs[] = {
    CMD_OPT_DB,
    {"name", "NAME", "the launcher's name (e.g. emis-web-g82001)"},
    {"org", "ODS", "add: the organisation it launches for"},
    {"issuer", "ISS", "add: the iss claim its tokens carry"},
    {"alg", "ALG", "add: HS256, RS256 or ES256 (pinned)"},
    {"secret-file", "FILE", "add: HS256 shared secret (at least 32 bytes)"},
    {"public-key-file", "PEM", "add: RS256 (RSA >= 2048 bits) or ES256 (P-256) public key"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft launcher add --db PATH --name NAME --org ODS --issuer ISS\n"
    "                         --alg HS256|RS256|ES256 (--secret-file F | --public-key-file PEM)\n"
    "       weft launcher list --db PATH\n"
    "       weft launcher revoke --db PATH --name NAME";

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WEFT_EIO;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && out->len < 65536)
        buf_add(out, chunk, n);
    fclose(f);
    return out->len >= 65536 ? WEFT_ETOOBIG : 0;
}

/* Check that pem is a public key fit for alg; returns a static complaint or NULL. */
static const char *check_public_key(const char *pem, size_t len, const char *alg)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!k)
        return "the file is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
    const char *bad = NULL;
    if (strcmp(alg, "RS256") == 0) {
        if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA)
            bad = "RS256 needs an RSA public key";
        else if (EVP_PKEY_get_bits(k) < 2048)
            bad = "the RSA key is shorter than 2048 bits";
    } else {
        char group[64] = "";
        size_t gl = 0;
        if (EVP_PKEY_base_id(k) != EVP_PKEY_EC ||
            !EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &gl) ||
            strcmp(group, "prime256v1") != 0)
            bad = "ES256 needs an EC public key on curve P-256 (prime256v1)";
    }
    EVP_PKEY_free(k);
    return bad;
}

static void audit_admin(struct store *s, const char *what, const char *reason)
{
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct audit_event ev = {.action = AUDIT_ADMIN,
                             .outcome = AUDIT_OK,
                             .client = by.data,
                             .what = what,
                             .count = -1,
                             .reason = reason};
    if (audit_append(s, &ev, NULL) != 0)
        fprintf(stderr, "weft launcher: warning: audit entry not written: %s\n", store_errmsg(s));
    buf_release(&by);
}

static int do_add(struct opts *o, struct store *s)
{
    const char *name = opts_get(o, "name"), *org = opts_get(o, "org"), *iss = opts_get(o, "issuer"),
               *alg = opts_get(o, "alg"), *sf = opts_get(o, "secret-file"),
               *pf = opts_get(o, "public-key-file");
    if (!name || !*name || strlen(name) > 100 || !iss || !*iss || strlen(iss) > 200) {
        fprintf(stderr, "weft launcher add: --name and --issuer are required\n%s\n", usage);
        return EXIT_USAGE;
    }
    if (!org_ods_valid(org)) {
        fprintf(stderr, "weft launcher add: --org ODS is required\n");
        return EXIT_USAGE;
    }
    if (!alg ||
        (strcmp(alg, "HS256") != 0 && strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0)) {
        fprintf(stderr, "weft launcher add: --alg must be HS256, RS256 or ES256\n");
        return EXIT_USAGE;
    }
    bool hs = strcmp(alg, "HS256") == 0;
    if ((hs && (!sf || pf)) || (!hs && (!pf || sf))) {
        fprintf(stderr, "weft launcher add: %s needs %s (and not the other key option)\n", alg,
                hs ? "--secret-file FILE" : "--public-key-file PEM");
        return EXIT_USAGE;
    }
    struct buf key = BUF_INIT;
    const char *file = hs ? sf : pf;
    if (read_file(file, &key) != 0) {
        fprintf(stderr, "weft launcher add: cannot read '%s'\n", file);
        buf_release(&key);
        return 1;
    }
    if (hs) {
        while (key.len > 0 && (key.data[key.len - 1] == '\n' || key.data[key.len - 1] == '\r'))
            buf_truncate(&key, key.len - 1);
        if (key.len < 32 || memchr(key.data, 0, key.len)) {
            fprintf(stderr,
                    "weft launcher add: the secret in '%s' must be at least 32 bytes of "
                    "text (generate one with: openssl rand -hex 32)\n",
                    file);
            buf_release(&key);
            return 1;
        }
    } else {
        const char *bad = check_public_key(key.data, key.len, alg);
        if (bad) {
            fprintf(stderr, "weft launcher add: '%s': %s\n", file, bad);
            buf_release(&key);
            return 1;
        }
    }
    struct store_org so;
    int rc = store_org_get(s, org, &so);
    store_org_clear(&so);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft launcher add: no organisation '%s': add it with 'weft org add'\n",
                org);
        buf_release(&key);
        return 1;
    }
    struct store_launcher l = {.name = (char *)name,
                               .org = (char *)org,
                               .issuer = (char *)iss,
                               .alg = (char *)alg,
                               .key = key.data};
    int64_t id = 0;
    struct store_txn txn;
    if (rc == 0 && (rc = store_txn_begin(&txn, s)) == 0) {
        rc = store_launcher_add(s, &l, &id);
        if (rc == 0) {
            struct buf what = BUF_INIT;
            buf_addf(&what, "launcher/%s org/%s iss=%s alg=%s", name, org, iss, alg);
            audit_admin(s, what.data, "launcher registered");
            buf_release(&what);
            rc = store_txn_commit(&txn);
        } else {
            store_txn_rollback(&txn);
        }
    }
    buf_release(&key);
    if (rc == WEFT_EEXIST) {
        fprintf(stderr, "weft launcher add: a launcher named '%s' or with issuer '%s' exists\n",
                name, iss);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "weft launcher add: %s\n", store_errmsg(s));
        return 1;
    }
    printf("launcher %s registered for %s (issuer %s, %s pinned)\n", name, org, iss, alg);
    if (!org_agreement_in_force(s, org, time(NULL), NULL))
        printf("note: %s has no agreement in force today: launches will be refused until it "
               "has one (weft org agreement)\n",
               org);
    return 0;
}

static int do_list(struct store *s)
{
    struct store_launcher *l = NULL;
    int n = 0;
    if (store_launcher_list(s, &l, &n) != 0) {
        fprintf(stderr, "weft launcher list: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%-24s %-10s %-6s %-8s %s\n", "NAME", "ORG", "ALG", "STATE", "ISSUER");
    for (int i = 0; i < n; i++) {
        printf("%-24s %-10s %-6s %-8s %s\n", l[i].name, l[i].org, l[i].alg,
               l[i].revoked ? "revoked" : "active", l[i].issuer);
        store_launcher_clear(&l[i]);
    }
    free(l);
    printf("%d launcher(s)\n", n);
    return 0;
}

static int do_revoke(struct opts *o, struct store *s)
{
    const char *name = opts_get(o, "name");
    if (!name) {
        fprintf(stderr, "weft launcher revoke: --name NAME is required\n");
        return EXIT_USAGE;
    }
    struct store_txn txn;
    int rc = store_txn_begin(&txn, s);
    if (rc == 0) {
        rc = store_launcher_revoke(s, name);
        if (rc == 0) {
            struct buf what = BUF_INIT;
            buf_addf(&what, "launcher/%s", name);
            audit_admin(s, what.data, "launcher revoked");
            buf_release(&what);
            rc = store_txn_commit(&txn);
        } else {
            store_txn_rollback(&txn);
        }
    }
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft launcher revoke: no active launcher named '%s'\n", name);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "weft launcher revoke: %s\n", store_errmsg(s));
        return 1;
    }
    printf("launcher %s revoked\n", name);
    return 0;
}

int cmd_launcher(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_launcher_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_launcher_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db");
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    if (!db || !sub ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (cmd_store_open_current("launcher", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    int status = strcmp(sub, "add") == 0    ? do_add(&o, s)
                 : strcmp(sub, "list") == 0 ? do_list(s)
                                            : do_revoke(&o, s);
    store_close(s);
    opts_free(&o);
    return status;
}
