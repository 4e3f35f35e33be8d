/*
 * my_int.h - inside the citizen's pages: the signed-in citizen (session),
 * page frame and the sign-in handlers (my_login.c) shared with the pages
 * (my.c).
 */
#ifndef WEFT_WEB_MY_INT_H
#define WEFT_WEB_MY_INT_H

#include <stdbool.h>

#include "core/principal.h"
#include "core/buf.h"
#include "store/citizen.h"
#include "store/proxy.h"

struct http_req;

#define MY_COOKIE "weft_citizen"
#define MY_IDLE_S (15 * 60)     /* signed out after 15 minutes without a request */
#define MY_ABSOLUTE_S (60 * 60) /* and 60 minutes after signing in, whatever */
#define MY_LEVEL_FOR_RECORD "P9"

/* The signed-in citizen of a request. */
struct my_citizen {
    struct store_citizen_session ss;
    struct principal p;
    bool signed_in;
    bool p9;             /* identity proved to P9: may see the record */
    const char *expired; /* static: why a session just ended, or NULL */
    /* Acting for another person as their proxy (access/proxy.h; my_proxy.c):
     * p then acts for grant.person_id under grant (proxy_principal). */
    bool proxy;
    struct store_proxy_grant grant;
    char proxy_client[32];
    const char *proxy_ended; /* static: why the grant in use just stopped working, or NULL */
};

/* Find the session of req's cookie, end it when past its idle or absolute
 * limit, touch it otherwise; fill c.  0, or a store error. */
int my_citizen_get(struct http_req *req, struct store *s, struct my_citizen *c);
void my_citizen_clear(struct my_citizen *c);

/* The page frame (nhsuk-frontend, phone first) around body. */
void my_page(struct http_req *req, int status, const char *title, const struct my_citizen *c,
             struct buf *body);

/* Parse a form body and check its CSRF token and origin against c's
 * session; on a refusal the page is sent (403) and audited (my_pages.c). */
struct url_kv;
bool my_form_ok(struct http_req *req, struct store *s, const struct my_citizen *c,
                struct url_kv **kv, int *n);

/* ---- proxy access (my_proxy.c) ----
 * The record a signed-in citizen is looking at is their own unless they
 * switched to a record they hold a proxy grant for (POST /my/switch), which
 * a cookie remembers; every request checks the grant again. */
#define MY_AS_COOKIE "weft_citizen_as"
/* Called by my_citizen_get for a P9 citizen: act under the grant the cookie
 * names when it is this citizen's (else forget the cookie). */
int my_proxy_attach(struct http_req *req, struct store *s, struct my_citizen *c);
/* Stop acting for anyone: forget the cookie, c acts for itself again. */
void my_proxy_leave(struct http_req *req, struct my_citizen *c);
/* Whether c may open a page needing scope need (PROXY_SCOPE_*): true for a
 * citizen on their own record; for a proxy, the grant must be in force with
 * that scope, else a clear page is sent (403, audited) and false returned. */
bool my_proxy_gate(struct http_req *req, struct store *s, struct my_citizen *c, unsigned need);
/* The banner "You are viewing X's record as their proxy" (my_page). */
void my_proxy_banner(struct buf *b, const struct my_citizen *c);
/* The home page's part: the records c may view and the switch between them. */
void my_proxy_home(struct http_req *req, struct store *s, struct my_citizen *c, struct buf *body);
/* POST /my/switch: act for grant N (grant=N) or for oneself (grant=0). */
int my_proxy_switch(struct http_req *req, void *ctx);
/* For "who viewed my record": whether audit client names a proxy grant;
 * then who (into who) and why (static) to show. */
bool my_proxy_viewer(struct store *s, const char *client, const char *purpose, struct buf *who,
                     const char **why);

/* Sign-in handlers (my_login.c). */
int my_login(struct http_req *req, void *ctx);
int my_callback(struct http_req *req, void *ctx);

#endif
