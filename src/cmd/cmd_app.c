/*
 * cmd_app.c - `weft app add|list|revoke`: the SMART apps /oauth/authorize
 * issues codes to.  An app is its client id, a name shown to the user on the
 * consent page, the redirect URIs its codes may be sent to (matched exactly;
 * rules in access/app.h) and optionally the most scope it may be granted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/app.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/apps.h"
#include "store/store.h"

const struct opt_spec cmd_app_specs[] = {
    CMD_OPT_DB,
    {"client-id", "ID", "add, revoke: the app's client_id (1-64 of A-Z a-z 0-9 . _ -)"},
    {"name", "NAME", "add: the app's name, shown to staff when it asks for access (required)"},
    {"redirect-uri", "URI",
     "add: where codes are sent, exactly as the app will send it (repeatable, at most 8; "
     "https://, or http:// for localhost only)"},
    {"scope", "SCOPES",
     "add: the most the app may be granted, e.g. \"patient/Observation.rs\" (default: any "
     "patient-level read scope)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft app add --db PATH --client-id ID --name NAME --redirect-uri URI\n"
    "                    [--redirect-uri URI ...] [--scope SCOPES]\n"
    "       weft app list --db PATH\n"
    "       weft app revoke --db PATH --client-id ID\n\n"
    "SMART apps that may ask a launched member of staff for access to the patient's\n"
    "record (/oauth/authorize).  A code is only issued to a registered, unrevoked app,\n"
    "and only sent to one of its redirect URIs, compared exactly; the user sees the\n"
    "app's name and what it asks for, and decides.\n";

static int app_add(struct store *s, const struct opts *o)
{
    const char *id = opts_get(o, "client-id");
    const char *name = opts_get(o, "name");
    const char *uris[APP_REDIRECT_URIS_MAX + 1];
    int nuris = opts_get_all(o, "redirect-uri", uris, APP_REDIRECT_URIS_MAX + 1);
    if (!app_client_id_valid(id)) {
        fprintf(stderr, "weft app add: --client-id ID is required: 1-64 of A-Z a-z 0-9 . _ -\n");
        return EXIT_USAGE;
    }
    if (!name || !*name || strlen(name) > 100 || strpbrk(name, "\r\n")) {
        fprintf(stderr, "weft app add: --name NAME is required (one line, at most 100 "
                        "characters)\n");
        return EXIT_USAGE;
    }
    if (nuris < 1 || nuris > APP_REDIRECT_URIS_MAX) {
        fprintf(stderr, "weft app add: give 1 to %d --redirect-uri URI\n", APP_REDIRECT_URIS_MAX);
        return EXIT_USAGE;
    }
    struct buf all = BUF_INIT;
    for (int i = 0; i < nuris; i++) {
        const char *why = NULL;
        if (!app_redirect_uri_valid(uris[i], &why)) {
            /* the URI itself is not echoed: it may hold control characters */
            fprintf(stderr, "weft app add: --redirect-uri number %d refused: %s\n", i + 1, why);
            buf_release(&all);
            return EXIT_USAGE;
        }
        if (i)
            buf_addc(&all, '\n');
        buf_adds(&all, uris[i]);
    }
    const char *scope = opts_get(o, "scope");
    if (scope && (strlen(scope) > 1000 || strpbrk(scope, "\r\n"))) {
        fprintf(stderr, "weft app add: --scope is a space-separated list of scopes\n");
        buf_release(&all);
        return EXIT_USAGE;
    }
    struct store_app a = {.client_id = (char *)id,
                          .name = (char *)name,
                          .redirect_uris = all.data,
                          .scopes = (char *)scope};
    int rc = store_app_add(s, &a);
    buf_release(&all);
    if (rc != 0) {
        fprintf(stderr, "weft app add: %s\n", store_errmsg(s));
        return 1;
    }
    fprintf(stderr, "app '%s' (%s) registered with %d redirect URI(s)\n", id, name, nuris);
    return 0;
}

static int app_list(struct store *s)
{
    struct store_app *as;
    int n;
    if (store_app_list(s, &as, &n) != 0) {
        fprintf(stderr, "weft app list: %s\n", store_errmsg(s));
        return 1;
    }
    printf("%-24s %-24s %-26s %-26s %-24s %s\n", "client_id", "name", "created", "revoked",
           "scopes", "redirect_uris");
    for (int i = 0; i < n; i++) {
        struct buf uris = BUF_INIT;
        for (const char *p = as[i].redirect_uris; p && *p; p++)
            buf_addc(&uris, *p == '\n' ? ' ' : *p);
        printf("%-24s %-24s %-26s %-26s %-24s %s\n", as[i].client_id, as[i].name, as[i].created,
               as[i].revoked ? as[i].revoked : "-", as[i].scopes ? as[i].scopes : "(any read)",
               uris.data);
        buf_release(&uris);
        store_app_clear(&as[i]);
    }
    free(as);
    return 0;
}

static int app_revoke(struct store *s, const struct opts *o)
{
    const char *id = opts_get(o, "client-id");
    if (!app_client_id_valid(id)) {
        fprintf(stderr, "weft app revoke: --client-id ID is required (see weft app list)\n");
        return EXIT_USAGE;
    }
    int rc = store_app_revoke(s, id);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft app revoke: no active app with client id '%s'\n", id);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "weft app revoke: %s\n", store_errmsg(s));
        return 1;
    }
    fprintf(stderr,
            "app '%s' revoked: it gets no new codes, and its codes and tokens stop "
            "working\n",
            id);
    return 0;
}

int cmd_app(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_app_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_app_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    if (!sub ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) ||
        o.npos > 1) {
        fprintf(stderr, "weft app: %s%s%s (add, list or revoke; see weft app --help)\n",
                sub ? "unknown action '" : "an action is needed", sub ? sub : "", sub ? "'" : "");
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *db = opts_get(&o, "db");
    if (!db) {
        fprintf(stderr, "weft app %s: --db PATH is required\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    char what[64];
    snprintf(what, sizeof what, "app %s", sub);
    if (cmd_store_open_current(what, db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    if (strcmp(sub, "add") == 0)
        rc = app_add(s, &o);
    else if (strcmp(sub, "list") == 0)
        rc = app_list(s);
    else
        rc = app_revoke(s, &o);
    store_close(s);
    opts_free(&o);
    return rc;
}
