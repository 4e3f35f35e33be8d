/*
 * cmd_citizen_idp.c - `weft citizen-idp add|list|remove`: the OpenID Connect
 * providers citizens sign in with (NHS login, or a provider in its shape).
 * Nothing about a provider is compiled in: its issuer, Weft's client id
 * there, the private key Weft signs its client assertions with
 * (private_key_jwt) and the callback URL registered with it are data.
 * Every change is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/oidc.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/citizen.h"
#include "store/store.h"
#include "store/txn.h"

const struct opt_spec cmd_citizen_idp_specs[] = {
    CMD_OPT_DB,
    {"name", "NAME", "short name of the provider (letters, digits, -)"},
    {"issuer", "URL", "add: the provider's issuer, exactly as in its ID tokens"},
    {"client-id", "ID", "add: Weft's client id at the provider"},
    {"key-file", "PEM", "add: Weft's RSA private key for private_key_jwt (2048 bits or more)"},
    {"key-id", "KID", "add: the key's id registered with the provider"},
    {"redirect-uri", "URL", "add: the callback registered with the provider (…/my/callback)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft citizen-idp add --db PATH --name NAME --issuer URL --client-id ID\n"
    "                            --key-file PEM [--key-id KID] --redirect-uri URL\n"
    "       weft citizen-idp list --db PATH\n"
    "       weft citizen-idp remove --db PATH --name NAME";

static bool name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
            return false;
    return true;
}

static bool url_ok(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           strlen(u) < 512 && !strpbrk(u, " \t\r\n\"<>");
}

static int audit(struct store *s, const char *what)
{
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user && *user ? user : "unknown");
    struct audit_event ev = {.action = AUDIT_ADMIN,
                             .outcome = AUDIT_OK,
                             .client = by.data,
                             .what = what,
                             .count = -1,
                             .reason = "citizen identity provider changed"};
    int rc = audit_append(s, &ev, NULL);
    buf_release(&by);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 65536)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_detach(&b, NULL);
}

int cmd_citizen_idp(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_citizen_idp_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_citizen_idp_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *sub = o.npos == 1 ? o.pos[0] : "";
    const char *name = opts_get(&o, "name");
    bool add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0,
         rm = strcmp(sub, "remove") == 0;
    if (!db || !(add || list || rm) || (!list && !name)) {
        fprintf(stderr, "%s\n", usage);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store_citizen_idp in = {0};
    char *key = NULL, now[32];
    if (add) {
        const char *issuer = opts_get(&o, "issuer"), *cid = opts_get(&o, "client-id");
        const char *kf = opts_get(&o, "key-file"), *redirect = opts_get(&o, "redirect-uri");
        const char *bad = !name_ok(name)           ? "--name: lower-case letters, digits and -"
                          : !url_ok(issuer)        ? "--issuer must be an http(s) URL"
                          : !cid || !*cid          ? "--client-id is required"
                          : !url_ok(redirect)      ? "--redirect-uri must be an http(s) URL"
                          : !kf                    ? "--key-file is required"
                          : !(key = read_file(kf)) ? "--key-file cannot be read"
                          : !oidc_key_usable(key)
                              ? "--key-file is not an RSA private key of 2048 bits or more"
                              : NULL;
        if (bad) {
            fprintf(stderr, "weft citizen-idp add: %s\n", bad);
            free(key);
            opts_free(&o);
            return EXIT_USAGE;
        }
        audit_now(now);
        in = (struct store_citizen_idp){.name = (char *)name,
                                        .issuer = (char *)issuer,
                                        .client_id = (char *)cid,
                                        .key_pem = key,
                                        .key_id = (char *)opts_get(&o, "key-id"),
                                        .redirect_uri = (char *)redirect,
                                        .created = now};
    }
    struct store *s = NULL;
    if (cmd_store_open_current("citizen-idp", db, &s) != 0) {
        free(key);
        opts_free(&o);
        return 1;
    }
    int exit_status = 1;
    struct buf what = BUF_INIT;
    if (add) {
        buf_addf(&what, "citizen-idp add %s issuer=%s client_id=%s", name, in.issuer, in.client_id);
        struct store_txn txn;
        if ((rc = store_txn_begin(&txn, s)) == 0) {
            rc = store_citizen_idp_add(s, &in);
            if (rc == 0)
                rc = audit(s, what.data);
            rc = rc == 0 ? store_txn_commit(&txn) : (store_txn_rollback(&txn), rc);
        }
        if (rc == 0)
            printf("provider %s added: sign-in at /my/login?idp=%s\n", name, name);
        else
            fprintf(stderr, "weft citizen-idp add: %s\n", store_errmsg(s));
        exit_status = rc ? 1 : 0;
    } else if (rm) {
        buf_addf(&what, "citizen-idp remove %s", name);
        struct store_txn txn;
        if ((rc = store_txn_begin(&txn, s)) == 0) {
            rc = store_citizen_idp_remove(s, name);
            if (rc == 0)
                rc = audit(s, what.data);
            rc = rc == 0 ? store_txn_commit(&txn) : (store_txn_rollback(&txn), rc);
        }
        if (rc == 0)
            printf("provider %s removed\n", name);
        else
            fprintf(stderr, "weft citizen-idp remove: %s\n", store_errmsg(s));
        exit_status = rc ? 1 : 0;
    } else {
        struct store_citizen_idp *p = NULL;
        int n = 0;
        if (store_citizen_idp_list(s, &p, &n) == 0) {
            printf("%-16s %-40s %-20s %s\n", "name", "issuer", "client_id", "redirect_uri");
            for (int i = 0; i < n; i++)
                printf("%-16s %-40s %-20s %s\n", p[i].name, p[i].issuer, p[i].client_id,
                       p[i].redirect_uri);
            exit_status = 0;
        } else {
            fprintf(stderr, "weft citizen-idp list: %s\n", store_errmsg(s));
        }
        for (int i = 0; i < n; i++)
            store_citizen_idp_clear(&p[i]);
        free(p);
    }
    buf_release(&what);
    free(key);
    store_close(s);
    opts_free(&o);
    return exit_status;
}
