/*
 * app.h - registered SMART apps (`weft app add`): the rules a client id and
 * a redirect URI must meet to be registered, and the checks
 * /oauth/authorize makes against the registration.
 *
 * A redirect URI is registered exactly as it will be sent: the authorize
 * request must carry one of the app's URIs byte for byte (no prefix or
 * pattern matching, no normalisation).  A registrable URI is printable
 * ASCII without spaces, CR/LF or the characters a URI may not contain
 * ("<>\^`{|}), at most APP_REDIRECT_URI_MAX bytes, https:// (http:// only
 * for localhost, 127.0.0.1 or [::1]), with a host, no user information
 * ('@' in the authority) and no fragment.
 */
#ifndef WEFT_ACCESS_APP_H
#define WEFT_ACCESS_APP_H

#include <stdbool.h>

struct store_app;

#define APP_REDIRECT_URI_MAX 2000
#define APP_CLIENT_ID_MAX 64
#define APP_REDIRECT_URIS_MAX 8

/* 1-64 of A-Z a-z 0-9 . _ - */
bool app_client_id_valid(const char *id);
/* Whether uri may be registered; *why (static text) says why not. */
bool app_redirect_uri_valid(const char *uri, const char **why);
/* Whether uri is one of a's registered redirect URIs, exactly. */
bool app_redirect_uri_registered(const struct store_app *a, const char *uri);
/* Of the space-separated scopes granted, those a registered app may have
 * (all when it was registered without --scope), or NULL when none is left
 * (malloc'd, caller frees). */
char *app_scopes_allowed(const struct store_app *a, const char *granted);

#endif
