/*
 * apps.h - SMART apps registered with `weft app add`: who may ask for an
 * authorisation code, and where it goes.
 */
#ifndef WEFT_STORE_APPS_H
#define WEFT_STORE_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- SMART apps (`weft app add`): who may ask for a code, and where it goes ---- */
struct store_app {
    char *client_id;     /* unique */
    char *name;          /* shown to the user on the consent page */
    char *redirect_uris; /* registered redirect URIs, one per line, matched exactly */
    char *scopes;        /* the most it may be granted (space-separated); NULL: any read scope */
    char *created;
    char *revoked; /* NULL while active */
};
void store_app_clear(struct store_app *a);
/* WEFT_EEXIST when the client_id is taken. */
int store_app_add(struct store *s, const struct store_app *in);
/* The app with this client_id, active or revoked; WEFT_ENOTFOUND when none. */
int store_app_get(struct store *s, const char *client_id, struct store_app *out);
int store_app_list(struct store *s, struct store_app **out, int *n);
/* WEFT_ENOTFOUND when no active app has this client_id. */
int store_app_revoke(struct store *s, const char *client_id);

#endif
